using System;
using System.Numerics;
using System.Runtime.InteropServices;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;

namespace SoftmaxCE;

// (The class's XML summary lives in SoftmaxCrossEntropy.cs; these notes are for readers of this file.)
// <summary>
// Vocabulary-parallel (class-sharded) cross-entropy with class-index labels: the exact loss and gradient of logits
// whose classes are split across devices or processes (tensor parallelism, as Megatron-LM does), with any
// communication layer.
// </summary>
// <remarks>
// <para>
// A shard holds the columns <c>[classOffset, classOffset + shardClasses)</c> of the global <c>[rows, classes]</c>
// logits as its own row-major <c>[rows, shardClasses]</c> buffer. The exact loss and gradient take three steps:
// </para>
// <list type="number">
// <item><description>every shard computes its per-row statistics with
// <see cref="ShardStatistics{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, Span{T}, Span{T}, int, int, int, CrossEntropyOptions)"/>;</description></item>
// <item><description>the statistics are all-reduced with
// <see cref="MergeShardStatistics{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T})"/>, in any order (the label logits,
// if wanted, with a plain sum);</description></item>
// <item><description>every shard computes its gradient and its share of the loss with
// <see cref="ShardLossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, int, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>;
// the shares add up (a sum all-reduce of one number) to the loss of
// <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
// on the whole logits, and the shards' gradients, put side by side, are its gradient.</description></item>
// </list>
// <para>
// Only <c>2 * rows</c> numbers per shard cross the network, never the logits. ShardStatistics and ShardLossAndGradient run
// on the same SIMD kernels as the fused call (the statistics pass, then the recompute-from-statistics write strategy that
// Backward uses), honour <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/> with results bitwise the same for any
// thread count, accumulate row sums in double precision, and allocate nothing.
// </para>
// </remarks>
public static unsafe partial class SoftmaxCrossEntropy
{
    /// <summary>
    /// The per-row statistics of one class shard: its maximum logit, the sum of the exponentials of its logits relative to
    /// that maximum, and the logit of the row's label when the label falls in the shard.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The shard's logits, <c>rows * shardClasses</c> elements, row-major: row <c>i</c> holds the
    /// global classes <c>[classOffset, classOffset + shardClasses)</c> of the global row <c>i</c>.</param>
    /// <param name="labels">One global class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.
    /// A label outside this shard is normal.</param>
    /// <param name="rowMax">Receives each row's maximum (capped) logit <c>m_i</c> over the shard; one per row. It may not overlap any other argument.</param>
    /// <param name="rowSumExp">Receives each row's <c>s_i = sum_k exp(y_ik - m_i)</c> over the shard; one per row. It may not overlap any other argument.</param>
    /// <param name="labelLogits">Receives each row's (capped) label logit when the label is a class of this shard, and 0
    /// otherwise (and for an ignored row), so that a sum all-reduce over the shards gives every row's label logit; one per row. It may not overlap any other argument.</param>
    /// <param name="shardClasses">The number of classes in the shard, the length of a shard row.</param>
    /// <param name="classOffset">The global index of the shard's first class.</param>
    /// <param name="classes">The global number of classes <c>C</c>.</param>
    /// <param name="options">The ignored label, <see cref="CrossEntropyOptions.LogitScale"/>, <see cref="CrossEntropyOptions.LogitSoftcap"/>
    /// and <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/> are used; the other options are only checked.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> or <paramref name="shardClasses"/> is not positive;
    /// <paramref name="classOffset"/> is negative or the shard ends past <paramref name="classes"/>; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range.</exception>
    /// <exception cref="ArgumentException">The length of <paramref name="logits"/> is not a multiple of
    /// <paramref name="shardClasses"/>; <paramref name="labels"/>, <paramref name="rowMax"/>, <paramref name="rowSumExp"/> or
    /// <paramref name="labelLogits"/> does not have one element per row; an output overlaps an input or another output.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>
    /// <para>
    /// With <see cref="CrossEntropyOptions.LogitScale"/> <c>s</c> and <see cref="CrossEntropyOptions.LogitSoftcap"/> <c>c</c>, the
    /// statistics are those of the final logits <c>c * tanh(s * y / c)</c> (or <c>s * y</c>), which are what the softmax sees. The
    /// sum is taken relative to the maximum as stored in <typeparamref name="T"/> (the exponentials in <typeparamref name="T"/>,
    /// added in double), so the pair is consistent after rounding.
    /// </para>
    /// <para>
    /// A row whose shard logits are all negative infinity (every class masked) gets <c>(-inf, 0)</c>, the identity of
    /// the merge. A NaN logit makes the row's maximum and sum NaN; a logit of positive infinity makes the sum NaN
    /// (as the unsharded loss is NaN for it).
    /// </para>
    /// <para>Every argument is checked before anything is written: a call that throws leaves every output as it was.</para>
    /// </remarks>
    public static void ShardStatistics<T>(
        ReadOnlySpan<T> logits,
        ReadOnlySpan<int> labels,
        Span<T> rowMax,
        Span<T> rowSumExp,
        Span<T> labelLogits,
        int shardClasses,
        int classOffset,
        int classes,
        CrossEntropyOptions options = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateShard(logits, labels, shardClasses, classOffset, classes, options);
        Validation.Length(rowMax.Length, rows, nameof(rowMax), "one maximum per row");
        Validation.Length(rowSumExp.Length, rows, nameof(rowSumExp), "one sum of exponentials per row");
        Validation.Length(labelLogits.Length, rows, nameof(labelLogits), "one label logit per row");
        ShardNoOverlap<T, T>(rowMax, logits, nameof(rowMax), nameof(logits));
        ShardNoOverlap<T, int>(rowMax, labels, nameof(rowMax), nameof(labels));
        ShardNoOverlap<T, T>(rowSumExp, logits, nameof(rowSumExp), nameof(logits));
        ShardNoOverlap<T, int>(rowSumExp, labels, nameof(rowSumExp), nameof(labels));
        ShardNoOverlap<T, T>(rowSumExp, rowMax, nameof(rowSumExp), nameof(rowMax));
        ShardNoOverlap<T, T>(labelLogits, logits, nameof(labelLogits), nameof(logits));
        ShardNoOverlap<T, int>(labelLogits, labels, nameof(labelLogits), nameof(labels));
        ShardNoOverlap<T, T>(labelLogits, rowMax, nameof(labelLogits), nameof(rowMax));
        ShardNoOverlap<T, T>(labelLogits, rowSumExp, nameof(labelLogits), nameof(rowSumExp));
        Validation.Labels<T>(labels, classes, options.IgnoreIndex, default);
        if (typeof(T) == typeof(Half))
        {
            ShardStatisticsHalf(AsHalfIn(logits), labels, AsHalfOut(rowMax), AsHalfOut(rowSumExp), AsHalfOut(labelLogits), shardClasses, classOffset, rows, options);
            return;
        }

        LogitMap<T> map = MapOf<T>(options);
        fixed (T* y = logits)
        fixed (T* m = rowMax)
        fixed (T* s = rowSumExp)
        {
            var call = new ShardStatisticsCall<T>(y, m, s, rows, shardClasses, map);
            RowChunks.Run<T, ShardStatisticsCall<T>>(call, options.MaxDegreeOfParallelism);
        }

        bool hasIgnore = options.IgnoreIndex.HasValue;
        int ignore = options.IgnoreIndex.GetValueOrDefault();
        for (int i = 0; i < rows; i++)
        {
            int label = labels[i];
            int local = label - classOffset;
            bool inShard = !(hasIgnore && label == ignore) && (uint)local < (uint)shardClasses;
            labelLogits[i] = inShard ? T.CreateTruncating(MapScalar(logits[(i * shardClasses) + local], map)) : T.Zero;
        }
    }

