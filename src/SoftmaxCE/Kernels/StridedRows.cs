using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// PyTorch's layout <c>[outer, C, inner]</c> (<c>input (N, C, d1, ..., dK)</c>: outer = N, inner = d1 * ... * dK):
/// every position <c>(n, p)</c> is a row whose class <c>k</c> lies at <c>(n * C + k) * inner + p</c>. For a fixed class
/// the positions are contiguous, so <c>W</c> neighbouring positions are one vector per class and go straight through
/// <see cref="ShortRowsAcrossLanes{TOps, TVec, T}"/> with a class stride of <c>inner</c>: no transposed copy.
/// </summary>
/// <remarks>
/// Positions are numbered <c>n * inner + p</c>, the order of the labels, row losses and row weights <c>(N, d1, ..., dK)</c>.
/// Positions that do not fill a vector at the end of an <c>n</c> run one lane at a time.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class StridedRows<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The most elements of the stack copy of a block (16 KiB of floats): C * W up to this is staged.</summary>
    private const int StagedElements = 4096;

    /// <summary>Positions <c>first .. first + count</c> (<paramref name="gradient"/>: see <see cref="ShortRowsAcrossLanes{TOps, TVec, T}.Block"/>); returns the sum of their losses, in position order by blocks.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static RowTotals Run<TTerm, TMode, TFeatures>(
        T* logits, T* output, T* rowLosses, in LaneLabels labels, in RowPlan common, TTerm term, in LogitMap<T> map, bool gradient, long first, long count, int classes, long inner)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures
    {
        int w = TOps.Count;
        long end = first + count;
        RowTotals totals = default;

        // Class rows a multiple of 4 KiB apart (inner = 256 * 256) share one L1 and L2 set, so the kernel's second and
        // third passes would miss: each block is read once into a contiguous copy on the stack, worked on there, and its
        // results written to the tensor by the last pass. Above the copy's size (very many classes) the passes read the
        // tensor itself. Each loop is its own method, so that each gets the JIT's whole attention.
        bool staged = (long)classes * w <= StagedElements;
        for (long i = first; i < end;)
        {
            long n = i / inner;
            long segmentEnd = Math.Min(end, (n + 1) * inner);
            nuint offset = (nuint)((n * classes * inner) + (i - (n * inner)));
            int blocks = (int)((segmentEnd - i) / w);
            if (blocks > 0)
            {
                totals.Add(staged
                    ? StagedBlocks<TTerm, TMode, TFeatures>(logits + offset, output + offset, rowLosses, labels, common, term.AtRow(offset), map, gradient, (int)i, blocks, classes, inner)
                    : DirectBlocks<TTerm, TMode, TFeatures>(logits + offset, output + offset, rowLosses, labels, common, term.AtRow(offset), map, gradient, (int)i, blocks, classes, inner));
                i += (long)blocks * w;
                offset += (nuint)blocks * (nuint)w;
            }

            for (; i < segmentEnd; i++, offset++)
            {
                ShortRowsAcrossLanes<OpsScalar<T>, T, T>.Plan(labels, (int)i, out LanePlan<T> plan);
                totals.Add(ShortRowsAcrossLanes<OpsScalar<T>, T, T>.Block<TTerm, TMode, TFeatures>(
                    logits + offset, output + offset, (nuint)inner, output + offset, (nuint)inner, classes, term.AtRow(offset), plan, common, map, gradient, rowLosses == null ? null : rowLosses + i, null));
            }
        }

        return totals;
    }

    /// <summary><paramref name="blocks"/> blocks of <c>W</c> positions from <paramref name="first"/> on, each staged in a copy.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static RowTotals StagedBlocks<TTerm, TMode, TFeatures>(
        T* y, T* output, T* rowLosses, in LaneLabels labels, in RowPlan common, TTerm term, in LogitMap<T> map, bool gradient, int first, int blocks, int classes, long inner)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures
    {
        nuint lanes = (nuint)TOps.Count;
        nuint stride = (nuint)inner;
        nuint c = (nuint)classes;
        T* block = stackalloc T[StagedElements];
        RowTotals totals = default;
        for (int b = 0; b < blocks; b++)
        {
            nuint offset = (nuint)b * lanes;
            int row = first + (b * TOps.Count);
            T* source = y + offset;
            for (nuint k = 0; k < c; k++)
            {
                TOps.Store(TOps.Load(source + (k * stride)), block + (k * lanes));
            }

            // The block's dense targets stay where they are: the term reads them with the tensor's class stride.
            ShortRowsAcrossLanes<TOps, TVec, T>.Plan(labels, row, out LanePlan<TVec> plan);
            totals.Add(ShortRowsAcrossLanes<TOps, TVec, T>.Block<StagedTerm<TTerm, T>, TMode, TFeatures>(
                block, block, lanes, output + offset, stride, classes, new StagedTerm<TTerm, T>(term.AtRow(offset), stride), plan, common, map, gradient, rowLosses == null ? null : rowLosses + row, null));
        }

        return totals;
    }

    /// <summary><paramref name="blocks"/> blocks of <c>W</c> positions from <paramref name="first"/> on, read in place.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static RowTotals DirectBlocks<TTerm, TMode, TFeatures>(
        T* y, T* output, T* rowLosses, in LaneLabels labels, in RowPlan common, TTerm term, in LogitMap<T> map, bool gradient, int first, int blocks, int classes, long inner)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures
    {
        nuint lanes = (nuint)TOps.Count;
        nuint stride = (nuint)inner;
        RowTotals totals = default;
        for (int b = 0; b < blocks; b++)
        {
            nuint offset = (nuint)b * lanes;
            int row = first + (b * TOps.Count);
            ShortRowsAcrossLanes<TOps, TVec, T>.Plan(labels, row, out LanePlan<TVec> plan);
            totals.Add(ShortRowsAcrossLanes<TOps, TVec, T>.Block<TTerm, TMode, TFeatures>(
                y + offset, output + offset, stride, output + offset, stride, classes, term.AtRow(offset), plan, common, map, gradient, rowLosses == null ? null : rowLosses + row, null));
        }

        return totals;
    }
}

