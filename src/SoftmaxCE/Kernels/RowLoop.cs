using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>Gives each row its <see cref="RowPlan"/>, or says that the row is ignored.</summary>
internal interface IRowPlanner
{
    bool TryPlan(int row, out RowPlan plan);
}

/// <summary>The same plan for every row: softmax, log-softmax and dense targets.</summary>
internal readonly struct FixedPlanner(RowPlan plan) : IRowPlanner
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPlan(int row, out RowPlan plan1)
    {
        plan1 = plan;
        return true;
    }
}

/// <summary>Class-index labels: the label, its weight and smoothing, and the ignored value.</summary>
internal readonly unsafe struct LabelPlanner<T>(int* labels, T* weights, int ignoreIndex, bool hasIgnoreIndex, double keep, double spread, double scale) : IRowPlanner
    where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPlan(int row, out RowPlan plan)
    {
        int label = labels[row];
        if (hasIgnoreIndex && label == ignoreIndex)
        {
            plan = default;
            return false;
        }

        double weight = weights == null ? 1 : double.CreateTruncating(weights[label]);
        plan = new RowPlan(label, keep * weight, spread, scale);
        return true;
    }
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
    /// Processes <paramref name="rows"/> rows. <paramref name="output"/> may equal <paramref name="logits"/>
    /// (in place), or be null when <typeparamref name="TMode"/> writes nothing. <paramref name="targets"/> is the
    /// dense target rows that <paramref name="term"/> reads (null for labels); <paramref name="rowLosses"/>,
    /// when not null, receives each row's loss. Returns the sum of the row losses, in double.
    /// </summary>
    public static double Run<TTerm, TMode, TPlanner>(T* logits, T* output, T* targets, T* rowLosses, int rows, int classes, TTerm term, TPlanner planner)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
    {
        return classes <= TOps.Count
            ? RunShortRows<TTerm, TMode, TPlanner>(logits, output, targets, rowLosses, rows, classes, term, planner)
            : RunLongRows<TTerm, TMode, TPlanner>(logits, output, rowLosses, rows, classes, term, planner);
    }

    private static double RunLongRows<TTerm, TMode, TPlanner>(T* logits, T* output, T* rowLosses, int rows, int classes, TTerm term, TPlanner planner)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
    {
        ChunkStats* chunks = stackalloc ChunkStats[RowKernel<TOps, TVec, T>.MaxChunks];
        nuint chunkLength = RowKernel<TOps, TVec, T>.ChunkLength(classes);
        nuint c = (nuint)classes;
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            nuint offset = (nuint)r * c;
            double loss = 0;
            if (planner.TryPlan(r, out RowPlan plan))
            {
                loss = RowKernel<TOps, TVec, T>.Row<TTerm, TMode>(logits + offset, output + offset, c, term.AtRow(offset), plan, chunks, chunkLength);
                total += loss;
            }
            else if (TMode.WritesScaledExp)
            {
                new Span<T>(output + offset, classes).Clear();
            }

            if (rowLosses != null)
            {
                rowLosses[r] = T.CreateTruncating(loss);
            }
        }

        return total;
    }

    private static double RunShortRows<TTerm, TMode, TPlanner>(T* logits, T* output, T* targets, T* rowLosses, int rows, int classes, TTerm term, TPlanner planner)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
    {
        TVec inRow = TOps.Equals(SimdMasks.LanesFrom<TOps, TVec, T>(classes), TOps.Zero);
        nuint c = (nuint)classes;
        long length = (long)rows * classes;

        // Rows whose vector-wide load stays inside the buffers run in place; the last few run on a padded copy.
        int direct = length >= TOps.Count ? (int)((length - TOps.Count) / classes) + 1 : 0;
        double total = 0;
        int r0 = 0;
        if (ShortRowsAvx512.Serves<T, TVec, TTerm>(classes))
        {
            // Whole blocks of 16 rows whose loads stay inside the buffers.
            for (; r0 + ShortRowsAvx512.BlockRows <= direct; r0 += ShortRowsAvx512.BlockRows)
            {
                total += ShortRowsAvx512.Block<T, TTerm, TMode, TPlanner>(logits, output, rowLosses, r0, classes, term, planner);
            }
        }

        for (int r = r0; r < direct; r++)
        {
            nuint offset = (nuint)r * c;
            total += ShortRow<TTerm, TMode, TPlanner>(r, logits + offset, output + offset, term.AtRow(offset), planner, inRow, rowLosses);
        }

        if (direct < rows)
        {
            int tailLength = (rows - direct) * classes;
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
                total += ShortRow<TTerm, TMode, TPlanner>(r, y + offset, o + offset, padded.AtRow(offset), planner, inRow, rowLosses);
            }

            if (TMode.WritesScaledExp || TMode.WritesLogProbabilities)
            {
                new Span<T>(o, tailLength).CopyTo(new Span<T>(output + tailOffset, tailLength));
            }
        }

        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ShortRow<TTerm, TMode, TPlanner>(int row, T* y, T* output, TTerm term, TPlanner planner, TVec inRow, T* rowLosses)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
    {
        double loss = 0;
        if (planner.TryPlan(row, out RowPlan plan))
        {
            loss = RowKernel<TOps, TVec, T>.ShortRow<TTerm, TMode>(y, output, term, plan, inRow);
        }
        else if (TMode.WritesScaledExp)
        {
            // Zero the row's lanes and write the rest back as it was (it may be the next row's logits, in place).
            TOps.Store(TOps.Select(inRow, TOps.Zero, TOps.Load(y)), output);
        }

        if (rowLosses != null)
        {
            rowLosses[row] = T.CreateTruncating(loss);
        }

        return loss;
    }
}
