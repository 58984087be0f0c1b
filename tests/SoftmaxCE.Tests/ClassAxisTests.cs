using System;
using System.Linq;
using System.Numerics;
using System.Numerics.Tensors;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The class-axis sweep's option sets, for [MemberData].</summary>
public static class AxisConfigData
{
    public static TheoryData<int> Indices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < AxisConfig.All.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }
}

/// <summary>One option set of the class-axis sweep.</summary>
internal sealed record AxisConfig(string Name, CrossEntropyOptions Options, bool Dense, bool Weighted, int IgnoredEvery)
{
    public static readonly AxisConfig[] All =
    [
        new("labels, default", default, Dense: false, Weighted: false, IgnoredEvery: 0),
        new("labels, sum, ignore -100, weights", new() { Reduction = Reduction.Sum, IgnoreIndex = -100 }, Dense: false, Weighted: true, IgnoredEvery: 3),
        new("labels, ignore -1, weights, eps 0.1, z-loss", new() { IgnoreIndex = -1, LabelSmoothing = 0.1, ZLoss = 1e-3 }, Dense: false, Weighted: true, IgnoredEvery: 4),
        new("labels, eps 0.25, softcap 3", new() { LabelSmoothing = 0.25, LogitSoftcap = 3 }, Dense: false, Weighted: false, IgnoredEvery: 0),
        new("dense, default", default, Dense: true, Weighted: false, IgnoredEvery: 0),
        new("dense, sum, weights, eps 0.2, z-loss", new() { Reduction = Reduction.Sum, LabelSmoothing = 0.2, ZLoss = 1e-2 }, Dense: true, Weighted: true, IgnoredEvery: 0),
        new("dense, weights, softcap 2.5", new() { LogitSoftcap = 2.5 }, Dense: true, Weighted: true, IgnoredEvery: 0),
        new("labels, ignore -100, logit scale 0.5, softcap 3", new() { IgnoreIndex = -100, LogitScale = 0.5, LogitSoftcap = 3 }, Dense: false, Weighted: false, IgnoredEvery: 5),
        new("dense, eps 0.1, logit scale 2", new() { LabelSmoothing = 0.1, LogitScale = 2 }, Dense: true, Weighted: false, IgnoredEvery: 0),
    ];
}

