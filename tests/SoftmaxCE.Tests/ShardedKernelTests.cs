using System;
using System.Numerics;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The sharded functions on the SIMD kernels: the logit scale, every width, and any thread count.</summary>
public abstract class ShardedKernelTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    /// <summary>Runs the three steps over shards of the given widths and returns the summed loss and the gradient side by side.</summary>
    private static (double Loss, T[] Gradient) Sharded(AutogradProblem<T> p, int[] split, CrossEntropyOptions options)
    {
        int rows = p.Rows, classes = p.Classes;
        var rowMax = new T[rows];
        var rowSum = new T[rows];
        var labelLogits = new T[rows];
        var otherMax = new T[rows];
        var otherSum = new T[rows];
        var gradient = new T[rows * classes];
        double loss = 0;
        T[][] shards = new T[split.Length][];
        int offset = 0;
        for (int s = 0; s < split.Length; s++)
        {
            shards[s] = new T[rows * split[s]];
            for (int r = 0; r < rows; r++)
            {
                p.Logits.AsSpan((r * classes) + offset, split[s]).CopyTo(shards[s].AsSpan(r * split[s]));
            }

            if (s == 0)
            {
                SoftmaxCrossEntropy.ShardStatistics<T>(shards[s], p.Labels, rowMax, rowSum, labelLogits, split[s], offset, classes, options);
            }
            else
            {
                SoftmaxCrossEntropy.ShardStatistics<T>(shards[s], p.Labels, otherMax, otherSum, labelLogits, split[s], offset, classes, options);
                SoftmaxCrossEntropy.MergeShardStatistics<T>(otherMax, otherSum, rowMax, rowSum);
            }

            offset += split[s];
        }

        offset = 0;
        for (int s = 0; s < split.Length; s++)
        {
            var shardGradient = new T[rows * split[s]];
            loss += double.CreateTruncating(SoftmaxCrossEntropy.ShardLossAndGradient<T>(shards[s], p.Labels, rowMax, rowSum, shardGradient, split[s], offset, classes, options, p.Weights));
            for (int r = 0; r < rows; r++)
            {
                shardGradient.AsSpan(r * split[s], split[s]).CopyTo(gradient.AsSpan((r * classes) + offset));
            }

            offset += split[s];
        }

        return (loss, gradient);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Shards_WithLogitScale_MatchTheReference(int width)
    {
        foreach (int[] split in new[] { new[] { 37 }, new[] { 1, 2, 30, 4 }, new[] { 700, 1300 } })
        {
            int classes = 0;
            foreach (int s in split)
            {
                classes += s;
            }

            for (int config = 0; config < AutogradConfig.All.Length; config++)
            {
                AutogradConfig c = AutogradConfig.All[config];
                var p = new AutogradProblem<T>(5, classes, c with { RowWeighted = false }, Seeds.For(5, classes, 500 + config));
                double loss;
                T[] gradient;
                using (ForcedWidth.Force(width))
                {
                    (loss, gradient) = Sharded(p, split, p.Options);
                }

                string what = $"{p}, split [{string.Join(", ", split)}], width {width}";
                double[] rowLosses = Reference.FullLabelRowLosses(p.Y, p.Labels, classes, p.Options, p.W, null);
                double denominator = Reference.FullLabelDenominator(p.Labels, p.Options, p.W);
                Check.Scalar(loss, Reference.Sum(rowLosses) / denominator, Tol.Loss * AutogradProblem<T>.LossScale(rowLosses) / denominator, what + ": loss");
                (double[] expected, double[] magnitude) = Reference.FullGradient(
                    p.Y, p.LabelQ, Reference.Counted(p.Labels, p.Options.IgnoreIndex), classes, p.Options, Reference.RowFactors(5, null, 1, denominator, null));
                Check.Close<T>(gradient, expected, magnitude, Tol.Gradient, Tol.Floor, classes, what + ": gradient");
            }
        }
    }

    [Fact]
    public void Shards_AreBitwiseTheSameForAnyThreadCount()
    {
        var p = new AutogradProblem<T>(64, 6000, AutogradConfig.All[4] with { RowWeighted = false }, 77);
        int[] split = [2500, 3500];
        (double lossOne, T[] one) = Sharded(p, split, p.Options with { MaxDegreeOfParallelism = 1 });
        (double lossMany, T[] many) = Sharded(p, split, p.Options with { MaxDegreeOfParallelism = 0 });
        (double lossThree, T[] three) = Sharded(p, split, p.Options with { MaxDegreeOfParallelism = 3 });
        Check.Bitwise<T>(one, many, "gradient, 1 thread vs all");
        Check.Bitwise<T>(one, three, "gradient, 1 thread vs 3");
        Assert.Equal(lossOne, lossMany);
        Assert.Equal(lossOne, lossThree);
    }
}

public sealed class ShardedKernelTestsSingle : ShardedKernelTests<float>
{
}

public sealed class ShardedKernelTestsDouble : ShardedKernelTests<double>
{
}
