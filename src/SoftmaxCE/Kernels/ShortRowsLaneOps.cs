using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.Kernels;

/// <summary>
/// What the rows-across-lanes kernel needs beyond <see cref="ISimdOps{TVec, T}"/>: a logarithm of the row sums, labels
/// as lanes, a sum of lanes in double, and the in-register transposes. Each is generic over the vector type and picks
/// its width with <c>typeof</c> tests, which the JIT folds away for each specialisation.
/// </summary>
[SkipLocalsInit]
internal static unsafe class LaneOps
{
    /// <summary>Whether <see cref="Transpose{TVec, T}"/> runs in registers for this vector type on this machine.</summary>
    public static bool CanTranspose<TVec, T>()
        where TVec : unmanaged
        where T : unmanaged =>
        (typeof(TVec) == typeof(Vector512<float>) && Avx512F.IsSupported)
        || (typeof(TVec) == typeof(Vector256<float>) && Avx.IsSupported)
        || (typeof(TVec) == typeof(Vector128<float>) && Sse.IsSupported);

    /// <summary>
    /// Reads the <c>W x W</c> block whose row <c>i</c> starts at <c>source + i * sourceStride</c> and writes its transpose,
    /// row <c>i</c> at <c>destination + i * destinationStride</c>, rows in increasing order. Every row is read before any
    /// is written, so the destination may be the source.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Transpose<TVec, T>(T* source, nuint sourceStride, T* destination, nuint destinationStride)
        where TVec : unmanaged
        where T : unmanaged
    {
        if (typeof(TVec) == typeof(Vector512<float>))
        {
            Transpose16((float*)source, sourceStride, (float*)destination, destinationStride);
        }
        else if (typeof(TVec) == typeof(Vector256<float>))
        {
            Transpose8((float*)source, sourceStride, (float*)destination, destinationStride);
        }
        else if (typeof(TVec) == typeof(Vector128<float>))
        {
            Transpose4((float*)source, sourceStride, (float*)destination, destinationStride);
        }
    }