    /// <summary>
    /// Merges the per-row statistics of another shard (or of a group of shards) into <paramref name="rowMax"/> and
    /// <paramref name="rowSumExp"/>: <c>(m, s) + (m', s') = (M, s exp(m - M) + s' exp(m' - M))</c> with <c>M = max(m, m')</c>.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="otherMax">The other statistics' row maxima.</param>
    /// <param name="otherSumExp">The other statistics' sums of exponentials, relative to <paramref name="otherMax"/>.</param>
    /// <param name="rowMax">The accumulated row maxima; receives the merged ones. It sets the number of rows. It may not
    /// overlap any other argument.</param>
    /// <param name="rowSumExp">The accumulated sums of exponentials, relative to <paramref name="rowMax"/>; receives the merged ones. It may not
    /// overlap any other argument.</param>
    /// <exception cref="ArgumentException"><paramref name="rowSumExp"/>, <paramref name="otherMax"/> or
    /// <paramref name="otherSumExp"/> does not have the length of <paramref name="rowMax"/>; two of the spans overlap.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>
    /// <para>
    /// The merge is commutative (bitwise) and associative up to rounding, so any all-reduce order gives the same result
    /// within a few ulp; merging two equal statistics is exact (<c>(m, 2 s)</c>). It is computed in double precision and
    /// rounded once. <c>(-inf, 0)</c> is its identity: an accumulator may start there, and a shard whose classes are all
    /// masked in a row changes nothing (two such rows merge to <c>(-inf, 0)</c>, not NaN). A NaN in either input makes the
    /// merged row NaN.
    /// </para>
    /// <para>
    /// For an all-reduce that works on a single buffer, the four spans may be slices of one array, as long as they do not overlap.
    /// </para>
    /// <para>Every argument is checked before anything is written: a call that throws leaves every output as it was.</para>
    /// </remarks>
    public static void MergeShardStatistics<T>(ReadOnlySpan<T> otherMax, ReadOnlySpan<T> otherSumExp, Span<T> rowMax, Span<T> rowSumExp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        int rows = rowMax.Length;
        Validation.Length(rowSumExp.Length, rows, nameof(rowSumExp), "one sum of exponentials per row of 'rowMax'");
        Validation.Length(otherMax.Length, rows, nameof(otherMax), "one maximum per row of 'rowMax'");
        Validation.Length(otherSumExp.Length, rows, nameof(otherSumExp), "one sum of exponentials per row of 'rowMax'");
        ShardNoOverlap<T, T>(rowSumExp, rowMax, nameof(rowSumExp), nameof(rowMax));
        ShardNoOverlap<T, T>(rowMax, otherMax, nameof(rowMax), nameof(otherMax));
        ShardNoOverlap<T, T>(rowMax, otherSumExp, nameof(rowMax), nameof(otherSumExp));
        ShardNoOverlap<T, T>(rowSumExp, otherMax, nameof(rowSumExp), nameof(otherMax));
        ShardNoOverlap<T, T>(rowSumExp, otherSumExp, nameof(rowSumExp), nameof(otherSumExp));

        for (int i = 0; i < rows; i++)
        {
            double m1 = double.CreateTruncating(rowMax[i]);
            double s1 = double.CreateTruncating(rowSumExp[i]);
            double m2 = double.CreateTruncating(otherMax[i]);
            double s2 = double.CreateTruncating(otherSumExp[i]);
            double max = Math.Max(m1, m2); // NaN if either is NaN
            rowMax[i] = T.CreateTruncating(max);
            rowSumExp[i] = T.CreateTruncating(Rescale(s1, m1, max) + Rescale(s2, m2, max));
        }
    }

