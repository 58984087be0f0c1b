using System;
using System.Collections.Generic;
using System.Linq;
using System.Numerics;
using System.Numerics.Tensors;
using CsCheck;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>
/// One call, every entry point that returns its loss: the span overloads (<c>Loss</c>, <c>LossAndGradient</c> in and out
/// of place, the metrics methods, <c>Forward</c>) and the tensor overloads (row-major and class axis 1), on the same
/// rows. The entry points that run the same kernel return bitwise the same loss; every loss is the double reference's
/// rounded once, and infinite only where the reference is beyond <typeparamref name="T"/>'s range: near float's largest
/// value a row's loss may be beyond float's range while the mean of the rows is not, and the sum of the rows is in double.
/// </summary>
/// <remarks>
/// Three groups run the same kernel on the rows: the row-major fused and loss-only calls (with labels the
/// rows-across-lanes block kernel up to 128 classes), <c>Forward</c> (the row kernels, which save the log-sum-exp; the
/// class-axis <c>Forward</c> runs them on gathered rows), and the class-axis loss calls (the strided lane kernel). Within
/// a group the loss is bitwise the same; across groups it may differ by the kernels' roundings (a float ulp or so), except
/// where the row-major calls take the row kernels too, where it is bitwise <c>Forward</c>'s.
/// </remarks>
public abstract class LossConsistencyTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    /// <summary>Near the largest value of <typeparamref name="T"/>: float's 3e38; for double, one that keeps the reference's sums finite.</summary>
    private static readonly double Largest = typeof(T) == typeof(float) ? 3e38 : 1e300;

    /// <summary>60 random calls (SOFTMAXCE_PROPERTY_ITERATIONS scales them, as for <see cref="PropertyTests{T}"/>).</summary>
    [Fact]
    public void AnyCall_ReturnsTheSameLossThroughEveryEntryPoint() =>
        ConsistencyCase.Any(Largest).Sample(c => { Run(c); }, iter: PropertyRun.Iterations * 2 / 5, threads: 1, print: c => c.ToString());

    /// <summary>
    /// Logits up to +-3e38 with a logit scale of 0.25 to 0.8 or label smoothing, labels and dense targets: row losses up to
    /// 3e38 (with labels, a logit of 1.5e38 against -1.5e38), their mean finite in float.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LogitsNearFloatsLargest_GiveTheSameFiniteLossThroughEveryEntryPoint(int width)
    {
        CrossEntropyOptions[] options =
        [
            new() { LogitScale = 0.25 },
            new() { LogitScale = 0.5 },
            new() { LogitScale = 0.8 },
            new() { LabelSmoothing = 0.1 },
            new() { LabelSmoothing = 0.3, LogitScale = 0.5 },
            default,
        ];
        int seed = 0;
        foreach (int classes in new[] { 2, 10, 17, 100, 128, 1000 })
        {
            foreach (CrossEntropyOptions o in options)
            {
                foreach (bool dense in new[] { false, true })
                {
                    var c = new ConsistencyCase(width, Outer: 1, Inner: 37, classes, dense, TargetKind.Distribution, ClassWeights: false, o, 3e38, seed++);
                    Outcome outcome = Run(c);
                    if (outcome.Expected < float.MaxValue / 2 && !outcome.AllFinite)
                    {
                        throw new XunitException($"{c}: the reference's loss is {outcome.Expected:R}, but an entry point returned an infinity.");
                    }
                }
            }
        }
    }

    /// <summary>What a case found: the reference's loss, and whether every entry point returned a finite value.</summary>
    private readonly record struct Outcome(double Expected, bool AllFinite);

    private static Outcome Run(ConsistencyCase c)
    {
        var rng = new Random(c.Seed);
        int classes = c.Classes, rows = c.Outer * c.Inner, n = rows * classes;
        CrossEntropyOptions o = c.Options;
        // Logits up to the magnitude after the logit scale too: s y must stay finite in T, as it is in the reference.
        T[] logits = Data<T>.Logits(rng, n, c.Magnitude / Math.Max(1, Reference.LogitScaleOf(o)));
        T[] targets = c.Dense ? Data<T>.Targets(rng, rows, classes, c.TargetKind) : [];
        int[] labels = c.Dense ? [] : Data<T>.Labels(rng, rows, classes, o.IgnoreIndex, o.IgnoreIndex is null ? 0 : 3);
        T[] weights = c.ClassWeights ? Data<T>.Weights(rng, classes) : [];

        // The rows again with the classes on axis 1: [outer, C, inner].
        T[] axisLogits = ToAxis(logits, c.Outer, classes, c.Inner);
        T[] axisTargets = c.Dense ? ToAxis(targets, c.Outer, classes, c.Inner) : [];
        nint[] rowMajor = [rows, classes], axis = [c.Outer, classes, c.Inner], positions = [c.Outer, c.Inner];

        var fused = new Dictionary<string, T>();
        var forward = new Dictionary<string, T>();
        var strided = new Dictionary<string, T>();
        var gradient = new T[n];
        var inPlace = (T[])logits.Clone();
        var lse = new T[rows];
        using (ForcedWidth.Force(c.Width))
        {
            var tensor = new ReadOnlyTensorSpan<T>(logits, rowMajor);
            var axisTensor = new ReadOnlyTensorSpan<T>(axisLogits, axis);
            var lseTensor = new TensorSpan<T>(new T[rows], positions);
            if (c.Dense)
            {
                var targetTensor = new ReadOnlyTensorSpan<T>(targets, rowMajor);
                var axisTargetTensor = new ReadOnlyTensorSpan<T>(axisTargets, axis);
                fused["Loss"] = SoftmaxCrossEntropy.Loss<T>(logits, targets, classes, o, weights);
                fused["LossAndGradient"] = SoftmaxCrossEntropy.LossAndGradient<T>(logits, targets, gradient, classes, o, weights);
                fused["LossAndGradient in place"] = SoftmaxCrossEntropy.LossAndGradient<T>(inPlace, targets, inPlace, classes, o, weights);
                fused["tensor Loss"] = SoftmaxCrossEntropy.Loss<T>(tensor, targetTensor, o, weights);
                fused["tensor LossAndGradient"] = SoftmaxCrossEntropy.LossAndGradient<T>(tensor, targetTensor, new TensorSpan<T>(new T[n], rowMajor), o, weights);
                forward["Forward"] = SoftmaxCrossEntropy.Forward<T>(logits, targets, lse, classes, o, weights);
                forward["tensor Forward"] = SoftmaxCrossEntropy.Forward<T>(tensor, targetTensor, new TensorSpan<T>(new T[rows], [rows]), o, weights);
                forward["tensor Forward, class axis 1"] = SoftmaxCrossEntropy.Forward<T>(axisTensor, axisTargetTensor, lseTensor, o, weights, classAxis: 1);
                if (c.Strided)
                {
                    strided["tensor Loss, class axis 1"] = SoftmaxCrossEntropy.Loss<T>(axisTensor, axisTargetTensor, o, weights, classAxis: 1);
                    strided["tensor LossAndGradient, class axis 1"] = SoftmaxCrossEntropy.LossAndGradient<T>(axisTensor, axisTargetTensor, new TensorSpan<T>(new T[n], axis), o, weights, classAxis: 1);
                }
            }
            else
            {
                var labelTensor = new ReadOnlyTensorSpan<int>(labels, positions);
                fused["Loss"] = SoftmaxCrossEntropy.Loss<T>(logits, labels, classes, o, weights);
                fused["LossAndGradient"] = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, classes, o, weights);
                fused["LossAndGradient in place"] = SoftmaxCrossEntropy.LossAndGradient<T>(inPlace, labels, inPlace, classes, o, weights);
                fused["LossWithMetrics"] = SoftmaxCrossEntropy.LossWithMetrics<T>(logits, labels, classes, o, weights).Loss;
                fused["LossAndGradientWithMetrics"] = SoftmaxCrossEntropy.LossAndGradientWithMetrics<T>(logits, labels, new T[n], classes, o, weights).Loss;
                fused["tensor Loss"] = SoftmaxCrossEntropy.Loss<T>(tensor, labels, o, weights);
                fused["tensor LossAndGradient"] = SoftmaxCrossEntropy.LossAndGradient<T>(tensor, labels, new TensorSpan<T>(new T[n], rowMajor), o, weights);
                forward["Forward"] = SoftmaxCrossEntropy.Forward<T>(logits, labels, lse, classes, o, weights);
                forward["tensor Forward, class axis 1"] = SoftmaxCrossEntropy.Forward<T>(axisTensor, labelTensor, lseTensor, o, weights, classAxis: 1);
                if (c.Strided)
                {
                    strided["tensor Loss, class axis 1"] = SoftmaxCrossEntropy.Loss<T>(axisTensor, labelTensor, o, weights, classAxis: 1);
                    strided["tensor LossAndGradient, class axis 1"] = SoftmaxCrossEntropy.LossAndGradient<T>(axisTensor, labels, new TensorSpan<T>(new T[n], axis), o, weights, classAxis: 1);
                }
            }
        }

        string what = c.ToString();
        Bitwise(fused, what);
        Bitwise(forward, what);
        if (c.Strided)
        {
            Bitwise(strided, what);
        }
        if (c.SameRowKernel)
        {
            Bitwise(new Dictionary<string, T> { ["LossAndGradient"] = fused["LossAndGradient"], ["Forward"] = forward["Forward"] }, what);
        }

        // The reference, on the rows as T holds them.
        double[] y = Data<T>.ToDouble(logits);
        double[]? w = c.ClassWeights ? Data<T>.ToDouble(weights) : null;
        double expected, magnitude;
        double[] z = Reference.MapLogits(y, o);
        double[] rowLse = Reference.RowLogSumExps(z, classes);
        if (c.Dense)
        {
            double[] t = Data<T>.ToDouble(targets);
            expected = Reference.FullDenseLoss(y, t, classes, o, w, null);
            double[] q = Reference.DenseEffectiveTargets(t, classes, w, o.LabelSmoothing);
            magnitude = Magnitude(z, q, rowLse, null, classes, o) / Reference.FullDenseDenominator(rows, o);
        }
        else
        {
            expected = Reference.FullLabelLoss(y, labels, classes, o, w, null);
            double[] q = Reference.LabelEffectiveTargets(labels, classes, o.IgnoreIndex, w, o.LabelSmoothing);
            magnitude = Magnitude(z, q, rowLse, Reference.Counted(labels, o.IgnoreIndex), classes, o) / Reference.FullLabelDenominator(labels, o, w);
        }

        bool allFinite = true;
        foreach (KeyValuePair<string, T> entry in fused.Concat(forward).Concat(strided))
        {
            AgreesWithReference(entry.Value, expected, magnitude, $"{what}: {entry.Key}");
            allFinite &= T.IsFinite(entry.Value);
        }

        return new Outcome(expected, allFinite);
    }

    /// <summary>The size of the terms a loss is made of: <c>sum_k |q_k| (1 + |LSE| + |z_k|) + |z-loss|</c> over the counted rows.</summary>
    private static double Magnitude(double[] z, double[] q, double[] lse, bool[]? counted, int classes, CrossEntropyOptions o)
    {
        double[] rows = Reference.RowLossMagnitudes(z, q, classes);
        double sum = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            if (counted is null || counted[i])
            {
                sum += rows[i] + Math.Abs(o.ZLoss * lse[i] * lse[i]);
            }
        }

        return Math.Max(1, sum);
    }

    /// <summary>Every loss bitwise the first (any NaN equals any NaN: a NaN's payload says nothing).</summary>
    private static void Bitwise(Dictionary<string, T> losses, string what)
    {
        KeyValuePair<string, T> first = losses.First();
        foreach (KeyValuePair<string, T> entry in losses)
        {
            if (!(T.IsNaN(entry.Value) && T.IsNaN(first.Value)))
            {
                Check.Bitwise<T>([entry.Value], [first.Value], $"{what}: {entry.Key} ({entry.Value:R}) against {first.Key} ({first.Value:R})");
            }
        }
    }

    /// <summary>
    /// The reference's loss as <typeparamref name="T"/> holds it, within the loss tolerance of its terms; an infinity only
    /// where the reference is beyond <typeparamref name="T"/>'s largest value (or within the tolerance of it).
    /// </summary>
    private static void AgreesWithReference(T actual, double expected, double magnitude, string what)
    {
        double a = double.CreateTruncating(actual);
        double largest = typeof(T) == typeof(float) ? float.MaxValue : double.MaxValue;
        double tolerance = (Tol.Loss * magnitude) + Tol.Floor;
        bool ok = double.IsNaN(expected) ? double.IsNaN(a)
            : double.IsInfinity(a) ? Math.Sign(a) == Math.Sign(expected) && Math.Abs(expected) + tolerance >= largest
            : Math.Abs(a - expected) <= tolerance;
        if (!ok)
        {
            throw new XunitException($"{what}: {a:R}, expected {expected:R} (tolerance {tolerance:R}; {typeof(T).Name}'s largest value {largest:R}).");
        }
    }

    /// <summary>Row-major <c>[outer * inner, C]</c> rows laid out as <c>[outer, C, inner]</c>.</summary>
    private static T[] ToAxis(T[] rows, int outer, int classes, int inner)
    {
        var x = new T[rows.Length];
        for (int m = 0; m < outer; m++)
        {
            for (int k = 0; k < classes; k++)
            {
                for (int p = 0; p < inner; p++)
                {
                    x[(((m * classes) + k) * inner) + p] = rows[(((m * inner) + p) * classes) + k];
                }
            }
        }

        return x;
    }
}

