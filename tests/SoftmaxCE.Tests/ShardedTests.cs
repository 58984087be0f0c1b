using System;
using System.Collections.Generic;
using System.Linq;
using System.Numerics;
using System.Runtime.InteropServices;
using FluentAssertions;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>The class splits and option sets the sharded tests run over.</summary>
public static class ShardedData
{
    /// <summary>Uneven splits of the classes: a one-class shard, equal and unequal shards, a vocabulary in three.</summary>
    internal static readonly int[][] Splits =
    [
        [1, 333, 666],
        [10, 10, 17],
        [10667, 10667, 10666],
        [37],
        [1, 1, 1, 1, 1],
        [300, 1, 699],
    ];

    /// <summary>Options the unsharded API supports: compared with it and with the double reference.</summary>
    internal static readonly LabelConfig[] Basic =
    [
        new("mean", default, Weighted: false, IgnoredRowsEvery: 0),
        new("sum", new() { Reduction = Reduction.Sum }, Weighted: false, IgnoredRowsEvery: 0),
        new("mean+ignore-100", new() { IgnoreIndex = -100 }, Weighted: false, IgnoredRowsEvery: 3),
        new("mean+weights", default, Weighted: true, IgnoredRowsEvery: 0),
        new("sum+weights+ignore7", new() { Reduction = Reduction.Sum, IgnoreIndex = 7 }, Weighted: true, IgnoredRowsEvery: 3),
        new("mean+eps0.1", new() { LabelSmoothing = 0.1 }, Weighted: false, IgnoredRowsEvery: 0),
        new("mean+weights+eps0.2+ignore-1", new() { IgnoreIndex = -1, LabelSmoothing = 0.2 }, Weighted: true, IgnoredRowsEvery: 4),
        new("sum+eps1", new() { Reduction = Reduction.Sum, LabelSmoothing = 1 }, Weighted: false, IgnoredRowsEvery: 0),
    ];

    /// <summary>Options checked against the double reference only (z-loss, softcap, a global denominator).</summary>
    internal static readonly LabelConfig[] Extended =
    [
        new("mean+z1e-3", new() { ZLoss = 1e-3 }, Weighted: false, IgnoredRowsEvery: 0),
        new("sum+z0.1+ignore-100", new() { Reduction = Reduction.Sum, ZLoss = 0.1, IgnoreIndex = -100 }, Weighted: false, IgnoredRowsEvery: 3),
        new("mean+softcap3", new() { LogitSoftcap = 3 }, Weighted: false, IgnoredRowsEvery: 0),
        new("sum+softcap30", new() { Reduction = Reduction.Sum, LogitSoftcap = 30 }, Weighted: false, IgnoredRowsEvery: 0),
        new("mean+denominator17.5", new() { Denominator = 17.5 }, Weighted: false, IgnoredRowsEvery: 0),
        new("sum+denominator17.5(unused)", new() { Reduction = Reduction.Sum, Denominator = 17.5 }, Weighted: true, IgnoredRowsEvery: 0),
        new(
            "mean+weights+eps0.1+ignore-100+z1e-2+softcap2.5+denominator9",
            new() { IgnoreIndex = -100, LabelSmoothing = 0.1, ZLoss = 1e-2, LogitSoftcap = 2.5, Denominator = 9 },
            Weighted: true,
            IgnoredRowsEvery: 3),
        new(
            "sum+weights+eps0.3+ignore7+z1e-4+softcap4",
            new() { Reduction = Reduction.Sum, IgnoreIndex = 7, LabelSmoothing = 0.3, ZLoss = 1e-4, LogitSoftcap = 4 },
            Weighted: true,
            IgnoredRowsEvery: 3),
    ];

    public static TheoryData<int, int> SplitsAndBasicConfigs() => Cross(Basic.Length);

    public static TheoryData<int, int> SplitsAndExtendedConfigs() => Cross(Extended.Length);

    private static TheoryData<int, int> Cross(int configs)
    {
        var data = new TheoryData<int, int>();
        for (int s = 0; s < Splits.Length; s++)
        {
            for (int c = 0; c < configs; c++)
            {
                data.Add(s, c);
            }
        }

        return data;
    }

    public static TheoryData<string> BadShapes() =>
        new() { "classes0", "shardClasses0", "shardClassesNegative", "offsetNegative", "pastTheEnd", "notMultiple", "labelsLength", "badOptions" };

    internal static int RowsFor(int classes) => classes switch
    {
        >= 10_000 => 3,
        >= 500 => 7,
        _ => 13,
    };
}

/// <summary>
/// The double-precision oracle of the options the unsharded oracle (<see cref="Reference"/>) does not know: z-loss,
/// logit softcap and a given denominator, built on <see cref="Reference"/> applied to the capped logits.
/// </summary>
internal static class ShardReference
{
    public static double[] Capped(double[] y, double cap) =>
        cap == 0 ? y : y.Select(v => cap * Math.Tanh(v / cap)).ToArray();

    public static double Denominator(int[] labels, CrossEntropyOptions o, double[]? w) =>
        o.Reduction == Reduction.Sum ? 1 : o.Denominator ?? Reference.LabelDenominator(labels, o.IgnoreIndex, w);

