using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The single-precision <c>exp(y - shift)</c> of the softmax kernels, computed as <c>2^t</c> with
/// <c>t = (y - shift) * log2(e)</c>.
/// </summary>
/// <remarks>
/// <para>
/// Why not <c>Vector512.Exp</c>: it widens to double, and costs about three times as much. The kernels are
/// bound by the FMA pipes (Zen 4 and most AVX-512 cores run one 512-bit FMA per cycle), so this version spends
/// as few multiplies as it can: one multiply for <c>t</c> (the subtraction runs on the adder pipes), then <c>2^t = 2^k * 2^f</c> with <c>k = round(t)</c>,
/// <c>f = t - k</c> (exact) in <c>[-0.5, 0.5]</c>, and <c>2^f</c> by a degree-5 polynomial
/// (5 FMAs, relative error below 2.2e-7, exact at 0).
/// </para>
/// <para>
/// Accuracy: <c>t</c> carries two roundings, so the result's relative error grows with <c>|t|</c>: below
/// 3e-7 for results within a factor 1e-3 of the row maximum (which make up the sum), about 2e-6 for
/// results near 1e-6, and 1e-5 near the underflow limit, where it is far below any tolerance in absolute terms.
/// Subtracting first (rather than one FMA <c>y log2(e) - shift log2(e)</c>) keeps logits of <c>±3e38</c> from overflowing.
/// </para>
/// <para>
/// Range: the kernels pass <c>t &lt;= 0</c>. Negative infinity gives 0 and NaN gives NaN. With AVX-512,
/// <c>vscalefps</c> applies <c>2^k</c> and produces subnormal results correctly; without it, results below
/// <c>2^-125</c> (3e-38) are flushed to 0, which changes a probability by less than that.
/// </para>
/// </remarks>
internal static class ExpSingle
{
    private const float Log2E = 1.44269504088896341f;

    // The degree-5 minimax polynomial for 2^f on [-0.5, 0.5], found by the Remez exchange (relative error
    // 7.5e-8), with its constant term then set to exactly 1 so that exp(0) = 1: the row maximum contributes
    // exactly 1 to the sum, and a one-class row has a loss of exactly 0. That moves the error to 1.8e-7
    // (2.1e-7 evaluated in float), about what a degree-6 Taylor polynomial gives with one FMA more.
    private const float C0 = 1f;
    private const float C1 = 0.693146967064733f;
    private const float C2 = 0.2402211972384865f;
    private const float C3 = 0.05550713273543075f;
    private const float C4 = 0.009675541334209831f;
    private const float C5 = 0.0013276471979286704f;

    /// <summary>Below this <c>t</c> every result is 0 (or, with vscalefps, subnormal); it keeps <c>k</c> finite.</summary>
    private const float ClampBelow = -151f;

    /// <summary>Without vscalefps, <c>t</c> below this flushes to 0, so that <c>2^k</c> added to the exponent bits stays normal.</summary>
    private const float FlushBelow = -125f;

    /// <summary><c>exp(y - shift)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpDifference(Vector512<float> y, Vector512<float> shift)
    {
        Vector512<float> t = (y - shift) * Log2E;
        if (Avx512F.IsSupported)
        {
            // MAXPS returns its second operand when either is NaN: with t second, NaN survives the clamp.
            t = Avx512F.Max(Vector512.Create(ClampBelow), t);
            Vector512<float> k = RoundToNearest(t);
            return Avx512F.Scale(Polynomial<Ops512<float>, Vector512<float>>(t - k), k);
        }

        Vector512<float> kk = RoundToNearest(Vector512.Max(t, Vector512.Create(ClampBelow)));
        Vector512<int> scale = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(kk), 23);
        Vector512<float> result = (Polynomial<Ops512<float>, Vector512<float>>(t - kk).AsInt32() + scale).AsSingle();
        return Vector512.AndNot(result, Vector512.LessThan(t, Vector512.Create(FlushBelow)));
    }

    /// <inheritdoc cref="ExpDifference(Vector512{float}, Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ExpDifference(Vector256<float> y, Vector256<float> shift)
    {
        Vector256<float> t = (y - shift) * Log2E;
        Vector256<float> k = RoundToNearest(Vector256.Max(t, Vector256.Create(ClampBelow)));
        Vector256<int> scale = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(k), 23);
        Vector256<float> result = (Polynomial<Ops256<float>, Vector256<float>>(t - k).AsInt32() + scale).AsSingle();
        return Vector256.AndNot(result, Vector256.LessThan(t, Vector256.Create(FlushBelow)));
    }

    /// <inheritdoc cref="ExpDifference(Vector512{float}, Vector512{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ExpDifference(Vector128<float> y, Vector128<float> shift)
    {
        Vector128<float> t = (y - shift) * Log2E;
        Vector128<float> k = RoundToNearest(Vector128.Max(t, Vector128.Create(ClampBelow)));
        Vector128<int> scale = Vector128.ShiftLeft(Vector128.ConvertToInt32Native(k), 23);
        Vector128<float> result = (Polynomial<Ops128<float>, Vector128<float>>(t - k).AsInt32() + scale).AsSingle();
        return Vector128.AndNot(result, Vector128.LessThan(t, Vector128.Create(FlushBelow)));
    }

    // Round to nearest (even) through the instructions themselves: Native AOT compiles Vector128/256/512.Round to a
    // software loop (25 ns a vector here, on its default target with SSE4.1 and without), which made the whole
    // 128-bit kernel ten times slower there; the instructions give the same results.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> RoundToNearest(Vector512<float> x) => Avx512F.IsSupported ? Avx512F.RoundScale(x, 0) : Vector512.Round(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> RoundToNearest(Vector256<float> x) => Avx.IsSupported ? Avx.RoundToNearestInteger(x) : Vector256.Round(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> RoundToNearest(Vector128<float> x) => Sse41.IsSupported ? Sse41.RoundToNearestInteger(x) : Vector128.Round(x);

    /// <summary>
    /// <c>2^f</c> for <c>|f| &lt;= 0.5</c> by Horner's rule, written once for every width: the same fused multiply-adds as
    /// a copy per width would issue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Polynomial<TOps, TVec>(TVec f)
        where TOps : ISimdOps<TVec, float>
        where TVec : unmanaged
    {
        TVec p = TOps.MultiplyAdd(TOps.Create(C5), f, TOps.Create(C4));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C3));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C2));
        p = TOps.MultiplyAdd(p, f, TOps.Create(C1));
        return TOps.MultiplyAdd(p, f, TOps.Create(C0));
    }
}
