using System;
using System.Linq;
using System.Numerics;
using System.Numerics.Tensors;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>How a dense-target row comes to have no distribution.</summary>
public enum NoDistribution
{
    /// <summary>A NaN on a class whose target is not 0.</summary>
    NaNOnATarget,

    /// <summary>A NaN on a class whose target is 0.</summary>
    NaNOffTheTargets,

    /// <summary>Every logit NaN.</summary>
    AllNaN,

    /// <summary>Every logit negative infinity (every class masked).</summary>
    AllNegativeInfinity,
}

/// <summary>The row lengths of <see cref="DenseTargetNanRowTests{T}"/>, for [MemberData].</summary>
public static class DenseTargetNanRowData
{
    /// <summary>
    /// Short rows (one vector, or the rows-across-lanes block kernel), medium rows (17 to 128, the block kernel at every
    /// width but the scalar one), the first row length past it, and long rows (the chunked statistics pass).
    /// </summary>
    public static TheoryData<int> Classes()
    {
        var data = new TheoryData<int>();
        foreach (int c in new[] { 1, 2, 8, 16, 17, 33, 100, 108, 128, 129, 257, 32000 })
        {
            data.Add(c);
        }

        return data;
    }

    /// <summary>
    /// The same for the tensor overloads, the long rows 1000 classes: the class-axis kernel sums a position's 32000
    /// exponentials in one float per lane, whose rounding reaches the gradient tolerance.
    /// </summary>
    public static TheoryData<int> TensorClasses()
    {
        var data = new TheoryData<int>();
        foreach (int c in new[] { 1, 2, 8, 16, 17, 33, 100, 108, 128, 129, 257, 1000 })
        {
            data.Add(c);
        }

        return data;
    }
}

