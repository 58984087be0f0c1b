#region readme-example-using
using SoftmaxCE;
#endregion
using System;
using System.Linq;
using FluentAssertions;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>
/// The C# code of README.md and docs/USAGE.md, run: each <c>#region readme-*</c> is a block of those pages
/// (<see cref="ReadmeCodeBlockTests"/> checks that they show exactly these lines), and each test checks the numbers
/// it gives against the double-precision reference.
/// </summary>
public sealed class ReadmeExampleTests
{
    private static readonly Tolerances Tol = Tolerances.Single;

    [Fact]
    public void ReadmeExample_RunsAndMatchesTheReference()
    {
        #region readme-example
        // 4 rows (a batch), 3 classes, row-major: row i is logits[(i * 3)..(i * 3 + 3)].
        float[] logits = [2.0f, 1.0f, 0.1f, 0.5f, 2.5f, 0.3f, 1.2f, 0.2f, 3.1f, 0.0f, 0.0f, 0.0f];
        int[] labels = [0, 1, 2, 1];
        float[] gradient = new float[logits.Length];

        // Mean cross-entropy, and dLoss/dLogits = (softmax(logits) - onehot(labels)) / rows, in one fused call.
        float loss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, gradient, classes: 3);
        #endregion

        double[] y = Array.ConvertAll(logits, v => (double)v);
        CheckLossAndGradient(loss, gradient, y, labels, default, "the plain call");

        #region readme-example-options
        // The same with PyTorch's options, writing the gradient over the logits.
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LabelSmoothing = 0.1 };
        loss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, logits, classes: 3, options);
        #endregion

        CheckLossAndGradient(loss, logits, y, labels, options, "with smoothing, in place");
    }

    [Fact]
    public void ReadmeLanguageModelSnippet_RunsAndMatchesTheReference()
    {
        // Two micro-batches of one step; the snippet runs on the first. Some labels are padding (-100).
        const int Rows = 24, OtherRows = 17;
        int vocab = 300;
        var rng = new Random(7);
        float[] logits = Data<float>.Logits(rng, Rows * vocab, scale: 40);
        int[] labels = Data<float>.Labels(rng, Rows, vocab, ignoreIndex: -100, ignoredEvery: 5);
        int[] otherLabels = Data<float>.Labels(rng, OtherRows, vocab, ignoreIndex: -100, ignoredEvery: 3);
        var padding = new CrossEntropyOptions { IgnoreIndex = -100 };
        double globalCount = SoftmaxCrossEntropy.MeanDenominator<float>(labels, vocab, padding)
            + SoftmaxCrossEntropy.MeanDenominator<float>(otherLabels, vocab, padding);
        globalCount.Should().Be(labels.Count(l => l != -100) + otherLabels.Count(l => l != -100));
        double[] y = Array.ConvertAll(logits, v => (double)v);

        #region readme-language-model
        var options = new CrossEntropyOptions
        {
            IgnoreIndex = -100,        // padding
            ZLoss = 1e-4,              // PaLM's z-loss, z * LSE^2 per token
            LogitSoftcap = 30,         // Gemma 2's soft-capping, s * tanh(y / s)
            Denominator = globalCount, // the whole step's token count: exact means over micro-batches and ranks
        };
        // globalCount = sum over micro-batches (and an all-reduce over ranks) of
        //               SoftmaxCrossEntropy.MeanDenominator<float>(labels, vocab, options)
        var metrics = SoftmaxCrossEntropy.LossAndGradientWithMetrics<float>(logits, labels, logits, vocab, options);
        // metrics.Loss, metrics.ZLoss (to log apart), metrics.CorrectCount / (double)metrics.CountedRows (accuracy)
        #endregion

        Check.Scalar(metrics.Loss, ShardReference.Loss(y, labels, vocab, options, null), Tol.Loss * 10, "loss");
        double[] expected = ShardReference.Gradient(y, labels, vocab, options, null);
        Check.Close<float>(logits, expected, Enumerable.Repeat(1 / globalCount, expected.Length).ToArray(), Tol.Gradient, 0, vocab, "gradient over the logits");

        double[] lse = Reference.RowLogSumExps(ShardReference.Capped(y, options.LogitSoftcap), vocab);
        int[] counted = [.. Enumerable.Range(0, Rows).Where(i => labels[i] != -100)];
        double zLoss = counted.Sum(i => 1e-4 * lse[i] * lse[i]) / globalCount;
        Check.Scalar(metrics.ZLoss, zLoss, Tol.Loss * Math.Max(1, zLoss), "z-loss part");
        metrics.CountedRows.Should().Be(counted.Length);
        metrics.CorrectCount.Should().Be(counted.Count(i => Argmax(y.AsSpan(i * vocab, vocab)) == labels[i]));
    }

    private static void CheckLossAndGradient(float loss, float[] gradient, double[] y, int[] labels, CrossEntropyOptions options, string what)
    {
        const int Classes = 3;
        double expectedLoss = Reference.LabelLoss(y, labels, Classes, options, null);
        double[] q = Reference.LabelEffectiveTargets(labels, Classes, options.IgnoreIndex, null, options.LabelSmoothing);
        (double[] expected, double[] magnitude) = Reference.Gradient(y, q, Classes, labels.Length);
        double[] lossMagnitude = Reference.RowLossMagnitudes(y, q, Classes);
        Check.Scalar(loss, expectedLoss, Tol.Loss * lossMagnitude.Sum() / labels.Length, $"loss, {what}");
        Check.Close<float>(gradient, expected, magnitude, Tol.Gradient, Tol.Floor, Classes, $"gradient, {what}");
    }

    private static int Argmax(ReadOnlySpan<double> row)
    {
        int best = 0;
        for (int k = 1; k < row.Length; k++)
        {
            best = row[k] > row[best] ? k : best;
        }

        return best;
    }
}
