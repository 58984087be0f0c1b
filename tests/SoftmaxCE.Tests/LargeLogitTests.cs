using System;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>
/// Logits far from zero whose differences are small and exact: the loss is a small number computed next to large
/// ones, so it must come from <c>log(sum) + (max - y_label)</c>, not from <c>(max + log(sum)) - y_label</c>.
/// (The rows-across-lanes kernel did the latter: 0.6914 for ln 2 at logits of 65504.)
/// </summary>
public sealed class LargeLogitTests
{
    [Theory]
    [InlineData(60000f)]
    [InlineData(-60000f)]
    [InlineData(1e6f)]
    public void RowLosses_LargeLogitsWithSmallExactDifferences_AreAccurateAtEveryWidth(float offset)
    {
        const int Rows = 37;
        var random = new Random(20261129);
        for (int classes = 1; classes <= 20; classes++)
        {
            // Small integers added to a large offset: exactly representable, so the reference sees the same differences.
            var logits = new float[Rows * classes];
            for (int i = 0; i < logits.Length; i++)
            {
                logits[i] = offset + random.Next(-4, 5);
            }

            var labels = new int[Rows];
            for (int r = 0; r < Rows; r++)
            {
                labels[r] = random.Next(classes);
            }

            double[] expected = Reference.LabelRowLosses(Array.ConvertAll(logits, x => (double)x), labels, classes, null, null, 0);
            foreach (int width in TestData.WidthBits)
            {
                using (ForcedWidth.Force(width))
                {
                    var losses = new float[Rows];
                    SoftmaxCrossEntropy.RowLosses<float>(logits, labels, losses, classes);
                    for (int r = 0; r < Rows; r++)
                    {
                        Assert.True(
                            Math.Abs(losses[r] - expected[r]) <= 2e-6 * Math.Max(1, expected[r]),
                            $"width {width}, C = {classes}, row {r}: {losses[r]} where the reference gives {expected[r]}");
                    }
                }
            }
        }
    }
}