/// <summary>
/// Dense targets and a row with no distribution (a NaN logit, or every logit negative infinity): that row's loss and
/// gradient are NaN, and so the reduced loss, whatever its targets (all zero included: PyTorch's <c>0 * NaN</c> is NaN
/// too), through every entry point that takes dense targets, at every forced width and row length; every other row is
/// what the double reference gives, masked classes with zero targets included (they add exactly 0).
/// </summary>
public abstract class DenseTargetNanRowTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    /// <summary>
    /// The options: plain and summed rows go through the block kernel up to 128 classes; row weights and a logit scale
    /// keep rows on the row kernels.
    /// </summary>
    private static readonly Config[] Configs =
    [
        new("mean", default, ClassWeights: false, RowWeights: false),
        new("sum, class weights", new() { Reduction = Reduction.Sum }, ClassWeights: true, RowWeights: false),
        new("denominator 1000, eps 0.1, row weights", new() { Denominator = 1000, LabelSmoothing = 0.1 }, ClassWeights: false, RowWeights: true),
        new("logit scale 0.5, z-loss 1e-3", new() { LogitScale = 0.5, ZLoss = 1e-3 }, ClassWeights: false, RowWeights: false),
    ];

    /// <summary>
    /// 37 short rows: two full blocks of 16 and a tail at 512 bits, so that the row without a distribution is tried inside
    /// a block and among the last rows (the padded copy); a few long ones.
    /// </summary>
    private static int RowsFor(int classes) => classes switch
    {
        <= 128 => 37,
        <= 257 => 5,
        _ => 3,
    };

    [Theory]
    [MemberData(nameof(DenseTargetNanRowData.Classes), MemberType = typeof(DenseTargetNanRowData))]
    public void RowWithoutDistribution_IsNaNInLossRowLossAndGradient_ThroughEverySpanEntryPoint(int classes)
    {
        int rows = RowsFor(classes);
        int variant = 0;
        foreach (Config config in Configs)
        {
            foreach (NoDistribution kind in Enum.GetValues<NoDistribution>())
            {
                foreach (bool zeroTargets in new[] { false, true })
                {
                    // Every target kind in turn; the bad row inside the first block, then among the last rows.
                    TargetKind targetKind = (TargetKind)(variant % 4);
                    int bad = variant % 2 == 0 ? 2 : rows - 2;
                    Problem p = Problem.Make(rows, classes, config, kind, zeroTargets, targetKind, bad, Seeds.For(rows, classes, 900 + variant));
                    variant++;
                    foreach (int width in TestData.WidthBits)
                    {
                        RunSpanEntryPoints(p, width);
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(DenseTargetNanRowData.TensorClasses), MemberType = typeof(DenseTargetNanRowData))]
    public void RowWithoutDistribution_IsNaNInLossAndGradient_ThroughTheTensorOverloads(int classes)
    {
        // [2, C, 19]: 38 positions, blocks of W positions and a tail of 3 at every width (one lane at a time), and the
        // same rows as a row-major [38, C].
        const int Outer = 2, Inner = 19;
        int positions = Outer * Inner;
        int variant = 0;
        // (The tensor overloads take no row weights; long rows skip the class weights, for time.)
        foreach (Config config in Configs.Where(c => !c.RowWeights && (classes <= 257 || !c.ClassWeights)))
        {
            foreach (NoDistribution kind in Enum.GetValues<NoDistribution>())
            {
                foreach (bool zeroTargets in new[] { false, true })
                {
                    TargetKind targetKind = (TargetKind)(variant % 4);
                    int bad = variant % 2 == 0 ? Inner + 2 : positions - 1;
                    Problem p = Problem.Make(positions, classes, config, kind, zeroTargets, targetKind, bad, Seeds.For(positions, classes, 950 + variant));
                    variant++;
                    foreach (int width in TestData.WidthBits)
                    {
                        RunTensorEntryPoints(p, Outer, Inner, width);
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(DenseTargetNanRowData.Classes), MemberType = typeof(DenseTargetNanRowData))]
    public void MicroBatchesSharingADenominator_OnlyTheOneWithTheRowWithoutDistributionIsNaN(int classes)
    {
        int rows = RowsFor(classes);
        int half = rows / 2;
        int variant = 0;
        foreach (NoDistribution kind in Enum.GetValues<NoDistribution>())
        {
            foreach (bool zeroTargets in new[] { false, true })
            {
                // The whole batch's row count as the shared denominator, as a training loop passes it.
                var config = new Config("shared denominator", new() { Denominator = rows }, ClassWeights: false, RowWeights: false);
                int bad = variant % 2 == 0 ? 0 : half - 1;
                Problem p = Problem.Make(rows, classes, config, kind, zeroTargets, (TargetKind)(variant % 4), bad, Seeds.For(rows, classes, 990 + variant));
                variant++;
                int n1 = half * classes;
                T[] firstLogits = p.Logits[..n1], secondLogits = p.Logits[n1..];
                T[] firstTargets = p.Targets[..n1], secondTargets = p.Targets[n1..];
                double expectedSecond = Reference.AccurateSum(p.RowLosses.AsSpan(half)) / rows;
                double secondMagnitude = p.RowMagnitudes.Skip(half).Sum() / rows;
                foreach (int width in TestData.WidthBits)
                {
                    string what = $"{p}, micro-batches of {half} and {rows - half} rows, width {width}";
                    var g1 = new T[n1];
                    var g2 = new T[secondLogits.Length];
                    var lse1 = new T[half];
                    var lse2 = new T[rows - half];
                    T loss1, loss2, forward1, forward2;
                    using (ForcedWidth.Force(width))
                    {
                        loss1 = SoftmaxCrossEntropy.LossAndGradient<T>(firstLogits, firstTargets, g1, classes, p.Options);
                        loss2 = SoftmaxCrossEntropy.LossAndGradient<T>(secondLogits, secondTargets, g2, classes, p.Options);
                        forward1 = SoftmaxCrossEntropy.Forward<T>(firstLogits, firstTargets, lse1, classes, p.Options);
                        forward2 = SoftmaxCrossEntropy.Forward<T>(secondLogits, secondTargets, lse2, classes, p.Options);
                    }

                    ExpectNaN(loss1, what + ": LossAndGradient of the first micro-batch");
                    ExpectNaN(forward1, what + ": Forward of the first micro-batch");
                    ExpectNaN(loss1 + loss2, what + ": the step's loss");
                    double tolerance = (Tol.Loss * Math.Max(1, secondMagnitude)) + Tol.Floor;
                    Check.Scalar(double.CreateTruncating(loss2), expectedSecond, tolerance, what + ": LossAndGradient of the second micro-batch");
                    Check.Scalar(double.CreateTruncating(forward2), expectedSecond, tolerance, what + ": Forward of the second micro-batch");
                    CheckGradient(g1, p.Gradient.AsSpan(0, n1), p.GradientMagnitude.AsSpan(0, n1), p.Bad, classes, what + ": first gradient");
                    CheckGradient(g2, p.Gradient.AsSpan(n1), p.GradientMagnitude.AsSpan(n1), -1, classes, what + ": second gradient");
                }
            }
        }
    }

    private static void RunSpanEntryPoints(Problem p, int width)
    {
        int n = p.Logits.Length, rows = p.Rows, classes = p.Classes;
        CrossEntropyOptions o = p.Options;
        string what = $"{p}, width {width}";
        var gradient = new Guarded<T>(n);
        var inPlace = (T[])p.Logits.Clone();
        var backward = new T[n];
        var lse = new T[rows];
        var rowLosses = new T[rows];
        var fromLse = new T[n];
        var fromLseRows = new T[n];
        T[] ones = [.. Enumerable.Repeat(T.One, rows)];
        T loss, fused, fusedInPlace, forward;
        using (ForcedWidth.Force(width))
        {
            loss = SoftmaxCrossEntropy.Loss<T>(p.Logits, p.Targets, classes, o, p.ClassWeights, p.RowWeights);
            fused = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Targets, gradient.Span, classes, o, p.ClassWeights, p.RowWeights);
            fusedInPlace = SoftmaxCrossEntropy.LossAndGradient<T>(inPlace, p.Targets, inPlace, classes, o, p.ClassWeights, p.RowWeights);
            SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Targets, backward, classes, o, p.ClassWeights, p.RowWeights);
            forward = SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Targets, lse, classes, o, p.ClassWeights, p.RowWeights, rowLosses);
            SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Targets, lse, T.One, fromLse, classes, o, p.ClassWeights, p.RowWeights);
            SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Targets, lse, ones, fromLseRows, classes, o, p.ClassWeights, p.RowWeights);
        }

        gradient.AssertGuardsIntact(what);
        ExpectNaN(loss, what + ": Loss");
        ExpectNaN(fused, what + ": LossAndGradient");
        ExpectNaN(fusedInPlace, what + ": LossAndGradient in place");
        ExpectNaN(forward, what + ": Forward");
        ExpectNaN(rowLosses[p.Bad], what + $": Forward's row loss {p.Bad}");
        Check.Close<T>(rowLosses, p.RowLosses, p.RowMagnitudes, Tol.Loss, Tol.Floor, 1, what + ": Forward's row losses");
        Check.Close<T>(lse, p.LogSumExp, p.LogSumExpMagnitude, Tol.LogProbability, Tol.Floor, 1, what + ": Forward's log-sum-exp");
        CheckGradient(gradient.Span, p.Gradient, p.GradientMagnitude, p.Bad, classes, what + ": LossAndGradient");
        CheckGradient(inPlace, p.Gradient, p.GradientMagnitude, p.Bad, classes, what + ": LossAndGradient in place");
        CheckGradient(backward, p.Gradient, p.GradientMagnitude, p.Bad, classes, what + ": Backward");
        CheckGradient(fromLse, p.Gradient, p.GradientMagnitude, p.Bad, classes, what + ": Backward from the log-sum-exp");
        CheckGradient(fromLseRows, p.RowGradient, p.RowGradientMagnitude, p.Bad, classes, what + ": Backward from the log-sum-exp, per-row upstream");
    }

    private static void RunTensorEntryPoints(Problem p, int outer, int inner, int width)
    {
        int n = p.Logits.Length, positions = p.Rows, classes = p.Classes;
        CrossEntropyOptions o = p.Options;
        string what = $"{p}, [{outer}, {classes}, {inner}] and [{positions}, {classes}], width {width}";
        T[] x = FromRows(p.Logits, outer, classes, inner);
        T[] t = FromRows(p.Targets, outer, classes, inner);
        nint[] shape = [outer, classes, inner];
        nint[] rowMajor = [positions, classes];
        nint[] positionShape = [outer, inner];
        var gradient = new T[n];
        var backward = new T[n];
        var lse = new T[positions];
        var rowLosses = new T[positions];
        var fromLse = new T[n];
        var rowMajorGradient = new T[n];
        T loss, fused, forward, rowMajorLoss, rowMajorFused;
        using (ForcedWidth.Force(width))
        {
            var logits = new ReadOnlyTensorSpan<T>(x, shape);
            var targets = new ReadOnlyTensorSpan<T>(t, shape);
            loss = SoftmaxCrossEntropy.Loss<T>(logits, targets, o, p.ClassWeights, classAxis: 1);
            fused = SoftmaxCrossEntropy.LossAndGradient<T>(logits, targets, new TensorSpan<T>(gradient, shape), o, p.ClassWeights, classAxis: 1);
            SoftmaxCrossEntropy.Backward<T>(logits, targets, new TensorSpan<T>(backward, shape), o, p.ClassWeights, classAxis: 1);
            forward = SoftmaxCrossEntropy.Forward<T>(
                logits, targets, new TensorSpan<T>(lse, positionShape), o, p.ClassWeights, rowLosses: new TensorSpan<T>(rowLosses, positionShape), classAxis: 1);
            SoftmaxCrossEntropy.Backward<T>(logits, targets, new ReadOnlyTensorSpan<T>(lse, positionShape), T.One, new TensorSpan<T>(fromLse, shape), o, p.ClassWeights, classAxis: 1);
            var rowMajorLogits = new ReadOnlyTensorSpan<T>(p.Logits, rowMajor);
            var rowMajorTargets = new ReadOnlyTensorSpan<T>(p.Targets, rowMajor);
            rowMajorLoss = SoftmaxCrossEntropy.Loss<T>(rowMajorLogits, rowMajorTargets, o, p.ClassWeights);
            rowMajorFused = SoftmaxCrossEntropy.LossAndGradient<T>(rowMajorLogits, rowMajorTargets, new TensorSpan<T>(rowMajorGradient, rowMajor), o, p.ClassWeights);
        }

        ExpectNaN(loss, what + ": Loss, class axis 1");
        ExpectNaN(fused, what + ": LossAndGradient, class axis 1");
        ExpectNaN(forward, what + ": Forward, class axis 1");
        ExpectNaN(rowMajorLoss, what + ": Loss, row-major tensor");
        ExpectNaN(rowMajorFused, what + ": LossAndGradient, row-major tensor");
        ExpectNaN(rowLosses[p.Bad], what + $": Forward's row loss {p.Bad}");
        Check.Close<T>(rowLosses, p.RowLosses, p.RowMagnitudes, Tol.Loss, Tol.Floor, 1, what + ": Forward's row losses");
        CheckGradient(ToRows(gradient, outer, classes, inner), p.Gradient, p.GradientMagnitude, p.Bad, classes, what + ": LossAndGradient, class axis 1");
        CheckGradient(ToRows(backward, outer, classes, inner), p.Gradient, p.GradientMagnitude, p.Bad, classes, what + ": Backward, class axis 1");
        CheckGradient(ToRows(fromLse, outer, classes, inner), p.Gradient, p.GradientMagnitude, p.Bad, classes, what + ": Backward from the log-sum-exp, class axis 1");
        CheckGradient(rowMajorGradient, p.Gradient, p.GradientMagnitude, p.Bad, classes, what + ": LossAndGradient, row-major tensor");
    }

    /// <summary>The bad row's gradient is NaN throughout; every other row is the reference's.</summary>
    private static void CheckGradient(ReadOnlySpan<T> actual, ReadOnlySpan<double> expected, ReadOnlySpan<double> magnitude, int bad, int classes, string what)
    {
        if (bad >= 0)
        {
            for (int k = 0; k < classes; k++)
            {
                T g = actual[(bad * classes) + k];
                if (!T.IsNaN(g))
                {
                    throw new XunitException($"{what}: row {bad} has no distribution, but its gradient at class {k} is {g}, expected NaN.");
                }
            }
        }

        Check.Close(actual, expected, magnitude, Tol.Gradient, Tol.Floor, classes, what);
    }

    private static void ExpectNaN(T value, string what)
    {
        if (!T.IsNaN(value))
        {
            throw new XunitException($"{what}: {value}, expected NaN.");
        }
    }

    /// <summary>Row-major <c>[positions, C]</c> rows laid out as <c>[outer, C, inner]</c>.</summary>
    private static T[] FromRows(T[] rows, int outer, int classes, int inner)
    {
        var x = new T[rows.Length];
        for (int n = 0; n < outer; n++)
        {
            for (int k = 0; k < classes; k++)
            {
                for (int q = 0; q < inner; q++)
                {
                    x[(((n * classes) + k) * inner) + q] = rows[(((n * inner) + q) * classes) + k];
                }
            }
        }

        return x;
    }

    /// <summary><c>[outer, C, inner]</c> back to row-major <c>[positions, C]</c>.</summary>
    private static T[] ToRows(T[] x, int outer, int classes, int inner)
    {
        var rows = new T[x.Length];
        for (int n = 0; n < outer; n++)
        {
            for (int k = 0; k < classes; k++)
            {
                for (int q = 0; q < inner; q++)
                {
                    rows[(((n * inner) + q) * classes) + k] = x[(((n * classes) + k) * inner) + q];
                }
            }
        }

        return rows;
    }

    private sealed record Config(string Name, CrossEntropyOptions Options, bool ClassWeights, bool RowWeights);

    /// <summary>
    /// Seeded rows with one row without a distribution, and a masked class with a zero target in a finite row (it must
    /// add exactly 0), with the double reference's values: <see cref="Reference.FullDenseRowLosses"/> makes the bad row's
    /// loss NaN through its log-sum-exp, whatever its targets.
    /// </summary>
    private sealed class Problem
    {
        private Problem(Config config, NoDistribution kind, bool zeroTargets, TargetKind targetKind, int rows, int classes, int bad)
        {
            Config = config;
            Kind = kind;
            ZeroTargets = zeroTargets;
            TargetKind = targetKind;
            Rows = rows;
            Classes = classes;
            Bad = bad;
        }

        public Config Config { get; }

        public CrossEntropyOptions Options => Config.Options;

        public NoDistribution Kind { get; }

        public bool ZeroTargets { get; }

        public TargetKind TargetKind { get; }

        public int Rows { get; }

        public int Classes { get; }

        /// <summary>The row without a distribution.</summary>
        public int Bad { get; }

        public T[] Logits { get; private set; } = [];

        public T[] Targets { get; private set; } = [];

        public T[] ClassWeights { get; private set; } = [];

        public T[] RowWeights { get; private set; } = [];

        public double[] RowLosses { get; private set; } = [];

        public double[] RowMagnitudes { get; private set; } = [];

        public double[] LogSumExp { get; private set; } = [];

        public double[] LogSumExpMagnitude { get; private set; } = [];

        /// <summary>The gradient of the reduced loss.</summary>
        public double[] Gradient { get; private set; } = [];

        public double[] GradientMagnitude { get; private set; } = [];

        /// <summary>The gradient of the row losses, each with an upstream gradient of 1.</summary>
        public double[] RowGradient { get; private set; } = [];

        public double[] RowGradientMagnitude { get; private set; } = [];

        public static Problem Make(int rows, int classes, Config config, NoDistribution kind, bool zeroTargets, TargetKind targetKind, int bad, int seed)
        {
            var rng = new Random(seed);
            var p = new Problem(config, kind, zeroTargets, targetKind, rows, classes, bad);
            T[] logits = Data<T>.Logits(rng, rows * classes);
            T[] targets = Data<T>.Targets(rng, rows, classes, targetKind);
            p.ClassWeights = config.ClassWeights ? Data<T>.Weights(rng, classes) : [];
            p.RowWeights = config.RowWeights ? Data<T>.Weights(rng, rows) : [];

            Span<T> row = logits.AsSpan(bad * classes, classes);
            Span<T> target = targets.AsSpan(bad * classes, classes);
            int on = Math.Max(0, target.IndexOfAnyExcept(T.Zero));
            int off = classes == 1 ? 0 : (on + 1 + rng.Next(classes - 1)) % classes;
            switch (kind)
            {
                case NoDistribution.NaNOnATarget:
                    target[on] = T.One;
                    row[on] = T.NaN;
                    break;
                case NoDistribution.NaNOffTheTargets:
                    target[off] = T.Zero;
                    row[off] = T.NaN;
                    break;
                case NoDistribution.AllNaN:
                    row.Fill(T.NaN);
                    break;
                default:
                    row.Fill(T.NegativeInfinity);
                    break;
            }

            if (zeroTargets)
            {
                target.Clear();
            }

            // A masked class with a zero target in a finite row: exactly 0 from it (without smoothing, which gives it a
            // target and so an infinite loss).
            int masked = bad == 0 ? 1 : 0;
            if (classes > 1 && masked < rows && config.Options.LabelSmoothing == 0)
            {
                int k = rng.Next(classes);
                logits[(masked * classes) + k] = T.NegativeInfinity;
                targets[(masked * classes) + k] = T.Zero;
            }

            p.Logits = logits;
            p.Targets = targets;
            p.ComputeExpected();
            return p;
        }

        public override string ToString() =>
            $"{typeof(T).Name} [{Rows} x {Classes}] {Config.Name}, {TargetKind} targets, row {Bad}: {Kind}{(ZeroTargets ? " with all-zero targets" : "")}";

        private void ComputeExpected()
        {
            CrossEntropyOptions o = Options;
            double[] y = Data<T>.ToDouble(Logits);
            double[] t = Data<T>.ToDouble(Targets);
            double[]? w = ClassWeights.Length == 0 ? null : Data<T>.ToDouble(ClassWeights);
            double[]? r = RowWeights.Length == 0 ? null : Data<T>.ToDouble(RowWeights);
            double[] z = Reference.MapLogits(y, o);
            double[] q = Reference.DenseEffectiveTargets(t, Classes, w, o.LabelSmoothing);
            double denominator = Reference.FullDenseDenominator(Rows, o);
            double[] lse = Reference.RowLogSumExps(z, Classes);

            RowLosses = Reference.FullDenseRowLosses(y, t, Classes, o, w, r);
            double[] magnitudes = Reference.RowLossMagnitudes(z, q, Classes);
            RowMagnitudes = [.. magnitudes.Select((m, i) => Math.Max(1, (m + Math.Abs(o.ZLoss * lse[i] * lse[i])) * (r?[i] ?? 1)))];

            // Forward documents -inf for a row of only -inf (the reference's log-sum-exp says NaN: no distribution).
            LogSumExp = lse;
            if (Kind == NoDistribution.AllNegativeInfinity)
            {
                LogSumExp[Bad] = double.NegativeInfinity;
            }

            LogSumExpMagnitude = [.. lse.Select(v => Math.Max(1, Math.Abs(v)))];

            bool[] counted = [.. Enumerable.Repeat(true, Rows)];
            (Gradient, GradientMagnitude) = Reference.FullGradient(y, q, counted, Classes, o, Reference.RowFactors(Rows, r, 1, denominator, null));
            double[] perRow = [.. Enumerable.Repeat(1.0, Rows)];
            (RowGradient, RowGradientMagnitude) = Reference.FullGradient(y, q, counted, Classes, o, Reference.RowFactors(Rows, r, 1, 1, perRow));
        }
    }
}

