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
        InverseCap = softcap == 0 ? T.One : T.CreateTruncating(1 / softcap);
        Factor = T.CreateTruncating(softcap == 0 ? scale : scale / softcap);
        S3 = T.CreateTruncating(softcap * (-1.0 / 3));
        S5 = T.CreateTruncating(softcap * (2.0 / 15));
        S7 = T.CreateTruncating(softcap * (-17.0 / 315));
    }

    // The Taylor series' coefficients times the cap, for the soft-cap near 0.
    private T S3 { get; }

    private T S5 { get; }

    private T S7 { get; }

    /// <summary>The soft-cap <c>c</c> (0: none).</summary>
    public T Cap { get; }

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
    /// <c>c tanh(x)</c> with <c>x = y s / c</c>: <c>c (1 - e) / (1 + e)</c> with <c>e = exp(-2|x|) &lt;= 1</c>, the quotient
    /// by a reciprocal estimate refined once (<see cref="Reciprocal{TOps, TVec}"/>) rather than a division; and near 0,
    /// where <c>1 - e</c> cancels, <c>c</c> times the Taylor series <c>x - x^3/3 + 2x^5/15 - 17x^7/315</c>. The cap
    /// multiplies the constants (computed once per call, in the constructor), not the result. NaN stays NaN; <c>±inf</c>
    /// gives <c>±c</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private TVec Capped<TOps, TVec>(TVec y)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        TVec x = TOps.Multiply(y, TOps.Create(Factor));
        TVec a = TOps.Max(x, TOps.Subtract(TOps.Zero, x)); // the hardware max returns -x when x is NaN: NaN either way
        TVec e = TOps.ExpDifference(TOps.Zero, TOps.Add(a, a));
        TVec far = TOps.Multiply(
            TOps.MultiplyAdd(e, TOps.Create(-Cap), TOps.Create(Cap)),
            Reciprocal<TOps, TVec>(TOps.Add(TOps.Create(T.One), e)));

        TVec a2 = TOps.Multiply(a, a);
        TVec series = TOps.MultiplyAdd(a2, TOps.Create(S7), TOps.Create(S5));
        series = TOps.MultiplyAdd(a2, series, TOps.Create(S3));
        series = TOps.Multiply(TOps.MultiplyAdd(a2, series, TOps.Create(Cap)), a);

        // Where the series is exact to the type's precision: |x| < 0.1 in float, 0.001 in double.
        TVec near = TOps.Create(T.CreateTruncating(typeof(T) == typeof(float) ? 0.1 : 0.001));
        TVec r = TOps.Select(TOps.GreaterThan(near, a), series, far);
        return TOps.Select(TOps.GreaterThan(TOps.Zero, x), TOps.Subtract(TOps.Zero, r), r);
    }

    /// <summary>
    /// <c>1 / d</c> for <c>d</c> in [1, 2]: in float, the hardware's estimate (14 bits with AVX-512, 12 without) refined by
    /// one Newton step, <c>r + r (1 - d r)</c>, which squares its error (to about 2^-27 and 2^-23, the float's own
    /// rounding) for three or four instructions where a division costs several times their cycles; in double, the division.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Reciprocal<TOps, TVec>(TVec d)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        TVec r;
        if (typeof(T) == typeof(float) && typeof(TVec) == typeof(Vector512<T>) && Avx512F.IsSupported)
        {
            Vector512<float> d512 = Unsafe.As<TVec, Vector512<float>>(ref d);
            Vector512<float> r512 = Avx512F.Reciprocal14(d512);
            r512 = Avx512F.FusedMultiplyAdd(r512, Avx512F.FusedMultiplyAddNegated(d512, r512, Vector512<float>.One), r512);
            return Unsafe.As<Vector512<float>, TVec>(ref r512);
        }

        if (typeof(T) == typeof(float) && typeof(TVec) == typeof(Vector256<T>) && Avx.IsSupported)
        {
            Vector256<float> r256 = Avx.Reciprocal(Unsafe.As<TVec, Vector256<float>>(ref d));
            r = Unsafe.As<Vector256<float>, TVec>(ref r256);
        }
        else if (typeof(T) == typeof(float) && typeof(TVec) == typeof(Vector128<T>) && Sse.IsSupported)
        {
            Vector128<float> r128 = Sse.Reciprocal(Unsafe.As<TVec, Vector128<float>>(ref d));
            r = Unsafe.As<Vector128<float>, TVec>(ref r128);
        }
        else
        {
            return TOps.Divide(TOps.Create(T.One), d);
        }

        TVec error = TOps.MultiplyAdd(TOps.Subtract(TOps.Zero, d), r, TOps.Create(T.One));
        return TOps.MultiplyAdd(r, error, r);
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
        return TOps.MultiplyAdd(TOps.Subtract(TOps.Zero, t), t, TOps.Create(T.One));
    }
}
