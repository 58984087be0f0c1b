using System;
using FluentAssertions;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The README's example, line for line: it must compile, run, and give the numbers it claims.</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void ReadmeExample_RunsAndMatchesTheReference()
    {
        // --- README example, begin
        // 4 rows (a batch), 3 classes, row-major: row i is logits[(i * 3)..(i * 3 + 3)].
        float[] logits = [2.0f, 1.0f, 0.1f, 0.5f, 2.5f, 0.3f, 1.2f, 0.2f, 3.1f, 0.0f, 0.0f, 0.0f];
        int[] labels = [0, 1, 2, 1];
        float[] gradient = new float[logits.Length];

        // Mean cross-entropy, and dLoss/dLogits = (softmax(logits) - onehot(labels)) / rows, in one fused call.
        float loss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, gradient, classes: 3);
        // --- README example, end (first part)
        float[] original = (float[])logits.Clone();

        double[] expectedGradient = Reference.Gradient(Array.ConvertAll(original, v => (double)v), Reference.OneHot(labels, 3), 3, 4).Gradient;
        double expectedLoss = Reference.LabelLoss(Array.ConvertAll(original, v => (double)v), labels, 3, default, null);
        ((double)loss).Should().BeApproximately(expectedLoss, 1e-6);
        for (int i = 0; i < gradient.Length; i++)
        {
            ((double)gradient[i]).Should().BeApproximately(expectedGradient[i], 1e-6);
        }

        // --- README example, second part
        // The same with PyTorch's options, writing the gradient over the logits.
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LabelSmoothing = 0.1 };
        loss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, logits, classes: 3, options);
        // --- README example, end

        double smoothed = Reference.LabelLoss(Array.ConvertAll(original, v => (double)v), labels, 3, options, null);
        ((double)loss).Should().BeApproximately(smoothed, 1e-6);
        logits.Should().NotEqual(original, "the gradient was written over the logits");
    }
}
