using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using SoftmaxCE.Internals;

namespace SoftmaxCE.Kernels;

/// <summary>Per-chunk statistics of a row: relative to its own shift (the chunk's max).</summary>
internal struct ChunkStats
{
    public double Shift;
    public double SumExp;
    public double TermDistance; // sum u_k (Shift - y_k), from TermDistance's scaled lane sums
    public double TermSum;      // sum u_k
}

/// <summary>
/// A write strategy: what the statistics pass stores into the output on the way, and what it writes once the row's
/// statistics are known. The statistics pass (<see cref="RowStatistics{TOps, TVec, T}.Row"/>) takes it as a type
/// argument, so that each combination compiles to one loop with nothing it does not use.
/// </summary>
internal unsafe interface IWriteStrategy<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The statistics pass stores <c>exp(y' - chunk max)</c> (as <see cref="StoredExponential"/> makes it) in the output.</summary>
    static abstract bool StoresExponentials<TTerm, TFeatures>()
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures;

    /// <summary>
    /// The statistics pass stores the mapped (soft-capped) logits <c>y'</c> instead: the soft-capped gradient needs them
    /// for the cap's derivative and recomputes the exponential, and in place the raw logits are gone by then.
    /// </summary>
    static abstract bool StoresMappedLogits<TTerm, TFeatures>()
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures;

    /// <summary>
    /// What the statistics pass stores for the exponential <paramref name="e"/> of the mapped logits
    /// <paramref name="mapped"/> when <see cref="StoresExponentials"/>: <paramref name="e"/> unless the strategy says
    /// otherwise.
    /// </summary>
    static virtual TVec StoredExponential<TOps, TVec, TFeatures>(TVec e, TVec mapped, in LogitMap<T> map)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures => e;

    /// <summary>Writes the row's output from its statistics (<paramref name="row"/>, and the chunks' in <paramref name="chunks"/>).</summary>
    static abstract void Write<TOps, TVec, TTerm, TFeatures>(
        T* y, T* output, nuint classes, TTerm term, in RowPlan plan, ChunkStats* chunks, nuint chunkLength, in LogitMap<T> map, in RowSummary row)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures;
}

/// <summary>The calling thread's 8 KiB for a chunk of soft-capped logits between the statistics pass's two loops (it stays in L1).</summary>
internal static unsafe class MappedChunk
{
    /// <summary>8 KiB, 64-byte aligned, allocated once per thread.</summary>
    public static void* Get() => ThreadScratch.SoftcapChunk.Get(8192);
}

/// <summary>A row's statistics: its outcome, and what a write strategy needs besides.</summary>
internal struct RowSummary
{
    /// <summary>The loss, z-loss, argmax, log-sum-exp, max and sum of exponentials.</summary>
    public RowOutcome Outcome;

    /// <summary>How many chunks the row was cut into (their statistics are in the caller's buffer).</summary>
    public int ChunkCount;

    /// <summary><c>sum_k u_k</c> over the row (0 without a target term).</summary>
    public double TermSum;

    /// <summary>The label's mapped logit, read before anything was written (0 without a label).</summary>
    public double LabelLogit;
}

