using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// Where the rows of a lane block find their labels and plans: the <see cref="IRowPlanner"/>'s data, without vectors,
/// so that every width can read it.
/// </summary>
/// <remarks>
/// Either one plan for every row (<see cref="Labels"/> null: softmax, log-softmax and dense targets, with
/// <see cref="FixedLabel"/> and <see cref="FixedCoefficient"/>), or class-index labels with optional class weights:
/// row <c>r</c> then has label <c>Labels[r]</c> and coefficient <c>Keep * w[label]</c>, or is ignored. A label outside
/// <c>[0, Classes)</c> when it is read (the caller's labels changed during the call) gives the row a NaN coefficient, so
/// a NaN loss and gradient, and is never used as an index.
/// </remarks>
internal readonly unsafe struct LaneLabels(int* labels, void* weights, int ignoreIndex, bool hasIgnoreIndex, double keep, int fixedLabel, double fixedCoefficient, int classes = 0)
{
    public int* Labels { get; } = labels;

    /// <summary>Class weights of the call's element type, or null.</summary>
    public void* Weights { get; } = weights;

    public int IgnoreIndex { get; } = ignoreIndex;

    public bool HasIgnoreIndex { get; } = hasIgnoreIndex;

    public double Keep { get; } = keep;

    public int FixedLabel { get; } = fixedLabel;

    public double FixedCoefficient { get; } = fixedCoefficient;

    /// <summary>The number of classes, the bound every label is checked against (with <see cref="Labels"/>).</summary>
    public int Classes { get; } = classes;

    /// <summary>The same plan for every row.</summary>
    public static LaneLabels Fixed(in RowPlan plan) => new(null, null, 0, false, 0, plan.Label, plan.LabelCoefficient);

    /// <summary>The same data, <paramref name="rows"/> rows further on.</summary>
    public LaneLabels Skip(int rows) => Labels == null ? this : new(Labels + rows, Weights, IgnoreIndex, HasIgnoreIndex, Keep, FixedLabel, FixedCoefficient, Classes);
}

/// <summary>Each lane's row: its label (-1 for none), label coefficient (0 when ignored) and whether it counts (a mask).</summary>
internal struct LanePlan<TVec>
    where TVec : unmanaged
{
    public TVec Label;
    public TVec LabelCoefficient;
    public TVec Counted;
}

