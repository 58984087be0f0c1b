using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// A row's gradient coefficient that lies beyond <c>T</c>'s range, as three factors that are each finite in <c>T</c>,
/// applied one after the other: two powers of two, then the rest (sign and mantissa).
/// </summary>
/// <remarks>
/// <para>
/// The write strategies multiply each exponential <c>e</c> (at most 1) by the row's coefficient
/// <c>(a + b sum u + 2 z LSE) s / sum</c>, computed in double. With logits near <c>T</c>'s largest value, z-loss, a
/// logit scale or row weights, that coefficient can exceed <c>T</c>'s range (in double too, for double): as one factor
/// in <c>T</c> it is an infinity, and every exponential that underflowed to 0 gives <c>0 * inf = NaN</c> where the
/// gradient is 0. As <c>((e * First) * Second) * Last</c> every factor is finite and at least 1 in magnitude: 0 stays 0,
/// the powers of two are exact, an element overflows exactly when its value is beyond <c>T</c>'s range, and the
/// element is rounded once, as with one factor.
/// </para>
/// <para>
/// Two powers of two of <c>T</c>'s largest exponent suffice: past them even the smallest subnormal exponential times
/// the coefficient is beyond <c>T</c>'s range, so <see cref="Last"/> is then clamped to <c>T</c>'s largest value.
/// The common path (a coefficient finite in <c>T</c>) pays one comparison per row, or per chunk of a long row.
/// </para>
/// </remarks>
internal readonly struct SplitFactor(double first, double second, double last)
{
    /// <summary>A power of two, at least 1.</summary>
    public double First { get; } = first;

    /// <summary>A power of two, at least 1.</summary>
    public double Second { get; } = second;

    /// <summary>The rest, finite in <c>T</c>, at least 1 in magnitude, with the coefficient's sign.</summary>
    public double Last { get; } = last;

    /// <summary>
    /// Whether the coefficient <paramref name="x"/> <c>*</c> <paramref name="y"/>, which is <paramref name="inT"/> as one
    /// factor in <c>T</c>, must be split: it is an infinity in <c>T</c> although both parts are finite.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsNeeded<T>(T inT, double x, double y)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        T.IsInfinity(inT) && double.IsFinite(x) && double.IsFinite(y);

    /// <summary><paramref name="x"/> <c>*</c> <paramref name="y"/> (both finite and not 0) as factors finite in <c>T</c>.</summary>
    public static SplitFactor Of<T>(double x, double y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // x y = m 2^k exactly, whatever its size: m from the two mantissas, k the sum of the exponents.
        int kx = Math.ILogB(x), ky = Math.ILogB(y);
        double m = Math.ScaleB(x, -kx) * Math.ScaleB(y, -ky);
        int k = kx + ky;
        double largest = double.CreateTruncating(T.BitDecrement(T.PositiveInfinity));
        int top = Math.ILogB(largest);
        int first = Math.Clamp(k, 0, top);
        int second = Math.Clamp(k - first, 0, top);
        double last = Math.Clamp(Math.ScaleB(m, k - first - second), -largest, largest);
        return new SplitFactor(Math.ScaleB(1.0, first), Math.ScaleB(1.0, second), last);
    }

    /// <summary>The factors as vectors of <c>T</c>: returns the last, the powers of two in <paramref name="first"/> and <paramref name="second"/>.</summary>
    public TVec Vectors<TOps, TVec, T>(out TVec first, out TVec second)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        first = TOps.Create(T.CreateTruncating(First));
        second = TOps.Create(T.CreateTruncating(Second));
        return TOps.Create(T.CreateTruncating(Last));
    }

    /// <summary><c>((value * first) * second) * last</c>, or <c>value * last</c> for <see cref="OneFactor"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Times<TOps, TVec, T, TSplit>(TVec value, TVec first, TVec second, TVec last)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TSplit : struct, IFactorSplit =>
        TSplit.IsSplit ? TOps.Multiply(TOps.Multiply(TOps.Multiply(value, first), second), last) : TOps.Multiply(value, last);
}

/// <summary>Whether a write applies the row's coefficient as one factor or as a <see cref="SplitFactor"/> (a compile-time switch).</summary>
internal interface IFactorSplit
{
    static abstract bool IsSplit { get; }
}

/// <summary>The coefficient is finite in <c>T</c>: one multiply.</summary>
internal readonly struct OneFactor : IFactorSplit
{
    public static bool IsSplit => false;
}

/// <summary>The coefficient is beyond <c>T</c>'s range: three multiplies, the cap's derivative applied before them.</summary>
internal readonly struct ThreeFactors : IFactorSplit
{
    public static bool IsSplit => true;
}
