using System;
using System.Linq;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The autograd example of docs/INTEGRATIONS.md, compiled and run (the #region readme-autograd is the page's block).</summary>
public class AutogradExampleTests
{
    [Fact]
    public void ReadmeExample_InsideAnAutogradEngine_Runs()
    {
        float[] logits = [2.0f, 1.0f, 0.1f, -1.0f, 0.5f, 0.3f, 2.2f, -0.4f, 1.1f, 0.0f, -2.0f, 0.7f];
        int[] labels = [0, 2, -100]; // the third token is padding
        float[] rowWeights = [1.0f, 0.5f, 1.0f]; // per-token weights: advantages, soft masks
        float upstream = 2.0f; // dObjective/dLoss, from the engine

        #region readme-autograd
        const int Classes = 4;
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LogitScale = 1 / 0.7 }; // temperature 0.7

        // Forward: save the logits, the labels and one log-sum-exp per row (not the probabilities).
        var logSumExp = new float[labels.Length];
        float loss = SoftmaxCrossEntropy.Forward<float>(logits, labels, logSumExp, Classes, options, rowWeights: rowWeights);

        // Backward, when the engine hands over the upstream gradient: one pass, may write over the logits.
        var gradient = new float[logits.Length];
        SoftmaxCrossEntropy.Backward<float>(logits, labels, logSumExp, upstream, gradient, Classes, options, rowWeights: rowWeights);

        // reduction='none': the row losses, then one upstream gradient per row.
        var rowLosses = new float[labels.Length];
        SoftmaxCrossEntropy.Forward<float>(logits, labels, logSumExp, Classes, options, rowLosses: rowLosses);
        float[] rowUpstream = [0.1f, -0.2f, 0.3f];
        var rowGradient = new float[logits.Length];
        SoftmaxCrossEntropy.Backward<float>(logits, labels, logSumExp, rowUpstream, rowGradient, Classes, options);
        #endregion

        // The forward/backward pair is the fused call times the upstream gradient.
        var fused = new float[logits.Length];
        float fusedLoss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, fused, Classes, options, rowWeights: rowWeights);
        Assert.Equal(fusedLoss, loss, 6);
        for (int j = 0; j < logits.Length; j++)
        {
            Assert.Equal(upstream * fused[j], gradient[j], 6);
        }

        // The padding row: zero gradient, zero loss.
        Assert.Equal(0f, rowLosses[2]);
        Assert.All(rowGradient.AsSpan(8, 4).ToArray(), g => Assert.Equal(0f, g));

        // Row 0 of the per-row backward: 0.1 * (softmax(s y) - onehot) * s, from the double reference.
        double s = 1 / 0.7;
        double[] y0 = [.. logits.AsSpan(0, 4).ToArray().Select(v => s * v)];
        double[] p0 = Reference.Softmax(y0, 4);
        for (int k = 0; k < 4; k++)
        {
            Assert.Equal(0.1 * (p0[k] - (k == 0 ? 1 : 0)) * s, rowGradient[k], 5);
        }
    }
}