public sealed class DenseTargetNanRowTestsSingle : DenseTargetNanRowTests<float>
{
}

public sealed class DenseTargetNanRowTestsDouble : DenseTargetNanRowTests<double>
{
}

/// <summary>
/// Half logits and targets (computed in float): a row with no distribution gives NaN loss, row loss and gradient row, and
/// every other row is the double reference of the same Half inputs rounded once, within one Half ulp, at every width.
/// </summary>
public sealed class DenseTargetNanRowHalfTests
{
    public static TheoryData<int> Classes()
    {
        var data = new TheoryData<int>();
        foreach (int c in new[] { 2, 8, 17, 100, 129, 2000 })
        {
            data.Add(c);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Classes))]
    public void RowWithoutDistribution_IsNaN_AndOtherRowsMatchTheReference(int classes)
    {
        int rows = classes <= 128 ? 37 : 3;
        int variant = 0;
        foreach (NoDistribution kind in Enum.GetValues<NoDistribution>())
        {
            foreach (bool zeroTargets in new[] { false, true })
            {
                var rng = new Random(Seeds.For(rows, classes, 1000 + variant));
                int bad = variant % 2 == 0 ? 1 : rows - 1;
                TargetKind targetKind = (TargetKind)(variant % 4);
                variant++;
                Half[] logits = [.. Data<float>.Logits(rng, rows * classes).Select(v => (Half)v)];
                Half[] targets = [.. Data<float>.Targets(rng, rows, classes, targetKind).Select(v => (Half)v)];
                Span<Half> row = logits.AsSpan(bad * classes, classes);
                Span<Half> target = targets.AsSpan(bad * classes, classes);
                int on = Math.Max(0, target.IndexOfAnyExcept(Half.Zero));
                switch (kind)
                {
                    case NoDistribution.NaNOnATarget:
                        row[on] = Half.NaN;
                        break;
                    case NoDistribution.NaNOffTheTargets:
                        int off = (on + 1) % classes;
                        target[off] = Half.Zero;
                        row[off] = Half.NaN;
                        break;
                    case NoDistribution.AllNaN:
                        row.Fill(Half.NaN);
                        break;
                    default:
                        row.Fill(Half.NegativeInfinity);
                        break;
                }

                if (zeroTargets)
                {
                    target.Clear();
                }

                double[] y = HalfCheck.ToDouble(logits);
                double[] t = HalfCheck.ToDouble(targets);
                double[] rowLosses = Reference.FullDenseRowLosses(y, t, classes, default, null, null);
                double[] q = Reference.DenseEffectiveTargets(t, classes, null, 0);
                (double[] g, _) = Reference.FullGradient(y, q, [.. Enumerable.Repeat(true, rows)], classes, default, Reference.RowFactors(rows, null, 1, rows, null));
                string what = $"Half [{rows} x {classes}], {targetKind} targets, row {bad}: {kind}{(zeroTargets ? " with all-zero targets" : "")}";
                foreach (int width in TestData.WidthBits)
                {
                    var gradient = new Half[logits.Length];
                    var fromLse = new Half[logits.Length];
                    var losses = new Half[rows];
                    var lse = new float[rows];
                    Half loss, fused, forward;
                    using (ForcedWidth.Force(width))
                    {
                        loss = SoftmaxCrossEntropy.Loss<Half>(logits, targets, classes);
                        fused = SoftmaxCrossEntropy.LossAndGradient<Half>(logits, targets, gradient, classes);
                        forward = SoftmaxCrossEntropy.Forward(logits, targets, lse, classes, rowLosses: losses);
                        SoftmaxCrossEntropy.Backward(logits, targets, lse, Half.One, fromLse, classes);
                    }

                    string at = $"{what}, width {width}";
                    Assert.True(Half.IsNaN(loss), $"{at}: Loss {loss}, expected NaN");
                    Assert.True(Half.IsNaN(fused), $"{at}: LossAndGradient {fused}, expected NaN");
                    Assert.True(Half.IsNaN(forward), $"{at}: Forward {forward}, expected NaN");
                    Assert.True(Half.IsNaN(losses[bad]), $"{at}: Forward's row loss {bad} is {losses[bad]}, expected NaN");
                    HalfCheck.WithinUlps(losses, rowLosses, 1, at + ": row losses");
                    HalfCheck.WithinUlps(gradient, g, 1, at + ": LossAndGradient's gradient");
                    HalfCheck.WithinUlps(fromLse, g, 1, at + ": Backward's gradient");
                }
            }
        }
    }
}
