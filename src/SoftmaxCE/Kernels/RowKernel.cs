using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>What one row needs besides its logits: the coefficients of its loss and gradient.</summary>
/// <remarks>
/// A row's loss is <c>LabelCoefficient * (LSE - y[Label]) + TermCoefficient * sum_k u_k (LSE - y_k)</c>
/// (see <see cref="ITargetTerm{TSelf, T}"/> for <c>u</c>), and its gradient is
/// <c>Scale * (P_k * (LabelCoefficient + TermCoefficient * sum_j u_j) - TermCoefficient * u_k - LabelCoefficient * [k == Label])</c>.
/// Softmax is the case <c>LabelCoefficient = 1</c>, no label, no term, <c>Scale = 1</c>.
/// </remarks>
internal readonly struct RowPlan(int label, double labelCoefficient, double termCoefficient, double scale, double zLoss = 0)
{
    /// <summary>The class index of the row's label, or -1.</summary>
    public int Label { get; } = label;

    /// <summary><c>(1 - eps) * w[label]</c> for labels; 1 for softmax; 0 for dense targets.</summary>
    public double LabelCoefficient { get; } = labelCoefficient;

    /// <summary><c>eps / C</c> for smoothed labels, 1 for dense targets, else 0.</summary>
    public double TermCoefficient { get; } = termCoefficient;

    /// <summary>The gradient's factor: 1 / denominator for the mean, 1 for the sum.</summary>
    public double Scale { get; } = scale;

    /// <summary>The z-loss weight: the row's loss gains <c>ZLoss * LSE^2</c>, its gradient <c>2 ZLoss LSE P</c>.</summary>
    public double ZLoss { get; } = zLoss;

    /// <summary>
    /// The plan of a row whose loss (z-loss included) and gradient are multiplied by <paramref name="rowWeight"/>: both
    /// are linear in the three coefficients together, so scaling those scales both.
    /// </summary>
    public RowPlan Weighted(double rowWeight) =>
        new(Label, LabelCoefficient * rowWeight, TermCoefficient * rowWeight, Scale, ZLoss * rowWeight);

    /// <summary>
    /// The row's z-loss term <c>ZLoss * LSE^2</c>: 0 without z-loss (whatever the row holds), and NaN for a row with no
    /// distribution (every logit -inf, LSE = -inf), whose loss is NaN too.
    /// </summary>
    public double ZLossOf(double lse) => ZLoss == 0 ? 0 : double.IsNegativeInfinity(lse) ? double.NaN : ZLoss * lse * lse;

    /// <summary>The same plan with its gradient factor multiplied by <paramref name="factor"/>.</summary>
    public RowPlan Scaled(double factor) => new(Label, LabelCoefficient, TermCoefficient, Scale * factor, ZLoss);
}

/// <summary>Per-chunk statistics of a row: relative to its own shift (the chunk's max).</summary>
internal struct ChunkStats
{
    public double Shift;
    public double SumExp;
    public double TermDistance; // sum u_k (Shift - y_k), from TermDistance's scaled lane sums
    public double TermSum;      // sum u_k
}

