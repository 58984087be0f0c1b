using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SoftmaxCE.Kernels;

/// <summary>
/// A single-precision <c>exp</c> for the softmax kernels, about three times cheaper than
/// <c>Vector512.Exp(Vector512&lt;float&gt;)</c>, which widens to double internally.
/// </summary>
/// <remarks>
/// <para>
/// Range reduction <c>x = k ln2 + r</c>, <c>|r| &lt;= ln2 / 2</c>, with ln2 split in two so that <c>r</c> is
/// exact; then <c>exp(r) = 1 + r + r^2 P(r)</c> with the degree-5 minimax polynomial <c>P</c> of Cephes'
/// <c>expf</c> (relative error below 2e-7 on the reduced range), and the result is scaled by <c>2^k</c> by
/// adding <c>k</c> to the exponent bits.
/// </para>
/// <para>
/// The kernels only pass <c>x = y - max &lt;= 0</c>. Results below the smallest normal float
/// (<c>x &lt; -86.5</c>, results below 2.7e-38) are flushed to 0, which changes a probability by less than that.
/// NaN stays NaN: <c>k</c> converts to <c>int.MinValue</c>, whose shifted bits are 0. Positive inputs
/// above 88.7 are not supported (they never occur).
/// </para>
/// </remarks>
internal static class ExpSingle
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;
    private const float Ln2Lo = -2.12194440e-4f;
    private const float P0 = 1.9875691500E-4f;
    private const float P1 = 1.3981999507E-3f;
    private const float P2 = 8.3334519073E-3f;
    private const float P3 = 4.1665795894E-2f;
    private const float P4 = 1.6666665459E-1f;
    private const float P5 = 5.0000001201E-1f;

    /// <summary>
    /// Below this the result is flushed to 0. It keeps <c>k &gt;= -125</c>, so that adding <c>k</c> to the
    /// exponent of <c>exp(r)</c> (which is at least 0.7) always gives a normal float.
    /// </summary>
    private const float FlushBelow = -86.5f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        Vector512<float> k = Vector512.Round(x * Log2E);
        Vector512<float> r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Lo), r);
        Vector512<float> p = Vector512.FusedMultiplyAdd(Vector512.Create(P0), r, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        Vector512<int> scale = Vector512.ShiftLeft(Vector512.ConvertToInt32Native(k), 23);
        Vector512<float> result = (p.AsInt32() + scale).AsSingle();
        return Vector512.AndNot(result, Vector512.LessThan(x, Vector512.Create(FlushBelow)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        Vector256<float> k = Vector256.Round(x * Log2E);
        Vector256<float> r = Vector256.FusedMultiplyAdd(k, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(k, Vector256.Create(-Ln2Lo), r);
        Vector256<float> p = Vector256.FusedMultiplyAdd(Vector256.Create(P0), r, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        Vector256<int> scale = Vector256.ShiftLeft(Vector256.ConvertToInt32Native(k), 23);
        Vector256<float> result = (p.AsInt32() + scale).AsSingle();
        return Vector256.AndNot(result, Vector256.LessThan(x, Vector256.Create(FlushBelow)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Exp(Vector128<float> x)
    {
        Vector128<float> k = Vector128.Round(x * Log2E);
        Vector128<float> r = Vector128.FusedMultiplyAdd(k, Vector128.Create(-Ln2Hi), x);
        r = Vector128.FusedMultiplyAdd(k, Vector128.Create(-Ln2Lo), r);
        Vector128<float> p = Vector128.FusedMultiplyAdd(Vector128.Create(P0), r, Vector128.Create(P1));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(P2));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(P3));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(P4));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128.Create(P5));
        p = Vector128.FusedMultiplyAdd(p, r, Vector128<float>.One);
        p = Vector128.FusedMultiplyAdd(p, r, Vector128<float>.One);
        Vector128<int> scale = Vector128.ShiftLeft(Vector128.ConvertToInt32Native(k), 23);
        Vector128<float> result = (p.AsInt32() + scale).AsSingle();
        return Vector128.AndNot(result, Vector128.LessThan(x, Vector128.Create(FlushBelow)));
    }
}