    public static double Loss(double[] y, int[] labels, int classes, CrossEntropyOptions o, double[]? w)
    {
        double[] c = Capped(y, o.LogitSoftcap);
        double[] rows = Reference.LabelRowLosses(c, labels, classes, o.IgnoreIndex, w, o.LabelSmoothing);
        double[] lse = Reference.RowLogSumExps(c, classes);
        for (int i = 0; i < rows.Length; i++)
        {
            if (!(o.IgnoreIndex == labels[i]) && o.ZLoss != 0)
            {
                rows[i] += o.ZLoss * lse[i] * lse[i];
            }
        }

        return Reference.Sum(rows) / Denominator(labels, o, w);
    }

    public static double[] Gradient(double[] y, int[] labels, int classes, CrossEntropyOptions o, double[]? w)
    {
        double[] c = Capped(y, o.LogitSoftcap);
        double d = Denominator(labels, o, w);
        double[] q = Reference.LabelEffectiveTargets(labels, classes, o.IgnoreIndex, w, o.LabelSmoothing);
        (double[] g, _) = Reference.Gradient(c, q, classes, d);
        double[] p = Reference.Softmax(c, classes);
        double[] lse = Reference.RowLogSumExps(c, classes);
        for (int j = 0; j < g.Length; j++)
        {
            int i = j / classes;
            if (o.IgnoreIndex == labels[i])
            {
                continue;
            }

            g[j] += 2 * o.ZLoss * lse[i] * p[j] / d;
            if (o.LogitSoftcap != 0)
            {
                double t = Math.Tanh(y[j] / o.LogitSoftcap);
                g[j] *= 1 - (t * t);
            }
        }

        return g;
    }
}

/// <summary>What a sharded computation gives back once its pieces are put together.</summary>
internal sealed record ShardedResult<T>(T Loss, T[] Gradient, T[] RowMax, T[] RowSumExp, T[] LabelLogits);

/// <summary>Runs the sharded protocol in one process: statistics per shard, a merge in a given order, loss and gradient per shard.</summary>
internal static class Sharded<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int[] Offsets(int[] split)
    {
        var offsets = new int[split.Length];
        for (int s = 1; s < split.Length; s++)
        {
            offsets[s] = offsets[s - 1] + split[s - 1];
        }

        return offsets;
    }

    /// <summary>The columns <c>[offset, offset + width)</c> of the <c>[rows, classes]</c> logits, as their own buffer.</summary>
    public static T[] Columns(T[] logits, int classes, int offset, int width)
    {
        int rows = logits.Length / classes;
        var shard = new T[rows * width];
        for (int i = 0; i < rows; i++)
        {
            logits.AsSpan((i * classes) + offset, width).CopyTo(shard.AsSpan(i * width, width));
        }

        return shard;
    }

    /// <summary>
    /// The whole protocol. <paramref name="order"/> is the order in which the shards' statistics are merged;
    /// <paramref name="fromIdentity"/> starts the accumulator at <c>(-inf, 0)</c> instead of the first shard's statistics.
    /// </summary>
    public static ShardedResult<T> Run(
        T[] logits, int[] labels, int classes, int[] split, CrossEntropyOptions options, T[] weights,
        int[]? order = null, bool fromIdentity = false, bool inPlace = false)
    {
        int rows = labels.Length;
        int[] offsets = Offsets(split);
        order ??= [.. Enumerable.Range(0, split.Length)];
        var shards = new T[split.Length][];
        var max = new T[split.Length][];
        var sum = new T[split.Length][];
        var label = new T[split.Length][];
        for (int s = 0; s < split.Length; s++)
        {
            shards[s] = Columns(logits, classes, offsets[s], split[s]);
            max[s] = new T[rows];
            sum[s] = new T[rows];
            label[s] = new T[rows];
            SoftmaxCrossEntropy.ShardStatistics<T>(shards[s], labels, max[s], sum[s], label[s], split[s], offsets[s], classes, options);
        }

        T[] rowMax, rowSumExp;
        IEnumerable<int> rest;
        if (fromIdentity)
        {
            rowMax = Enumerable.Repeat(T.NegativeInfinity, rows).ToArray();
            rowSumExp = new T[rows];
            rest = order;
        }
        else
        {
            rowMax = (T[])max[order[0]].Clone();
            rowSumExp = (T[])sum[order[0]].Clone();
            rest = order.Skip(1);
        }

        foreach (int s in rest)
        {
            SoftmaxCrossEntropy.MergeShardStatistics<T>(max[s], sum[s], rowMax, rowSumExp);
        }

        var labelLogits = new T[rows];
        for (int i = 0; i < rows; i++)
        {
            foreach (int s in order)
            {
                labelLogits[i] += label[s][i];
            }
        }

        double loss = 0;
        var gradient = new T[logits.Length];
        for (int s = 0; s < split.Length; s++)
        {
            T[] g = inPlace ? shards[s] : new T[shards[s].Length];
            loss += double.CreateTruncating(SoftmaxCrossEntropy.ShardLossAndGradient<T>(
                shards[s], labels, rowMax, rowSumExp, g, split[s], offsets[s], classes, options, weights));
            for (int i = 0; i < rows; i++)
            {
                g.AsSpan(i * split[s], split[s]).CopyTo(gradient.AsSpan((i * classes) + offsets[s], split[s]));
            }
        }

        return new ShardedResult<T>(T.CreateTruncating(loss), gradient, rowMax, rowSumExp, labelLogits);
    }
}

