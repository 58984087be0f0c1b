using System;
using System.Linq;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The rows-across-lanes kernel (rows of 2 to 16 classes, W rows per block) at the edges of the element type's range.</summary>
public sealed class ShortRowsLanesTests
{
    /// <summary>
    /// A lane's gradient coefficient <c>(a + 2 z LSE) / D</c> can be finite in double but beyond float's range (logits near
    /// float's largest value, z-loss, a small denominator): as one factor in float it was +inf, and every class whose
    /// exponential underflowed to 0 got 0 * inf = NaN where the gradient is 0. Rows of 3, 7 and 16 classes, every width,
    /// against the double reference; an element beyond float's range must be an infinity of its sign.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void GradientCoefficient_BeyondFloatRange_GivesZerosNotNaN(int width)
    {
        foreach (int classes in new[] { 3, 7, 16 })
        {
            const int Rows = 64; // whole blocks of rows at every width
            double big = 0.9 * float.MaxValue / 4;
            var rng = new Random(Seeds.For(Rows, classes, 16));
            double[] y = [.. Enumerable.Range(0, Rows * classes).Select(_ => (4 * rng.NextDouble()) - 2)];
            int[] labels = [.. Enumerable.Range(0, Rows).Select(i => (i * 7) % classes)];
            for (int row = 1; row < Rows; row += 3)
            {
                y[(row * classes) + ((labels[row] + 1) % classes)] = big; // P = 1 there, 0 (underflowed) elsewhere
            }

            // 2 z LSE / D = 3 * 0.225 * max * 4: beyond float's range, finite in double.
            var options = new CrossEntropyOptions { ZLoss = 1.5, Denominator = 0.25 };
            float[] logits = Data<float>.FromDouble(y);
            double[] yt = Data<float>.ToDouble(logits);
            double[] q = Reference.LabelEffectiveTargets(labels, classes, null, null, 0);
            (double[] expected, double[] magnitude) = Reference.FullGradient(yt, q, Reference.Counted(labels, null), classes, options, Reference.RowFactors(Rows, null, 1, 0.25, null));
            for (int j = 0; j < expected.Length; j++)
            {
                expected[j] = (float)expected[j]; // beyond float's range: an infinity
            }

            var gradient = new float[logits.Length];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, gradient, classes, options);
            }

            Assert.DoesNotContain(gradient, float.IsNaN);
            Tolerances tol = Tolerances.For<float>();
            Check.Close<float>(gradient, expected, magnitude, tol.Gradient, tol.Floor, classes, $"C = {classes}, width {width}");
        }
    }

    /// <summary>
    /// The z-loss part <c>z LSE^2</c> of a lane whose LSE is beyond the square root of float's largest value, where the part
    /// itself is finite: <c>LSE * LSE</c> alone overflowed to +inf.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ZLoss_OfAnLseBeyondTheSquareRootOfFloatRange_IsFinite(int width)
    {
        const int Rows = 32, Classes = 10;
        var rng = new Random(Seeds.For(Rows, Classes, 19));
        float[] logits = [.. Enumerable.Range(0, Rows * Classes).Select(_ => (float)((rng.NextDouble() * 4) - 2 + 3e19))];
        int[] labels = [.. Enumerable.Range(0, Rows).Select(i => i % Classes)];
        var options = new CrossEntropyOptions { ZLoss = 1e-4, Reduction = Reduction.Sum };
        var rowLosses = new float[Rows];
        using (ForcedWidth.Force(width))
        {
            SoftmaxCrossEntropy.RowLosses<float>(logits, labels, rowLosses, Classes, options);
        }

        double[] yt = Data<float>.ToDouble(logits);
        for (int i = 0; i < Rows; i++)
        {
            double lse = Reference.RowLogSumExps(yt.AsSpan(i * Classes, Classes).ToArray(), Classes)[0];
            double expected = lse - yt[(i * Classes) + labels[i]] + (options.ZLoss * lse * lse);
            Assert.True(float.IsFinite(rowLosses[i]), $"row {i}, width {width}: {rowLosses[i]}");
            Assert.Equal(expected, rowLosses[i], expected * 1e-5);
        }
    }
}