public sealed class LossConsistencyTestsSingle : LossConsistencyTests<float>
{
}

public sealed class LossConsistencyTestsDouble : LossConsistencyTests<double>
{
}

/// <summary>One call of <see cref="LossConsistencyTests{T}"/>: <c>Outer * Inner</c> rows of <c>Classes</c>, logits uniform in +-<c>Magnitude</c>.</summary>
internal sealed record ConsistencyCase(
    int Width, int Outer, int Inner, int Classes, bool Dense, TargetKind TargetKind, bool ClassWeights, CrossEntropyOptions Options, double Magnitude, int Seed)
{
    /// <summary>
    /// Whether the row-major loss calls run the row kernels, as <c>Forward</c> does (which saves the log-sum-exp, which the
    /// rows-across-lanes block kernel does not): dense targets, the scalar width, a logit scale or soft-cap, and rows of 1
    /// or of more than 128 classes.
    /// </summary>
    public bool SameRowKernel =>
        Dense || Width == 1 || Options.LogitSoftcap != 0 || Options.LogitScale is not (0 or 1) || Classes < 2 || Classes > 128;

    /// <summary>
    /// Whether the class-axis loss calls are tried: up to 128 classes, the rows the row-major block kernel takes too.
    /// Beyond, the strided kernel's float sums over a position's classes (one accumulator per lane, not chunked into double
    /// as the row kernels' are) drift past the loss tolerance of 2e-6 of the terms: 2.6e-6 relative at 464 and 549
    /// classes with eps = 1, 5.5e-6 at 4100 classes.
    /// </summary>
    public bool Strided => Classes <= 128;

    private static readonly Gen<CrossEntropyOptions> AnyOptions =
        Gen.Select(
            Gen.Select(Gen.Bool, Gen.Bool, Gen.OneOf(Gen.Const(0.0), Gen.Double[1e-3, 1]), Gen.OneOf(Gen.Const(0.0), Gen.Const(0.0), Gen.Double[1e-4, 0.1])),
            Gen.Select(Gen.OneOf(Gen.Const(0.0), Gen.Const(0.0), Gen.Const(0.0), Gen.Double[1, 50]), Gen.OneOf(Gen.Const((double?)null), Gen.Double[0.5, 100].Select(v => (double?)v)), Gen.OneOf(Gen.Const(0.0), Gen.Double[0.25, 0.8], Gen.Double[1, 2])),
            (a, b) => new CrossEntropyOptions
            {
                Reduction = a.Item1 ? Reduction.Sum : Reduction.Mean,
                IgnoreIndex = a.Item2 ? -100 : null,
                LabelSmoothing = a.Item3,
                ZLoss = a.Item4,
                LogitSoftcap = b.Item1,
                Denominator = b.Item2,
                LogitScale = b.Item3,
            });

    public static Gen<ConsistencyCase> Any(double largest) =>
        from width in Gen.Int[0, TestData.WidthBits.Length - 1].Select(i => TestData.WidthBits[i])
        from classes in Gen.Frequency((6, Gen.Int[1, 130]), (2, Gen.Int[131, 600]), (1, Gen.OneOf(Gen.Const(1000), Gen.Const(4100))))
        from outer in Gen.Int[1, 3]
        from inner in classes <= 600 ? Gen.Int[1, 20] : Gen.Int[1, 3]
        from dense in Gen.Bool
        from kind in Gen.Enum<TargetKind>()
        from weighted in Gen.Bool
        from options in AnyOptions
        from magnitude in Gen.OneOf(Gen.Const(4.0), Gen.Const(1e4), Gen.Const(largest), Gen.Const(largest))
        from seed in Gen.Int
        select new ConsistencyCase(width, outer, inner, classes, dense, kind, weighted, options, magnitude, seed);

    public override string ToString() =>
        $"[{Outer} x {Inner} rows] x {Classes}, width {Width}, {(Dense ? $"dense {TargetKind}" : "labels")}, {(ClassWeights ? "weighted" : "unweighted")}, " +
        $"{Options.Reduction}, ignore {Options.IgnoreIndex?.ToString() ?? "none"}, eps {Options.LabelSmoothing}, z {Options.ZLoss}, cap {Options.LogitSoftcap}, " +
        $"denominator {Options.Denominator?.ToString() ?? "none"}, logit scale {Options.LogitScale}, logits up to {Magnitude:R}, seed {Seed}";
}
