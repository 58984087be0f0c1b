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
/// This is what the backward of an autograd engine runs (<see cref="SavedLogSumExp{T}"/>), and what the sharded
/// functions run on each shard after the statistics are merged (<see cref="MergedShardStatistics{T}"/>), which also
/// needs the shard's share of the loss: <see cref="WithLoss"/> adds it up in the same pass.
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
    /// when <typeparamref name="TTerm"/> is the same for every row. With <typeparamref name="TLoss"/>, returns the sum of
    /// the rows' losses (the label and term parts over these classes, plus the z-loss when <paramref name="countZLoss"/>).
    /// </summary>
    public static RowTotals Rows<TTerm, TPlanner, TFeatures, TStatistics, TLoss>(
        T* logits, T* gradient, TStatistics statistics, T* rowFactors, int rows, int classes, TTerm term, TPlanner planner, in LogitMap<T> map,
        double commonTermSum, bool countZLoss)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
        where TStatistics : struct, IRowStatistics<T>
        where TLoss : struct, ILossSwitch
    {
        if (classes < TOps.Count)
        {
            return PaddedRows<TTerm, TPlanner, TFeatures, TStatistics, TLoss>(
                logits, gradient, statistics, rowFactors, rows, classes, term, planner, map, commonTermSum, countZLoss);
        }

        nuint c = (nuint)classes;
        RowTotals totals = default;
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
            statistics.At(r, out T shift, out double inverseSum, out double lse);
            double loss = Row<TTerm, TFeatures, TLoss>(logits + offset, gradient + offset, c, rowTerm, plan, shift, inverseSum, lse, termSum, map);
            if (TLoss.Enabled)
            {
                totals.Loss += countZLoss ? loss + plan.ZLossOf(lse) : loss;
            }
        }

        return totals;
    }

    /// <summary>
    /// Rows shorter than a vector, each through a copy padded to one vector (the term's values copied too), so that the
    /// width, and so every exponential, is the one the statistics pass used for the same rows.
    /// </summary>
    private static RowTotals PaddedRows<TTerm, TPlanner, TFeatures, TStatistics, TLoss>(
        T* logits, T* gradient, TStatistics statistics, T* rowFactors, int rows, int classes, TTerm term, TPlanner planner, in LogitMap<T> map,
        double commonTermSum, bool countZLoss)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
        where TStatistics : struct, IRowStatistics<T>
        where TLoss : struct, ILossSwitch
    {
        int count = TOps.Count;
        T* y = stackalloc T[count];
        T* g = stackalloc T[count];
        T* u = stackalloc T[count];
        new Span<T>(y, count).Clear();
        new Span<T>(u, count).Clear();
        nuint c = (nuint)classes;
        RowTotals totals = default;
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

            new Span<T>(logits + offset, classes).CopyTo(new Span<T>(y, classes));
            statistics.At(r, out T shift, out double inverseSum, out double lse);
            double loss;
            if (TTerm.IsActive)
            {
                TTerm rowTerm = term.AtRow(offset);
                double termSum = 0;
                for (nuint k = 0; k < c; k++)
                {
                    u[k] = rowTerm.LoadClass<OpsScalar<T>, T>(k, 1); // class k of this one row
                    termSum += double.CreateTruncating(u[k]);
                }

                if (TTerm.IsSameForEveryRow)
                {
                    termSum = commonTermSum;
                }

                loss = Row<ValuesTerm<T>, TFeatures, TLoss>(y, g, (nuint)count, new ValuesTerm<T>(u), plan, shift, inverseSum, lse, termSum, map);
            }
            else
            {
                loss = Row<NoTerm<T>, TFeatures, TLoss>(y, g, (nuint)count, default, plan, shift, inverseSum, lse, 0, map);
            }

            new Span<T>(g, classes).CopyTo(new Span<T>(gradient + offset, classes));
            if (TLoss.Enabled)
            {
                totals.Loss += countZLoss ? loss + plan.ZLossOf(lse) : loss;
            }
        }

        return totals;
    }

    /// <summary>
    /// One row's gradient with <c>P_k = exp(y'_k - shift) * inverseSum</c>; <paramref name="gradient"/> may be <paramref name="y"/>.
    /// Returns the row's label and term loss when <typeparamref name="TLoss"/> asks for it, else 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Row<TTerm, TFeatures, TLoss>(
        T* y, T* gradient, nuint classes, TTerm term, in RowPlan plan, T shift, double inverseSum, double lse, double termSum, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
        where TLoss : struct, ILossSwitch
    {
        double numerator = plan.LabelCoefficient + (plan.TermCoefficient * termSum) + (2 * plan.ZLoss * lse);
        T coefficient = T.CreateTruncating(numerator * plan.Scale * inverseSum);
        if (SplitFactor.IsNeeded(coefficient, numerator * inverseSum, plan.Scale))
        {
            return RowWith<TTerm, TFeatures, TLoss, ThreeFactors>(y, gradient, classes, term, plan, shift, SplitFactor.Of<T>(numerator * inverseSum, plan.Scale), lse, map);
        }

        return RowWith<TTerm, TFeatures, TLoss, OneFactor>(y, gradient, classes, term, plan, shift, new SplitFactor(1, 1, double.CreateTruncating(coefficient)), lse, map);
    }

    /// <summary><see cref="Row"/> with its coefficient as one factor or, beyond T's range, split (<see cref="SplitFactor"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double RowWith<TTerm, TFeatures, TLoss, TSplit>(
        T* y, T* gradient, nuint classes, TTerm term, in RowPlan plan, T shift, SplitFactor coefficient, double lse, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
        where TLoss : struct, ILossSwitch
        where TSplit : struct, IFactorSplit
    {
        nuint count = (nuint)TOps.Count;
        TVec coefficientV = TOps.Create(T.CreateTruncating(coefficient.Last));
        TVec first = TOps.Create(T.CreateTruncating(coefficient.First));
        TVec second = TOps.Create(T.CreateTruncating(coefficient.Second));
        TVec termScale = TOps.Create(T.CreateTruncating(-plan.TermCoefficient * plan.Scale));
        TVec shiftV = TOps.Create(shift);
        TVec scaledShift = TLoss.Enabled && TTerm.IsActive ? TermDistance.ScaledShift<TOps, TVec, T>(shiftV) : TOps.Zero;
        TVec distance = TOps.Zero, localTermSum = TOps.Zero;

        // In place, the label's logit and the last (overlapping) vector are overwritten before they would be read.
        T labelRaw = plan.Label >= 0 ? y[plan.Label] : T.Zero;
        nuint full = classes - (classes % count);
        nuint last = classes - count;
        TVec tail = full != classes ? TOps.Load(y + last) : TOps.Zero;
        for (nuint i = 0; i < full; i += count)
        {
            TVec z = map.Apply<TOps, TVec, TFeatures>(TOps.Load(y + i));
            TVec u = TTerm.IsActive ? term.Load<TOps, TVec>(i) : TOps.Zero;
            TOps.Store(Gradient<TTerm, TFeatures, TSplit>(z, u, shiftV, coefficientV, first, second, termScale, map), gradient + i);
            if (TLoss.Enabled && TTerm.IsActive)
            {
                TermDistance.Accumulate<TOps, TVec, T>(u, z, scaledShift, ref distance, ref localTermSum);
            }
        }

        if (full != classes)
        {
            TVec z = map.Apply<TOps, TVec, TFeatures>(tail);
            TVec u = TTerm.IsActive ? term.Load<TOps, TVec>(last) : TOps.Zero;
            TOps.Store(Gradient<TTerm, TFeatures, TSplit>(z, u, shiftV, coefficientV, first, second, termScale, map), gradient + last);
            if (TLoss.Enabled && TTerm.IsActive)
            {
                TVec fresh = SimdMasks.LanesFrom<TOps, TVec, T>((int)(count - (classes - full)));
                TermDistance.Accumulate<TOps, TVec, T>(TOps.Select(fresh, u, TOps.Zero), z, scaledShift, ref distance, ref localTermSum);
            }
        }

        double labelLogit = plan.Label >= 0 ? map.Apply<TFeatures>(labelRaw) : 0;
        if (plan.Label >= 0)
        {
            double chain = 1;
            if (TFeatures.Softcap)
            {
                double t = labelLogit / map.CapValue;
                chain = 1 - (t * t);
            }

            gradient[plan.Label] -= T.CreateTruncating(plan.LabelCoefficient * plan.Scale * chain);
        }

        if (!TLoss.Enabled)
        {
            return 0;
        }

        double loss = plan.Label >= 0 ? plan.LabelCoefficient * (lse - labelLogit) : 0;
        if (TTerm.IsActive)
        {
            // sum_k u_k (LSE - y_k) = (sum u) (LSE - shift) + sum u (shift - y): both parts non-negative.
            double sumU = double.CreateTruncating(TOps.Sum(localTermSum));
            double term2 = TermDistance.Total<TOps, TVec, T>(distance);
            loss += plan.TermCoefficient * ((sumU == 0 ? 0 : sumU * (lse - double.CreateTruncating(shift))) + term2);
        }

        return loss;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Gradient<TTerm, TFeatures, TSplit>(TVec z, TVec u, TVec shift, TVec coefficient, TVec first, TVec second, TVec termScale, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
        where TSplit : struct, IFactorSplit
    {
        if (TSplit.IsSplit)
        {
            // The cap's derivative first: an element it brings back into T's range is not lost to an overflow.
            TVec d = TFeatures.Softcap ? map.CapDerivative<TOps, TVec>(z) : TOps.Create(T.One);
            TVec p = SplitFactor.Times<TOps, TVec, T, TSplit>(TOps.Multiply(TOps.ExpDifference(z, shift), d), first, second, coefficient);
            return TTerm.IsActive ? TOps.Add(p, TOps.Multiply(TOps.Multiply(u, termScale), d)) : p;
        }

        TVec g = TOps.Multiply(TOps.ExpDifference(z, shift), coefficient);
        if (TTerm.IsActive)
        {
            g = TOps.MultiplyAdd(u, termScale, g);
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

/// <summary>Where the recompute strategy finds a row's statistics.</summary>
internal interface IRowStatistics<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Row <paramref name="row"/>: <c>P_k = exp(y'_k - shift) * inverseSum</c>, and its log-sum-exp.</summary>
    void At(int row, out T shift, out double inverseSum, out double lse);
}

/// <summary>The log-sum-exps that <c>Forward</c> saved: <c>P = exp(y' - LSE)</c>.</summary>
internal readonly unsafe struct SavedLogSumExp<T>(T* logSumExp) : IRowStatistics<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void At(int row, out T shift, out double inverseSum, out double lse)
    {
        shift = logSumExp[row];
        inverseSum = 1;
        lse = double.CreateTruncating(shift);
    }
}

/// <summary>The merged shard statistics <c>(m, s)</c>: <c>P = exp(y' - m) / s</c>, <c>LSE = m + ln s</c>.</summary>
internal readonly unsafe struct MergedShardStatistics<T>(T* rowMax, T* rowSumExp) : IRowStatistics<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void At(int row, out T shift, out double inverseSum, out double lse)
    {
        shift = rowMax[row];
        double sum = double.CreateTruncating(rowSumExp[row]);
        inverseSum = 1 / sum;
        lse = double.CreateTruncating(shift) + Math.Log(sum);
    }
}

/// <summary>Whether the recompute strategy also adds up the rows' losses (a compile-time switch).</summary>
internal interface ILossSwitch
{
    static abstract bool Enabled { get; }
}

internal readonly struct WithLoss : ILossSwitch
{
    public static bool Enabled => true;
}

internal readonly struct WithoutLoss : ILossSwitch
{
    public static bool Enabled => false;
}

/// <summary>A row's term values, already computed into a buffer (a padded copy of a short row's).</summary>
internal readonly unsafe struct ValuesTerm<T>(T* values) : ITargetTerm<ValuesTerm<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool IsActive => true;

    public static bool IsSameForEveryRow => false;

    public ValuesTerm<T> AtRow(nuint offset) => this;

    public ValuesTerm<T> WithTargets(T* rows) => this;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec LoadClass<TOps, TVec>(nuint index, nuint classStride)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.Load(values + (index * classStride));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TVec>(nuint index)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.Load(values + index);
}