    /// <summary>
    /// <c>ln(x)</c> for the sums of exponentials (0 or at least 1: the row maximum adds exactly 1). 0 gives negative
    /// infinity, NaN gives NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Log<TVec, T>(TVec x)
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(TVec) == typeof(Vector512<float>))
        {
            return Unsafe.BitCast<Vector512<float>, TVec>(LogSingle(Unsafe.BitCast<TVec, Vector512<float>>(x)));
        }

        if (typeof(TVec) == typeof(Vector256<float>))
        {
            return Unsafe.BitCast<Vector256<float>, TVec>(LogSingle(Unsafe.BitCast<TVec, Vector256<float>>(x)));
        }

        if (typeof(TVec) == typeof(Vector128<float>))
        {
            return Unsafe.BitCast<Vector128<float>, TVec>(LogSingle(Unsafe.BitCast<TVec, Vector128<float>>(x)));
        }

        if (typeof(TVec) == typeof(Vector512<double>))
        {
            return Unsafe.BitCast<Vector512<double>, TVec>(Vector512.Log(Unsafe.BitCast<TVec, Vector512<double>>(x)));
        }

        if (typeof(TVec) == typeof(Vector256<double>))
        {
            return Unsafe.BitCast<Vector256<double>, TVec>(Vector256.Log(Unsafe.BitCast<TVec, Vector256<double>>(x)));
        }

        if (typeof(TVec) == typeof(Vector128<double>))
        {
            return Unsafe.BitCast<Vector128<double>, TVec>(Vector128.Log(Unsafe.BitCast<TVec, Vector128<double>>(x)));
        }

        // One lane: the vector is the element.
        return Unsafe.BitCast<T, TVec>(T.Log(Unsafe.BitCast<TVec, T>(x)));
    }

    /// <summary>
    /// <paramref name="value"/> in the lanes where <paramref name="mask"/> is set (all bits), 0 elsewhere, NaN included:
    /// one AND, where a <c>ConditionalSelect</c> with a zero vector compiled to three instructions and a zeroing.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec ZeroUnless<TOps, TVec, T>(TVec mask, TVec value)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(TVec) == typeof(Vector512<T>))
        {
            return Unsafe.BitCast<Vector512<T>, TVec>(Unsafe.BitCast<TVec, Vector512<T>>(mask) & Unsafe.BitCast<TVec, Vector512<T>>(value));
        }

        if (typeof(TVec) == typeof(Vector256<T>))
        {
            return Unsafe.BitCast<Vector256<T>, TVec>(Unsafe.BitCast<TVec, Vector256<T>>(mask) & Unsafe.BitCast<TVec, Vector256<T>>(value));
        }

        if (typeof(TVec) == typeof(Vector128<T>))
        {
            return Unsafe.BitCast<Vector128<T>, TVec>(Unsafe.BitCast<TVec, Vector128<T>>(mask) & Unsafe.BitCast<TVec, Vector128<T>>(value));
        }

        return TOps.Select(mask, value, TOps.Zero);
    }

    /// <summary>The sum of the lanes, each widened to double first.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumToDouble<TVec, T>(TVec x)
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(TVec) == typeof(Vector512<float>))
        {
            Vector512<float> v = Unsafe.BitCast<TVec, Vector512<float>>(x);
            return Vector512.Sum(Vector512.WidenLower(v) + Vector512.WidenUpper(v));
        }

        if (typeof(TVec) == typeof(Vector256<float>))
        {
            Vector256<float> v = Unsafe.BitCast<TVec, Vector256<float>>(x);
            return Vector256.Sum(Vector256.WidenLower(v) + Vector256.WidenUpper(v));
        }

        if (typeof(TVec) == typeof(Vector128<float>))
        {
            Vector128<float> v = Unsafe.BitCast<TVec, Vector128<float>>(x);
            return Vector128.Sum(Vector128.WidenLower(v) + Vector128.WidenUpper(v));
        }

        if (typeof(TVec) == typeof(Vector512<double>))
        {
            return Vector512.Sum(Unsafe.BitCast<TVec, Vector512<double>>(x));
        }

        if (typeof(TVec) == typeof(Vector256<double>))
        {
            return Vector256.Sum(Unsafe.BitCast<TVec, Vector256<double>>(x));
        }

        if (typeof(TVec) == typeof(Vector128<double>))
        {
            return Vector128.Sum(Unsafe.BitCast<TVec, Vector128<double>>(x));
        }

        return double.CreateTruncating(Unsafe.BitCast<TVec, T>(x));
    }

    /// <summary>
    /// Loads the labels of <c>W</c> rows as lanes of <typeparamref name="T"/> (exact: labels are below 2^24), with -1
    /// for an ignored row, whether each row is ignored, and whether its label is outside <c>[0, classes)</c> and not ignored
    /// (masks: all bits set). Each label is loaded once; a label out of range is only ever compared, never used as an index.
    /// </summary>
    /// <returns>True when it handled this vector type; false leaves the work to the caller's per-lane loop.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryLoadLabels<TVec, T>(int* labels, int ignoreIndex, bool hasIgnoreIndex, int classes, out TVec label, out TVec ignored, out TVec outOfRange)
        where TVec : unmanaged
        where T : unmanaged
    {
        if (typeof(TVec) == typeof(Vector512<float>))
        {
            Vector512<int> raw = Vector512.Load(labels);
            Vector512<int> drop = hasIgnoreIndex ? Vector512.Equals(raw, Vector512.Create(ignoreIndex)) : Vector512<int>.Zero;
            Vector512<int> outside = Vector512.AndNot(Vector512.GreaterThanOrEqual(raw.AsUInt32(), Vector512.Create((uint)classes)).AsInt32(), drop);
            label = Unsafe.BitCast<Vector512<float>, TVec>(Vector512.ConvertToSingle(Vector512.ConditionalSelect(drop | outside, Vector512.Create(-1), raw)));
            ignored = Unsafe.BitCast<Vector512<int>, TVec>(drop);
            outOfRange = Unsafe.BitCast<Vector512<int>, TVec>(outside);
            return true;
        }

        if (typeof(TVec) == typeof(Vector256<float>))
        {
            Vector256<int> raw = Vector256.Load(labels);
            Vector256<int> drop = hasIgnoreIndex ? Vector256.Equals(raw, Vector256.Create(ignoreIndex)) : Vector256<int>.Zero;
            Vector256<int> outside = Vector256.AndNot(Vector256.GreaterThanOrEqual(raw.AsUInt32(), Vector256.Create((uint)classes)).AsInt32(), drop);
            label = Unsafe.BitCast<Vector256<float>, TVec>(Vector256.ConvertToSingle(Vector256.ConditionalSelect(drop | outside, Vector256.Create(-1), raw)));
            ignored = Unsafe.BitCast<Vector256<int>, TVec>(drop);
            outOfRange = Unsafe.BitCast<Vector256<int>, TVec>(outside);
            return true;
        }

        if (typeof(TVec) == typeof(Vector128<float>))
        {
            Vector128<int> raw = Vector128.Load(labels);
            Vector128<int> drop = hasIgnoreIndex ? Vector128.Equals(raw, Vector128.Create(ignoreIndex)) : Vector128<int>.Zero;
            Vector128<int> outside = Vector128.AndNot(Vector128.GreaterThanOrEqual(raw.AsUInt32(), Vector128.Create((uint)classes)).AsInt32(), drop);
            label = Unsafe.BitCast<Vector128<float>, TVec>(Vector128.ConvertToSingle(Vector128.ConditionalSelect(drop | outside, Vector128.Create(-1), raw)));
            ignored = Unsafe.BitCast<Vector128<int>, TVec>(drop);
            outOfRange = Unsafe.BitCast<Vector128<int>, TVec>(outside);
            return true;
        }

        label = default;
        ignored = default;
        outOfRange = default;
        return false;
    }

    /// <summary>
    /// The single-precision logarithm for <see cref="Log{TVec, T}"/>, about 15 instructions: <c>x = 2^e m</c>, <c>m</c>
    /// folded into [0.707, 1.414), then <c>ln m = 2 atanh(r)</c> with <c>r = (m - 1) / (m + 1)</c>, <c>|r| &lt; 0.172</c>,
    /// by its series to <c>r^7</c> (truncation below 2e-8). <c>Vector512.Log</c> cost a quarter of a whole call at C = 3.
    /// The multiply-adds are <c>MultiplyAddEstimate</c>: fused where the machine has FMA, a multiply and an add where it
    /// has not (<c>FusedMultiplyAdd</c> is then emulated lane by lane in software, dozens of times slower).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> LogSingle(Vector512<float> x)
    {
        Vector512<float> e, m;
        if (Avx512F.IsSupported)
        {
            // vgetexpps / vgetmantps: NaN, infinity and 0 come out as NaN, infinity and negative infinity.
            e = Avx512F.GetExponent(x);
            m = Avx512F.GetMantissa(x, 0);
        }
        else
        {
            Vector512<int> bits = x.AsInt32();
            e = Vector512.ConvertToSingle((bits >>> 23) - Vector512.Create(127));
            m = ((bits & Vector512.Create(0x007FFFFF)) | Vector512.Create(0x3F800000)).AsSingle();
        }

        Vector512<float> high = Vector512.GreaterThan(m, Vector512.Create(1.41421356f));
        m = Vector512.ConditionalSelect(high, m * 0.5f, m);
        e = Vector512.ConditionalSelect(high, e + Vector512<float>.One, e);
        Vector512<float> r = (m - Vector512<float>.One) / (m + Vector512<float>.One);
        Vector512<float> r2 = r * r;
        Vector512<float> p = Vector512.MultiplyAddEstimate(r2, Vector512.Create(2f / 7), Vector512.Create(2f / 5));
        p = Vector512.MultiplyAddEstimate(p, r2, Vector512.Create(2f / 3));
        p = Vector512.MultiplyAddEstimate(p, r2, Vector512.Create(2f));
        Vector512<float> result = Vector512.MultiplyAddEstimate(e, Vector512.Create(0.693147180559945f), p * r);
        if (!Avx512F.IsSupported)
        {
            result = Vector512.ConditionalSelect(Vector512.Equals(x, Vector512<float>.Zero), Vector512.Create(float.NegativeInfinity), result);
            result = Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
        }

        return result;
    }

    /// <inheritdoc cref="LogSingle(Vector512{float})"/>
    /// <remarks>The exponent and mantissa come from the bits, valid for the normal numbers the sums are (at least 1);
    /// 0 and NaN are mapped afterwards.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LogSingle(Vector256<float> x)
    {
        Vector256<int> bits = x.AsInt32();
        Vector256<float> e = Vector256.ConvertToSingle((bits >>> 23) - Vector256.Create(127));
        Vector256<float> m = ((bits & Vector256.Create(0x007FFFFF)) | Vector256.Create(0x3F800000)).AsSingle();
        Vector256<float> high = Vector256.GreaterThan(m, Vector256.Create(1.41421356f));
        m = Vector256.ConditionalSelect(high, m * 0.5f, m);
        e = Vector256.ConditionalSelect(high, e + Vector256<float>.One, e);
        Vector256<float> r = (m - Vector256<float>.One) / (m + Vector256<float>.One);
        Vector256<float> r2 = r * r;
        Vector256<float> p = Vector256.MultiplyAddEstimate(r2, Vector256.Create(2f / 7), Vector256.Create(2f / 5));
        p = Vector256.MultiplyAddEstimate(p, r2, Vector256.Create(2f / 3));
        p = Vector256.MultiplyAddEstimate(p, r2, Vector256.Create(2f));
        Vector256<float> result = Vector256.MultiplyAddEstimate(e, Vector256.Create(0.693147180559945f), p * r);
        result = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<float>.Zero), Vector256.Create(float.NegativeInfinity), result);
        return Vector256.ConditionalSelect(Vector256.Equals(x, x), result, x);
    }

    /// <inheritdoc cref="LogSingle(Vector256{float})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> LogSingle(Vector128<float> x)
    {
        Vector128<int> bits = x.AsInt32();
        Vector128<float> e = Vector128.ConvertToSingle((bits >>> 23) - Vector128.Create(127));
        Vector128<float> m = ((bits & Vector128.Create(0x007FFFFF)) | Vector128.Create(0x3F800000)).AsSingle();
        Vector128<float> high = Vector128.GreaterThan(m, Vector128.Create(1.41421356f));
        m = Vector128.ConditionalSelect(high, m * 0.5f, m);
        e = Vector128.ConditionalSelect(high, e + Vector128<float>.One, e);
        Vector128<float> r = (m - Vector128<float>.One) / (m + Vector128<float>.One);
        Vector128<float> r2 = r * r;
        Vector128<float> p = Vector128.MultiplyAddEstimate(r2, Vector128.Create(2f / 7), Vector128.Create(2f / 5));
        p = Vector128.MultiplyAddEstimate(p, r2, Vector128.Create(2f / 3));
        p = Vector128.MultiplyAddEstimate(p, r2, Vector128.Create(2f));
        Vector128<float> result = Vector128.MultiplyAddEstimate(e, Vector128.Create(0.693147180559945f), p * r);
        result = Vector128.ConditionalSelect(Vector128.Equals(x, Vector128<float>.Zero), Vector128.Create(float.NegativeInfinity), result);
        return Vector128.ConditionalSelect(Vector128.Equals(x, x), result, x);
    }

    /// <summary>16 x 16 floats: four rounds of 16 shuffles, in registers.</summary>
    /// <remarks>Written out in full: as loops over an array of vectors, the JIT kept every step in memory.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16(float* s, nuint ss, float* d, nuint ds)
    {
        Vector512<float> r0 = Vector512.Load(s);
        Vector512<float> r1 = Vector512.Load(s + ss);
        Vector512<float> r2 = Vector512.Load(s + (2 * ss));
        Vector512<float> r3 = Vector512.Load(s + (3 * ss));
        Vector512<float> r4 = Vector512.Load(s + (4 * ss));
        Vector512<float> r5 = Vector512.Load(s + (5 * ss));
        Vector512<float> r6 = Vector512.Load(s + (6 * ss));
        Vector512<float> r7 = Vector512.Load(s + (7 * ss));
        Vector512<float> r8 = Vector512.Load(s + (8 * ss));
        Vector512<float> r9 = Vector512.Load(s + (9 * ss));
        Vector512<float> r10 = Vector512.Load(s + (10 * ss));
        Vector512<float> r11 = Vector512.Load(s + (11 * ss));
        Vector512<float> r12 = Vector512.Load(s + (12 * ss));
        Vector512<float> r13 = Vector512.Load(s + (13 * ss));
        Vector512<float> r14 = Vector512.Load(s + (14 * ss));
        Vector512<float> r15 = Vector512.Load(s + (15 * ss));

        // Interleave 32-bit lanes of row pairs.
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1);
        Vector512<float> t1 = Avx512F.UnpackHigh(r0, r1);
        Vector512<float> t2 = Avx512F.UnpackLow(r2, r3);
        Vector512<float> t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5);
        Vector512<float> t5 = Avx512F.UnpackHigh(r4, r5);
        Vector512<float> t6 = Avx512F.UnpackLow(r6, r7);
        Vector512<float> t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9);
        Vector512<float> t9 = Avx512F.UnpackHigh(r8, r9);
        Vector512<float> t10 = Avx512F.UnpackLow(r10, r11);
        Vector512<float> t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13);
        Vector512<float> t13 = Avx512F.UnpackHigh(r12, r13);
        Vector512<float> t14 = Avx512F.UnpackLow(r14, r15);
        Vector512<float> t15 = Avx512F.UnpackHigh(r14, r15);

        // Interleave 64-bit lanes: u[4q + c] holds, in 128-bit lane j, class 4j + c of rows 4q .. 4q + 3.
        Vector512<float> u0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle();
        Vector512<float> u1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        Vector512<float> u2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle();
        Vector512<float> u3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        Vector512<float> u4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle();
        Vector512<float> u5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        Vector512<float> u6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle();
        Vector512<float> u7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        Vector512<float> u8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle();
        Vector512<float> u9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
        Vector512<float> u10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle();
        Vector512<float> u11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
        Vector512<float> u12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle();
        Vector512<float> u13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
        Vector512<float> u14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle();
        Vector512<float> u15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();

        // Gather 128-bit lanes: 0x88 takes (a0, a2, b0, b2), 0xDD takes (a1, a3, b1, b3).
        t0 = Avx512F.Shuffle4x128(u0, u4, 0x88);
        t4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        t8 = Avx512F.Shuffle4x128(u8, u12, 0x88);
        t12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        t1 = Avx512F.Shuffle4x128(u1, u5, 0x88);
        t5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        t9 = Avx512F.Shuffle4x128(u9, u13, 0x88);
        t13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        t2 = Avx512F.Shuffle4x128(u2, u6, 0x88);
        t6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        t10 = Avx512F.Shuffle4x128(u10, u14, 0x88);
        t14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        t3 = Avx512F.Shuffle4x128(u3, u7, 0x88);
        t7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        t11 = Avx512F.Shuffle4x128(u11, u15, 0x88);
        t15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);

        Avx512F.Shuffle4x128(t0, t8, 0x88).Store(d);
        Avx512F.Shuffle4x128(t1, t9, 0x88).Store(d + ds);
        Avx512F.Shuffle4x128(t2, t10, 0x88).Store(d + (2 * ds));
        Avx512F.Shuffle4x128(t3, t11, 0x88).Store(d + (3 * ds));
        Avx512F.Shuffle4x128(t4, t12, 0x88).Store(d + (4 * ds));
        Avx512F.Shuffle4x128(t5, t13, 0x88).Store(d + (5 * ds));
        Avx512F.Shuffle4x128(t6, t14, 0x88).Store(d + (6 * ds));
        Avx512F.Shuffle4x128(t7, t15, 0x88).Store(d + (7 * ds));
        Avx512F.Shuffle4x128(t0, t8, 0xDD).Store(d + (8 * ds));
        Avx512F.Shuffle4x128(t1, t9, 0xDD).Store(d + (9 * ds));
        Avx512F.Shuffle4x128(t2, t10, 0xDD).Store(d + (10 * ds));
        Avx512F.Shuffle4x128(t3, t11, 0xDD).Store(d + (11 * ds));
        Avx512F.Shuffle4x128(t4, t12, 0xDD).Store(d + (12 * ds));
        Avx512F.Shuffle4x128(t5, t13, 0xDD).Store(d + (13 * ds));
        Avx512F.Shuffle4x128(t6, t14, 0xDD).Store(d + (14 * ds));
        Avx512F.Shuffle4x128(t7, t15, 0xDD).Store(d + (15 * ds));
    }

    /// <summary>8 x 8 floats with AVX: 8 unpacks, 8 in-lane shuffles, 8 cross-lane permutes.</summary>
    /// <remarks>Also packs the transposed weight of the linear head's matrix product (<c>MatrixMultiply/Transpose.cs</c>).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8(float* s, nuint ss, float* d, nuint ds)
    {
        Vector256<float> r0 = Vector256.Load(s);
        Vector256<float> r1 = Vector256.Load(s + ss);
        Vector256<float> r2 = Vector256.Load(s + (2 * ss));
        Vector256<float> r3 = Vector256.Load(s + (3 * ss));
        Vector256<float> r4 = Vector256.Load(s + (4 * ss));
        Vector256<float> r5 = Vector256.Load(s + (5 * ss));
        Vector256<float> r6 = Vector256.Load(s + (6 * ss));
        Vector256<float> r7 = Vector256.Load(s + (7 * ss));

        Vector256<float> t0 = Avx.UnpackLow(r0, r1);
        Vector256<float> t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3);
        Vector256<float> t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5);
        Vector256<float> t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7);
        Vector256<float> t7 = Avx.UnpackHigh(r6, r7);

        // 0x44 takes elements (0, 1) of each source in each 128-bit half, 0xEE elements (2, 3).
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44);
        Vector256<float> u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44);
        Vector256<float> u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44);
        Vector256<float> u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44);
        Vector256<float> u7 = Avx.Shuffle(t5, t7, 0xEE);

        // 0x20 joins the low halves, 0x31 the high halves.
        Avx.Permute2x128(u0, u4, 0x20).Store(d);
        Avx.Permute2x128(u1, u5, 0x20).Store(d + ds);
        Avx.Permute2x128(u2, u6, 0x20).Store(d + (2 * ds));
        Avx.Permute2x128(u3, u7, 0x20).Store(d + (3 * ds));
        Avx.Permute2x128(u0, u4, 0x31).Store(d + (4 * ds));
        Avx.Permute2x128(u1, u5, 0x31).Store(d + (5 * ds));
        Avx.Permute2x128(u2, u6, 0x31).Store(d + (6 * ds));
        Avx.Permute2x128(u3, u7, 0x31).Store(d + (7 * ds));
    }

    /// <summary>4 x 4 floats with SSE: 4 unpacks, 4 moves of 64-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4(float* s, nuint ss, float* d, nuint ds)
    {
        Vector128<float> r0 = Vector128.Load(s);
        Vector128<float> r1 = Vector128.Load(s + ss);
        Vector128<float> r2 = Vector128.Load(s + (2 * ss));
        Vector128<float> r3 = Vector128.Load(s + (3 * ss));
        Vector128<float> t0 = Sse.UnpackLow(r0, r1);  // r00 r10 r01 r11
        Vector128<float> t1 = Sse.UnpackLow(r2, r3);  // r20 r30 r21 r31
        Vector128<float> t2 = Sse.UnpackHigh(r0, r1); // r02 r12 r03 r13
        Vector128<float> t3 = Sse.UnpackHigh(r2, r3); // r22 r32 r23 r33
        Sse.MoveLowToHigh(t0, t1).Store(d);
        Sse.MoveHighToLow(t1, t0).Store(d + ds);
        Sse.MoveLowToHigh(t2, t3).Store(d + (2 * ds));
        Sse.MoveHighToLow(t3, t2).Store(d + (3 * ds));
    }
}
