using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The store-and-rescale write strategy, the fused call's fast path: the statistics pass stores
/// <c>exp(y - chunk max)</c> in the output, and a second pass multiplies each chunk, still in cache, by its own factor
/// <c>exp(chunk max - row max) * coefficient</c> and adds the target term; that pass reads the output, not the logits,
/// and so works in place. Softmax (<see cref="ProbabilityOutput"/>) and the gradient (<see cref="ScaledExpOutput"/>).
/// </summary>
/// <remarks>
/// With a soft-cap, the gradient is <c>(P - target) * (1 - (y'/c)^2)</c>. Without a target term (class-index labels
/// without smoothing), the statistics pass stores each exponential already times the cap's derivative (the derivative
/// first, so that nothing overflows that the derivative would bring back), from the capped chunk it keeps in L1, and
/// the second pass is the plain rescale: two exponentials per element, the tanh's and the softmax's. With a target term
/// the term's part needs the derivative too: the statistics pass stores the capped logits instead, and the second pass
/// recomputes each exponential from them and multiplies by the cap's derivative (<see cref="ScaleCapped"/>).
/// </remarks>
internal readonly unsafe struct StoreAndRescale<T, TMode> : IWriteStrategy<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    /// <summary>The exponentials (with a soft-capped gradient, times the cap's derivative), rescaled in place.</summary>
    /// <remarks>Inlined by force, as <see cref="StoresMappedLogits"/>: a call here would keep the JIT from dropping the paths they rule out.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool StoresExponentials<TTerm, TFeatures>()
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures => !StoresMappedLogits<TTerm, TFeatures>();

    /// <summary>A soft-capped gradient with a target term: the capped logits, from which the exponentials are recomputed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool StoresMappedLogits<TTerm, TFeatures>()
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures => TFeatures.Softcap && TMode.IsGradient && TTerm.IsActive;

    /// <summary>For a soft-capped gradient, <c>exp(y' - shift) * (1 - (y'/c)^2)</c>: the derivative applied first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec StoredExponential<TOps, TVec, TFeatures>(TVec e, TVec mapped, in LogitMap<T> map)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
        => TFeatures.Softcap && TMode.IsGradient ? TOps.Multiply(e, map.CapDerivative<TOps, TVec>(mapped)) : e;

    /// <summary>The row's probabilities or gradient, from what the statistics pass stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write<TOps, TVec, TTerm, TFeatures>(
        T* y, T* output, nuint classes, TTerm term, in RowPlan plan, ChunkStats* chunks, nuint chunkLength, in LogitMap<T> map, in RowSummary summary)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
    {
        nuint count = (nuint)TOps.Count;
        bool keepCapped = StoresMappedLogits<TTerm, TFeatures>();
        RowOutcome outcome = summary.Outcome;
        double numerator = plan.LabelCoefficient + (plan.TermCoefficient * summary.TermSum) + (2 * plan.ZLoss * outcome.LogSumExp);
        double coefficient = numerator * plan.Scale / outcome.SumExp;
        TVec termScale = TOps.Create(T.CreateTruncating(-plan.TermCoefficient * plan.Scale));
        double labelStep = plan.LabelCoefficient * plan.Scale;
        Debug.Assert(plan.Label < 0 || (nuint)plan.Label < classes, "the label is a class of the row");
        if (keepCapped)
        {
            TVec rowMaxV = TOps.Create(T.CreateTruncating(outcome.Max));
            T inT = T.CreateTruncating(coefficient);
            if (SplitFactor.IsNeeded(inT, numerator / outcome.SumExp, plan.Scale))
            {
                SplitFactor split = SplitFactor.Of<T>(numerator / outcome.SumExp, plan.Scale);
                ScaleCapped<TOps, TVec, TTerm, ThreeFactors>(output, classes, rowMaxV, split.Vectors<TOps, TVec, T>(out TVec first, out TVec second), first, second, term, termScale, map);
            }
            else
            {
                ScaleCapped<TOps, TVec, TTerm, OneFactor>(output, classes, rowMaxV, TOps.Create(inT), default, default, term, termScale, map);
            }

            if (plan.Label >= 0)
            {
                double t = summary.LabelLogit / map.CapValue; // the capped logit is c tanh(s y / c)
                output[plan.Label] -= T.CreateTruncating(labelStep * (1 - (t * t)));
            }
        }
        else
        {
            bool split = SplitFactor.IsNeeded(T.CreateTruncating(coefficient), numerator / outcome.SumExp, plan.Scale);
            int c = 0;
            for (nuint start = 0; start < classes; c++)
            {
                nuint length = classes - start >= chunkLength + count ? chunkLength : classes - start;
                Debug.Assert(
                    length >= count && c < RowStatistics<TOps, TVec, T>.MaxChunks,
                    "the statistics pass's chunks: at least a vector each, at most MaxChunks");
                // A chunk of only -inf (sum 0) gets 0, not exp(0 - max) * 0 (NaN when that overflows), unless the
                // row is NaN: then every element is NaN.
                bool empty = chunks[c].SumExp == 0 && outcome.SumExp != 0 && !double.IsNaN(outcome.SumExp);
                double weight = RowStatistics<TOps, TVec, T>.ExpOfShift(chunks[c].Shift - outcome.Max);
                T factor = empty ? T.Zero : T.CreateTruncating(weight * coefficient);
                if (split && !empty)
                {
                    // Rare: the coefficient is beyond T's range. A chunk whose part of it is too gets the two powers
                    // of two first, each over the chunk in L1, then the rest as usual.
                    double part = weight * numerator / outcome.SumExp;
                    factor = T.CreateTruncating(part * plan.Scale);
                    if (SplitFactor.IsNeeded(factor, part, plan.Scale))
                    {
                        SplitFactor parts = SplitFactor.Of<T>(part, plan.Scale);
                        ScaleChunk<TOps, TVec, NoTerm<T>>(output + start, start, length, TOps.Create(T.CreateTruncating(parts.First)), default(NoTerm<T>), TOps.Zero);
                        ScaleChunk<TOps, TVec, NoTerm<T>>(output + start, start, length, TOps.Create(T.CreateTruncating(parts.Second)), default(NoTerm<T>), TOps.Zero);
                        factor = T.CreateTruncating(parts.Last);
                    }
                }

                ScaleChunk<TOps, TVec, TTerm>(output + start, start, length, TOps.Create(factor), term, termScale);
                start += length;
            }

            if (plan.Label >= 0)
            {
                if (TFeatures.Softcap && TMode.IsGradient)
                {
                    double t = summary.LabelLogit / map.CapValue; // the capped logit is c tanh(s y / c)
                    labelStep *= 1 - (t * t);
                }

                output[plan.Label] -= T.CreateTruncating(labelStep);
            }
        }
    }

    /// <summary>
    /// The gradient of a soft-capped row from its capped logits, in place:
    /// <c>(exp(y' - max) * coefficient + u * termScale) * (1 - (y' / c)^2)</c>; for softmax, without the cap's derivative.
    /// </summary>
    private static void ScaleCapped<TOps, TVec, TTerm, TSplit>(T* output, nuint length, TVec rowMax, TVec coefficient, TVec first, TVec second, TTerm term, TVec termScale, in LogitMap<T> map)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TSplit : struct, IFactorSplit
    {
        nuint count = (nuint)TOps.Count;
        Debug.Assert(length >= count, "the overlapping last vector starts inside the row");
        nuint full = length - (length % count);
        TVec tail = full != length ? TOps.Load(output + length - count) : TOps.Zero;
        for (nuint i = 0; i < full; i += count)
        {
            TOps.Store(CappedGradient<TOps, TVec, TTerm, TSplit>(TOps.Load(output + i), i, rowMax, coefficient, first, second, term, termScale, map), output + i);
        }

        if (full != length)
        {
            TOps.Store(CappedGradient<TOps, TVec, TTerm, TSplit>(tail, length - count, rowMax, coefficient, first, second, term, termScale, map), output + length - count);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec CappedGradient<TOps, TVec, TTerm, TSplit>(TVec capped, nuint index, TVec rowMax, TVec coefficient, TVec first, TVec second, TTerm term, TVec termScale, in LogitMap<T> map)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TTerm : struct, ITargetTerm<TTerm, T>
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

    /// <summary><c>out = out * factor + u * termScale</c> over one chunk, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleChunk<TOps, TVec, TTerm>(T* output, nuint start, nuint length, TVec factor, TTerm term, TVec termScale)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TTerm : struct, ITargetTerm<TTerm, T>
    {
        nuint count = (nuint)TOps.Count;

        // On a misaligned output (any row of a new float[n]) the stores go on the vector's alignment: an unaligned first
        // vector, aligned vectors, an overlapping last vector. The first and the last are loaded before anything is
        // stored, so that in place no element is scaled twice; each element's arithmetic is the same either way.
        nuint lead = AlignedStores.Lead<TOps, TVec, T>(output);
        Debug.Assert(length >= count && lead < count, "the unaligned first vector and the overlapping last vector lie inside the chunk");
        nuint end = lead + ((length - lead) / count * count);
        TVec head = lead != 0 ? TOps.Load(output) : TOps.Zero;
        TVec tail = end != length ? TOps.Load(output + length - count) : TOps.Zero;
        for (nuint i = lead; i < end; i += count)
        {
            TVec r = TOps.Multiply(TOps.Load(output + i), factor);
            if (TTerm.IsActive)
            {
                r = TOps.MultiplyAdd(term.Load<TOps, TVec>(start + i), termScale, r);
            }

            TOps.Store(r, output + i);
        }

        if (lead != 0)
        {
            TVec r = TOps.Multiply(head, factor);
            if (TTerm.IsActive)
            {
                r = TOps.MultiplyAdd(term.Load<TOps, TVec>(start), termScale, r);
            }

            TOps.Store(r, output);
        }

        if (end != length)
        {
            TVec r = TOps.Multiply(tail, factor);
            if (TTerm.IsActive)
            {
                r = TOps.MultiplyAdd(term.Load<TOps, TVec>(start + length - count), termScale, r);
            }

            TOps.Store(r, output + length - count);
        }
    }
}
