using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The recompute-from-statistics write strategy: a row's gradient from its saved log-sum-exp, in one pass that reads
/// each logit once and writes each gradient element once (in place too), with no reduction.
/// </summary>
/// <remarks>
/// <para>
/// With the row's final logits <c>z = map(y)</c> and <c>LSE = log sum exp(z)</c> saved by the statistics pass,
/// <c>P_k = exp(z_k - LSE)</c>, and the gradient of a row with plan coefficients <c>a</c> (label), <c>b</c> (term) and
/// <c>z</c>-loss weight <c>q</c> is
/// <c>Scale * (P_k (a + b sum_j u_j + 2 q LSE) - b u_k - a [k == label]) * map'(y_k)</c>.
/// The only row-wide quantity is <c>sum_j u_j</c>: the same for every row with labels (the caller's), and one extra
/// pass over a dense target row otherwise.
/// </para>
/// <para>
/// This is what the backward of an autograd engine runs, and what the sharded functions run on each shard after
/// the statistics are merged.
/// </para>
/// </remarks>
[SkipLocalsInit]
internal static unsafe class RecomputeFromStatistics<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Rows <c>0 .. rows</c>, each at least <c>TOps.Count</c> classes long. <paramref name="rowFactors"/> (may be null)
    /// multiplies each row's gradient (per-row upstream gradients). <paramref name="commonTermSum"/> is <c>sum_j u_j</c>
    /// when <typeparamref name="TTerm"/> is the same for every row.
    /// </summary>
    public static void Rows<TTerm, TPlanner, TFeatures>(
        T* logits, T* gradient, T* logSumExp, T* rowFactors, int rows, int classes, TTerm term, TPlanner planner, in LogitMap<T> map, double commonTermSum)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
    {
        nuint c = (nuint)classes;
        for (int r = 0; r < rows; r++)
        {
            nuint offset = (nuint)r * c;
            if (!planner.TryPlan(r, out RowPlan plan))
            {
                new Span<T>(gradient + offset, classes).Clear();
                continue;
            }

            if (rowFactors != null)
            {
                plan = plan.Scaled(double.CreateTruncating(rowFactors[r]));
            }

            TTerm rowTerm = term.AtRow(offset);
            double termSum = !TTerm.IsActive ? 0 : TTerm.IsSameForEveryRow ? commonTermSum : TermSum(rowTerm, c);
            Row<TTerm, TFeatures>(logits + offset, gradient + offset, c, rowTerm, plan, logSumExp[r], termSum, map);
        }
    }

    /// <summary>One row's gradient; <paramref name="gradient"/> may be <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row<TTerm, TFeatures>(T* y, T* gradient, nuint classes, TTerm term, in RowPlan plan, T logSumExp, double termSum, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
    {
        nuint count = (nuint)TOps.Count;
        double lse = double.CreateTruncating(logSumExp);
        double coefficient = (plan.LabelCoefficient + (plan.TermCoefficient * termSum) + (2 * plan.ZLoss * lse)) * plan.Scale;
        TVec coefficientV = TOps.Create(T.CreateTruncating(coefficient));
        TVec termScale = TOps.Create(T.CreateTruncating(-plan.TermCoefficient * plan.Scale));
        TVec lseV = TOps.Create(logSumExp);

        // In place, the label's logit and the last (overlapping) vector are overwritten before they would be read.
        T labelRaw = plan.Label >= 0 ? y[plan.Label] : T.Zero;
        nuint full = classes - (classes % count);
        nuint last = classes - count;
        TVec tail = full != classes ? TOps.Load(y + last) : TOps.Zero;
        for (nuint i = 0; i < full; i += count)
        {
            TOps.Store(Gradient<TTerm, TFeatures>(TOps.Load(y + i), i, lseV, coefficientV, term, termScale, map), gradient + i);
        }

        if (full != classes)
        {
            TOps.Store(Gradient<TTerm, TFeatures>(tail, last, lseV, coefficientV, term, termScale, map), gradient + last);
        }

        if (plan.Label >= 0)
        {
            double chain = 1;
            if (TFeatures.Softcap)
            {
                double t = map.Apply<TFeatures>(labelRaw) / map.CapValue;
                chain = 1 - (t * t);
            }

            gradient[plan.Label] -= T.CreateTruncating(plan.LabelCoefficient * plan.Scale * chain);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Gradient<TTerm, TFeatures>(TVec raw, nuint index, TVec lse, TVec coefficient, TTerm term, TVec termScale, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
    {
        TVec z = map.Apply<TOps, TVec, TFeatures>(raw);
        TVec g = TOps.Multiply(TOps.ExpDifference(z, lse), coefficient);
        if (TTerm.IsActive)
        {
            g = TOps.MultiplyAdd(term.Load<TOps, TVec>(index), termScale, g);
        }

        return TFeatures.Softcap ? TOps.Multiply(g, map.CapDerivative<TOps, TVec>(z)) : g;
    }

    /// <summary><c>sum_k u_k</c> over one row (at least one vector long), lane sums moved to double every 128 vectors.</summary>
    private static double TermSum<TTerm>(TTerm term, nuint classes)
        where TTerm : struct, ITargetTerm<TTerm, T>
    {
        nuint count = (nuint)TOps.Count;
        nuint full = classes - (classes % count);
        double total = 0;
        TVec sum = TOps.Zero;
        int vectors = 0;
        for (nuint i = 0; i < full; i += count)
        {
            sum = TOps.Add(sum, term.Load<TOps, TVec>(i));
            if (++vectors == 128)
            {
                total += double.CreateTruncating(TOps.Sum(sum));
                sum = TOps.Zero;
                vectors = 0;
            }
        }

        if (full != classes)
        {
            TVec fresh = SimdMasks.LanesFrom<TOps, TVec, T>((int)(count - (classes - full)));
            sum = TOps.Add(sum, TOps.Select(fresh, term.Load<TOps, TVec>(classes - count), TOps.Zero));
        }

        return total + double.CreateTruncating(TOps.Sum(sum));
    }
}