/// <summary>
/// The statistics pass of a row longer than one vector, written once for every vector width: per chunk its max (and
/// argmax), the sum of <c>exp(y - chunk max)</c> and the target term's sums; then the row's log-sum-exp and loss.
/// </summary>
/// <remarks>
/// <para>
/// A row longer than a vector is cut into chunks of about 8 KiB, which stay in L1. Each chunk is read
/// twice from L1 (its max, then <c>exp(y - max)</c>), so a row is read from memory once while each
/// exponential is computed once: this is the online normaliser of Milakov and Gimelshein applied per
/// chunk instead of per element, which saves the per-element rescaling exponential. A write strategy then turns the
/// statistics into its output: <see cref="StoreAndRescale{T, TMode}"/> (softmax and the gradient, from the
/// exponentials this pass stored), <see cref="LogProbabilities{T}"/>, <see cref="LossOnly{T}"/>.
/// </para>
/// </remarks>
[SkipLocalsInit]
internal static unsafe class RowStatistics<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>At most this many chunks per row; longer rows get longer chunks.</summary>
    public const int MaxChunks = 1024;

    /// <summary>A chunk stays in L1 (8 KiB)...</summary>
    private const int ChunkBytes = 8192;

    /// <summary>
    /// ...and holds at most this many vectors, so that each lane of a chunk's sums adds at most 128 terms in T
    /// before the chunk's total goes to double: the rounding of a float sum then stays near 1e-6 relative for every
    /// width, the scalar one included.
    /// </summary>
    private const int VectorsPerChunk = 128;

    /// <summary>The chunk length for rows of <paramref name="classes"/>: a multiple of the vector length.</summary>
    public static nuint ChunkLength(int classes)
    {
        int count = TOps.Count;
        int length = Math.Max(Math.Min(ChunkBytes / sizeof(T), VectorsPerChunk * count), (classes + MaxChunks - 1) / MaxChunks);
        return (nuint)((length + count - 1) / count * count);
    }

    /// <summary>
    /// One row of more than <c>TOps.Count</c> classes: its statistics, chunk by chunk into <paramref name="chunks"/>, its
    /// loss, argmax and log-sum-exp, then the write strategy <typeparamref name="TWrite"/>, which writes
    /// <paramref name="output"/> (which may be <paramref name="y"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static RowOutcome Row<TTerm, TFeatures, TWrite>(T* y, T* output, nuint classes, TTerm term, in RowPlan plan, ChunkStats* chunks, nuint chunkLength, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
        where TWrite : struct, IWriteStrategy<T>
    {
        nuint count = (nuint)TOps.Count;
        bool keepCapped = TWrite.StoresMappedLogits<TTerm, TFeatures>();

        // With a soft-cap, the capped chunk waits in L1 between the two passes instead of being capped twice (its tanh
        // costs an exponential), unless the strategy keeps it in the output anyway, or the chunk is larger than 8 KiB
        // (rows of more than 2 Mi classes), where it is capped again.
        // (A thread's buffer rather than a stackalloc: a localloc in this method slows every instantiation of it.)
        bool mappedChunk = TFeatures.Softcap && !keepCapped && chunkLength * (nuint)sizeof(T) <= ChunkBytes;
        T* mapped = mappedChunk ? (T*)MappedChunk.Get() : null;
        double labelLogit = plan.Label >= 0 ? map.Apply<TFeatures>(y[plan.Label]) : 0;

        double rowMax = double.NegativeInfinity;

        // A row of only negative infinities never finds a greater chunk max: its argmax is then 0 (ties go to the lowest index).
        int argmax = TFeatures.Argmax ? 0 : -1;
        int chunkCount = 0;
        for (nuint start = 0; start < classes; chunkCount++)
        {
            nuint length = classes - start >= chunkLength + count ? chunkLength : classes - start;
            T* yc = y + start;
            T* oc = output + start;
            nuint full = length - (length % count);
            bool hasTail = full != length;

            // The last, partial vector overlaps the one before it. It is loaded before anything of this chunk
            // is stored, since in place the stores overwrite the logits it covers.
            TVec tail = hasTail ? Load<TFeatures>(yc + length - count, map) : TOps.Zero;

            // Pass 1a: the chunk's max (and argmax), and with a softcap the capped logits.
            TVec max = TOps.Create(T.NegativeInfinity);
            TVec maxIndex = TOps.Zero;
            TVec index = TOps.Add(TOps.Indices, TOps.Create(T.CreateTruncating(start)));
            TVec step = TOps.Create(T.CreateTruncating(count));
            for (nuint i = 0; i < full; i += count)
            {
                TVec yv = Load<TFeatures>(yc + i, map);
                if (keepCapped)
                {
                    TOps.Store(yv, oc + i);
                }
                else if (mappedChunk)
                {
                    TOps.Store(yv, mapped + i);
                }

                if (TFeatures.Argmax)
                {
                    TVec greater = TOps.GreaterThan(yv, max);
                    max = TOps.Select(greater, yv, max);
                    maxIndex = TOps.Select(greater, index, maxIndex);
                    index = TOps.Add(index, step);
                }
                else
                {
                    max = TOps.Max(max, yv);
                }
            }

            if (hasTail)
            {
                if (keepCapped)
                {
                    TOps.Store(tail, oc + length - count);
                }

                if (TFeatures.Argmax)
                {
                    // Strictly greater: lanes that repeat earlier elements keep the earlier (lower) index.
                    TVec greater = TOps.GreaterThan(tail, max);
                    max = TOps.Select(greater, tail, max);
                    maxIndex = TOps.Select(greater, TOps.Add(TOps.Indices, TOps.Create(T.CreateTruncating(start + length - count))), maxIndex);
                }
                else
                {
                    max = TOps.Max(max, tail);
                }
            }

            T chunkMax = TOps.MaxAcross(max);
            if (TFeatures.Argmax && chunkMax > T.CreateTruncating(rowMax))
            {
                argmax = LowestIndexOfMax(max, maxIndex, chunkMax);
            }

            T shift = T.IsNegativeInfinity(chunkMax) ? T.Zero : chunkMax; // all -inf: exp(y - 0) = 0, no NaN
            TVec shiftV = TOps.Create(shift);
            TVec scaledShift = TTerm.IsActive ? TermDistance.ScaledShift<TOps, TVec, T>(shiftV) : TOps.Zero;

            // Pass 1b: exp(y - chunk max), summed, and stored for softmax and gradients.
            T* source = keepCapped ? oc : mappedChunk ? mapped : yc;
            TVec sum = TOps.Zero, distance = TOps.Zero, termSum = TOps.Zero;
            for (nuint i = 0; i < full; i += count)
            {
                TVec yv = keepCapped || mappedChunk ? TOps.Load(source + i) : Load<TFeatures>(source + i, map);
                TVec e = TOps.ExpDifference(yv, shiftV);
                sum = TOps.Add(sum, e);
                if (TWrite.StoresExponentials<TTerm, TFeatures>())
                {
                    TOps.Store(TWrite.StoredExponential<TOps, TVec, TFeatures>(e, yv, map), oc + i);
                }

                if (TTerm.IsActive)
                {
                    TermDistance.Accumulate<TOps, TVec, T>(term.Load<TOps, TVec>(start + i), yv, scaledShift, ref distance, ref termSum);
                }
            }

            if (hasTail)
            {
                TVec fresh = SimdMasks.LanesFrom<TOps, TVec, T>((int)(count - (length - full)));
                TVec e = TOps.ExpDifference(tail, shiftV);
                sum = TOps.Add(sum, TOps.Select(fresh, e, TOps.Zero));
                if (TWrite.StoresExponentials<TTerm, TFeatures>())
                {
                    TOps.Store(TWrite.StoredExponential<TOps, TVec, TFeatures>(e, tail, map), oc + length - count);
                }

                if (TTerm.IsActive)
                {
                    TVec u = TOps.Select(fresh, term.Load<TOps, TVec>(start + length - count), TOps.Zero);
                    TermDistance.Accumulate<TOps, TVec, T>(u, tail, scaledShift, ref distance, ref termSum);
                }
            }

            ChunkStats* c = chunks + chunkCount;
            c->Shift = double.CreateTruncating(shift);
            c->SumExp = double.CreateTruncating(TOps.Sum(sum));
            c->TermDistance = TTerm.IsActive ? TermDistance.Total<TOps, TVec, T>(distance) : 0;
            c->TermSum = TTerm.IsActive ? double.CreateTruncating(TOps.Sum(termSum)) : 0;
            double m = double.CreateTruncating(chunkMax);
            if (m > rowMax)
            {
                rowMax = m;
            }

            start += length;
        }

        // The row's sum of exponentials relative to its max. A chunk of -inf only (sum 0) adds nothing;
        // a NaN anywhere makes its chunk's sum NaN, and so the row's.
        double sumExp = 0;
        double totalTerm = 0;
        for (int c = 0; c < chunkCount; c++)
        {
            if (chunks[c].SumExp != 0)
            {
                sumExp += chunks[c].SumExp * ExpOfShift(chunks[c].Shift - rowMax);
            }

            totalTerm += chunks[c].TermSum;
        }

        double lse = rowMax + Math.Log(sumExp);
        RowSummary summary;
        summary.Outcome.ZLoss = plan.ZLossOf(lse);
        summary.Outcome.Loss = RowLoss<TTerm>(plan, lse, labelLogit, chunks, chunkCount) + summary.Outcome.ZLoss;
        summary.Outcome.Argmax = argmax;
        summary.Outcome.LogSumExp = lse;
        summary.Outcome.Max = rowMax;
        summary.Outcome.SumExp = sumExp;
        summary.ChunkCount = chunkCount;
        summary.TermSum = totalTerm;
        summary.LabelLogit = labelLogit;
        TWrite.Write<TOps, TVec, TTerm, TFeatures>(y, output, classes, term, plan, chunks, chunkLength, map, summary);
        return summary.Outcome;
    }

    /// <summary>
    /// <c>exp(d)</c> for the difference between a chunk's shift and the row's max, without the call where it is 0 (the
    /// chunk that holds the max; the only chunk of every row up to 2048 classes at 512 bits, where the call was a sixth of
    /// the row's time at C = 17). Bitwise what <see cref="Math.Exp"/> gives: exp(0) is 1, and NaN (from inf - inf) still
    /// goes to the call.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ExpOfShift(double d) => d == 0 ? 1 : Math.Exp(d);

    /// <summary>A vector of logits, scaled and soft-capped when the features say so.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Load<TFeatures>(T* source, in LogitMap<T> map)
        where TFeatures : struct, IRowFeatures
        => map.Apply<TOps, TVec, TFeatures>(TOps.Load(source));

    /// <summary>The lowest lane index among the lanes that hold <paramref name="max"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int LowestIndexOfMax(TVec values, TVec indices, T max)
    {
        TVec candidates = TOps.Select(TOps.Equals(values, TOps.Create(max)), indices, TOps.Create(T.PositiveInfinity));
        T lowest = T.Zero - TOps.MaxAcross(TOps.Subtract(TOps.Zero, candidates));
        return int.CreateTruncating(lowest);
    }

    /// <summary>
    /// The row's loss without its z-loss part, from the log-sum-exp and the chunks' target sums: NaN for a row with no
    /// distribution (a NaN logit, or every logit -inf: the log-sum-exp is NaN or -inf), whatever its targets.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double RowLoss<TTerm>(in RowPlan plan, double lse, double labelLogit, ChunkStats* chunks, int chunkCount)
        where TTerm : struct, ITargetTerm<TTerm, T>
    {
        // Dense targets that are 0 on every class the NaN or -inf reaches drop each term as 0 * inf := 0 (a masked class
        // with no target adds nothing), and so would the whole row: its loss must be NaN as its gradient is (0 / 0), as
        // the rows-across-lanes kernel gives it, and as PyTorch's sum of 0 * NaN is.
        if (!(lse > double.NegativeInfinity))
        {
            return double.NaN;
        }

        double loss = plan.Label >= 0 ? plan.LabelCoefficient * (lse - labelLogit) : 0;
        if (TTerm.IsActive)
        {
            // sum_k u_k (LSE - y_k) = sum over chunks of u (LSE - shift) + u (shift - y): every part is
            // non-negative, so nothing cancels even when the logits are large and close together.
            double term = 0;
            for (int c = 0; c < chunkCount; c++)
            {
                if (chunks[c].TermSum != 0)
                {
                    term += chunks[c].TermSum * (lse - chunks[c].Shift);
                }

                term += chunks[c].TermDistance;
            }

            loss += plan.TermCoefficient * term;
        }

        return loss;
    }
}