    /// <summary>
    /// The gradient of the whole cross-entropy loss with respect to one class shard's logits, and the shard's share of
    /// that loss, given the statistics of every shard merged.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The shard's logits, <c>rows * shardClasses</c> elements, row-major: row <c>i</c> holds the
    /// global classes <c>[classOffset, classOffset + shardClasses)</c> of the global row <c>i</c>.</param>
    /// <param name="labels">One global class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>;
    /// the same on every shard. A label outside this shard is normal.</param>
    /// <param name="rowMax">Each row's maximum over all the shards, merged with
    /// <see cref="MergeShardStatistics{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, Span{T})"/>; one per row.</param>
    /// <param name="rowSumExp">Each row's sum of exponentials over all the shards, relative to <paramref name="rowMax"/>; one per row.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, the shard's columns of the gradient that
    /// <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// writes for the whole logits; the same length as <paramref name="logits"/>. It may be the very same memory as
    /// <paramref name="logits"/> (in place), but may not overlap it otherwise, nor any other input.</param>
    /// <param name="shardClasses">The number of classes in the shard, the length of a shard row.</param>
    /// <param name="classOffset">The global index of the shard's first class. The shard at offset 0 counts the z-loss.</param>
    /// <param name="classes">The global number of classes <c>C</c>.</param>
    /// <param name="options">Every option, with the meaning it has for the unsharded loss; the same on every shard.</param>
    /// <param name="classWeights">Empty (unweighted), or the global weights, one per class (length <paramref name="classes"/>,
    /// indexed by global class); the same on every shard.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss share (z-loss
    /// included) and its gradient, as for the unsharded loss; the same on every shard. The mean's denominator does not change.</param>
    /// <returns>
    /// The shard's share of the loss; the shares of all the shards add up to the unsharded loss. Row <c>i</c> with label
    /// <c>l</c> and <c>LSE_i = m_i + ln s_i</c> contributes <c>(1 - eps) w_l (LSE_i - y_il)</c> from the shard that holds
    /// <c>l</c>, <c>(eps / C) sum_k w_k (LSE_i - y_ik)</c> over the shard's own classes <c>k</c> from every shard, and
    /// <c>z LSE_i^2</c> from the shard at <paramref name="classOffset"/> 0 only, each times the row weight <c>r_i</c> (1 without
    /// row weights); ignored rows contribute 0. Each share is
    /// divided by the same denominator as the unsharded loss (<see cref="Reduction.Mean"/>: the sum of <c>w_l</c> over the rows
    /// not ignored, computed from the global labels and weights, or <see cref="CrossEntropyOptions.Denominator"/>;
    /// <see cref="Reduction.Sum"/>: 1). When every row is ignored the mean is 0/0: NaN, as in the unsharded loss.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> or <paramref name="shardClasses"/> is not positive;
    /// <paramref name="classOffset"/> is negative or the shard ends past <paramref name="classes"/>; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The length of <paramref name="logits"/> is not a multiple of
    /// <paramref name="shardClasses"/>; <paramref name="labels"/>, <paramref name="rowMax"/> or <paramref name="rowSumExp"/> does
    /// not have one element per row; <paramref name="gradient"/> or <paramref name="classWeights"/> has the wrong length;
    /// <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>
    /// <para>
    /// The gradient of row <c>i</c> at global class <c>k</c> is
    /// <c>r_i (P_ik (w_l (1 - eps) + (eps / C) sum_j w_j + 2 z LSE_i) - (1 - eps) w_l [k == l] - (eps / C) w_k) / D</c> with
    /// <c>P_ik = exp(y_ik - m_i) / s_i</c>; <c>y</c> is the final (scaled, capped) logit, and the gradient is multiplied by the
    /// logit scale and by the cap's derivative <c>1 - tanh^2</c>. Ignored rows get zeros.
    /// </para>
    /// <para>
    /// The statistics must be those of all the shards merged, from the same logits and options (the same softcap); this is
    /// not checked. A row whose merged statistics are <c>(-inf, 0)</c> (every class masked) or NaN gets a NaN loss and
    /// gradient, as in the unsharded loss. A masked class (logit negative infinity) gets the gradient <c>-(eps / C) w_k / D</c>
    /// (0 without smoothing); with smoothing, the loss is then positive infinity.
    /// </para>
    /// <para>Every argument is checked before anything is written: a call that throws leaves every output as it was.</para>
    /// </remarks>
    public static T ShardLossAndGradient<T>(
        ReadOnlySpan<T> logits,
        ReadOnlySpan<int> labels,
        ReadOnlySpan<T> rowMax,
        ReadOnlySpan<T> rowSumExp,
        Span<T> gradient,
        int shardClasses,
        int classOffset,
        int classes,
        CrossEntropyOptions options = default,
        ReadOnlySpan<T> classWeights = default,
        ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateShard(logits, labels, shardClasses, classOffset, classes, options);
        Validation.ClassWeights(classWeights.Length, classes);
        Validation.RowWeights(rowWeights, rows);
        Validation.Length(rowMax.Length, rows, nameof(rowMax), "one maximum per row");
        Validation.Length(rowSumExp.Length, rows, nameof(rowSumExp), "one sum of exponentials per row");
        Validation.Length(gradient.Length, logits.Length, nameof(gradient), "one gradient element per shard logit");
        Validation.NoOverlap<T, T>(gradient, logits, allowSame: true, nameof(gradient), nameof(logits));
        ShardNoOverlap<T, int>(gradient, labels, nameof(gradient), nameof(labels));
        ShardNoOverlap<T, T>(gradient, rowMax, nameof(gradient), nameof(rowMax));
        ShardNoOverlap<T, T>(gradient, rowSumExp, nameof(gradient), nameof(rowSumExp));
        ShardNoOverlap<T, T>(gradient, classWeights, nameof(gradient), nameof(classWeights));
        ShardNoOverlap<T, T>(gradient, rowWeights, nameof(gradient), nameof(rowWeights));
        double labelWeightSum = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights).Denominator;

