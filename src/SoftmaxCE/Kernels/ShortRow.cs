using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// One row of at most <c>TOps.Count</c> classes, one row per vector: its statistics and its output from one load, one
/// exponential and one store, with the lanes past the row masked (C = 10 in float, say, where the rows-across-lanes
/// kernel does not serve the call).
/// </summary>
[SkipLocalsInit]
internal static unsafe class ShortRow<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// One row of at most <c>TOps.Count</c> classes, whose logits (and output, and targets) may be read and
    /// written <c>TOps.Count</c> elements from their start: the lanes past the row are masked out of the
    /// reductions and written back unchanged.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RowOutcome Run<TTerm, TMode, TFeatures>(T* y, T* output, TTerm term, in RowPlan plan, TVec inRow, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures
    {
        Debug.Assert(plan.Label < TOps.Count, "the label is a lane of the row's one vector");
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
        outcome.Loss = RowStatistics<TOps, TVec, T>.RowLoss<TTerm>(plan, lse, labelLogit, &stats, 1) + outcome.ZLoss;
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

        TVec rest = coefficient.Vectors<TOps, TVec, T>(out TVec first, out TVec second);
        TVec r = SplitFactor.Times<TOps, TVec, T, TSplit>(chain ? TOps.Multiply(e, derivative) : e, first, second, rest);
        if (TTerm.IsActive)
        {
            r = TOps.Add(r, chain ? TOps.Multiply(TOps.Multiply(u, termScale), derivative) : TOps.Multiply(u, termScale));
        }

        return TOps.Select(isLabel, TOps.Subtract(r, chain ? TOps.Multiply(labelStep, derivative) : labelStep), r);
    }
}