/// <summary>
/// The rows-across-lanes kernel: <c>W</c> rows at once (<c>W</c> the lanes of <typeparamref name="TVec"/>), lane
/// <c>r</c> holding row <c>r</c>, class <c>k</c> of every row one vector <c>classStride</c> elements after class
/// <c>k - 1</c>. The max, the exponentials, the sums, the logarithm and the gradient are then plain lane-wise
/// operations, one vector per class, with no horizontal reduction and no scalar logarithm per row.
/// </summary>
/// <remarks>
/// <para>
/// Two layouts reach it: short row-major rows (C &lt;= 16), transposed into a block on the stack by
/// <see cref="ShortRowsTransposed{TOps, TVec, T}"/>; and PyTorch's <c>[N, C, d1, ...]</c>, where the positions already lie
/// across lanes and the class stride is <c>d1 * ... * dK</c> (<c>StridedRows</c>).
/// </para>
/// <para>
/// Three passes over the <c>C</c> vectors (from L1 after the first): the max; the exponentials, their sum, the label
/// logit and the target terms; then the gradient from the stored exponentials (or the log-probabilities). With a
/// soft cap the exponentials are recomputed from the logits in the last pass instead of stored, since the cap's
/// derivative needs the capped logit. Logits go through the <see cref="LogitMap{T}"/> (scale, cap) as they are read; the
/// scale's chain-rule factor is in the plan's <see cref="RowPlan.Scale"/>.
/// </para>
/// </remarks>
[SkipLocalsInit]
internal static unsafe class ShortRowsAcrossLanes<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Each lane's label, coefficient and counted mask for rows <c>firstRow .. firstRow + W</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Plan(in LaneLabels source, int firstRow, out LanePlan<TVec> plan)
    {
        if (source.Labels == null)
        {
            plan.Label = TOps.Create(T.CreateTruncating(source.FixedLabel));
            plan.LabelCoefficient = TOps.Create(T.CreateTruncating(source.FixedCoefficient));
            plan.Counted = TOps.Equals(TOps.Zero, TOps.Zero);
            return;
        }

        int* labels = source.Labels + firstRow;
        if (source.Weights == null && LaneOps.TryLoadLabels<TVec, T>(labels, source.IgnoreIndex, source.HasIgnoreIndex, source.Classes, out TVec label, out TVec ignored, out TVec outOfRange))
        {
            // A label out of range matches no class (the label lanes are only compared), and its NaN coefficient makes the row NaN.
            plan.Label = label;
            plan.LabelCoefficient = TOps.Select(outOfRange, TOps.Create(T.NaN), TOps.Select(ignored, TOps.Zero, TOps.Create(T.CreateTruncating(source.Keep))));
            plan.Counted = TOps.Equals(ignored, TOps.Zero);
            return;
        }

        PlanPerLane(source, labels, out plan);
    }

    /// <summary>
    /// <see cref="Plan"/> lane by lane: class weights (a gather), and the widths without a vector label load. Apart, so
    /// that its stack buffers do not keep <see cref="Plan"/> from being inlined.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void PlanPerLane(in LaneLabels source, int* labels, out LanePlan<TVec> plan)
    {
        T* l = stackalloc T[TOps.Count];
        T* c = stackalloc T[TOps.Count];
        T* counted = stackalloc T[TOps.Count];
        T* weights = (T*)source.Weights;
        for (int r = 0; r < TOps.Count; r++)
        {
            int value = labels[r];
            bool drop = source.HasIgnoreIndex && value == source.IgnoreIndex;
            bool inRange = (uint)value < (uint)source.Classes;
            l[r] = drop || !inRange ? T.NegativeOne : T.CreateTruncating(value);
            c[r] = drop ? T.Zero
                : !inRange ? T.NaN
                : T.CreateTruncating(source.Keep * (weights == null ? 1 : double.CreateTruncating(weights[value])));
            counted[r] = drop ? T.Zero : T.One;
        }

        plan.Label = TOps.Load(l);
        plan.LabelCoefficient = TOps.Load(c);
        plan.Counted = TOps.GreaterThan(TOps.Load(counted), TOps.Zero);
    }

    /// <summary>
    /// The <c>W</c> rows whose class <c>k</c> is the vector at <c>y + k * classStride</c>. The exponentials are kept at the
    /// same offsets from <paramref name="output"/> between the passes (it may be <paramref name="y"/>: each element is read
    /// before it is written), and the softmax, gradient or log-probabilities land at <c>result + k * resultStride</c>
    /// (<paramref name="output"/> again, or the tensor when the block is a staged copy).
    /// <paramref name="term"/> reads the rows' dense targets with the same layout. Row losses and predictions, when not
    /// null, receive the <c>W</c> rows' values contiguously. <paramref name="gradient"/> says whether a scaled-exponential
    /// output is a gradient (it goes through the soft cap's derivative) or the softmax (it does not). Returns the sum of
    /// the rows' losses.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static RowTotals Block<TTerm, TMode, TFeatures>(
        T* y, T* output, nuint classStride, T* result, nuint resultStride, int classes, TTerm term, in LanePlan<TVec> rows, in RowPlan common, in LogitMap<T> map, bool gradient, T* rowLosses, int* predictions)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TFeatures : struct, IRowFeatures
    {
        TVec inverseCap = TOps.Create(map.InverseCap);
        nuint c = (nuint)classes;

        // The plan in locals: read through the reference, it would be reloaded after every store. The class index k
        // travels as a vector counter, one add per class, where converting the loop's nuint to T took about ten
        // instructions and a branch; it is exact as far as the labels it is compared with are (below 2^24).
        TVec label = rows.Label;
        TVec counted = rows.Counted;
        TVec labelCoefficient = rows.LabelCoefficient;
        TVec one = TOps.Create(T.One);

        // Pass 1: the max (strictly greater keeps the lower class on ties, and class 0 when every logit is -inf).
        TVec max = TOps.Create(T.NegativeInfinity);
        TVec argmax = TOps.Zero;
        TVec index = TOps.Zero;
        T* at = y;
        if (TFeatures.Argmax)
        {
            for (nuint k = 0; k < c; k++, at += classStride)
            {
                TVec z = Load<TFeatures>(at, map);
                TVec greater = TOps.GreaterThan(z, max);
                max = TOps.Select(greater, z, max);
                argmax = TOps.Select(greater, index, argmax);
                index = TOps.Add(index, one);
            }
        }
        else
        {
            // Two chains of maxima, each half as long. The max of finite and infinite logits is the same in any order;
            // a row with a NaN has a NaN sum whatever its max, and so NaN outputs.
            TVec max1 = max;
            nuint k = 0;
            for (; k + 1 < c; k += 2, at += 2 * classStride)
            {
                max = TOps.Max(max, Load<TFeatures>(at, map));
                max1 = TOps.Max(max1, Load<TFeatures>(at + classStride, map));
            }

            if (k < c)
            {
                max = TOps.Max(max, Load<TFeatures>(at, map));
            }

            max = TOps.Max(max, max1);
        }

        // A row of only -inf: exp(y - 0) = 0, no NaN from -inf - -inf.
        TVec shift = TOps.Select(TOps.Equals(max, TOps.Create(T.NegativeInfinity)), TOps.Zero, max);

        // Pass 2: the sum of exponentials, the label logit, and sum_k u_k (shift - y_k) and sum_k u_k for the target term.
        // The distances are summed scaled by 2^-32 (TermDistance), exactly, so that with logits near T's largest value
        // their sum stays finite where the loss it belongs to is.
        TVec sum = TOps.Zero, labelLogit = TOps.Zero, distance = TOps.Zero, termSum = TOps.Zero;
        TVec scaledShift = TTerm.IsActive ? TermDistance.ScaledShift<TOps, TVec, T>(shift) : TOps.Zero;
        index = TOps.Zero;
        at = y;
        T* store = output;
        for (nuint k = 0; k < c; k++, at += classStride, store += classStride)
        {
            TVec z = Load<TFeatures>(at, map);
            labelLogit = TOps.Select(TOps.Equals(label, index), z, labelLogit);
            index = TOps.Add(index, one);
            if (TTerm.IsActive)
            {
                TermDistance.Accumulate<TOps, TVec, T>(term.LoadClass<TOps, TVec>(k, classStride), z, scaledShift, ref distance, ref termSum);
            }

            TVec e = TOps.ExpDifference(z, shift);
            sum = TOps.Add(sum, e);
            if (TMode.WritesScaledExp && !TFeatures.Softcap)
            {
                TOps.Store(e, store);
            }
        }

        // The loss is log(sum) + (shift - y_label), never (max + log(sum)) - y_label: at large logits (65504, say) the
        // sum max + log(sum) keeps only a few bits of log(sum), and the subtraction would expose the rounding.
        TVec logSum = LaneOps.Log<TVec, T>(sum);
        TVec lse = TOps.Add(max, logSum);
        TVec loss = TOps.Multiply(labelCoefficient, TOps.Add(logSum, TOps.Subtract(shift, labelLogit)));
        T termCoefficient = T.CreateTruncating(common.TermCoefficient);
        if (TTerm.IsActive)
        {
            // b (sum_k u_k (shift - y_k) + sum_k u_k log(sum)), the distances unscaled through the coefficient (a power
            // of two times b), never alone: their sum may be beyond T's range where b times it is not.
            TVec spread = TOps.Multiply(termSum, logSum);
            loss = TOps.MultiplyAdd(TOps.Create(termCoefficient), TOps.Select(TOps.Equals(termSum, TOps.Zero), TOps.Zero, spread), loss);
            loss = TOps.MultiplyAdd(TOps.Create(T.CreateTruncating(common.TermCoefficient * TermDistance.Unscale)), distance, loss);
        }

        TVec zPart = TOps.Zero;
        if (common.ZLoss != 0)
        {
            // A row with no distribution (LSE = -inf) has a NaN loss, and its z-loss part is NaN like it, not +inf.
            // (z LSE) LSE: LSE^2 alone overflows T for |LSE| > sqrt(max) where z LSE^2 may be finite.
            zPart = TOps.Multiply(TOps.Multiply(TOps.Create(T.CreateTruncating(common.ZLoss)), lse), lse);
            zPart = TOps.Select(TOps.Equals(lse, TOps.Create(T.NegativeInfinity)), TOps.Create(T.NaN), zPart);
            loss = TOps.Add(loss, zPart);
        }

        loss = LaneOps.ZeroUnless<TOps, TVec, T>(counted, loss);
        zPart = LaneOps.ZeroUnless<TOps, TVec, T>(counted, zPart);
        RowTotals totals;

        // A row's loss that is not finite in T: beyond T's range (logits near its largest value: shift - y_label, the
        // distances, LSE^2), or a row with no distribution. Those lanes are computed again in double from the same per-row
        // quantities, as the row kernels compute every row, so that the call's loss (summed in double, rounded once) is
        // finite wherever the exact one is, whichever kernel took the rows. Rare: otherwise one compare per block.
        if (TOps.IndexOf(TOps.Equals(TOps.Multiply(loss, TOps.Zero), TOps.Zero), T.Zero) >= 0)
        {
            totals = LossesInDouble<TTerm>(loss, zPart, labelCoefficient, logSum, max, shift, labelLogit, termSum, distance, common, rowLosses);
        }
        else
        {
            if (rowLosses != null)
            {
                TOps.Store(loss, rowLosses);
            }

            totals.Loss = LaneOps.SumToDouble<TVec, T>(loss);
            totals.ZLoss = common.ZLoss != 0 ? LaneOps.SumToDouble<TVec, T>(zPart) : 0;
        }

        totals.Correct = TFeatures.Argmax ? Predictions(argmax, rows, predictions) : 0;

        if (TMode.WritesScaledExp)
        {
            // Pass 3: P_k * (a + b sum_j u_j + 2 z LSE) - b u_k - a [k == label], times the scale, in counted rows.
            T scale = T.CreateTruncating(common.Scale);
            TVec factor = TOps.Add(labelCoefficient, TOps.Multiply(TOps.Create(termCoefficient), termSum));
            if (common.ZLoss != 0)
            {
                factor = TOps.MultiplyAdd(TOps.Create(T.CreateTruncating(2 * common.ZLoss)), lse, factor);
            }

            TVec coefficient = TOps.Divide(TOps.Multiply(factor, TOps.Create(scale)), sum);
            TVec labelStep = TOps.Multiply(labelCoefficient, TOps.Create(scale));
            TVec termStep = TOps.Create(termCoefficient * scale);

            // A coefficient beyond T's range (or NaN) in some lane: 0 * inf would make the classes whose exponentials
            // underflowed NaN where their gradient is 0. Rare: that block's last pass runs apart, with the coefficient
            // split into finite factors. (Everything goes by value: a local passed by reference would live in memory.)
            if (TOps.IndexOf(TOps.Equals(TOps.Multiply(coefficient, TOps.Zero), TOps.Zero), T.Zero) >= 0)
            {
                WriteSplit<TTerm, TFeatures>(
                    y, output, classStride, result, resultStride, c, term, map, gradient, common, labelCoefficient, termSum, lse, sum, coefficient, shift, label, counted, labelStep, termStep);
                return totals;
            }
            index = TOps.Zero;
            at = y;
            T* exponentials = output;
            T* write = result;
            for (nuint k = 0; k < c; k++, at += classStride, exponentials += classStride, write += resultStride)
            {
                TVec z = TOps.Zero;
                TVec r;
                if (TFeatures.Softcap)
                {
                    z = Load<TFeatures>(at, map);
                    r = TOps.Multiply(TOps.ExpDifference(z, shift), coefficient);
                }
                else
                {
                    r = TOps.Multiply(TOps.Load(exponentials), coefficient);
                }

                if (TTerm.IsActive)
                {
                    r = TOps.Subtract(r, TOps.Multiply(termStep, term.LoadClass<TOps, TVec>(k, classStride)));
                }

                r = TOps.Select(TOps.Equals(label, index), TOps.Subtract(r, labelStep), r);
                index = TOps.Add(index, one);
                if (TFeatures.Softcap && gradient)
                {
                    // d(cap tanh(y / cap))/dy = 1 - tanh^2 = 1 - (z / cap)^2.
                    TVec t = TOps.Multiply(z, inverseCap);
                    r = TOps.Multiply(r, TOps.Subtract(TOps.Create(T.One), TOps.Multiply(t, t)));
                }

                TOps.Store(LaneOps.ZeroUnless<TOps, TVec, T>(counted, r), write);
            }
        }
        else if (TMode.WritesLogProbabilities)
        {
            for (nuint k = 0; k < c; k++)
            {
                TVec z = Load<TFeatures>(y + (k * classStride), map);
                TOps.Store(TOps.Subtract(z, lse), result + (k * resultStride));
            }
        }

        return totals;
    }

    /// <summary>
    /// Pass 3 of <see cref="Block"/> for a block where some lane's coefficient <c>(a + b sum u + 2 z LSE) s / sum</c> is
    /// not finite in T: the lanes where it is finite in double are given the <see cref="SplitFactor"/> of it and written
    /// as <c>((e * first) * second) * last</c>, the cap's derivative applied to the exponential first (and to the steps),
    /// so that 0 stays 0 and an element overflows only when its value is beyond T's range; the other lanes (NaN, or the
    /// infinity of a row with no distribution) keep their coefficient, with factors of 1.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void WriteSplit<TTerm, TFeatures>(
        T* y, T* output, nuint classStride, T* result, nuint resultStride, nuint c, TTerm term, LogitMap<T> map, bool gradient, RowPlan common,
        TVec labelCoefficient, TVec termSum, TVec lse, TVec sum, TVec coefficient, TVec shift, TVec label, TVec counted, TVec labelStep, TVec termStep)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
    {
        T* a = stackalloc T[TOps.Count];
        T* u = stackalloc T[TOps.Count];
        T* l = stackalloc T[TOps.Count];
        T* s = stackalloc T[TOps.Count];
        T* f1 = stackalloc T[TOps.Count];
        T* f2 = stackalloc T[TOps.Count];
        T* f3 = stackalloc T[TOps.Count];
        TOps.Store(labelCoefficient, a);
        TOps.Store(termSum, u);
        TOps.Store(lse, l);
        TOps.Store(sum, s);
        TOps.Store(coefficient, f3);
        for (int lane = 0; lane < TOps.Count; lane++)
        {
            f1[lane] = T.One;
            f2[lane] = T.One;
            double factor = double.CreateTruncating(a[lane]) + (common.TermCoefficient * double.CreateTruncating(u[lane]));
            if (common.ZLoss != 0)
            {
                factor += 2 * common.ZLoss * double.CreateTruncating(l[lane]);
            }

            double x = factor * common.Scale;
            double inverse = 1 / double.CreateTruncating(s[lane]);
            if (x != 0 && SplitFactor.IsNeeded(f3[lane], x, inverse))
            {
                SplitFactor split = SplitFactor.Of<T>(x, inverse);
                f1[lane] = T.CreateTruncating(split.First);
                f2[lane] = T.CreateTruncating(split.Second);
                f3[lane] = T.CreateTruncating(split.Last);
            }
        }

        TVec first = TOps.Load(f1), second = TOps.Load(f2), last = TOps.Load(f3);
        TVec inverseCap = TOps.Create(map.InverseCap);
        TVec one = TOps.Create(T.One);
        TVec index = TOps.Zero;
        for (nuint k = 0; k < c; k++)
        {
            TVec e;
            TVec derivative = one;
            if (TFeatures.Softcap)
            {
                TVec z = Load<TFeatures>(y + (k * classStride), map);
                e = TOps.ExpDifference(z, shift);
                if (gradient)
                {
                    // d(cap tanh(y / cap))/dy = 1 - tanh^2 = 1 - (z / cap)^2.
                    TVec t = TOps.Multiply(z, inverseCap);
                    derivative = TOps.Subtract(one, TOps.Multiply(t, t));
                }
            }
            else
            {
                e = TOps.Load(output + (k * classStride));
            }

            TVec r = TOps.Multiply(TOps.Multiply(TOps.Multiply(TOps.Multiply(e, derivative), first), second), last);
            if (TTerm.IsActive)
            {
                r = TOps.Subtract(r, TOps.Multiply(TOps.Multiply(termStep, term.LoadClass<TOps, TVec>(k, classStride)), derivative));
            }

            r = TOps.Select(TOps.Equals(label, index), TOps.Subtract(r, TOps.Multiply(labelStep, derivative)), r);
            index = TOps.Add(index, one);
            TOps.Store(LaneOps.ZeroUnless<TOps, TVec, T>(counted, r), result + (k * resultStride));
        }
    }

    /// <summary>
    /// <see cref="Block"/>'s row losses and their sums for a block where some lane's loss is not finite in T: those lanes
    /// in double, <c>a (log(sum) + (shift - y_label)) + b (sum_k u_k log(sum) + sum_k u_k (shift - y_k)) + z LSE^2</c>
    /// from the lane's own quantities (NaN for a row with no distribution, +inf only where the loss is beyond double's
    /// range or truly infinite), the others as T computed them. Each row loss lands in <paramref name="rowLosses"/> rounded
    /// once to T.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static RowTotals LossesInDouble<TTerm>(
        TVec loss, TVec zPart, TVec labelCoefficient, TVec logSum, TVec max, TVec shift, TVec labelLogit, TVec termSum, TVec distance, RowPlan common, T* rowLosses)
        where TTerm : struct, ITargetTerm<TTerm, T>
    {
        int count = TOps.Count;
        T* l = stackalloc T[count];
        T* z = stackalloc T[count];
        T* a = stackalloc T[count];
        T* s = stackalloc T[count];
        T* m = stackalloc T[count];
        T* h = stackalloc T[count];
        T* y = stackalloc T[count];
        T* u = stackalloc T[count];
        T* d = stackalloc T[count];
        TOps.Store(loss, l);
        TOps.Store(zPart, z);
        TOps.Store(labelCoefficient, a);
        TOps.Store(logSum, s);
        TOps.Store(max, m);
        TOps.Store(shift, h);
        TOps.Store(labelLogit, y);
        TOps.Store(termSum, u);
        TOps.Store(distance, d);
        RowTotals totals = default;
        for (int lane = 0; lane < count; lane++)
        {
            double rowLoss = double.CreateTruncating(l[lane]);
            double rowZ = double.CreateTruncating(z[lane]);

            // An uncounted row is 0 in both (and finite): only the lanes T could not hold are computed again.
            if (!T.IsFinite(l[lane]))
            {
                double logOfSum = double.CreateTruncating(s[lane]);
                rowLoss = double.CreateTruncating(a[lane]) * (logOfSum + (double.CreateTruncating(h[lane]) - double.CreateTruncating(y[lane])));
                if (TTerm.IsActive)
                {
                    double uSum = double.CreateTruncating(u[lane]);
                    rowLoss += common.TermCoefficient * ((uSum == 0 ? 0 : uSum * logOfSum) + (TermDistance.Unscale * double.CreateTruncating(d[lane])));
                }

                if (common.ZLoss != 0)
                {
                    double lse = double.CreateTruncating(m[lane]) + logOfSum;
                    rowZ = double.IsNegativeInfinity(lse) ? double.NaN : common.ZLoss * lse * lse;
                    rowLoss += rowZ;
                }
            }

            if (rowLosses != null)
            {
                rowLosses[lane] = T.CreateTruncating(rowLoss);
            }

            totals.Loss += rowLoss;
            totals.ZLoss += rowZ;
        }

        return totals;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Load<TFeatures>(T* source, in LogitMap<T> map)
        where TFeatures : struct, IRowFeatures => map.Apply<TOps, TVec, TFeatures>(TOps.Load(source));

    /// <summary>Writes each lane's argmax (-1 when not counted) and returns how many counted lanes hit their label.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static long Predictions(TVec argmax, in LanePlan<TVec> rows, int* predictions)
    {
        T* a = stackalloc T[TOps.Count];
        T* l = stackalloc T[TOps.Count];
        T* counted = stackalloc T[TOps.Count];
        TOps.Store(argmax, a);
        TOps.Store(rows.Label, l);
        TOps.Store(TOps.Select(rows.Counted, TOps.Create(T.One), TOps.Zero), counted);
        long correct = 0;
        for (int r = 0; r < TOps.Count; r++)
        {
            bool isCounted = counted[r] != T.Zero;
            int index = isCounted ? int.CreateTruncating(a[r]) : -1;
            if (predictions != null)
            {
                predictions[r] = index;
            }

            if (isCounted && a[r] == l[r])
            {
                correct++;
            }
        }

        return correct;
    }
}
