using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.Kernels;

/// <summary>
/// What the softmax sees of a raw logit <c>y</c>: <c>s y</c> with a logit scale <c>s</c>, then <c>c tanh(s y / c)</c>
/// with a soft-cap <c>c</c>. Which of the two applies is the <see cref="IRowFeatures"/> type argument; this holds the
/// constants.
/// </summary>
/// <remarks>
/// With a cap, the scale is folded into the tanh's argument (<see cref="Factor"/> is <c>s / c</c>), so scaling costs
/// nothing there. The gradient's chain-rule factor <c>s</c> is folded into each row's <see cref="RowPlan.Scale"/> by the
/// caller, so that the kernels only apply the cap's own derivative <c>1 - tanh^2</c>.
/// </remarks>
internal readonly struct LogitMap<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public LogitMap(double scale, double softcap)
    {
        ScaleValue = scale;
        CapValue = softcap;
        Cap = T.CreateTruncating(softcap);
        NegativeCap = -Cap;
        InverseCap = softcap == 0 ? T.One : T.CreateTruncating(1 / softcap);
        Factor = T.CreateTruncating(softcap == 0 ? scale : scale / softcap);
        S3 = T.CreateTruncating(softcap * (-1.0 / 3));
        S5 = T.CreateTruncating(softcap * (2.0 / 15));
        S7 = T.CreateTruncating(softcap * (-17.0 / 315));
        P0 = T.CreateTruncating(softcap * TanhSingle.P0);
        P1 = T.CreateTruncating(softcap * TanhSingle.P1);
        P2 = T.CreateTruncating(softcap * TanhSingle.P2);
        P3 = T.CreateTruncating(softcap * TanhSingle.P3);
        P4 = T.CreateTruncating(softcap * TanhSingle.P4);
    }

    // The Taylor series' coefficients times the cap, for the soft-cap near 0.
    private T S3 { get; }

    private T S5 { get; }

    private T S7 { get; }

    // The numerator of the float tanh (TanhSingle) times the cap.
    private T P0 { get; }

    private T P1 { get; }

    private T P2 { get; }

    private T P3 { get; }

    private T P4 { get; }

    /// <summary>The soft-cap <c>c</c> (0: none).</summary>
    public T Cap { get; }

    /// <summary><c>-c</c>, the lower clamp of the float tanh.</summary>
    private T NegativeCap { get; }

    /// <summary><c>1 / c</c>: the cap's derivative is <c>1 - (capped / c)^2</c>.</summary>
    public T InverseCap { get; }

    /// <summary>What a raw logit is multiplied by: <c>s / c</c> with a cap (the tanh's argument), else <c>s</c>.</summary>
    public T Factor { get; }

    /// <summary>The logit scale <c>s</c> (1 when none).</summary>
    public double ScaleValue { get; }

    /// <summary>The soft-cap <c>c</c> in double (0: none).</summary>
    public double CapValue { get; }

    /// <summary>The map of one vector of raw logits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Apply<TOps, TVec, TFeatures>(TVec y)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        if (TFeatures.Softcap)
        {
            return Capped<TOps, TVec>(y);
        }

        return TFeatures.Scale ? TOps.Multiply(y, TOps.Create(Factor)) : y;
    }

    /// <summary>
    /// <c>c tanh(x)</c> with <c>x = y s / c</c>. In float (<see cref="CappedSingle{TOps, TVec}"/>), a rational function of
    /// <c>x</c> with no exponential; in double, <c>c (1 - e) / (1 + e)</c> with <c>e = exp(-2|x|) &lt;= 1</c>, and near 0,
    /// where <c>1 - e</c> cancels, <c>c</c> times the Taylor series <c>x - x^3/3 + 2x^5/15 - 17x^7/315</c>. The cap
    /// multiplies the constants (computed once per call, in the constructor), not the result. NaN stays NaN; <c>±inf</c>
    /// gives <c>±c</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TVec Capped<TOps, TVec>(TVec y)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            return CappedSingle<TOps, TVec>(y);
        }

        TVec x = TOps.Multiply(y, TOps.Create(Factor));
        TVec a = TOps.Max(x, TOps.Subtract(TOps.Zero, x)); // the hardware max returns -x when x is NaN: NaN either way
        TVec e = TOps.ExpDifference(TOps.Zero, TOps.Add(a, a));
        TVec far = TOps.Divide(TOps.MultiplyAdd(e, TOps.Create(-Cap), TOps.Create(Cap)), TOps.Add(TOps.Create(T.One), e));

        TVec a2 = TOps.Multiply(a, a);
        TVec series = TOps.MultiplyAdd(a2, TOps.Create(S7), TOps.Create(S5));
        series = TOps.MultiplyAdd(a2, series, TOps.Create(S3));
        series = TOps.Multiply(TOps.MultiplyAdd(a2, series, TOps.Create(Cap)), a);

        // Where the series is exact to double precision.
        TVec r = TOps.Select(TOps.GreaterThan(TOps.Create(T.CreateTruncating(0.001)), a), series, far);
        return TOps.Select(TOps.GreaterThan(TOps.Zero, x), TOps.Subtract(TOps.Zero, r), r);
    }

    /// <summary>
    /// <c>c tanh(x)</c> in float as <c>x P(x^2) / Q(x^2)</c>, <c>P</c> and <c>Q</c> of degree 4 (<see cref="TanhSingle"/>),
    /// with <c>x</c> clamped to <c>±10</c> and the result to <c>±c</c>: eleven multiply-adds or multiplies, a division and
    /// the clamps (one instruction with AVX-512, then a max and a min), where the exponential-based form costs an
    /// exponential, a reciprocal, a series for small <c>|x|</c> and three selects. The function is odd by construction, so no sign is handled. The division is a true one: it runs on
    /// its own unit, beside the multiply-adds, and measured no slower than a reciprocal estimate with its refinement.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TVec CappedSingle<TOps, TVec>(TVec y)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        // The powers of x come from x clamped to ±10 (beyond, they would overflow); the numerator's last factor is x itself,
        // so that a NaN stays NaN (the clamp may drop it) and every |x| > 10 gives more than c in magnitude before the
        // result's clamp, which makes it ±c exactly (the rational function exceeds 1 at 10, see TanhSingle.Clamp): there
        // the cap's derivative is exactly 0.
        TVec x = TOps.Multiply(y, TOps.Create(Factor));
        TVec clamped = ClampMagnitude<TOps, TVec>(x, TOps.Create(T.CreateTruncating(TanhSingle.Clamp)), TOps.Create(T.CreateTruncating(-TanhSingle.Clamp)));
        TVec t = TOps.Multiply(clamped, clamped);
        TVec p = TOps.MultiplyAdd(TOps.Create(P4), t, TOps.Create(P3));
        p = TOps.MultiplyAdd(p, t, TOps.Create(P2));
        p = TOps.MultiplyAdd(p, t, TOps.Create(P1));
        p = TOps.MultiplyAdd(p, t, TOps.Create(P0));
        TVec q = TOps.MultiplyAdd(TOps.Create(T.CreateTruncating(TanhSingle.Q4)), t, TOps.Create(T.CreateTruncating(TanhSingle.Q3)));
        q = TOps.MultiplyAdd(q, t, TOps.Create(T.CreateTruncating(TanhSingle.Q2)));
        q = TOps.MultiplyAdd(q, t, TOps.Create(T.CreateTruncating(TanhSingle.Q1)));
        q = TOps.MultiplyAdd(q, t, TOps.Create(T.One));
        TVec r = TOps.Divide(TOps.Multiply(p, x), q);

        // The hardware max and min, the constant first: they return their second operand when one is NaN.
        return TOps.Min(TOps.Create(Cap), TOps.Max(TOps.Create(NegativeCap), r));
    }

    /// <summary>
    /// <paramref name="x"/> clamped to <c>[-bound, bound]</c> (a NaN may come out as anything). With AVX-512 (DQ, and VL
    /// below 512 bits), one <c>vrangeps</c>: the smaller magnitude with <paramref name="x"/>'s sign; otherwise a max and a min.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec ClampMagnitude<TOps, TVec>(TVec x, TVec bound, TVec negativeBound)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        // vrangeps' control: bits 1:0 = 2, the smaller magnitude; bits 3:2 = 0, the sign of the first operand.
        const byte SmallerMagnitudeSignOfFirst = 0b0010;
        if (typeof(T) == typeof(float) && typeof(TVec) == typeof(Vector512<T>) && Avx512DQ.IsSupported)
        {
            Vector512<float> v = Avx512DQ.Range(Unsafe.As<TVec, Vector512<float>>(ref x), Unsafe.As<TVec, Vector512<float>>(ref bound), SmallerMagnitudeSignOfFirst);
            return Unsafe.As<Vector512<float>, TVec>(ref v);
        }

        if (typeof(T) == typeof(float) && typeof(TVec) == typeof(Vector256<T>) && Avx512DQ.VL.IsSupported)
        {
            Vector256<float> v = Avx512DQ.VL.Range(Unsafe.As<TVec, Vector256<float>>(ref x), Unsafe.As<TVec, Vector256<float>>(ref bound), SmallerMagnitudeSignOfFirst);
            return Unsafe.As<Vector256<float>, TVec>(ref v);
        }

        if (typeof(T) == typeof(float) && typeof(TVec) == typeof(Vector128<T>) && Avx512DQ.VL.IsSupported)
        {
            Vector128<float> v = Avx512DQ.VL.Range(Unsafe.As<TVec, Vector128<float>>(ref x), Unsafe.As<TVec, Vector128<float>>(ref bound), SmallerMagnitudeSignOfFirst);
            return Unsafe.As<Vector128<float>, TVec>(ref v);
        }

        return TOps.Min(bound, TOps.Max(negativeBound, x));
    }

    /// <summary>The map of one raw logit, in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Apply<TFeatures>(T y)
        where TFeatures : struct, IRowFeatures
    {
        double v = double.CreateTruncating(y);
        if (TFeatures.Softcap)
        {
            return CapValue * Math.Tanh(v * (ScaleValue / CapValue));
        }

        return TFeatures.Scale ? v * ScaleValue : v;
    }

    /// <summary><c>d(c tanh(x / c))/dx = 1 - (capped / c)^2</c>, from the capped value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec CapDerivative<TOps, TVec>(TVec capped)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        TVec t = TOps.Multiply(capped, TOps.Create(InverseCap));
        return TOps.MultiplyAddNegated(t, t, TOps.Create(T.One)); // 1 - t^2, one vfnmadd
    }
}
