using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SoftmaxCE.Kernels;

/// <summary>Gives each row its <see cref="RowPlan"/>, or says that the row is ignored.</summary>
internal interface IRowPlanner
{
    /// <summary>Whether rows carry their own weights (<see cref="RowWeightPlanner{TInner, T}"/>), which the block kernels do not read.</summary>
    static abstract bool WeightsRows { get; }

    /// <summary>The same for every row of a call: <see cref="RowPlan.TermCoefficient"/>, <see cref="RowPlan.Scale"/>, <see cref="RowPlan.ZLoss"/>.</summary>
    RowPlan Common { get; }

    bool TryPlan(int row, out RowPlan plan);

    /// <summary>The same plans as data, for the rows-across-lanes kernel (<see cref="ShortRowsAcrossLanes{TOps, TVec, T}.Plan"/>).</summary>
    LaneLabels Lanes { get; }
}

/// <summary>The same plan for every row: softmax, log-softmax and dense targets.</summary>
internal readonly struct FixedPlanner(RowPlan plan) : IRowPlanner
{
    public static bool WeightsRows => false;

    public RowPlan Common => plan;

    public LaneLabels Lanes => LaneLabels.Fixed(plan);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPlan(int row, out RowPlan plan1)
    {
        plan1 = plan;
        return true;
    }
}

/// <summary>Class-index labels: the label, its weight and smoothing, and the ignored value.</summary>
/// <remarks>
/// Each label is read once, and only that value is used: the labels were validated before the call, but the caller's
/// memory may change while it runs (another thread), and a label outside <c>[0, classes)</c> must never index the class
/// weights or a row. Such a row gets <see cref="RowPlan.Broken"/>: NaN loss and gradient.
/// </remarks>
internal readonly unsafe struct LabelPlanner<T>(int* labels, T* weights, int ignoreIndex, bool hasIgnoreIndex, double keep, double spread, double scale, double zLoss, int classes) : IRowPlanner
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool WeightsRows => false;

    public RowPlan Common => new(-1, 0, spread, scale, zLoss);

    public LaneLabels Lanes => new(labels, weights, ignoreIndex, hasIgnoreIndex, keep, -1, 0, classes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPlan(int row, out RowPlan plan)
    {
        int label = labels[row];
        if (hasIgnoreIndex && label == ignoreIndex)
        {
            plan = default;
            return false;
        }

        if ((uint)label >= (uint)classes)
        {
            plan = RowPlan.Broken(spread, scale, zLoss);
            return true;
        }

        double weight = weights == null ? 1 : double.CreateTruncating(weights[label]);
        plan = new RowPlan(label, keep * weight, spread, scale, zLoss);
        return true;
    }
}

/// <summary>Another planner's plans, each row's loss and gradient multiplied by its row weight.</summary>
internal readonly unsafe struct RowWeightPlanner<TInner, T>(TInner inner, T* rowWeights) : IRowPlanner
    where TInner : struct, IRowPlanner
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool WeightsRows => true;

    public RowPlan Common => inner.Common;

    /// <summary>Not used: <see cref="WeightsRows"/> keeps the block kernels away.</summary>
    public LaneLabels Lanes => inner.Lanes;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPlan(int row, out RowPlan plan)
    {
        if (!inner.TryPlan(row, out plan))
        {
            return false;
        }

        plan = plan.Weighted(double.CreateTruncating(rowWeights[row]));
        return true;
    }
}

/// <summary>
/// What a call writes per row besides its output: each row's loss, argmax, log-sum-exp, and max with its sum of
/// exponentials (the sharded statistics); each may be null.
/// </summary>
internal readonly unsafe struct RowOutputs<T>(T* rowLosses, int* predictions, T* logSumExp, T* rowMax = null, T* rowSumExp = null)
    where T : unmanaged
{
    public T* RowLosses { get; } = rowLosses;

    public int* Predictions { get; } = predictions;

    public T* LogSumExp { get; } = logSumExp;

    public T* RowMax { get; } = rowMax;

    public T* RowSumExp { get; } = rowSumExp;

    /// <summary>Whether some output only the row kernels write is asked for (the block kernels write losses and predictions only).</summary>
    public bool NeedsRowKernel => LogSumExp != null || RowMax != null || RowSumExp != null;

    /// <summary>The same outputs for the rows from <paramref name="firstRow"/> on.</summary>
    public RowOutputs<T> From(int firstRow) => new(
        RowLosses == null ? null : RowLosses + firstRow,
        Predictions == null ? null : Predictions + firstRow,
        LogSumExp == null ? null : LogSumExp + firstRow,
        RowMax == null ? null : RowMax + firstRow,
        RowSumExp == null ? null : RowSumExp + firstRow);
}