/// <summary>
/// A term whose dense targets keep the tensor's class stride while the kernel reads the logits from a staged copy
/// with another: <see cref="LoadClass"/> ignores the stride it is given and uses the tensor's.
/// </summary>
internal readonly unsafe struct StagedTerm<TTerm, T>(TTerm inner, nuint classStride) : ITargetTerm<StagedTerm<TTerm, T>, T>
    where TTerm : struct, ITargetTerm<TTerm, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool IsActive => TTerm.IsActive;

    public static bool IsSameForEveryRow => TTerm.IsSameForEveryRow;

    public StagedTerm<TTerm, T> AtRow(nuint offset) => new(inner.AtRow(offset), classStride);

    public StagedTerm<TTerm, T> WithTargets(T* rows) => new(inner.WithTargets(rows), classStride);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TVec>(nuint index)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => inner.Load<TOps, TVec>(index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec LoadClass<TOps, TVec>(nuint index, nuint unused)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => inner.LoadClass<TOps, TVec>(index, classStride);
}

/// <summary>
/// The work of one strided call, cut for <see cref="RowChunks"/>: its "rows" are groups of <see cref="GroupPositions"/>
/// positions, so that chunks hold whole vectors at every width and depend on the shape only (bitwise the same results
/// for any number of threads).
/// </summary>
internal readonly struct StridedShape(long positions, int classes, long inner)
{
    /// <summary>A multiple of every vector's lane count.</summary>
    public const int GroupPositions = 16;

    public long Positions { get; } = positions;

    public int Classes { get; } = classes;

    public long Inner { get; } = inner;

    public int Groups => (int)((Positions + GroupPositions - 1) / GroupPositions);

    /// <summary>The elements of one group, which <see cref="RowChunks"/> sizes its chunks by.</summary>
    public int GroupElements => (int)Math.Min((long)GroupPositions * Classes, int.MaxValue);

    public static long First(int firstGroup) => (long)firstGroup * GroupPositions;

    public long Count(int firstGroup, int groups) => Math.Min((long)groups * GroupPositions, Positions - First(firstGroup));
}

/// <summary>Softmax or log-softmax over the classes of every position, of the scaled and soft-capped logits.</summary>
internal readonly unsafe struct StridedSoftmaxCall<T, TMode>(T* logits, T* output, StridedShape shape, CallSettings settings) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => shape.Groups;

    public int Classes => shape.GroupElements;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => Strided.Features(settings) switch
        {
            1 => Run<TOps, TVec, SoftcapRows>(firstRow, rowCount),
            2 => Run<TOps, TVec, ScaledRows>(firstRow, rowCount),
            _ => Run<TOps, TVec, PlainRows>(firstRow, rowCount),
        };

    private RowTotals Run<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        var plan = new RowPlan(-1, 1, 0, 1);
        return StridedRows<TOps, TVec, T>.Run<NoTerm<T>, TMode, TFeatures>(
            logits, output, null, LaneLabels.Fixed(plan), plan, default, settings.Map<T>(), false, StridedShape.First(firstRow), shape.Count(firstRow, rowCount), shape.Classes, shape.Inner);
    }
}