        double denominator = options.Reduction == Reduction.Sum ? 1 : options.Denominator ?? labelWeightSum;
        double weightSum = classes;
        if (!classWeights.IsEmpty)
        {
            weightSum = 0;
            foreach (T w in classWeights)
            {
                weightSum += double.CreateTruncating(w);
            }
        }

        if (typeof(T) == typeof(Half))
        {
            double loss = ShardLossAndGradientHalf(
                AsHalfIn(logits), labels, AsHalfIn(rowMax), AsHalfIn(rowSumExp), AsHalfOut(gradient), shardClasses, classOffset, classes, rows, options, AsHalfIn(classWeights), AsHalfIn(rowWeights), denominator, weightSum);
            return T.CreateTruncating(loss / denominator);
        }

        RowTotals totals;
        fixed (T* y = logits)
        fixed (T* g = gradient)
        fixed (T* m = rowMax)
        fixed (T* s = rowSumExp)
        fixed (int* lab = labels)
        fixed (T* w = classWeights)
        fixed (T* r = rowWeights)
        {
            var settings = CallSettings.From(options, 1 / denominator, argmax: false);
            var call = new ShardGradientCall<T>(y, g, m, s, lab, w, r, rows, shardClasses, classOffset, classes, options.IgnoreIndex, settings, weightSum);
            totals = RowChunks.Run<T, ShardGradientCall<T>>(call, options.MaxDegreeOfParallelism);
        }