/// <summary>Runs a row kernel over every row of a call, and sums the row losses in row order.</summary>
[SkipLocalsInit]
internal static unsafe class RowLoop<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Elements of the padded copy used for the last few short rows.</summary>
    private const int PaddedLength = 64;

    /// <summary>
    /// Processes the rows of <paramref name="buffers"/>. Its output may be its logits (in place), or null when
    /// <typeparamref name="TMode"/> writes nothing; its targets are the dense target rows that <paramref name="term"/>
    /// reads (null for labels). <paramref name="outputs"/> receive each row's loss, argmax (-1 for an ignored row) and
    /// log-sum-exp (unspecified for an ignored row), where not null.
    /// </summary>
    public static RowTotals Run<TTerm, TMode, TPlanner, TFeatures>(in RowBuffers<T> buffers, in RowOutputs<T> outputs, TTerm term, TPlanner planner, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
    {
        RowTotals totals = default;
        int first = 0;
        int classes = buffers.Classes;

        // The block kernel reads no row weights and writes no log-sum-exp: such calls take the row path.
        if (!TPlanner.WeightsRows && !outputs.NeedsRowKernel && ShortRowsTransposed<TOps, TVec, T>.Serves<TTerm, TFeatures>(classes))
        {
            first = ShortRowsTransposed<TOps, TVec, T>.Run<TTerm, TMode, TPlanner, TFeatures>(
                ref totals, buffers.Logits, buffers.Output, outputs.RowLosses, outputs.Predictions, buffers.Rows, classes, term, planner, map);
            Debug.Assert(first <= buffers.Rows && first % TOps.Count == 0, "the block kernel does whole blocks of W rows, inside the call");
        }

        if (classes <= TOps.Count)
        {
            RunShortRows<TTerm, TMode, TPlanner, TFeatures>(ref totals, first, buffers, outputs, term, planner, map);
        }
        else
        {
            RunLongRows<TTerm, TMode, TPlanner, TFeatures>(ref totals, first, buffers, outputs, term, planner, map);
        }

        return totals;
    }

    /// <summary>The same, the buffers given one by one (the sharded calls' form).</summary>
    public static RowTotals Run<TTerm, TMode, TPlanner, TFeatures>(
        T* logits, T* output, T* targets, in RowOutputs<T> outputs, int rows, int classes, TTerm term, TPlanner planner, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures =>
        Run<TTerm, TMode, TPlanner, TFeatures>(new RowBuffers<T>(logits, output, targets, rows, classes), outputs, term, planner, map);

    private static void RunLongRows<TTerm, TMode, TPlanner, TFeatures>(
        ref RowTotals totals, int first, in RowBuffers<T> buffers, in RowOutputs<T> outputs, TTerm term, TPlanner planner, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
    {
        // Copied to locals: stores through the row pointers could otherwise make the JIT reload them from the struct.
        T* logits = buffers.Logits, output = buffers.Output;
        int rows = buffers.Rows, classes = buffers.Classes;
        Debug.Assert(classes > TOps.Count, "a long row is longer than a vector: each chunk's overlapping last vector starts inside the row");
        ChunkStats* chunks = stackalloc ChunkStats[RowStatistics<TOps, TVec, T>.MaxChunks];
        nuint chunkLength = RowStatistics<TOps, TVec, T>.ChunkLength(classes);
        nuint c = (nuint)classes;
        for (int r = first; r < rows; r++)
        {
            nuint offset = (nuint)r * c;
            RowOutcome outcome = default;
            outcome.Argmax = -1;
            if (planner.TryPlan(r, out RowPlan plan))
            {
                outcome = Row<TTerm, TMode, TFeatures>(logits + offset, output + offset, c, term.AtRow(offset), plan, chunks, chunkLength, map);
                Count<TFeatures>(ref totals, outcome, plan.Label);
            }
            else if (TMode.WritesScaledExp)
            {
                new Span<T>(output + offset, classes).Clear();
            }

            Write<TFeatures>(r, outcome, outputs);
        }
    }

    /// <summary>A long row: its statistics, then the write strategy of the output kind <typeparamref name="TMode"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static RowOutcome Row<TTerm, TMode, TFeatures>(T* y, T* output, nuint classes, TTerm term, in RowPlan plan, ChunkStats* chunks, nuint chunkLength, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures =>
        TMode.WritesScaledExp
            ? RowStatistics<TOps, TVec, T>.Row<TTerm, TFeatures, StoreAndRescale<T, TMode>>(y, output, classes, term, plan, chunks, chunkLength, map)
            : TMode.WritesLogProbabilities
            ? RowStatistics<TOps, TVec, T>.Row<TTerm, TFeatures, LogProbabilities<T>>(y, output, classes, term, plan, chunks, chunkLength, map)
            : RowStatistics<TOps, TVec, T>.Row<TTerm, TFeatures, LossOnly<T>>(y, output, classes, term, plan, chunks, chunkLength, map);

    private static void RunShortRows<TTerm, TMode, TPlanner, TFeatures>(
        ref RowTotals totals, int first, in RowBuffers<T> buffers, in RowOutputs<T> outputs, TTerm term, TPlanner planner, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
    {
        T* logits = buffers.Logits, output = buffers.Output, targets = buffers.Targets;
        int rows = buffers.Rows, classes = buffers.Classes;
        TVec inRow = TOps.Equals(SimdMasks.LanesFrom<TOps, TVec, T>(classes), TOps.Zero);
        nuint c = (nuint)classes;
        long length = (long)rows * classes;

        // Rows whose vector-wide load stays inside the buffers run in place; the last few run on a padded copy.
        int direct = length >= TOps.Count ? (int)((length - TOps.Count) / classes) + 1 : 0;
        Debug.Assert(classes >= 1 && classes <= TOps.Count, "a short row fits one vector");
        for (int r = first; r < direct; r++)
        {
            Debug.Assert(((long)r * classes) + TOps.Count <= length, "a row run in place loads and stores a whole vector inside the buffers");
            nuint offset = (nuint)r * c;
            ShortRow<TTerm, TMode, TPlanner, TFeatures>(ref totals, r, logits + offset, output + offset, term.AtRow(offset), planner, inRow, outputs, map);
        }

        direct = Math.Max(direct, first);
        if (direct < rows)
        {
            int tailLength = (rows - direct) * classes;
            Debug.Assert(
                tailLength - classes + TOps.Count <= PaddedLength,
                "the last rows run on the padded copy, whose last row loads and stores a whole vector inside it");
            nuint tailOffset = (nuint)direct * c;
            T* y = stackalloc T[PaddedLength];
            T* o = stackalloc T[PaddedLength];
            T* t = stackalloc T[PaddedLength];
            new Span<T>(y, PaddedLength).Clear();
            new Span<T>(t, PaddedLength).Clear();
            new Span<T>(logits + tailOffset, tailLength).CopyTo(new Span<T>(y, PaddedLength));
            if (targets != null)
            {
                new Span<T>(targets + tailOffset, tailLength).CopyTo(new Span<T>(t, PaddedLength));
            }

            TTerm padded = term.WithTargets(t);
            for (int r = direct; r < rows; r++)
            {
                nuint offset = (nuint)(r - direct) * c;
                ShortRow<TTerm, TMode, TPlanner, TFeatures>(ref totals, r, y + offset, o + offset, padded.AtRow(offset), planner, inRow, outputs, map);
            }

            if (TMode.WritesScaledExp || TMode.WritesLogProbabilities)
            {
                new Span<T>(o, tailLength).CopyTo(new Span<T>(output + tailOffset, tailLength));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ShortRow<TTerm, TMode, TPlanner, TFeatures>(
        ref RowTotals totals, int row, T* y, T* output, TTerm term, TPlanner planner, TVec inRow, in RowOutputs<T> outputs, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
    {
        RowOutcome outcome = default;
        outcome.Argmax = -1;
        if (planner.TryPlan(row, out RowPlan plan))
        {
            outcome = ShortRow<TOps, TVec, T>.Run<TTerm, TMode, TFeatures>(y, output, term, plan, inRow, map);
            Count<TFeatures>(ref totals, outcome, plan.Label);
        }
        else if (TMode.WritesScaledExp)
        {
            // Zero the row's lanes and write the rest back as it was (it may be the next row's logits, in place).
            TOps.Store(TOps.Select(inRow, TOps.Zero, TOps.Load(y)), output);
        }

        Write<TFeatures>(row, outcome, outputs);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Count<TFeatures>(ref RowTotals totals, in RowOutcome outcome, int label)
        where TFeatures : struct, IRowFeatures
    {
        totals.Loss += outcome.Loss;
        totals.ZLoss += outcome.ZLoss;
        if (TFeatures.Argmax && label >= 0 && outcome.Argmax == label)
        {
            totals.Correct++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write<TFeatures>(int row, in RowOutcome outcome, in RowOutputs<T> outputs)
        where TFeatures : struct, IRowFeatures
    {
        if (outputs.RowLosses != null)
        {
            outputs.RowLosses[row] = T.CreateTruncating(outcome.Loss);
        }

        if (TFeatures.Argmax && outputs.Predictions != null)
        {
            outputs.Predictions[row] = outcome.Argmax;
        }

        if (outputs.LogSumExp != null)
        {
            outputs.LogSumExp[row] = T.CreateTruncating(outcome.LogSumExp);
        }

        if (outputs.RowMax != null)
        {
            // The hardware max may drop a NaN; the sum never does: a NaN row gets a NaN max too.
            outputs.RowMax[row] = T.CreateTruncating(double.IsNaN(outcome.SumExp) ? double.NaN : outcome.Max);
            outputs.RowSumExp[row] = T.CreateTruncating(outcome.SumExp);
        }
    }
}