/// <summary>The feature type a strided call's settings need.</summary>
internal static class Strided
{
    /// <summary>1: soft-capped (the scale folded into the cap), 2: scaled, 0: neither.</summary>
    public static int Features(in CallSettings settings) => settings.Softcap != 0 ? 1 : settings.LogitScale != 1 ? 2 : 0;
}

/// <summary>Cross-entropy with class-index labels, one per position: loss, row losses and/or gradient.</summary>
internal readonly unsafe struct StridedLabelCall<T, TMode>(
    T* logits, T* output, T* rowLosses, int* labels, T* weights, StridedShape shape, int? ignoreIndex, CallSettings settings) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => shape.Groups;

    public int Classes => shape.GroupElements;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        return Strided.Features(settings) switch
        {
            1 => Run<TOps, TVec, SoftcapRows>(firstRow, rowCount),
            2 => Run<TOps, TVec, ScaledRows>(firstRow, rowCount),
            _ => Run<TOps, TVec, PlainRows>(firstRow, rowCount),
        };
    }

    private RowTotals Run<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        double smoothing = settings.Smoothing;
        int classes = shape.Classes;
        var common = new RowPlan(-1, 0, smoothing / classes, settings.GradientScale, settings.ZLoss);
        var lanes = new LaneLabels(labels, weights, ignoreIndex.GetValueOrDefault(), ignoreIndex.HasValue, 1 - smoothing, -1, 0, classes);
        LogitMap<T> map = settings.Map<T>();
        long first = StridedShape.First(firstRow), count = shape.Count(firstRow, rowCount);
        if (smoothing == 0)
        {
            return StridedRows<TOps, TVec, T>.Run<NoTerm<T>, TMode, TFeatures>(logits, output, rowLosses, lanes, common, default, map, true, first, count, classes, shape.Inner);
        }

        return weights == null
            ? StridedRows<TOps, TVec, T>.Run<OnesTerm<T>, TMode, TFeatures>(logits, output, rowLosses, lanes, common, default, map, true, first, count, classes, shape.Inner)
            : StridedRows<TOps, TVec, T>.Run<WeightsTerm<T>, TMode, TFeatures>(logits, output, rowLosses, lanes, common, new WeightsTerm<T>(weights), map, true, first, count, classes, shape.Inner);
    }
}

/// <summary>Cross-entropy with dense targets (probabilities along the class axis): loss and/or gradient.</summary>
internal readonly unsafe struct StridedDenseCall<T, TMode>(
    T* logits, T* output, T* targets, T* weights, StridedShape shape, CallSettings settings) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => shape.Groups;

    public int Classes => shape.GroupElements;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        return Strided.Features(settings) switch
        {
            1 => Run<TOps, TVec, SoftcapRows>(firstRow, rowCount),
            2 => Run<TOps, TVec, ScaledRows>(firstRow, rowCount),
            _ => Run<TOps, TVec, PlainRows>(firstRow, rowCount),
        };
    }

    private RowTotals Run<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        int classes = shape.Classes;
        var common = new RowPlan(-1, 0, 1, settings.GradientScale, settings.ZLoss);
        LaneLabels lanes = LaneLabels.Fixed(common);
        LogitMap<T> map = settings.Map<T>();
        T keep = T.CreateTruncating(1 - settings.Smoothing);
        T spread = T.CreateTruncating(settings.Smoothing / classes);
        long first = StridedShape.First(firstRow), count = shape.Count(firstRow, rowCount);
        return weights == null
            ? StridedRows<TOps, TVec, T>.Run<DenseTerm<T>, TMode, TFeatures>(logits, output, null, lanes, common, new DenseTerm<T>(targets, keep, spread), map, true, first, count, classes, shape.Inner)
            : StridedRows<TOps, TVec, T>.Run<WeightedDenseTerm<T>, TMode, TFeatures>(logits, output, null, lanes, common, new WeightedDenseTerm<T>(targets, weights, keep, spread), map, true, first, count, classes, shape.Inner);
    }
}
