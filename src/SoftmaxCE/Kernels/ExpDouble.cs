using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The double-precision <c>exp(y - shift)</c> of the softmax kernels: <c>2^t</c> with <c>t = (y - shift) * log2(e)</c>,
/// as <see cref="ExpSingle"/> does for float.
/// </summary>
/// <remarks>
/// <para>
/// Why not <c>Vector512.Exp(Vector512&lt;double&gt;)</c>: on .NET 10 here it ran at about 4 ns per element, no faster than
/// scalar code (<c>LossAndGradientDoubleBenchmarks</c>, 1024x1000: 4.2 ns per element out of place, 1.3 in place, where the
/// logits had become small gradients and took the scalar fast path).
/// </para>
/// <para>
/// <c>k = round(t)</c>, <c>f = t - k</c> (exact) in <c>[-0.5, 0.5]</c>, and <c>2^f</c> by its degree-13 Taylor polynomial in
/// <c>f ln 2</c> (truncation below 2e-16 relative). <c>t</c> carries two roundings, so the relative error grows with
/// <c>|t|</c>: about 1e-16 (1 + |t|). Negative infinity gives 0, NaN gives NaN; results below 2^-1021 are 0 (or, with
/// vscalefpd, subnormal).
/// </para>
/// </remarks>
internal static class ExpDouble
{
    private const double Log2E = 1.4426950408889634;
    private const double C0 = 1.0;
    private const double C1 = 0.6931471805599453;
    private const double C2 = 0.2402265069591007;
    private const double C3 = 0.055504108664821576;
    private const double C4 = 0.009618129107628477;
    private const double C5 = 0.0013333558146428441;
    private const double C6 = 0.00015403530393381606;
    private const double C7 = 1.5252733804059838e-05;
    private const double C8 = 1.3215486790144305e-06;
    private const double C9 = 1.0178086009239696e-07;
    private const double C10 = 7.054911620801121e-09;
    private const double C11 = 4.44553827187081e-10;
    private const double C12 = 2.5678435993488196e-11;
    private const double C13 = 1.3691488853904124e-12;

    /// <summary>Below this <c>t</c> every result is 0 (or subnormal); it keeps <c>k</c> finite.</summary>
    private const double ClampBelow = -1080;

    /// <summary>Without vscalefpd, <c>t</c> below this flushes to 0, so that <c>2^k</c> added to the exponent bits stays normal.</summary>
    private const double FlushBelow = -1021;

    /// <summary><c>exp(y - shift)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> ExpDifference(Vector512<double> y, Vector512<double> shift)
    {
        Vector512<double> t = (y - shift) * Log2E;
        if (Avx512F.IsSupported)
        {
            // MAXPD returns its second operand when either is NaN: with t second, NaN survives the clamp.
            t = Avx512F.Max(Vector512.Create(ClampBelow), t);
            Vector512<double> k = RoundToNearest(t);
            return Avx512F.Scale(Polynomial<Ops512<double>, Vector512<double>>(t - k), k);
        }

        Vector512<double> kk = RoundToNearest(Vector512.Max(t, Vector512.Create(ClampBelow)));
        Vector512<long> scale = Vector512.ShiftLeft(Vector512.ConvertToInt64Native(kk), 52);
        Vector512<double> result = (Polynomial<Ops512<double>, Vector512<double>>(t - kk).AsInt64() + scale).AsDouble();
        return Vector512.AndNot(result, Vector512.LessThan(t, Vector512.Create(FlushBelow)));
    }

    /// <inheritdoc cref="ExpDifference(Vector512{double}, Vector512{double})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> ExpDifference(Vector256<double> y, Vector256<double> shift)
    {
        Vector256<double> t = (y - shift) * Log2E;
        Vector256<double> k = RoundToNearest(Vector256.Max(t, Vector256.Create(ClampBelow)));
        Vector256<long> scale = Vector256.ShiftLeft(IntegerBits(k), 52);
        Vector256<double> result = (Polynomial<Ops256<double>, Vector256<double>>(t - k).AsInt64() + scale).AsDouble();
        return Vector256.AndNot(result, Vector256.LessThan(t, Vector256.Create(FlushBelow)));
    }

    /// <inheritdoc cref="ExpDifference(Vector512{double}, Vector512{double})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<double> ExpDifference(Vector128<double> y, Vector128<double> shift)
    {
        Vector128<double> t = (y - shift) * Log2E;
        Vector128<double> k = RoundToNearest(Vector128.Max(t, Vector128.Create(ClampBelow)));
        Vector128<long> scale = Vector128.ShiftLeft(IntegerBits(k), 52);
        Vector128<double> result = (Polynomial<Ops128<double>, Vector128<double>>(t - k).AsInt64() + scale).AsDouble();
        return Vector128.AndNot(result, Vector128.LessThan(t, Vector128.Create(FlushBelow)));
    }

    // Round to nearest (even) through the instructions themselves: Native AOT compiles Vector128/256/512.Round to a
    // software loop (25 ns a vector here, on its default target with SSE4.1 and without), which made the whole
    // 128-bit kernel ten times slower there; the instructions give the same results.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> RoundToNearest(Vector512<double> x) => Avx512F.IsSupported ? Avx512F.RoundScale(x, 0) : Vector512.Round(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> RoundToNearest(Vector256<double> x) => Avx.IsSupported ? Avx.RoundToNearestInteger(x) : Vector256.Round(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<double> RoundToNearest(Vector128<double> x) => Sse41.IsSupported ? Sse41.RoundToNearestInteger(x) : Vector128.Round(x);

    // The integer value of a whole k (|k| < 2^51) as a 64-bit integer: k + 1.5 * 2^52 lies in [2^52, 2^53), where the
    // ulp is 1, so its bits are those of 1.5 * 2^52 plus k. Without AVX-512DQ there is no vector double-to-int64
    // instruction, and ConvertToInt64Native is done element by element.
    private const double IntegerMagic = 6755399441055744.0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<long> IntegerBits(Vector256<double> k) =>
        Avx512DQ.VL.IsSupported ? Vector256.ConvertToInt64Native(k) : (k + Vector256.Create(IntegerMagic)).AsInt64() - Vector256.Create(IntegerMagic).AsInt64();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<long> IntegerBits(Vector128<double> k) =>
        Avx512DQ.VL.IsSupported ? Vector128.ConvertToInt64Native(k) : (k + Vector128.Create(IntegerMagic)).AsInt64() - Vector128.Create(IntegerMagic).AsInt64();

    /// <summary>
    /// <c>2^f</c> for <c>|f| &lt;= 0.5</c> by Horner's rule, written once for every width: the same fused multiply-adds as
    /// a copy per width would issue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Polynomial<TOps, TVec>(TVec f)
        where TOps : ISimdOps<TVec, double>
        where TVec : unmanaged
    {
        TVec p = TOps.MultiplyAdd(TOps.Create(C13), f, TOps.Create(C12));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C11));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C10));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C9));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C8));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C7));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C6));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C5));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C4));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C3));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C2));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C1));
        return TOps.MultiplyAdd(p, f, TOps.Create(C0));
    }
}
