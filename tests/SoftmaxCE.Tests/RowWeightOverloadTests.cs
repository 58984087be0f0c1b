using System;
using System.Linq;
using System.Numerics;
using System.Numerics.Tensors;
using FluentAssertions;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The class axes the row-weight tests run: the last (the span kernels) and 1 (PyTorch's N-d layout).</summary>
public static class RowWeightAxes
{
    public static TheoryData<int> Axes() => new() { -1, 1 };
}

/// <summary>
/// Row weights on the tensor overloads (Loss, RowLosses, LossAndGradient, Backward; the classes last, or on axis 1, where
/// the positions' row weights are shaped as their labels) and on ShardLossAndGradient: against the double reference with the
/// same row weights, and a bad row weight refused, naming rowWeights, with every output untouched.
/// </summary>
public abstract class RowWeightOverloadTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int Classes = 7;
    private const int Positions = 30;

    private static readonly Tolerances Tol = Tolerances.For<T>();

    private static readonly CrossEntropyOptions LabelOptions = new() { IgnoreIndex = -100, LabelSmoothing = 0.1, ZLoss = 1e-3 };

    private static readonly CrossEntropyOptions DenseOptions = new() { Reduction = Reduction.Sum, LabelSmoothing = 0.2, ZLoss = 1e-2 };

    private static readonly T Sentinel = T.CreateTruncating(-123.5);

    /// <summary>One problem laid out with the classes on <see cref="Axis"/>: 30 positions of 7 classes.</summary>
    private sealed class Problem
    {
        public Problem(int axis, int seed)
        {
            Axis = axis;
            var rng = new Random(seed);
            (Shape, PositionShape, Outer, Inner) = axis == 1
                ? (new nint[] { 2, Classes, 3, 5 }, new nint[] { 2, 3, 5 }, 2, 15)
                : (new nint[] { 2, 15, Classes }, new nint[] { 2, 15 }, Positions, 1);
            Logits = Data<T>.Logits(rng, Positions * Classes);
            Targets = Data<T>.Targets(rng, Positions, Classes, TargetKind.Unnormalised);
            Labels = [.. Enumerable.Range(0, Positions).Select(i => i % 4 == 3 ? -100 : rng.Next(Classes))];
            ClassWeights = Data<T>.Weights(rng, Classes);
            RowWeights = [.. Enumerable.Range(0, Positions).Select(i => T.CreateTruncating(i % 5 == 0 ? 0 : 0.25 + (1.5 * rng.NextDouble())))];
        }

        public int Axis { get; }

        public nint[] Shape { get; }

        public nint[] PositionShape { get; }

        public int Outer { get; }

        public int Inner { get; }

        /// <summary>In the tensor's layout.</summary>
        public T[] Logits { get; }

        /// <summary>In the tensor's layout.</summary>
        public T[] Targets { get; }

        public int[] Labels { get; }

        public T[] ClassWeights { get; }

        public T[] RowWeights { get; }

        /// <summary>The positions' rows, <c>[positions, C]</c>, gathered here from the tensor's layout.</summary>
        public double[] Rows(T[] x)
        {
            var rows = new double[x.Length];
            for (int n = 0; n < Outer; n++)
            {
                for (int k = 0; k < Classes; k++)
                {
                    for (int p = 0; p < Inner; p++)
                    {
                        rows[(((n * Inner) + p) * Classes) + k] = double.CreateTruncating(x[(((n * Classes) + k) * Inner) + p]);
                    }
                }
            }

            return rows;
        }

        public double[]? ClassWeightsD => [.. ClassWeights.Select(double.CreateTruncating)];

        public double[] RowWeightsD => [.. RowWeights.Select(double.CreateTruncating)];

        public ReadOnlyTensorSpan<T> LogitsTensor => new(Logits, Shape);

        public ReadOnlyTensorSpan<T> TargetsTensor => new(Targets, Shape);

        public ReadOnlyTensorSpan<int> LabelsTensor => new(Labels, PositionShape);

        public ReadOnlyTensorSpan<T> RowWeightsTensor => new(RowWeights, PositionShape);

        /// <summary>The row weights as a one-dimensional tensor, the other shape the overloads accept.</summary>
        public ReadOnlyTensorSpan<T> RowWeightsFlat => new(RowWeights, [Positions]);
    }

    private static double LabelLoss(Problem p) =>
        Reference.FullLabelLoss(p.Rows(p.Logits), p.Labels, Classes, LabelOptions, p.ClassWeightsD, p.RowWeightsD);

    private static double DenseLoss(Problem p) =>
        Reference.FullDenseLoss(p.Rows(p.Logits), p.Rows(p.Targets), Classes, DenseOptions, p.ClassWeightsD, p.RowWeightsD);

    private static (double[] Gradient, double[] Magnitude) LabelGradient(Problem p)
    {
        double[] q = Reference.LabelEffectiveTargets(p.Labels, Classes, LabelOptions.IgnoreIndex, p.ClassWeightsD, LabelOptions.LabelSmoothing);
        double d = Reference.FullLabelDenominator(p.Labels, LabelOptions, p.ClassWeightsD);
        double[] f = Reference.RowFactors(Positions, p.RowWeightsD, 1, d, null);
        return Reference.FullGradient(p.Rows(p.Logits), q, Reference.Counted(p.Labels, LabelOptions.IgnoreIndex), Classes, LabelOptions, f);
    }

    private static (double[] Gradient, double[] Magnitude) DenseGradient(Problem p)
    {
        double[] q = Reference.DenseEffectiveTargets(p.Rows(p.Targets), Classes, p.ClassWeightsD, DenseOptions.LabelSmoothing);
        double[] f = Reference.RowFactors(Positions, p.RowWeightsD, 1, Reference.FullDenseDenominator(Positions, DenseOptions), null);
        return Reference.FullGradient(p.Rows(p.Logits), q, Enumerable.Repeat(true, Positions).ToArray(), Classes, DenseOptions, f);
    }

    private static void LossIs(T actual, double expected, string what) =>
        Check.Scalar(double.CreateTruncating(actual), expected, Tol.Loss * Math.Max(1, Math.Abs(expected)), what);

    private static void GradientIs(Problem p, T[] gradient, (double[] Gradient, double[] Magnitude) expected, string what) =>
        Check.Close<T>(p.Rows(gradient).Select(T.CreateTruncating).ToArray(), expected.Gradient, expected.Magnitude, Tol.Gradient, Tol.Floor, Classes, what);

    [Theory]
    [MemberData(nameof(RowWeightAxes.Axes), MemberType = typeof(RowWeightAxes))]
    public void Loss_TensorOverloads_WithRowWeights_MatchTheReference(int axis)
    {
        var p = new Problem(axis, 1);
        double labels = LabelLoss(p);
        LossIs(SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.LabelsTensor, LabelOptions, p.ClassWeights, p.RowWeightsTensor, axis), labels, "labels tensor");
        LossIs(SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.LabelsTensor, LabelOptions, p.ClassWeights, p.RowWeightsFlat, axis), labels, "labels tensor, flat row weights");
        LossIs(SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.Labels.AsSpan(), LabelOptions, p.ClassWeights, p.RowWeights, axis), labels, "labels span");
        Tensor<T> logits = Tensor.Create(p.Logits, p.Shape);
        LossIs(SoftmaxCrossEntropy.Loss(logits, p.LabelsTensor, LabelOptions, p.ClassWeights, p.RowWeightsTensor, axis), labels, "Tensor, labels tensor");
        LossIs(SoftmaxCrossEntropy.Loss(logits, p.Labels.AsSpan(), LabelOptions, p.ClassWeights, p.RowWeights, axis), labels, "Tensor, labels span");

        double dense = DenseLoss(p);
        LossIs(SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.TargetsTensor, DenseOptions, p.ClassWeights, p.RowWeightsTensor, axis), dense, "targets");
        LossIs(SoftmaxCrossEntropy.Loss(logits, p.TargetsTensor, DenseOptions, p.ClassWeights, p.RowWeightsTensor, axis), dense, "Tensor, targets");
    }

    [Theory]
    [MemberData(nameof(RowWeightAxes.Axes), MemberType = typeof(RowWeightAxes))]
    public void RowLosses_TensorOverloads_WithRowWeights_MatchTheReference(int axis)
    {
        var p = new Problem(axis, 2);
        double[] expected = Reference.FullLabelRowLosses(p.Rows(p.Logits), p.Labels, Classes, LabelOptions, p.ClassWeightsD, p.RowWeightsD);
        Tensor<T> logits = Tensor.Create(p.Logits, p.Shape);
        for (int variant = 0; variant < 4; variant++)
        {
            var rowLosses = new T[Positions];
            var rowLossesTensor = new TensorSpan<T>(rowLosses, p.PositionShape);
            switch (variant)
            {
                case 0:
                    SoftmaxCrossEntropy.RowLosses(p.LogitsTensor, p.LabelsTensor, rowLossesTensor, LabelOptions, p.ClassWeights, p.RowWeightsTensor, axis);
                    break;
                case 1:
                    SoftmaxCrossEntropy.RowLosses(p.LogitsTensor, p.Labels.AsSpan(), rowLosses.AsSpan(), LabelOptions, p.ClassWeights, p.RowWeights, axis);
                    break;
                case 2:
                    SoftmaxCrossEntropy.RowLosses(logits, p.LabelsTensor, rowLossesTensor, LabelOptions, p.ClassWeights, p.RowWeightsFlat, axis);
                    break;
                default:
                    SoftmaxCrossEntropy.RowLosses(logits, p.Labels.AsSpan(), rowLosses.AsSpan(), LabelOptions, p.ClassWeights, p.RowWeights, axis);
                    break;
            }

            Check.CloseRelative<T>(rowLosses, expected, Tol.Loss, Tol.Floor, 1, $"row losses, variant {variant}");
        }
    }

    [Theory]
    [MemberData(nameof(RowWeightAxes.Axes), MemberType = typeof(RowWeightAxes))]
    public void LossAndGradient_TensorOverloads_WithRowWeights_MatchTheReference(int axis)
    {
        var p = new Problem(axis, 3);
        double labelLoss = LabelLoss(p);
        (double[], double[]) labelGradient = LabelGradient(p);
        Tensor<T> logits = Tensor.Create(p.Logits, p.Shape);
        for (int variant = 0; variant < 4; variant++)
        {
            var gradient = new T[p.Logits.Length];
            var g = new TensorSpan<T>(gradient, p.Shape);
            T loss = variant switch
            {
                0 => SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.LabelsTensor, g, LabelOptions, p.ClassWeights, p.RowWeightsTensor, axis),
                1 => SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.Labels.AsSpan(), g, LabelOptions, p.ClassWeights, p.RowWeights, axis),
                2 => SoftmaxCrossEntropy.LossAndGradient(logits, p.LabelsTensor, g, LabelOptions, p.ClassWeights, p.RowWeightsFlat, axis),
                _ => SoftmaxCrossEntropy.LossAndGradient(logits, p.Labels.AsSpan(), g, LabelOptions, p.ClassWeights, p.RowWeights, axis),
            };
            LossIs(loss, labelLoss, $"labels, variant {variant}");
            GradientIs(p, gradient, labelGradient, $"labels gradient, variant {variant}");

            gradient = new T[p.Logits.Length];
            g = new TensorSpan<T>(gradient, p.Shape);
            switch (variant)
            {
                case 0:
                    SoftmaxCrossEntropy.Backward(p.LogitsTensor, p.LabelsTensor, g, LabelOptions, p.ClassWeights, p.RowWeightsTensor, axis);
                    break;
                case 1:
                    SoftmaxCrossEntropy.Backward(p.LogitsTensor, p.Labels.AsSpan(), g, LabelOptions, p.ClassWeights, p.RowWeights, axis);
                    break;
                case 2:
                    SoftmaxCrossEntropy.Backward(logits, p.LabelsTensor, g, LabelOptions, p.ClassWeights, p.RowWeightsFlat, axis);
                    break;
                default:
                    SoftmaxCrossEntropy.Backward(logits, p.Labels.AsSpan(), g, LabelOptions, p.ClassWeights, p.RowWeights, axis);
                    break;
            }

            GradientIs(p, gradient, labelGradient, $"labels Backward, variant {variant}");
        }

        double denseLoss = DenseLoss(p);
        (double[], double[]) denseGradient = DenseGradient(p);
        for (int variant = 0; variant < 2; variant++)
        {
            var gradient = new T[p.Logits.Length];
            var g = new TensorSpan<T>(gradient, p.Shape);
            T loss = variant == 0
                ? SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.TargetsTensor, g, DenseOptions, p.ClassWeights, p.RowWeightsTensor, axis)
                : SoftmaxCrossEntropy.LossAndGradient(logits, p.TargetsTensor, g, DenseOptions, p.ClassWeights, p.RowWeightsFlat, axis);
            LossIs(loss, denseLoss, $"targets, variant {variant}");
            GradientIs(p, gradient, denseGradient, $"targets gradient, variant {variant}");

            gradient = new T[p.Logits.Length];
            g = new TensorSpan<T>(gradient, p.Shape);
            if (variant == 0)
            {
                SoftmaxCrossEntropy.Backward(p.LogitsTensor, p.TargetsTensor, g, DenseOptions, p.ClassWeights, p.RowWeightsTensor, axis);
            }
            else
            {
                SoftmaxCrossEntropy.Backward(logits, p.TargetsTensor, g, DenseOptions, p.ClassWeights, p.RowWeightsFlat, axis);
            }

            GradientIs(p, gradient, denseGradient, $"targets Backward, variant {variant}");
        }
    }

    [Theory]
    [MemberData(nameof(RowWeightAxes.Axes), MemberType = typeof(RowWeightAxes))]
    public void LossAndGradient_TensorInPlace_WithRowWeights_MatchesOutOfPlace(int axis)
    {
        var p = new Problem(axis, 4);
        var outOfPlace = new T[p.Logits.Length];
        T expected = SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.LabelsTensor, new TensorSpan<T>(outOfPlace, p.Shape), LabelOptions, p.ClassWeights, p.RowWeightsTensor, axis);
        T[] buffer = (T[])p.Logits.Clone();
        var inPlace = new TensorSpan<T>(buffer, p.Shape);
        T loss = SoftmaxCrossEntropy.LossAndGradient(inPlace, p.LabelsTensor, inPlace, LabelOptions, p.ClassWeights, p.RowWeightsTensor, axis);
        loss.Should().Be(expected);
        Check.Bitwise<T>(buffer, outOfPlace, "in place");
    }

    [Theory]
    [MemberData(nameof(RowWeightAxes.Axes), MemberType = typeof(RowWeightAxes))]
    public void TensorOverloads_BadRowWeight_ThrowNamingRowWeights_AndWriteNothing(int axis)
    {
        var p = new Problem(axis, 5);
        foreach (double bad in new[] { -1, double.NaN, double.PositiveInfinity })
        {
            T[] rowWeights = (T[])p.RowWeights.Clone();
            rowWeights[17] = T.CreateTruncating(bad);
            ReadOnlyTensorSpan<T> W() => new(rowWeights, p.PositionShape);
            RefusedAndUntouched(p, "rowWeights",
                (g, l) => SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.LabelsTensor, LabelOptions, p.ClassWeights, W(), axis),
                (g, l) => SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.Labels.AsSpan(), LabelOptions, p.ClassWeights, rowWeights, axis),
                (g, l) => SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.TargetsTensor, DenseOptions, p.ClassWeights, W(), axis),
                (g, l) => SoftmaxCrossEntropy.RowLosses(p.LogitsTensor, p.LabelsTensor, new TensorSpan<T>(l, p.PositionShape), LabelOptions, p.ClassWeights, W(), axis),
                (g, l) => SoftmaxCrossEntropy.RowLosses(p.LogitsTensor, p.Labels.AsSpan(), l.AsSpan(), LabelOptions, p.ClassWeights, rowWeights, axis),
                (g, l) => SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.LabelsTensor, new TensorSpan<T>(g, p.Shape), LabelOptions, p.ClassWeights, W(), axis),
                (g, l) => SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.Labels.AsSpan(), new TensorSpan<T>(g, p.Shape), LabelOptions, p.ClassWeights, rowWeights, axis),
                (g, l) => SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.TargetsTensor, new TensorSpan<T>(g, p.Shape), DenseOptions, p.ClassWeights, W(), axis),
                (g, l) => SoftmaxCrossEntropy.Backward(p.LogitsTensor, p.LabelsTensor, new TensorSpan<T>(g, p.Shape), LabelOptions, p.ClassWeights, W(), axis),
                (g, l) => SoftmaxCrossEntropy.Backward(p.LogitsTensor, p.TargetsTensor, new TensorSpan<T>(g, p.Shape), DenseOptions, p.ClassWeights, W(), axis));
        }
    }

    [Theory]
    [MemberData(nameof(RowWeightAxes.Axes), MemberType = typeof(RowWeightAxes))]
    public void TensorOverloads_RowWeightsOfTheWrongShape_ThrowNamingRowWeights_AndWriteNothing(int axis)
    {
        var p = new Problem(axis, 6);
        T[] longer = [.. p.RowWeights, T.One];
        ReadOnlyTensorSpan<T> WrongShape() => new(longer, [Positions + 1]);
        RefusedAndUntouched(p, "rowWeights",
            (g, l) => SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.LabelsTensor, LabelOptions, p.ClassWeights, WrongShape(), axis),
            (g, l) => SoftmaxCrossEntropy.Loss(p.LogitsTensor, p.Labels.AsSpan(), LabelOptions, p.ClassWeights, longer, axis),
            (g, l) => SoftmaxCrossEntropy.RowLosses(p.LogitsTensor, p.Labels.AsSpan(), l.AsSpan(), LabelOptions, p.ClassWeights, longer, axis),
            (g, l) => SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.TargetsTensor, new TensorSpan<T>(g, p.Shape), DenseOptions, p.ClassWeights, WrongShape(), axis),
            (g, l) => SoftmaxCrossEntropy.LossAndGradient(p.LogitsTensor, p.Labels.AsSpan(), new TensorSpan<T>(g, p.Shape), LabelOptions, p.ClassWeights, longer, axis));
    }

    [Theory]
    [MemberData(nameof(RowWeightAxes.Axes), MemberType = typeof(RowWeightAxes))]
    public void TensorOverloads_GradientOverlappingRowWeights_IsRefused_AndWritesNothing(int axis)
    {
        var p = new Problem(axis, 7);
        var buffer = new T[p.Logits.Length];
        buffer.AsSpan().Fill(Sentinel);
        p.RowWeights.CopyTo(buffer, 0);
        T[] before = (T[])buffer.Clone();
        ArgumentException e = Assert.ThrowsAny<ArgumentException>(() => SoftmaxCrossEntropy.LossAndGradient(
            p.LogitsTensor, p.Labels.AsSpan(), new TensorSpan<T>(buffer, p.Shape), LabelOptions, p.ClassWeights, buffer.AsSpan(0, Positions), axis));
        e.ParamName.Should().Be("gradient");
        Check.Bitwise<T>(buffer, before, "gradient after a refused call");
    }

    [Fact]
    public void ShardLossAndGradient_WithRowWeights_AddsUpToTheReference()
    {
        const int Rows = 13, Total = 40;
        var rng = new Random(8);
        T[] logits = Data<T>.Logits(rng, Rows * Total);
        int[] labels = [.. Enumerable.Range(0, Rows).Select(i => i % 5 == 4 ? -100 : rng.Next(Total))];
        T[] classWeights = Data<T>.Weights(rng, Total);
        T[] rowWeights = [.. Enumerable.Range(0, Rows).Select(i => T.CreateTruncating(i % 4 == 0 ? 0 : 0.5 + rng.NextDouble()))];
        int[] split = [0, 16, Total];
        var rowMax = new T[Rows];
        var rowSumExp = new T[Rows];
        var shards = new T[2][];
        for (int s = 0; s < 2; s++)
        {
            int width = split[s + 1] - split[s];
            shards[s] = new T[Rows * width];
            for (int i = 0; i < Rows; i++)
            {
                logits.AsSpan((i * Total) + split[s], width).CopyTo(shards[s].AsSpan(i * width));
            }

            var max = new T[Rows];
            var sum = new T[Rows];
            SoftmaxCrossEntropy.ShardStatistics<T>(shards[s], labels, max, sum, new T[Rows], width, split[s], Total, LabelOptions);
            if (s == 0)
            {
                max.CopyTo(rowMax, 0);
                sum.CopyTo(rowSumExp, 0);
            }
            else
            {
                SoftmaxCrossEntropy.MergeShardStatistics<T>(max, sum, rowMax, rowSumExp);
            }
        }

        double loss = 0;
        var gradient = new T[logits.Length];
        for (int s = 0; s < 2; s++)
        {
            int width = split[s + 1] - split[s];
            var shardGradient = new T[Rows * width];
            loss += double.CreateTruncating(SoftmaxCrossEntropy.ShardLossAndGradient<T>(
                shards[s], labels, rowMax, rowSumExp, shardGradient, width, split[s], Total, LabelOptions, classWeights, rowWeights));
            for (int i = 0; i < Rows; i++)
            {
                shardGradient.AsSpan(i * width, width).CopyTo(gradient.AsSpan((i * Total) + split[s]));
            }
        }

        double[] y = [.. logits.Select(double.CreateTruncating)];
        double[] cw = [.. classWeights.Select(double.CreateTruncating)];
        double[] rw = [.. rowWeights.Select(double.CreateTruncating)];
        double expectedLoss = Reference.FullLabelLoss(y, labels, Total, LabelOptions, cw, rw);
        Check.Scalar(loss, expectedLoss, Tol.Loss * Math.Max(1, Math.Abs(expectedLoss)), "sharded loss");
        double[] q = Reference.LabelEffectiveTargets(labels, Total, LabelOptions.IgnoreIndex, cw, LabelOptions.LabelSmoothing);
        double[] f = Reference.RowFactors(Rows, rw, 1, Reference.FullLabelDenominator(labels, LabelOptions, cw), null);
        (double[] g, double[] magnitude) = Reference.FullGradient(y, q, Reference.Counted(labels, LabelOptions.IgnoreIndex), Total, LabelOptions, f);
        Check.Close<T>(gradient, g, magnitude, Tol.Gradient, Tol.Floor, Total, "sharded gradient");
    }

    [Fact]
    public void ShardLossAndGradient_BadRowWeights_ThrowNamingRowWeights_AndWriteNothing()
    {
        const int Rows = 4, Shard = 5, Total = 9;
        T[] logits = Data<T>.Logits(new Random(9), Rows * Shard);
        int[] labels = [0, 3, 8, 6];
        T[] rowMax = [.. Enumerable.Repeat(T.CreateTruncating(4), Rows)];
        T[] rowSumExp = [.. Enumerable.Repeat(T.CreateTruncating(3), Rows)];
        foreach (T[] rowWeights in new[] { new[] { T.One, T.One, -T.One, T.One }, new[] { T.One, T.NaN, T.One, T.One }, new T[Rows + 1] })
        {
            var gradient = new T[logits.Length];
            gradient.AsSpan().Fill(Sentinel);
            ArgumentException e = Assert.ThrowsAny<ArgumentException>(() =>
                SoftmaxCrossEntropy.ShardLossAndGradient<T>(logits, labels, rowMax, rowSumExp, gradient, Shard, 0, Total, default, default, rowWeights));
            e.ParamName.Should().Be("rowWeights");
            gradient.Should().AllSatisfy(v => v.Should().Be(Sentinel));
        }
    }

    private delegate void Call(T[] gradient, T[] rowLosses);

    /// <summary>Each call throws an <see cref="ArgumentException"/> naming <paramref name="paramName"/> and writes nothing.</summary>
    private static void RefusedAndUntouched(Problem p, string paramName, params Call[] calls)
    {
        for (int c = 0; c < calls.Length; c++)
        {
            var gradient = new T[p.Logits.Length];
            var rowLosses = new T[Positions];
            gradient.AsSpan().Fill(Sentinel);
            rowLosses.AsSpan().Fill(Sentinel);
            ArgumentException e = Assert.ThrowsAny<ArgumentException>(() => calls[c](gradient, rowLosses));
            e.ParamName.Should().Be(paramName, $"call {c}");
            gradient.Should().AllSatisfy(v => v.Should().Be(Sentinel), $"call {c} leaves the gradient untouched");
            rowLosses.Should().AllSatisfy(v => v.Should().Be(Sentinel), $"call {c} leaves the row losses untouched");
        }
    }
}

