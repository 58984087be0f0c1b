using System;
using System.Numerics;
using System.Threading;
using SoftmaxCE.Kernels;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The width override itself, and agreement between widths.</summary>
public abstract class WidthTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    [Fact]
    public void ForcedWidth_IsResetWhenTheScopeEnds()
    {
        foreach (int width in TestData.WidthBits)
        {
            using (ForcedWidth.Force(width))
            {
                Assert.Equal((SimdWidth)width, WidthDispatch.Forced);
            }

            Assert.Equal(default, WidthDispatch.Forced);
        }
    }

    [Fact]
    public void ForcedWidth_DoesNotLeakToOtherThreads()
    {
        SimdWidth seenElsewhere = SimdWidth.Vector512;
        using (ForcedWidth.Force(1))
        {
            var thread = new Thread(() => seenElsewhere = WidthDispatch.Forced);
            thread.Start();
            thread.Join();
        }

        Assert.Equal(default, seenElsewhere);
    }

    [Fact]
    public void TheSweeps_CoverScalar128BitAndTheBestWidthOfThisMachine()
    {
        // The sweeps force every width the machine can run (all four on AVX-512): at least scalar, 128-bit, and the
        // width calls use by default, so that what users run is what is tested.
        Assert.Contains(1, TestData.WidthBits);
        Assert.Contains(128, TestData.WidthBits);
        Assert.Contains((int)WidthDispatch.Best, TestData.WidthBits);
        foreach (int width in TestData.WidthBits)
        {
            Assert.True(WidthDispatch.IsSupported((SimdWidth)width), $"{(SimdWidth)width} is not supported here");
        }
    }

    [Fact]
    public void DefaultWidth_MatchesTheBestWidthBitwise()
    {
        foreach (int classes in new[] { 3, 10, 16, 33, 1000 })
        {
            const int Rows = 19;
            var p = new LabelProblem<T>(Rows, classes, LabelConfig.All[2], Seeds.For(Rows, classes, 90));
            var unforced = new T[p.Logits.Length];
            var best = new T[p.Logits.Length];
            T lossUnforced = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, unforced, classes, p.Options, p.Weights);
            T lossBest;
            using (ForcedWidth.Force((int)WidthDispatch.Best))
            {
                lossBest = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, best, classes, p.Options, p.Weights);
            }

            Check.Bitwise<T>(unforced, best, $"default vs {WidthDispatch.Best}, C = {classes}");
            Check.Bitwise<T>([lossUnforced], [lossBest], $"loss, default vs {WidthDispatch.Best}, C = {classes}");
        }
    }

    [Fact]
    public void AllWidths_AgreeWithTheScalarPath()
    {
        foreach (int classes in new[] { 1, 5, 8, 16, 31, 64, 257, 4097 })
        {
            foreach (int rows in new[] { 1, 4, 17 })
            {
                var p = new DenseProblem<T>(rows, classes, DenseConfig.All[2], Seeds.For(rows, classes, 91));
                var scalar = new T[p.Logits.Length];
                T scalarLoss;
                using (ForcedWidth.Force(1))
                {
                    scalarLoss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Targets, scalar, classes, p.Options, p.Weights);
                }

                double[] expected = Data<T>.ToDouble(scalar);
                foreach (int width in TestData.WidthBits)
                {
                    var gradient = new T[p.Logits.Length];
                    T loss;
                    using (ForcedWidth.Force(width))
                    {
                        loss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Targets, gradient, classes, p.Options, p.Weights);
                    }

                    string what = $"width {width} vs scalar, {p}";
                    Check.Close<T>(gradient, expected, p.Gradient.Magnitude, 2 * Tol.Gradient, Tol.Floor, classes, what);
                    Check.Scalar(double.CreateTruncating(loss), double.CreateTruncating(scalarLoss), 2 * Tol.Loss * p.LossMagnitude, what + ": loss");
                }
            }
        }
    }
}

public sealed class WidthTestsSingle : WidthTests<float>
{
}

public sealed class WidthTestsDouble : WidthTests<double>
{
}