        return T.CreateTruncating(totals.Loss / denominator);
    }

    /// <summary>The logit the softmax sees of one raw logit, in double (as the kernels' label logit).</summary>
    private static double MapScalar<T>(T y, in LogitMap<T> map)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (map.CapValue != 0)
        {
            return map.Apply<SoftcapRows>(y);
        }

        return map.ScaleValue != 1 ? map.Apply<ScaledRows>(y) : map.Apply<PlainRows>(y);
    }

    /// <summary><c>sum * exp(from - to)</c>, exact when <paramref name="from"/> equals <paramref name="to"/> (also for infinities).</summary>
    private static double Rescale(double sum, double from, double to) => from == to ? sum : sum * Math.Exp(from - to);

    /// <summary>Checks the element type, the shard's place among the classes, the options and the labels' length; returns the number of rows.</summary>
    private static int ValidateShard<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, int shardClasses, int classOffset, int classes, in CrossEntropyOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        if (classes <= 0)
        {
            ThrowHelper.ClassesNotPositive(classes);
        }

        if (shardClasses <= 0)
        {
            ThrowHelper.ShardClassesNotPositive(shardClasses);
        }

        if (classOffset < 0 || (long)classOffset + shardClasses > classes)
        {
            ThrowHelper.ShardOutsideClasses(classOffset, shardClasses, classes);
        }

        if (logits.Length % shardClasses != 0)
        {
            ThrowHelper.ShardLogitsNotMultiple(logits.Length, shardClasses);
        }

        int rows = logits.Length / shardClasses;
        Validation.Options(options);
        Validation.Length(labels.Length, rows, nameof(labels), "one label per row");
        return rows;
    }

    /// <summary>Refuses any overlap of <paramref name="output"/> with <paramref name="input"/>.</summary>
    private static void ShardNoOverlap<TOut, TIn>(ReadOnlySpan<TOut> output, ReadOnlySpan<TIn> input, string outputName, string inputName)
        where TOut : unmanaged
        where TIn : unmanaged
    {
        if (MemoryMarshal.AsBytes(output).Overlaps(MemoryMarshal.AsBytes(input)))
        {
            ThrowHelper.ShardOverlap(outputName, inputName);
        }
    }
}