public sealed class RowWeightOverloadTestsSingle : RowWeightOverloadTests<float>;

public sealed class RowWeightOverloadTestsDouble : RowWeightOverloadTests<double>;

/// <summary>
/// Half storage with row weights: the results are the float method's on the widened inputs, each rounded once to Half.
/// </summary>
public sealed class RowWeightHalfTests
{
    private static Half[] Narrow(float[] x) => [.. x.Select(v => (Half)v)];

    private static float[] Widen(Half[] x) => [.. x.Select(v => (float)v)];

    [Fact]
    public void ShardLossAndGradient_Half_WithRowWeights_IsTheFloatResultRoundedOnce()
    {
        const int Rows = 11, Shard = 9, Offset = 0, Total = 20;
        var rng = new Random(10);
        Half[] logits = Narrow(Data<float>.Logits(rng, Rows * Shard));
        int[] labels = [.. Enumerable.Range(0, Rows).Select(i => i % 4 == 1 ? -100 : rng.Next(Total))];
        Half[] rowMax = Narrow([.. Enumerable.Range(0, Rows).Select(_ => 3.5f + (float)rng.NextDouble())]);
        Half[] rowSumExp = Narrow([.. Enumerable.Range(0, Rows).Select(_ => 2f + (5 * (float)rng.NextDouble()))]);
        Half[] classWeights = Narrow(Data<float>.Weights(rng, Total));
        Half[] rowWeights = Narrow([.. Enumerable.Range(0, Rows).Select(i => i % 3 == 0 ? 0f : 0.5f + (float)rng.NextDouble())]);
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LabelSmoothing = 0.1, ZLoss = 1e-3 };