/// <summary>
/// PyTorch's N-d layout through the tensor overloads' <c>classAxis</c>: <c>[outer, C, inner]</c> against a double
/// reference computed on the positions' rows (gathered here, independently of the library), at every forced width;
/// equivalence of the axis spellings; and bad input refused with every output untouched.
/// </summary>
public abstract class ClassAxisTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    /// <summary>
    /// Shapes (N, C, d...) with the classes on axis 1: vector tails, one class, several trailing dimensions, and 520 classes,
    /// whose blocks are too large for the staged copy at 256 and 512 bits (the kernel then reads the tensor itself).
    /// </summary>
    private static readonly int[][] Shapes =
    [
        [2, 3, 5],
        [3, 10, 19],
        [1, 21, 37],
        [2, 1, 7],
        [2, 17, 4, 5],
        [1, 4, 2, 3, 16],
        [2, 33, 64],
        [1, 520, 19],
    ];

    private static nint[] N(int[] shape) => [.. shape.Select(d => (nint)d)];

    private static nint[] PositionShape(int[] shape, int axis) => [.. shape.Take(axis).Concat(shape.Skip(axis + 1)).Select(d => (nint)d)];

    /// <summary>The logits of every position as a row-major <c>[positions, C]</c> array.</summary>
    private static double[] ToRows(ReadOnlySpan<T> x, int outer, int classes, int inner)
    {
        var rows = new double[outer * classes * inner];
        for (int n = 0; n < outer; n++)
        {
            for (int k = 0; k < classes; k++)
            {
                for (int p = 0; p < inner; p++)
                {
                    rows[((n * inner) + p) * classes + k] = double.CreateTruncating(x[(((n * classes) + k) * inner) + p]);
                }
            }
        }

        return rows;
    }

    private static double[] FromRows(double[] rows, int outer, int classes, int inner)
    {
        var x = new double[rows.Length];
        for (int n = 0; n < outer; n++)
        {
            for (int k = 0; k < classes; k++)
            {
                for (int p = 0; p < inner; p++)
                {
                    x[(((n * classes) + k) * inner) + p] = rows[((n * inner) + p) * classes + k];
                }
            }
        }

        return x;
    }

    /// <summary>
    /// The reference on row-major rows, straight from MATH.md: soft-capping, effective targets <c>q</c>, z-loss.
    /// Returns the row losses, the reduced loss, and the gradient with its magnitudes.
    /// </summary>
    private static (double[] RowLosses, double[] RowMagnitudes, double Loss, double Denominator, double[] Gradient, double[] Magnitude) Reference(
        double[] y, int classes, AxisConfig config, int[]? labels, double[]? targets, double[]? weights)
    {
        CrossEntropyOptions o = config.Options;
        int rows = y.Length / classes;
        double cap = o.LogitSoftcap;
        double s = o.LogitScale == 0 ? 1 : o.LogitScale;
        y = [.. y.Select(v => s * v)];
        double[] z = cap == 0 ? y : [.. y.Select(v => cap * Math.Tanh(v / cap))];
        double[] q = labels is not null
            ? SoftmaxCE.Tests.Reference.LabelEffectiveTargets(labels, classes, o.IgnoreIndex, weights, o.LabelSmoothing)
            : SoftmaxCE.Tests.Reference.DenseEffectiveTargets(targets!, classes, weights, o.LabelSmoothing);
        double mean = labels is not null ? SoftmaxCE.Tests.Reference.LabelDenominator(labels, o.IgnoreIndex, weights) : rows;
        double d = SoftmaxCE.Tests.Reference.Denominator(o.Reduction, mean);
        double[] lse = SoftmaxCE.Tests.Reference.RowLogSumExps(z, classes);
        double[] p = SoftmaxCE.Tests.Reference.Softmax(z, classes);
        (double[] g, double[] m) = SoftmaxCE.Tests.Reference.Gradient(z, q, classes, d);
        var losses = new double[rows];
        double[] rowMagnitudes = SoftmaxCE.Tests.Reference.RowLossMagnitudes(z, q, classes);
        for (int i = 0; i < rows; i++)
        {
            rowMagnitudes[i] += Math.Abs(o.ZLoss * lse[i] * lse[i]);
            bool counted = labels is null || !(o.IgnoreIndex == labels[i]);
            if (!counted)
            {
                continue;
            }

            var terms = new double[classes];
            for (int k = 0; k < classes; k++)
            {
                double qk = q[(i * classes) + k];
                terms[k] = qk == 0 ? 0 : qk * (lse[i] - z[(i * classes) + k]);
            }

            losses[i] = SoftmaxCE.Tests.Reference.AccurateSum(terms) + (o.ZLoss * lse[i] * lse[i]);
            for (int k = 0; k < classes; k++)
            {
                int j = (i * classes) + k;
                double zTerm = 2 * o.ZLoss * lse[i] * p[j] / d;
                g[j] += zTerm;
                m[j] += Math.Abs(zTerm);
                double chain = s;
                if (cap != 0)
                {
                    double t = Math.Tanh(y[j] / cap);
                    chain *= 1 - (t * t);
                }

                g[j] *= chain;
                m[j] *= chain;
            }
        }

        return (losses, rowMagnitudes, SoftmaxCE.Tests.Reference.AccurateSum(losses) / d, d, g, m);
    }

    [Theory]
    [MemberData(nameof(AxisConfigData.Indices), MemberType = typeof(AxisConfigData))]
    public void ClassAxis1_MatchesTheDoubleReference_AtEveryWidth(int configIndex)
    {
        AxisConfig config = AxisConfig.All[configIndex];
        foreach (int[] shape in Shapes)
        {
            int outer = shape[0], classes = shape[1], inner = shape[2..].Aggregate(1, (a, b) => a * b);
            int positions = outer * inner, length = positions * classes;
            var rng = new Random(Seeds.For(positions, classes, 700 + configIndex));
            T[] x = Data<T>.Logits(rng, length);
            T[] weights = config.Weighted ? Data<T>.Weights(rng, classes) : [];
            double[]? w = config.Weighted ? Data<T>.ToDouble(weights) : null;
            int[]? labels = config.Dense ? null : Data<T>.Labels(rng, positions, classes, config.Options.IgnoreIndex, config.IgnoredEvery);
            T[]? targetRows = config.Dense ? Data<T>.Targets(rng, positions, classes, TargetKind.Distribution) : null;
            T[]? targets = targetRows is null ? null : Data<T>.FromDouble(FromRows(Data<T>.ToDouble(targetRows), outer, classes, inner));

            double[] rows = ToRows(x, outer, classes, inner);
            (double[] rowLosses, double[] rowMagnitudes, double loss, double denominator, double[] g, double[] m) = Reference(rows, classes, config, labels, targetRows is null ? null : Data<T>.ToDouble(targetRows), w);
            double[] gradient = FromRows(g, outer, classes, inner);
            double[] magnitude = FromRows(m, outer, classes, inner);
            double lossTolerance = (Tol.Loss * rowMagnitudes.Sum() / denominator) + Tol.Floor;

            foreach (int width in TestData.WidthBits)
            {
                string what = $"{config.Name}, shape [{string.Join(", ", shape)}], width {width}";
                using (ForcedWidth.Force(width))
                {
                    var logits = new ReadOnlyTensorSpan<T>(x, N(shape));
                    var output = new T[length];
                    var inPlace = (T[])x.Clone();
                    T fused, reduced;
                    if (labels is not null)
                    {
                        var l = new ReadOnlyTensorSpan<int>(labels, PositionShape(shape, 1));
                        fused = SoftmaxCrossEntropy.LossAndGradient(logits, l, new TensorSpan<T>(output, N(shape)), config.Options, weights, classAxis: 1);
                        SoftmaxCrossEntropy.LossAndGradient<T>(new TensorSpan<T>(inPlace, N(shape)), l, new TensorSpan<T>(inPlace, N(shape)), config.Options, weights, classAxis: 1);
                        reduced = SoftmaxCrossEntropy.Loss(logits, l, config.Options, weights, classAxis: 1);
                        var losses = new T[positions];
                        SoftmaxCrossEntropy.RowLosses(logits, l, new TensorSpan<T>(losses, PositionShape(shape, 1)), config.Options, weights, classAxis: 1);
                        Check.Close<T>(losses, rowLosses, rowMagnitudes, Tol.Loss, Tol.Floor, 1, $"{what}: row losses");
                    }
                    else
                    {
                        var t = new ReadOnlyTensorSpan<T>(targets, N(shape));
                        fused = SoftmaxCrossEntropy.LossAndGradient(logits, t, new TensorSpan<T>(output, N(shape)), config.Options, weights, classAxis: 1);
                        SoftmaxCrossEntropy.LossAndGradient<T>(new TensorSpan<T>(inPlace, N(shape)), t, new TensorSpan<T>(inPlace, N(shape)), config.Options, weights, classAxis: 1);
                        reduced = SoftmaxCrossEntropy.Loss(logits, t, config.Options, weights, classAxis: 1);
                    }

                    Check.Scalar(double.CreateTruncating(fused), loss, lossTolerance, $"{what}: LossAndGradient's loss");
                    Check.Scalar(double.CreateTruncating(reduced), loss, lossTolerance, $"{what}: Loss");
                    Check.Close<T>(output, gradient, magnitude, Tol.Gradient, Tol.Floor, inner, $"{what}: gradient");
                    Check.Close<T>(inPlace, gradient, magnitude, Tol.Gradient, Tol.Floor, inner, $"{what}: gradient in place");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void SoftmaxAndLogSoftmax_ClassAxis1_MatchTheDoubleReference(int width)
    {
        foreach (int[] shape in Shapes)
        {
            foreach (double cap in new[] { 0.0, 4.0 })
            {
                int outer = shape[0], classes = shape[1], inner = shape[2..].Aggregate(1, (a, b) => a * b);
                int length = outer * classes * inner;
                T[] x = Data<T>.Logits(new Random(Seeds.For(outer * inner, classes, 750)), length);
                double[] rows = ToRows(x, outer, classes, inner);
                double[] z = cap == 0 ? rows : [.. rows.Select(v => cap * Math.Tanh(v / cap))];
                double[] p = FromRows(SoftmaxCE.Tests.Reference.Softmax(z, classes), outer, classes, inner);
                double[] logP = FromRows(SoftmaxCE.Tests.Reference.LogSoftmax(z, classes), outer, classes, inner);
                double[] logMagnitude = FromRows(SoftmaxCE.Tests.Reference.LogSoftmaxMagnitude(z, classes), outer, classes, inner);
                var options = new CrossEntropyOptions { LogitSoftcap = cap };
                string what = $"shape [{string.Join(", ", shape)}], cap {cap}, width {width}";
                using (ForcedWidth.Force(width))
                {
                    var softmax = new T[length];
                    SoftmaxCrossEntropy.Softmax(new ReadOnlyTensorSpan<T>(x, N(shape)), new TensorSpan<T>(softmax, N(shape)), options, classAxis: 1);
                    Check.CloseRelative<T>(softmax, p, Tol.Probability, Tol.Floor, inner, $"{what}: softmax");

                    var logSoftmax = (T[])x.Clone();
                    SoftmaxCrossEntropy.LogSoftmax(Tensor.Create(logSoftmax, N(shape)), new TensorSpan<T>(logSoftmax, N(shape)), options, classAxis: 1);
                    Check.Close<T>(logSoftmax, logP, logMagnitude, Tol.LogProbability, Tol.Floor, inner, $"{what}: log-softmax in place");
                }
            }
        }
    }

    [Fact]
    public void ClassAxis_EverySpellingOfAnAxis_GivesBitwiseTheSameResults()
    {
        int[] shape = [2, 5, 3, 7];
        int length = shape.Aggregate(1, (a, b) => a * b);
        T[] x = Data<T>.Logits(new Random(17), length);
        foreach ((int axis, int negative) in new[] { (1, -3), (2, -2), (3, -1), (0, -4) })
        {
            int[] labels = Data<T>.Labels(new Random(axis), length / shape[axis], shape[axis]);
            var l = new ReadOnlyTensorSpan<int>(labels, PositionShape(shape, axis));
            var a = new T[length];
            var b = new T[length];
            T la = SoftmaxCrossEntropy.LossAndGradient(Tensor.Create(x, N(shape)), l, new TensorSpan<T>(a, N(shape)), classAxis: axis);
            T lb = SoftmaxCrossEntropy.LossAndGradient(Tensor.Create(x, N(shape)), labels, new TensorSpan<T>(b, N(shape)), classAxis: negative);
            Check.Bitwise<T>(a, b, $"axis {axis} vs {negative}");
            Check.Bitwise<T>([la], [lb], $"loss, axis {axis} vs {negative}");
        }

        // The last axis is today's row-major call.
        int[] rowLabels = Data<T>.Labels(new Random(5), length / 7, 7);
        var expected = new T[length];
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(x, rowLabels, expected, 7);
        var actual = new T[length];
        T actualLoss = SoftmaxCrossEntropy.LossAndGradient(Tensor.Create(x, N(shape)), rowLabels, new TensorSpan<T>(actual, N(shape)), classAxis: 3);
        Check.Bitwise<T>(actual, expected, "axis 3 vs the span overload");
        Check.Bitwise<T>([actualLoss], [expectedLoss], "loss, axis 3 vs the span overload");
    }

    [Fact]
    public void ClassAxis1_ManyThreads_BitwiseTheSameAsOneThread()
    {
        int[] shape = [4, 21, 48, 40];
        int positions = 4 * 48 * 40, length = positions * 21;
        var rng = new Random(23);
        T[] x = Data<T>.Logits(rng, length);
        int[] labels = Data<T>.Labels(rng, positions, 21, -100, 5);
        var one = new T[length];
        var all = new T[length];
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LabelSmoothing = 0.1 };
        T lossOne = SoftmaxCrossEntropy.LossAndGradient(Tensor.Create(x, N(shape)), labels, new TensorSpan<T>(one, N(shape)), options with { MaxDegreeOfParallelism = 1 }, classAxis: 1);
        T lossAll = SoftmaxCrossEntropy.LossAndGradient(Tensor.Create(x, N(shape)), labels, new TensorSpan<T>(all, N(shape)), options with { MaxDegreeOfParallelism = 0 }, classAxis: 1);
        Check.Bitwise<T>(all, one, "gradient, all cores vs one thread");
        Check.Bitwise<T>([lossAll], [lossOne], "loss, all cores vs one thread");
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(-4)]
    [InlineData(int.MinValue)]
    public void ClassAxis_OutsideTheRank_ThrowsAndLeavesOutputsUntouched(int classAxis)
    {
        int[] shape = [2, 3, 4];
        T[] x = Data<T>.Logits(new Random(1), 24);
        int[] labels = new int[8];
        T[] gradient = [.. Enumerable.Repeat(T.CreateTruncating(-7.25), 24)];
        T[] losses = [.. Enumerable.Repeat(T.CreateTruncating(-7.25), 8)];
        T[] before = (T[])gradient.Clone();
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.LossAndGradient(Tensor.Create(x, N(shape)), labels, new TensorSpan<T>(gradient, N(shape)), classAxis: classAxis));
        Assert.Equal("classAxis", e1.ParamName);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.Softmax(Tensor.Create(x, N(shape)), new TensorSpan<T>(gradient, N(shape)), classAxis: classAxis));
        Assert.Equal("classAxis", e2.ParamName);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.RowLosses(Tensor.Create(x, N(shape)), labels, losses, classAxis: classAxis));
        Assert.Equal("classAxis", e3.ParamName);
        Check.Bitwise<T>(gradient, before, "gradient after a refused call");
        Assert.All(losses, v => Assert.Equal(T.CreateTruncating(-7.25), v));
    }

    [Fact]
    public void ClassAxis1_ShapesThatDisagree_ThrowNamingTheArgumentAndLeaveOutputsUntouched()
    {
        int[] shape = [2, 3, 4, 5];
        int length = 120;
        T[] x = Data<T>.Logits(new Random(2), length);
        T sentinel = T.CreateTruncating(-7.25);
        T[] gradient = [.. Enumerable.Repeat(sentinel, length)];
        T[] losses = [.. Enumerable.Repeat(sentinel, 40)];
        var logits = Tensor.Create(x, N(shape));

        // Labels shaped as for the last axis ([2, 3, 4]) where axis 1 needs [2, 4, 5]; a label out of range at position 37.
        int[] wrongLabels = new int[24];
        var labels = new int[40];
        var e1 = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.LossAndGradient(logits, new ReadOnlyTensorSpan<int>(wrongLabels, [2, 3, 4]), new TensorSpan<T>(gradient, N(shape)), classAxis: 1));
        Assert.Equal("labels", e1.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.LossAndGradient(logits, labels, new TensorSpan<T>(gradient, [2, 3, 20]), classAxis: 1));
        Assert.Equal("gradient", e2.ParamName);
        var e3 = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.RowLosses(logits, new ReadOnlyTensorSpan<int>(labels, [2, 4, 5]), new TensorSpan<T>(losses, [2, 3, 4]), classAxis: 1));
        Assert.Equal("rowLosses", e3.ParamName);
        var e4 = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.Loss(logits, new ReadOnlyTensorSpan<T>(new T[length], [2, 4, 3, 5]), classAxis: 1));
        Assert.Equal("targets", e4.ParamName);
        var e5 = Assert.Throws<ArgumentException>(() =>
            SoftmaxCrossEntropy.LossAndGradient(logits, new int[39], new TensorSpan<T>(gradient, N(shape)), classAxis: 1));
        Assert.Equal("labels", e5.ParamName);

        labels[37] = 3;
        var e6 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.LossAndGradient(logits, new ReadOnlyTensorSpan<int>(labels, [2, 4, 5]), new TensorSpan<T>(gradient, N(shape)), classAxis: 1));
        Assert.Equal("labels", e6.ParamName);
        Assert.Contains("37", e6.Message, StringComparison.Ordinal);
        var e7 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.RowLosses(logits, labels, losses, classAxis: 1));
        Assert.Equal("labels", e7.ParamName);

        Assert.All(gradient, v => Assert.Equal(sentinel, v));
        Assert.All(losses, v => Assert.Equal(sentinel, v));
    }
}

public sealed class ClassAxisTestsSingle : ClassAxisTests<float>
{
}

public sealed class ClassAxisTestsDouble : ClassAxisTests<double>
{
}