/// <summary>
/// Vocabulary-parallel cross-entropy: shard statistics, their merge, and each shard's loss and gradient, put together,
/// against the unsharded <see cref="SoftmaxCrossEntropy.LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T})"/>
/// and against a double-precision reference.
/// </summary>
public abstract class ShardedTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Relative tolerance of a loss: 1e-6 in float, 1e-12 in double.</summary>
    private static readonly double LossTolerance = typeof(T) == typeof(float) ? 1e-6 : 1e-12;

    /// <summary>Absolute tolerance of a gradient element: 1e-6 in float, 1e-12 in double.</summary>
    private static readonly double GradientTolerance = typeof(T) == typeof(float) ? 1e-6 : 1e-12;

    /// <summary>Relative tolerance of merged statistics computed in different orders (a few ulp).</summary>
    private static readonly double MergeTolerance = typeof(T) == typeof(float) ? 4e-7 : 2e-15;

    private static LabelProblem<T> Problem(int[] split, LabelConfig config, int variant = 0)
    {
        int classes = split.Sum();
        int rows = ShardedData.RowsFor(classes);
        return new LabelProblem<T>(rows, classes, config, Seeds.For(rows, classes, variant + 300));
    }

    private static void CheckLoss(double actual, double expected, string what) =>
        Check.Scalar(actual, expected, LossTolerance * Math.Max(1, Math.Abs(expected)), what);

    private static void CheckGradient(ReadOnlySpan<T> actual, ReadOnlySpan<double> expected, int classes, string what)
    {
        var magnitude = new double[expected.Length];
        magnitude.AsSpan().Fill(1);
        Check.Close(actual, expected, magnitude, GradientTolerance, 0, classes, what);
    }

    private static void CheckGradient(ReadOnlySpan<T> actual, ReadOnlySpan<T> expected, int classes, string what) =>
        CheckGradient(actual, Data<T>.ToDouble(expected), classes, what);

    private static void AllSatisfy(T[] values, Func<T, bool> rule, string what)
    {
        for (int j = 0; j < values.Length; j++)
        {
            if (!rule(values[j]))
            {
                throw new XunitException($"{what}: element {j} is {values[j]}.");
            }
        }
    }

    private static T[] Sentinel(int length)
    {
        var a = new T[length];
        MemoryMarshal.AsBytes(a.AsSpan()).Fill(0xA5);
        return a;
    }

    [Theory]
    [MemberData(nameof(ShardedData.SplitsAndBasicConfigs), MemberType = typeof(ShardedData))]
    public void ShardLossAndGradient_PutTogether_MatchesUnsharded(int splitIndex, int configIndex) =>
        MatchesUnsharded(ShardedData.Splits[splitIndex], ShardedData.Basic[configIndex]);

    [Theory]
    [MemberData(nameof(ShardedData.SplitsAndExtendedConfigs), MemberType = typeof(ShardedData))]
    public void ShardLossAndGradient_ZLossSoftcapDenominator_MatchUnsharded(int splitIndex, int configIndex) =>
        MatchesUnsharded(ShardedData.Splits[splitIndex], ShardedData.Extended[configIndex]);

    private static void MatchesUnsharded(int[] split, LabelConfig config)
    {
        LabelProblem<T> p = Problem(split, config);
        string what = $"{p} split [{string.Join(", ", split)}]";

        var expectedGradient = new T[p.Logits.Length];
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, expectedGradient, p.Classes, p.Options, p.Weights);

        int[] forward = [.. Enumerable.Range(0, split.Length)];
        int[] backward = [.. forward.Reverse()];
        int[] rotated = [.. forward.Skip(1), 0];
        foreach ((int[] order, bool fromIdentity) in new[] { (forward, false), (backward, false), (rotated, true) })
        {
            string run = $"{what}, merge order [{string.Join(", ", order)}]{(fromIdentity ? " from (-inf, 0)" : "")}";
            ShardedResult<T> r = Sharded<T>.Run(p.Logits, p.Labels, p.Classes, split, p.Options, p.Weights, order, fromIdentity);
            CheckLoss(double.CreateTruncating(r.Loss), double.CreateTruncating(expectedLoss), $"loss vs unsharded, {run}");
            CheckGradient(r.Gradient, expectedGradient, p.Classes, $"gradient vs unsharded, {run}");
        }
    }

    [Theory]
    [MemberData(nameof(ShardedData.SplitsAndBasicConfigs), MemberType = typeof(ShardedData))]
    public void ShardLossAndGradient_BasicOptions_MatchReference(int splitIndex, int configIndex) =>
        MatchesReference(ShardedData.Splits[splitIndex], ShardedData.Basic[configIndex]);

    [Theory]
    [MemberData(nameof(ShardedData.SplitsAndExtendedConfigs), MemberType = typeof(ShardedData))]
    public void ShardLossAndGradient_ZLossSoftcapDenominator_MatchReference(int splitIndex, int configIndex) =>
        MatchesReference(ShardedData.Splits[splitIndex], ShardedData.Extended[configIndex]);

    private static void MatchesReference(int[] split, LabelConfig config)
    {
        LabelProblem<T> p = Problem(split, config);
        string what = $"{p} split [{string.Join(", ", split)}]";
        CrossEntropyOptions o = p.Options;
        double[] capped = ShardReference.Capped(p.Y, o.LogitSoftcap);
        double[] lse = Reference.RowLogSumExps(capped, p.Classes);

        int[] backward = [.. Enumerable.Range(0, split.Length).Reverse()];
        ShardedResult<T> r = Sharded<T>.Run(p.Logits, p.Labels, p.Classes, split, o, p.Weights, backward, fromIdentity: true);

        CheckLoss(double.CreateTruncating(r.Loss), ShardReference.Loss(p.Y, p.Labels, p.Classes, o, p.W), $"loss, {what}");
        CheckGradient(r.Gradient, ShardReference.Gradient(p.Y, p.Labels, p.Classes, o, p.W), p.Classes, $"gradient, {what}");

        for (int i = 0; i < p.Rows; i++)
        {
            // The merged statistics give the row's LSE; the summed label logits give the (capped) label logit.
            double merged = double.CreateTruncating(r.RowMax[i]) + Math.Log(double.CreateTruncating(r.RowSumExp[i]));
            Check.Scalar(merged, lse[i], LossTolerance * (1 + Math.Abs(lse[i])), $"LSE of row {i}, {what}");
            bool ignored = o.IgnoreIndex == p.Labels[i];
            double label = ignored ? 0 : capped[(i * p.Classes) + p.Labels[i]];
            Check.Scalar(double.CreateTruncating(r.LabelLogits[i]), label, LossTolerance * (1 + Math.Abs(label)), $"label logit of row {i}, {what}");
        }
    }

    [Theory]
    [MemberData(nameof(ShardedData.SplitsAndExtendedConfigs), MemberType = typeof(ShardedData))]
    public void ShardLossAndGradient_InPlace_IsBitwiseOutOfPlace(int splitIndex, int configIndex)
    {
        int[] split = ShardedData.Splits[splitIndex];
        LabelProblem<T> p = Problem(split, ShardedData.Extended[configIndex]);
        ShardedResult<T> outOfPlace = Sharded<T>.Run(p.Logits, p.Labels, p.Classes, split, p.Options, p.Weights);
        ShardedResult<T> inPlace = Sharded<T>.Run(p.Logits, p.Labels, p.Classes, split, p.Options, p.Weights, inPlace: true);
        Check.Bitwise<T>(inPlace.Gradient, outOfPlace.Gradient, $"in-place gradient, {p}");
        inPlace.Loss.Should().Be(outOfPlace.Loss);
    }

    [Fact]
    public void ShardReference_Gradient_MatchesFiniteDifferencesOfItsLoss()
    {
        // The oracle of z-loss and softcap is itself checked: its gradient against finite differences of its loss.
        LabelConfig config = ShardedData.Extended[^2];
        var p = new LabelProblem<double>(5, 9, config, Seeds.For(5, 9, 301));
        double[] numeric = Reference.FiniteDifferenceGradient(y => ShardReference.Loss(y, p.Labels, 9, p.Options, p.W), p.Y);
        double[] analytic = ShardReference.Gradient(p.Y, p.Labels, 9, p.Options, p.W);
        for (int j = 0; j < analytic.Length; j++)
        {
            analytic[j].Should().BeApproximately(numeric[j], Tolerances.FiniteDifferenceAbsolute, $"element {j}");
        }
    }

    [Fact]
    public void ShardReference_WithoutNewOptions_MatchesUnshardedReference()
    {
        foreach (LabelConfig config in ShardedData.Basic)
        {
            LabelProblem<T> p = Problem([10, 10, 17], config);
            ShardReference.Loss(p.Y, p.Labels, p.Classes, p.Options, p.W).Should().BeApproximately(p.Loss, 1e-12 * Math.Max(1, p.Loss), config.Name);
            double[] g = ShardReference.Gradient(p.Y, p.Labels, p.Classes, p.Options, p.W);
            for (int j = 0; j < g.Length; j++)
            {
                g[j].Should().BeApproximately(p.Gradient.Gradient[j], 1e-14, $"{config.Name} element {j}");
            }
        }
    }

    [Fact]
    public void ShardStatistics_LabelsOutsideTheShard_GiveZeroLabelLogitsAndNoError()
    {
        const int Rows = 6, Classes = 30;
        T[] logits = Data<T>.Logits(new Random(5), Rows * Classes);
        int[] labels = [20, 29, 25, 21, 28, 20]; // all in the last shard [20, 30)
        T[] first = Sharded<T>.Columns(logits, Classes, 0, 20);
        var max = new T[Rows];
        var sum = new T[Rows];
        T[] label = Sentinel(Rows);
        SoftmaxCrossEntropy.ShardStatistics<T>(first, labels, max, sum, label, 20, 0, Classes);
        Check.AllZero<T>(label, "label logits of a shard without the labels");

        var g = new T[first.Length];
        T share = SoftmaxCrossEntropy.ShardLossAndGradient<T>(first, labels, max, sum, g, 20, 0, Classes);
        share.Should().Be(T.Zero, "without smoothing or z-loss a shard without the label adds nothing to the loss");
        AllSatisfy(g, v => v > T.Zero, "the gradient of a shard without the labels (their probabilities) is positive");
    }

    [Fact]
    public void ShardStatistics_ShardOfOnlyMaskedClasses_IsTheMergeIdentity()
    {
        const int Rows = 3, Classes = 12;
        T[] logits = Data<T>.Logits(new Random(6), Rows * Classes);
        for (int i = 0; i < Rows; i++)
        {
            logits.AsSpan((i * Classes) + 4, 4).Fill(T.NegativeInfinity); // shard [4, 8) is masked in every row
        }

        int[] labels = [0, 11, 3];
        var expectedGradient = new T[logits.Length];
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, expectedGradient, Classes);

        T[] masked = Sharded<T>.Columns(logits, Classes, 4, 4);
        var max = new T[Rows];
        var sum = new T[Rows];
        var label = new T[Rows];
        SoftmaxCrossEntropy.ShardStatistics<T>(masked, labels, max, sum, label, 4, 4, Classes);
        AllSatisfy(max, T.IsNegativeInfinity, "max of a masked shard");
        Check.AllZero<T>(sum, "sum of a masked shard");

        foreach (int[] order in new[] { new[] { 0, 1, 2 }, [1, 0, 2], [2, 1, 0] })
        {
            ShardedResult<T> r = Sharded<T>.Run(logits, labels, Classes, [4, 4, 4], default, [], order);
            CheckLoss(double.CreateTruncating(r.Loss), double.CreateTruncating(expectedLoss), "loss with a masked shard");
            CheckGradient(r.Gradient, expectedGradient, Classes, "gradient with a masked shard");
            AllSatisfy(r.Gradient, v => !T.IsNaN(v), "gradient with a masked shard");
        }
    }

    [Fact]
    public void MergeShardStatistics_IsOrderIndependentUpToRounding_AndCommutativeBitwise()
    {
        const int Rows = 9;
        int[] split = [5, 40, 1, 17];
        int classes = split.Sum();
        int[] offsets = Sharded<T>.Offsets(split);
        T[] logits = Data<T>.Logits(new Random(7), Rows * classes, scale: 20);
        int[] labels = Data<T>.Labels(new Random(8), Rows, classes);
        var max = new T[split.Length][];
        var sum = new T[split.Length][];
        for (int s = 0; s < split.Length; s++)
        {
            max[s] = new T[Rows];
            sum[s] = new T[Rows];
            SoftmaxCrossEntropy.ShardStatistics<T>(
                Sharded<T>.Columns(logits, classes, offsets[s], split[s]), labels, max[s], sum[s], new T[Rows], split[s], offsets[s], classes);
        }

        (T[] Max, T[] Sum) Merge(params int[] order)
        {
            T[] m = (T[])max[order[0]].Clone();
            T[] s = (T[])sum[order[0]].Clone();
            foreach (int k in order.Skip(1))
            {
                SoftmaxCrossEntropy.MergeShardStatistics<T>(max[k], sum[k], m, s);
            }

            return (m, s);
        }

        // Commutative, bitwise.
        (T[] ab, T[] abSum) = Merge(0, 1);
        (T[] ba, T[] baSum) = Merge(1, 0);
        Check.Bitwise<T>(ab, ba, "max of a+b vs b+a");
        Check.Bitwise<T>(abSum, baSum, "sum of a+b vs b+a");

        // Every order, and a tree ((a+b)+(c+d)), agree within rounding.
        (T[] reference, T[] referenceSum) = Merge(0, 1, 2, 3);
        var trees = new List<(string, T[], T[])>();
        foreach (int[] order in Permutations([0, 1, 2, 3]))
        {
            (T[] m, T[] s) = Merge(order);
            trees.Add(($"order [{string.Join(", ", order)}]", m, s));
        }

        (T[] cdMax, T[] cdSum) = Merge(2, 3);
        (T[] treeMax, T[] treeSum) = Merge(0, 1);
        SoftmaxCrossEntropy.MergeShardStatistics<T>(cdMax, cdSum, treeMax, treeSum);
        trees.Add(("tree (a+b)+(c+d)", treeMax, treeSum));

        foreach ((string name, T[] m, T[] s) in trees)
        {
            Check.Bitwise<T>(m, reference, $"max, {name}"); // the maximum is exact in any order
            Check.CloseRelative<T>(s, Data<T>.ToDouble(referenceSum), MergeTolerance, 0, 1, $"sum, {name}");
        }
    }

    private static IEnumerable<int[]> Permutations(int[] items)
    {
        if (items.Length <= 1)
        {
            return [items];
        }

        return items.SelectMany(x => Permutations([.. items.Where(y => y != x)]).Select(rest => rest.Prepend(x).ToArray()));
    }

    [Fact]
    public void MergeShardStatistics_EqualInputs_IsExact()
    {
        T[] max = Data<T>.Logits(new Random(9), 50, scale: 100);
        T[] sum = Data<T>.FromDouble(Data<T>.ToDouble(Data<T>.Logits(new Random(10), 50)).Select(v => 1 + Math.Abs(v * 1000)).ToArray());
        T[] mergedMax = (T[])max.Clone();
        T[] mergedSum = (T[])sum.Clone();
        SoftmaxCrossEntropy.MergeShardStatistics<T>(max, sum, mergedMax, mergedSum);
        Check.Bitwise<T>(mergedMax, max, "merged max of equal inputs");
        Check.Bitwise<T>(mergedSum, sum.Select(s => s + s).ToArray(), "merged sum of equal inputs (2 s)");
    }

    [Fact]
    public void MergeShardStatistics_InfinitiesAndNaN_FollowTheRules()
    {
        T inf = T.PositiveInfinity, ninf = T.NegativeInfinity, nan = T.NaN;
        T two = T.CreateTruncating(2), three = T.CreateTruncating(3), half = T.CreateTruncating(0.5);
        T[] otherMax = [ninf, ninf, two, nan, two, inf];
        T[] otherSum = [T.Zero, T.Zero, three, T.One, three, T.One];
        T[] rowMax = [ninf, two, ninf, two, two, two];
        T[] rowSum = [T.Zero, half, T.Zero, half, nan, half];
        SoftmaxCrossEntropy.MergeShardStatistics<T>(otherMax, otherSum, rowMax, rowSum);

        // Two masked shards: the identity, not NaN. A masked shard with a live one: the live one, exactly.
        rowMax[0].Should().Be(ninf);
        rowSum[0].Should().Be(T.Zero);
        rowMax[1].Should().Be(two);
        rowSum[1].Should().Be(half);
        rowMax[2].Should().Be(two);
        rowSum[2].Should().Be(three);

        // NaN in either input makes the row NaN; +inf with a finite max keeps the maximum +inf.
        T.IsNaN(rowMax[3]).Should().BeTrue();
        T.IsNaN(rowSum[3]).Should().BeTrue();
        T.IsNaN(rowSum[4]).Should().BeTrue();
        rowMax[5].Should().Be(inf);
    }

    [Fact]
    public void ShardLossAndGradient_NaNLogit_GivesNaNLikeUnsharded()
    {
        const int Rows = 2, Classes = 10;
        T[] logits = Data<T>.Logits(new Random(11), Rows * Classes);
        logits[13] = T.NaN; // row 1, class 3 (first shard)
        int[] labels = [2, 8];
        var expected = new T[logits.Length];
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, expected, Classes, new() { Reduction = Reduction.Sum });
        ShardedResult<T> r = Sharded<T>.Run(logits, labels, Classes, [5, 5], new() { Reduction = Reduction.Sum }, []);
        T.IsNaN(expectedLoss).Should().BeTrue();
        T.IsNaN(r.Loss).Should().BeTrue();
        AllSatisfy(r.Gradient.AsSpan(Classes, Classes).ToArray(), T.IsNaN, "gradient of row 1, which has a NaN");
        CheckGradient(r.Gradient.AsSpan(0, Classes), expected.AsSpan(0, Classes), Classes, "row 0 is unaffected");
    }

    [Fact]
    public void ShardLossAndGradient_EveryRowIgnored_GivesNaNMeanAndZeroGradientLikeUnsharded()
    {
        const int Rows = 3, Classes = 8;
        T[] logits = Data<T>.Logits(new Random(12), Rows * Classes);
        int[] labels = [-100, -100, -100];
        var options = new CrossEntropyOptions { IgnoreIndex = -100 };
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, new T[logits.Length], Classes, options);
        ShardedResult<T> r = Sharded<T>.Run(logits, labels, Classes, [3, 5], options, []);
        T.IsNaN(expectedLoss).Should().BeTrue();
        T.IsNaN(r.Loss).Should().BeTrue();
        Check.AllZero<T>(r.Gradient, "gradient of ignored rows");
    }

    [Fact]
    public void LossAndGradient_RowChunksWithGlobalDenominator_SumToTheWholeBatch()
    {
        // The "chunked, bounded memory" pattern with the unsharded API: the batch in chunks of rows, each chunk's
        // gradient written in place, every chunk divided by the whole batch's denominator.
        const int Rows = 50, Classes = 37, Chunk = 7;
        var config = new LabelConfig("mean+weights+eps0.1+ignore-100", new() { IgnoreIndex = -100, LabelSmoothing = 0.1 }, Weighted: true, IgnoredRowsEvery: 4);
        var p = new LabelProblem<T>(Rows, Classes, config, Seeds.For(Rows, Classes, 302));
        var expected = new T[p.Logits.Length];
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, expected, Classes, p.Options, p.Weights);

        double denominator = SoftmaxCrossEntropy.MeanDenominator<T>(p.Labels, Classes, p.Options, p.Weights);
        CrossEntropyOptions chunkOptions = p.Options with { Denominator = denominator };
        T[] buffer = (T[])p.Logits.Clone();
        double loss = 0;
        for (int first = 0; first < Rows; first += Chunk)
        {
            int rows = Math.Min(Chunk, Rows - first);
            Span<T> chunk = buffer.AsSpan(first * Classes, rows * Classes);
            loss += double.CreateTruncating(SoftmaxCrossEntropy.LossAndGradient<T>(
                chunk, p.Labels.AsSpan(first, rows), chunk, Classes, chunkOptions, p.Weights));
        }

        CheckLoss(loss, double.CreateTruncating(expectedLoss), "summed chunk losses vs the whole batch");
        CheckGradient(buffer, expected, Classes, "chunked in-place gradient vs the whole batch");
    }

    // ---- Bad arguments: ArgumentException (or a subclass) naming the parameter, and nothing written. ----

    private const int VRows = 4, VClasses = 10, VShard = 6, VOffset = 3;

    private sealed class Buffers
    {
        public T[] Logits { get; } = Data<T>.Logits(new Random(13), VRows * VShard);

        public int[] Labels { get; } = [0, 9, 4, 5];

        public T[] Max { get; } = Sentinel(VRows);

        public T[] Sum { get; } = Sentinel(VRows);

        public T[] LabelLogits { get; } = Sentinel(VRows);

        public T[] Gradient { get; } = Sentinel(VRows * VShard);

        public T[] Weights { get; } = Data<T>.Weights(new Random(14), VClasses);

        public Buffers Snapshot()
        {
            var copy = new Buffers();
            Logits.CopyTo(copy.Logits, 0);
            Labels.CopyTo(copy.Labels, 0);
            Max.CopyTo(copy.Max, 0);
            Sum.CopyTo(copy.Sum, 0);
            LabelLogits.CopyTo(copy.LabelLogits, 0);
            Gradient.CopyTo(copy.Gradient, 0);
            Weights.CopyTo(copy.Weights, 0);
            return copy;
        }

        public void ShouldEqual(Buffers before)
        {
            Check.Bitwise<T>(Logits, before.Logits, "logits");
            Labels.Should().Equal(before.Labels);
            Check.Bitwise<T>(Max, before.Max, "rowMax");
            Check.Bitwise<T>(Sum, before.Sum, "rowSumExp");
            Check.Bitwise<T>(LabelLogits, before.LabelLogits, "labelLogits");
            Check.Bitwise<T>(Gradient, before.Gradient, "gradient");
            Check.Bitwise<T>(Weights, before.Weights, "classWeights");
        }
    }

    private static void ThrowsAndWritesNothing(Buffers b, Action call, string paramName)
    {
        Buffers before = b.Snapshot();
        call.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(paramName);
        b.ShouldEqual(before);
    }

    private static void Statistics(Buffers b, int shardClasses = VShard, int classOffset = VOffset, int classes = VClasses, CrossEntropyOptions options = default) =>
        SoftmaxCrossEntropy.ShardStatistics<T>(b.Logits, b.Labels, b.Max, b.Sum, b.LabelLogits, shardClasses, classOffset, classes, options);

    private static T Gradient(Buffers b, int shardClasses = VShard, int classOffset = VOffset, int classes = VClasses, CrossEntropyOptions options = default, bool weights = true) =>
        SoftmaxCrossEntropy.ShardLossAndGradient<T>(b.Logits, b.Labels, b.Max, b.Sum, b.Gradient, shardClasses, classOffset, classes, options, weights ? b.Weights : default);

    [Theory]
    [MemberData(nameof(ShardedData.BadShapes), MemberType = typeof(ShardedData))]
    public void ShardStatisticsAndShardLossAndGradient_BadShape_ThrowAndLeaveBuffersUntouched(string bad)
    {
        foreach (bool gradient in new[] { false, true })
        {
            var b = new Buffers();
            void Run(int shardClasses = VShard, int classOffset = VOffset, int classes = VClasses, CrossEntropyOptions options = default)
            {
                if (gradient)
                {
                    Gradient(b, shardClasses, classOffset, classes, options);
                }
                else
                {
                    Statistics(b, shardClasses, classOffset, classes, options);
                }
            }

            switch (bad)
            {
                case "classes0": ThrowsAndWritesNothing(b, () => Run(classes: 0), "classes"); break;
                case "shardClasses0": ThrowsAndWritesNothing(b, () => Run(shardClasses: 0), "shardClasses"); break;
                case "shardClassesNegative": ThrowsAndWritesNothing(b, () => Run(shardClasses: -6), "shardClasses"); break;
                case "offsetNegative": ThrowsAndWritesNothing(b, () => Run(classOffset: -1), "classOffset"); break;
                case "pastTheEnd": ThrowsAndWritesNothing(b, () => Run(classOffset: 5), "classOffset"); break;
                case "notMultiple": ThrowsAndWritesNothing(b, () => Run(shardClasses: 5, classOffset: 0), "logits"); break;
                case "labelsLength": ThrowsAndWritesNothing(b, () => Run(shardClasses: 3, classOffset: 0), "labels"); break;
                case "badOptions":
                    ThrowsAndWritesNothing(b, () => Run(options: new() { ZLoss = -1 }), "options");
                    ThrowsAndWritesNothing(b, () => Run(options: new() { LogitSoftcap = double.NaN }), "options");
                    ThrowsAndWritesNothing(b, () => Run(options: new() { LabelSmoothing = 1.5 }), "options");
                    ThrowsAndWritesNothing(b, () => Run(options: new() { MaxDegreeOfParallelism = -1 }), "options");
                    break;
                default: throw new XunitException(bad);
            }
        }
    }

    [Theory]
    [InlineData(10)]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public void ShardStatisticsAndShardLossAndGradient_LabelOutOfRange_ThrowUnshardedMessageAndLeaveBuffersUntouched(int label)
    {
        var b = new Buffers();
        b.Labels[2] = label;
        string unsharded = Assert.ThrowsAny<ArgumentException>(
            () => SoftmaxCrossEntropy.LossAndGradient<T>(new T[VRows * VClasses], b.Labels, new T[VRows * VClasses], VClasses)).Message;

        Buffers before = b.Snapshot();
        Action statistics = () => Statistics(b);
        ArgumentOutOfRangeException e = statistics.Should().Throw<ArgumentOutOfRangeException>().Which;
        e.ParamName.Should().Be("labels");
        e.Message.Should().Be(unsharded);
        b.ShouldEqual(before);
        Action gradient = () => Gradient(b);
        e = gradient.Should().Throw<ArgumentOutOfRangeException>().Which;
        e.ParamName.Should().Be("labels");
        e.Message.Should().Be(unsharded);
        b.ShouldEqual(before);

        // The ignored value is not an error, inside or outside [0, classes).
        b.Labels[2] = 4;
        Statistics(b, options: new() { IgnoreIndex = 4 });
        b.LabelLogits[2].Should().Be(T.Zero);
    }

    [Fact]
    public void ShardStatistics_BadOutputs_ThrowAndLeaveBuffersUntouched()
    {
        var b = new Buffers();
        T[] shortBuffer = Sentinel(VRows - 1);
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardStatistics<T>(b.Logits, b.Labels, shortBuffer, b.Sum, b.LabelLogits, VShard, VOffset, VClasses), "rowMax");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardStatistics<T>(b.Logits, b.Labels, b.Max, shortBuffer, b.LabelLogits, VShard, VOffset, VClasses), "rowSumExp");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardStatistics<T>(b.Logits, b.Labels, b.Max, b.Sum, shortBuffer, VShard, VOffset, VClasses), "labelLogits");

        // Overlaps: an output over the logits, over another output.
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardStatistics<T>(b.Logits, b.Labels, b.Logits.AsSpan(0, VRows), b.Sum, b.LabelLogits, VShard, VOffset, VClasses), "rowMax");
        T[] shared = Sentinel(2 * VRows);
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardStatistics<T>(b.Logits, b.Labels, shared.AsSpan(0, VRows), shared.AsSpan(1, VRows), b.LabelLogits, VShard, VOffset, VClasses), "rowSumExp");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardStatistics<T>(b.Logits, b.Labels, b.Max, b.Sum, b.Max, VShard, VOffset, VClasses), "labelLogits");
        Check.Bitwise<T>(shared, Sentinel(2 * VRows), "shared buffer");
    }

    [Fact]
    public void ShardLossAndGradient_BadBuffers_ThrowAndLeaveBuffersUntouched()
    {
        var b = new Buffers();
        Statistics(b, options: default);
        T[] shortRows = Sentinel(VRows - 1);
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardLossAndGradient<T>(b.Logits, b.Labels, shortRows, b.Sum, b.Gradient, VShard, VOffset, VClasses), "rowMax");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardLossAndGradient<T>(b.Logits, b.Labels, b.Max, shortRows, b.Gradient, VShard, VOffset, VClasses), "rowSumExp");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardLossAndGradient<T>(b.Logits, b.Labels, b.Max, b.Sum, b.Gradient.AsSpan(1), VShard, VOffset, VClasses), "gradient");

        // Class weights are global: one per class of the whole vocabulary, not of the shard.
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardLossAndGradient<T>(b.Logits, b.Labels, b.Max, b.Sum, b.Gradient, VShard, VOffset, VClasses, default, b.Weights.AsSpan(0, VShard)), "classWeights");

        // The gradient may be the logits themselves, but no other overlap.
        T[] wide = Data<T>.Logits(new Random(15), (VRows * VShard) + 1);
        T[] wideBefore = (T[])wide.Clone();
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardLossAndGradient<T>(wide.AsSpan(0, VRows * VShard), b.Labels, b.Max, b.Sum, wide.AsSpan(1), VShard, VOffset, VClasses), "gradient");
        Check.Bitwise<T>(wide, wideBefore, "partially overlapping logits and gradient");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardLossAndGradient<T>(b.Logits, b.Labels, b.Max, b.Sum, b.Gradient.AsSpan(0, VRows * VShard), VShard, VOffset, VClasses, default, b.Gradient.AsSpan(0, VClasses)), "gradient");
        T[] statsAndGradient = Sentinel((VRows * VShard) + VRows);
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.ShardLossAndGradient<T>(b.Logits, b.Labels, b.Max, statsAndGradient.AsSpan((VRows * VShard) - 1, VRows), statsAndGradient.AsSpan(0, VRows * VShard), VShard, VOffset, VClasses), "gradient");
        Check.Bitwise<T>(statsAndGradient, Sentinel((VRows * VShard) + VRows), "statistics overlapping the gradient");
    }

    [Fact]
    public void MergeShardStatistics_BadBuffers_ThrowAndLeaveBuffersUntouched()
    {
        var b = new Buffers();
        T[] otherMax = Data<T>.Logits(new Random(16), VRows);
        T[] otherSum = Data<T>.Logits(new Random(17), VRows);
        T[] shortBuffer = Sentinel(VRows - 1);
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.MergeShardStatistics<T>(otherMax, otherSum, b.Max, shortBuffer), "rowSumExp");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.MergeShardStatistics<T>(shortBuffer, otherSum, b.Max, b.Sum), "otherMax");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.MergeShardStatistics<T>(otherMax, shortBuffer, b.Max, b.Sum), "otherSumExp");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.MergeShardStatistics<T>(otherMax, otherSum, b.Max, b.Max), "rowSumExp");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.MergeShardStatistics<T>(b.Max, otherSum, b.Max, b.Sum), "rowMax");
        T[] shared = Sentinel(2 * VRows);
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.MergeShardStatistics<T>(otherMax, shared.AsSpan(0, VRows), b.Max, shared.AsSpan(1, VRows)), "rowSumExp");
        ThrowsAndWritesNothing(b, () => SoftmaxCrossEntropy.MergeShardStatistics<T>(shared.AsSpan(2, VRows), otherSum, shared.AsSpan(0, VRows), b.Sum), "rowMax");
        Check.Bitwise<T>(shared, Sentinel(2 * VRows), "shared buffer");
    }
}

public sealed class ShardedTestsSingle : ShardedTests<float>
{
}

public sealed class ShardedTestsDouble : ShardedTests<double>
{
}