        var halfGradient = new Half[logits.Length];
        Half halfLoss = SoftmaxCrossEntropy.ShardLossAndGradient<Half>(logits, labels, rowMax, rowSumExp, halfGradient, Shard, Offset, Total, options, classWeights, rowWeights);
        var floatGradient = new float[logits.Length];
        float floatLoss = SoftmaxCrossEntropy.ShardLossAndGradient<float>(
            Widen(logits), labels, Widen(rowMax), Widen(rowSumExp), floatGradient, Shard, Offset, Total, options, Widen(classWeights), Widen(rowWeights));

        Check.Bitwise<Half>(halfGradient, Narrow(floatGradient), "Half gradient against the float gradient rounded once");
        ((float)halfLoss).Should().BeApproximately(floatLoss, Math.Abs(floatLoss) * 1e-3f);
        var unweighted = new Half[logits.Length];
        SoftmaxCrossEntropy.ShardLossAndGradient<Half>(logits, labels, rowMax, rowSumExp, unweighted, Shard, Offset, Total, options, classWeights);
        unweighted.Should().NotEqual(halfGradient, "the row weights change the gradient");
    }

    [Fact]
    public void LossAndGradient_HalfTensor_WithRowWeights_IsTheFloatResultRoundedOnce()
    {
        const int Classes = 40;
        nint[] shape = [3, 5, Classes];
        nint[] positions = [3, 5];
        var rng = new Random(11);
        Half[] logits = Narrow(Data<float>.Logits(rng, 15 * Classes));
        int[] labels = [.. Enumerable.Range(0, 15).Select(_ => rng.Next(Classes))];
        Half[] rowWeights = Narrow([.. Enumerable.Range(0, 15).Select(i => i % 4 == 0 ? 0f : 0.5f + (float)rng.NextDouble())]);
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1, ZLoss = 1e-3 };

        var halfGradient = new Half[logits.Length];
        SoftmaxCrossEntropy.LossAndGradient(
            new ReadOnlyTensorSpan<Half>(logits, shape), new ReadOnlyTensorSpan<int>(labels, positions), new TensorSpan<Half>(halfGradient, shape), options,
            default, new ReadOnlyTensorSpan<Half>(rowWeights, positions));
        var floatGradient = new float[logits.Length];
        SoftmaxCrossEntropy.LossAndGradient<float>(Widen(logits), labels, floatGradient, Classes, options, default, Widen(rowWeights));

        Check.Bitwise<Half>(halfGradient, Narrow(floatGradient), "Half gradient against the float gradient rounded once");
    }
}