/// <summary>
/// The fused row kernels, written once for every vector width. No validation, no allocation.
/// </summary>
/// <remarks>
/// <para>
/// A row longer than a vector is cut into chunks of about 8 KiB, which stay in L1. Each chunk is read
/// twice from L1 (its max, then <c>exp(y - max)</c>), so a row is read from memory once while each
/// exponential is computed once: this is the online normaliser of Milakov and Gimelshein applied per
/// chunk instead of per element, which saves the per-element rescaling exponential. Softmax and the
/// gradient store <c>exp(y - chunk max)</c> in the output during that pass, and a second pass multiplies
/// each chunk by its own factor <c>exp(chunk max - row max) / sum</c>; that second pass reads the output
/// from cache, not the logits, and so works in place.
/// </para>
/// <para>
/// A row no longer than one vector (C = 10 in float) is one load, one exp and one store, with the
/// lanes past the row masked.
/// </para>
/// </remarks>
[SkipLocalsInit]
internal static unsafe class RowKernel<TOps, TVec, T>
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

    /// <summary>One row of more than <c>TOps.Count</c> classes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static RowOutcome Row<TTerm, TMode, TFeatures>(T* y, T* output, nuint classes, TTerm term, in RowPlan plan, ChunkStats* chunks, nuint chunkLength, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures
    {
        nuint count = (nuint)TOps.Count;

        // With a softcap, the capped logits are kept in the output (when there is one) instead of the
        // exponentials: the gradient pass needs them for the cap's derivative, and recomputes the exponential.
        bool keepCapped = TFeatures.Softcap && TMode.WritesScaledExp;
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
            T* source = keepCapped ? oc : yc;
            TVec sum = TOps.Zero, distance = TOps.Zero, termSum = TOps.Zero;
            for (nuint i = 0; i < full; i += count)
            {
                TVec yv = keepCapped ? TOps.Load(source + i) : Load<TFeatures>(source + i, map);
                TVec e = TOps.ExpDifference(yv, shiftV);
                sum = TOps.Add(sum, e);
                if (TMode.WritesScaledExp && !keepCapped)
                {
                    TOps.Store(e, oc + i);
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
                if (TMode.WritesScaledExp && !keepCapped)
                {
                    TOps.Store(e, oc + length - count);
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
                sumExp += chunks[c].SumExp * Math.Exp(chunks[c].Shift - rowMax);
            }

            totalTerm += chunks[c].TermSum;
        }

        double lse = rowMax + Math.Log(sumExp);
        RowOutcome outcome;
        outcome.ZLoss = plan.ZLossOf(lse);
        outcome.Loss = RowLoss<TTerm>(plan, lse, labelLogit, chunks, chunkCount) + outcome.ZLoss;
        outcome.Argmax = argmax;
        outcome.LogSumExp = lse;
        outcome.Max = rowMax;
        outcome.SumExp = sumExp;

        if (TMode.WritesScaledExp)
        {
            double numerator = plan.LabelCoefficient + (plan.TermCoefficient * totalTerm) + (2 * plan.ZLoss * lse);
            double coefficient = numerator * plan.Scale / sumExp;
            TVec termScale = TOps.Create(T.CreateTruncating(-plan.TermCoefficient * plan.Scale));
            double labelStep = plan.LabelCoefficient * plan.Scale;
            if (keepCapped)
            {
                TVec rowMaxV = TOps.Create(T.CreateTruncating(rowMax));
                T inT = T.CreateTruncating(coefficient);
                if (SplitFactor.IsNeeded(inT, numerator / sumExp, plan.Scale))
                {
                    SplitFactor split = SplitFactor.Of<T>(numerator / sumExp, plan.Scale);
                    ScaleCapped<TTerm, TMode, ThreeFactors>(output, classes, rowMaxV, Vectors(split, out TVec first, out TVec second), first, second, term, termScale, map);
                }
                else
                {
                    ScaleCapped<TTerm, TMode, OneFactor>(output, classes, rowMaxV, TOps.Create(inT), default, default, term, termScale, map);
                }

                if (plan.Label >= 0)
                {
                    double t = labelLogit / map.CapValue; // the capped logit is c tanh(s y / c)
                    output[plan.Label] -= T.CreateTruncating(labelStep * (1 - (t * t)));
                }
            }
            else
            {
                bool split = SplitFactor.IsNeeded(T.CreateTruncating(coefficient), numerator / sumExp, plan.Scale);
                int c = 0;
                for (nuint start = 0; start < classes; c++)
                {
                    nuint length = classes - start >= chunkLength + count ? chunkLength : classes - start;
                    // A chunk of only -inf (sum 0) gets 0, not exp(0 - max) * 0 (NaN when that overflows), unless the
                    // row is NaN: then every element is NaN.
                    bool empty = chunks[c].SumExp == 0 && sumExp != 0 && !double.IsNaN(sumExp);
                    double weight = Math.Exp(chunks[c].Shift - rowMax);
                    T factor = empty ? T.Zero : T.CreateTruncating(weight * coefficient);
                    if (split && !empty)
                    {
                        // Rare: the coefficient is beyond T's range. A chunk whose part of it is too gets the two powers
                        // of two first, each over the chunk in L1, then the rest as usual.
                        double part = weight * numerator / sumExp;
                        factor = T.CreateTruncating(part * plan.Scale);
                        if (SplitFactor.IsNeeded(factor, part, plan.Scale))
                        {
                            SplitFactor parts = SplitFactor.Of<T>(part, plan.Scale);
                            ScaleChunk(output + start, start, length, TOps.Create(T.CreateTruncating(parts.First)), default(NoTerm<T>), TOps.Zero);
                            ScaleChunk(output + start, start, length, TOps.Create(T.CreateTruncating(parts.Second)), default(NoTerm<T>), TOps.Zero);
                            factor = T.CreateTruncating(parts.Last);
                        }
                    }

                    ScaleChunk(output + start, start, length, TOps.Create(factor), term, termScale);
                    start += length;
                }

                if (plan.Label >= 0)
                {
                    output[plan.Label] -= T.CreateTruncating(labelStep);
                }
            }
        }
        else if (TMode.WritesLogProbabilities)
        {
            SubtractAll<TFeatures>(y, output, classes, TOps.Create(T.CreateTruncating(lse)), map);
        }

        return outcome;
    }

    /// <summary>
    /// One row of at most <c>TOps.Count</c> classes, whose logits (and output, and targets) may be read and
    /// written <c>TOps.Count</c> elements from their start: the lanes past the row are masked out of the
    /// reductions and written back unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RowOutcome ShortRow<TTerm, TMode, TFeatures>(T* y, T* output, TTerm term, in RowPlan plan, TVec inRow, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures
    {
        TVec yv = TOps.Load(y);
        TVec capped = map.Apply<TOps, TVec, TFeatures>(yv);
        TVec masked = TOps.Select(inRow, capped, TOps.Create(T.NegativeInfinity));
        T max = TOps.MaxAcross(masked);
        T shift = T.IsNegativeInfinity(max) ? T.Zero : max;
        TVec shiftV = TOps.Create(shift);
        TVec e = TOps.ExpDifference(masked, shiftV); // 0 past the row
        double sumExp = double.CreateTruncating(TOps.Sum(e));

        TVec u = TOps.Zero;
        ChunkStats stats;
        stats.Shift = double.CreateTruncating(shift);
        stats.SumExp = sumExp;
        stats.TermDistance = 0;
        stats.TermSum = 0;
        if (TTerm.IsActive)
        {
            u = TOps.Select(inRow, term.Load<TOps, TVec>(0), TOps.Zero);
            TVec distance = TOps.Zero, termSum = TOps.Zero;
            TermDistance.Accumulate<TOps, TVec, T>(u, capped, TermDistance.ScaledShift<TOps, TVec, T>(shiftV), ref distance, ref termSum);
            stats.TermDistance = TermDistance.Total<TOps, TVec, T>(distance);
            stats.TermSum = double.CreateTruncating(TOps.Sum(termSum));
        }

        double lse = double.CreateTruncating(max) + Math.Log(sumExp);
        double labelLogit = plan.Label >= 0 ? map.Apply<TFeatures>(y[plan.Label]) : 0;
        RowOutcome outcome;
        outcome.LogSumExp = lse;
        outcome.Max = double.CreateTruncating(max);
        outcome.SumExp = sumExp;
        outcome.ZLoss = plan.ZLossOf(lse);
        outcome.Loss = RowLoss<TTerm>(plan, lse, labelLogit, &stats, 1) + outcome.ZLoss;
        // A NaN row has no meaningful argmax, and the hardware max may have dropped the NaN for a lane past the row:
        // give it class 0 (predictions stay in [0, C)). A +inf max also makes the sum NaN (inf - inf), but it is a lane
        // of the row like any other max: the lowest such lane, as for ties.
        outcome.Argmax = !TFeatures.Argmax ? -1
            : double.IsNaN(sumExp) && !T.IsPositiveInfinity(max) ? 0
            : TOps.IndexOf(masked, max);

        if (TMode.WritesScaledExp)
        {
            double numerator = plan.LabelCoefficient + (plan.TermCoefficient * stats.TermSum) + (2 * plan.ZLoss * lse);
            T coefficient = T.CreateTruncating(numerator * plan.Scale / sumExp);
            TVec result = SplitFactor.IsNeeded(coefficient, numerator / sumExp, plan.Scale)
                ? ShortRowGradient<TTerm, TMode, TFeatures, ThreeFactors>(e, u, capped, plan, SplitFactor.Of<T>(numerator / sumExp, plan.Scale), map)
                : ShortRowGradient<TTerm, TMode, TFeatures, OneFactor>(e, u, capped, plan, new SplitFactor(1, 1, double.CreateTruncating(coefficient)), map);
            TOps.Store(TOps.Select(inRow, result, yv), output);
        }
        else if (TMode.WritesLogProbabilities)
        {
            TOps.Store(TOps.Select(inRow, TOps.Subtract(capped, TOps.Create(T.CreateTruncating(lse))), yv), output);
        }

        return outcome;
    }

    /// <summary>
    /// A short row's gradient (or probabilities): <c>e * coefficient + u * termScale</c>, minus the label's step, times the
    /// cap's derivative for a gradient. With <see cref="ThreeFactors"/> the derivative applies first, so that an element
    /// the derivative brings back into range is not lost to an overflow of <c>e * coefficient</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec ShortRowGradient<TTerm, TMode, TFeatures, TSplit>(TVec e, TVec u, TVec capped, in RowPlan plan, SplitFactor coefficient, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures
        where TSplit : struct, IFactorSplit
    {
        bool chain = TFeatures.Softcap && TMode.IsGradient;
        TVec derivative = chain ? map.CapDerivative<TOps, TVec>(capped) : TOps.Create(T.One);
        TVec termScale = TOps.Create(T.CreateTruncating(-plan.TermCoefficient * plan.Scale));
        TVec labelStep = TOps.Create(T.CreateTruncating(plan.LabelCoefficient * plan.Scale));
        TVec isLabel = TOps.Equals(TOps.Indices, TOps.Create(T.CreateTruncating(plan.Label)));
        if (!TSplit.IsSplit)
        {
            TVec result = TOps.Multiply(e, TOps.Create(T.CreateTruncating(coefficient.Last)));
            if (TTerm.IsActive)
            {
                result = TOps.MultiplyAdd(u, termScale, result);
            }

            result = TOps.Select(isLabel, TOps.Subtract(result, labelStep), result);
            return chain ? TOps.Multiply(result, derivative) : result;
        }

        TVec rest = Vectors(coefficient, out TVec first, out TVec second);
        TVec r = SplitFactor.Times<TOps, TVec, T, TSplit>(chain ? TOps.Multiply(e, derivative) : e, first, second, rest);
        if (TTerm.IsActive)
        {
            r = TOps.Add(r, chain ? TOps.Multiply(TOps.Multiply(u, termScale), derivative) : TOps.Multiply(u, termScale));
        }

        return TOps.Select(isLabel, TOps.Subtract(r, chain ? TOps.Multiply(labelStep, derivative) : labelStep), r);
    }

    /// <summary>The split factor as vectors: returns the last, the powers of two in <paramref name="first"/> and <paramref name="second"/>.</summary>
    private static TVec Vectors(in SplitFactor split, out TVec first, out TVec second)
    {
        first = TOps.Create(T.CreateTruncating(split.First));
        second = TOps.Create(T.CreateTruncating(split.Second));
        return TOps.Create(T.CreateTruncating(split.Last));
    }

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
    /// The gradient of a soft-capped row from its capped logits, in place:
    /// <c>(exp(y' - max) * coefficient + u * termScale) * (1 - (y' / c)^2)</c>; for softmax, without the cap's derivative.
    /// </summary>
    private static void ScaleCapped<TTerm, TMode, TSplit>(T* output, nuint length, TVec rowMax, TVec coefficient, TVec first, TVec second, TTerm term, TVec termScale, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TSplit : struct, IFactorSplit
    {
        nuint count = (nuint)TOps.Count;
        nuint full = length - (length % count);
        TVec tail = full != length ? TOps.Load(output + length - count) : TOps.Zero;
        for (nuint i = 0; i < full; i += count)
        {
            TOps.Store(CappedGradient<TTerm, TMode, TSplit>(TOps.Load(output + i), i, rowMax, coefficient, first, second, term, termScale, map), output + i);
        }

        if (full != length)
        {
            TOps.Store(CappedGradient<TTerm, TMode, TSplit>(tail, length - count, rowMax, coefficient, first, second, term, termScale, map), output + length - count);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec CappedGradient<TTerm, TMode, TSplit>(TVec capped, nuint index, TVec rowMax, TVec coefficient, TVec first, TVec second, TTerm term, TVec termScale, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TSplit : struct, IFactorSplit
    {
        if (TSplit.IsSplit)
        {
            // The cap's derivative first: an element it brings back into T's range is not lost to an overflow.
            TVec d = TMode.IsGradient ? map.CapDerivative<TOps, TVec>(capped) : TOps.Create(T.One);
            TVec g = SplitFactor.Times<TOps, TVec, T, TSplit>(TOps.Multiply(TOps.ExpDifference(capped, rowMax), d), first, second, coefficient);
            return TTerm.IsActive ? TOps.Add(g, TOps.Multiply(TOps.Multiply(term.Load<TOps, TVec>(index), termScale), d)) : g;
        }

        TVec r = TOps.Multiply(TOps.ExpDifference(capped, rowMax), coefficient);
        if (TTerm.IsActive)
        {
            r = TOps.MultiplyAdd(term.Load<TOps, TVec>(index), termScale, r);
        }

        return TMode.IsGradient ? TOps.Multiply(r, map.CapDerivative<TOps, TVec>(capped)) : r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double RowLoss<TTerm>(in RowPlan plan, double lse, double labelLogit, ChunkStats* chunks, int chunkCount)
        where TTerm : struct, ITargetTerm<TTerm, T>
    {
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

    /// <summary><c>out = out * factor + u * termScale</c> over one chunk, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleChunk<TTerm>(T* output, nuint start, nuint length, TVec factor, TTerm term, TVec termScale)
        where TTerm : struct, ITargetTerm<TTerm, T>
    {
        nuint count = (nuint)TOps.Count;
        nuint full = length - (length % count);
        TVec tail = full != length ? TOps.Load(output + length - count) : TOps.Zero;
        for (nuint i = 0; i < full; i += count)
        {
            TVec r = TOps.Multiply(TOps.Load(output + i), factor);
            if (TTerm.IsActive)
            {
                r = TOps.MultiplyAdd(term.Load<TOps, TVec>(start + i), termScale, r);
            }

            TOps.Store(r, output + i);
        }

        if (full != length)
        {
            TVec r = TOps.Multiply(tail, factor);
            if (TTerm.IsActive)
            {
                r = TOps.MultiplyAdd(term.Load<TOps, TVec>(start + length - count), termScale, r);
            }

            TOps.Store(r, output + length - count);
        }
    }

    /// <summary><c>out = y' - lse</c> with <c>y'</c> the mapped logits; <paramref name="output"/> may be <paramref name="y"/>.</summary>
    private static void SubtractAll<TFeatures>(T* y, T* output, nuint length, TVec lse, in LogitMap<T> map)
        where TFeatures : struct, IRowFeatures
    {
        nuint count = (nuint)TOps.Count;
        nuint full = length - (length % count);
        TVec tail = full != length ? Load<TFeatures>(y + length - count, map) : TOps.Zero;
        for (nuint i = 0; i < full; i += count)
        {
            TOps.Store(TOps.Subtract(Load<TFeatures>(y + i, map), lse), output + i);
        }

        if (full != length)
        {
            TOps.Store(TOps.Subtract(tail, lse), output + length - count);
        }
    }
}
