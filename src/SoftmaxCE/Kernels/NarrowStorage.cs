using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SoftmaxCE.Internals;

namespace SoftmaxCE.Kernels;

/// <summary>
/// A 16-bit storage format whose values the float kernels compute on: how a block of them widens to float
/// (exactly) and how float results narrow back (rounded once, to nearest even).
/// </summary>
/// <typeparam name="TStorage">The stored element type.</typeparam>
/// <remarks>
/// Adding a format (BFloat16 once .NET 11 brings <c>System.Numerics.BFloat16</c>) is one new struct implementing this
/// interface (a widening that shifts the 16 bits into the top half of a float, a narrowing that rounds to nearest even)
/// and one type check at the entry points that routes <c>T</c> to <see cref="NarrowCall{TStorage, TConvert, TBuilder, TCall}"/>
/// with it: the kernels, the chunking and the scratch are shared.
/// </remarks>
internal interface IStorageConversion<TStorage>
    where TStorage : unmanaged
{
    static abstract void Widen(ReadOnlySpan<TStorage> source, Span<float> destination);

    static abstract void Narrow(ReadOnlySpan<float> source, Span<TStorage> destination);
}

/// <summary>
/// IEEE binary16: by the F16C instructions where <see cref="F16cRoutines"/> has them, otherwise a vector of values at a time
/// (512, 256 or 128 bits) with integer and float vector operations (<see cref="TensorPrimitives.ConvertToSingle(ReadOnlySpan{Half}, Span{float})"/> /
/// <see cref="TensorPrimitives.ConvertToHalf(ReadOnlySpan{float}, Span{Half})"/> are slower still); both give the same bits.
/// </summary>
/// <remarks>
/// The arithmetic path. Widening: the 15 exponent and mantissa bits shifted into a float's place and multiplied by 2^112 rebias the exponent, and
/// turn a subnormal Half into the right normal float, exactly; an exponent that was all ones becomes 255 (infinity, NaN).
/// Narrowing, round to nearest even: a normal result adds the rounding bias <c>0xFFF + (odd mantissa)</c> before dropping 13
/// bits; a subnormal result lets the float adder round (adding 0.5 aligns the 10 kept bits at the bottom); beyond 65520 is
/// infinity and NaN stays NaN (quiet). The last vector overlaps the one before; fewer than one vector runs the scalar casts.
/// </remarks>
internal readonly unsafe struct HalfConversion : IStorageConversion<Half>
{
    private const uint Magic = (254 - 15) << 23;          // 2^112
    private const uint WasInfNan = (127 + 16) << 23;      // 2^16: an all-ones Half exponent, after the multiply
    private const uint HalfOverflow = (127 + 16) << 23;   // floats from here on are infinity or NaN in Half
    private const uint SubnormalBelow = 113 << 23;        // 2^-14, Half's smallest normal
    private const uint DenormMagic = ((127 - 15) + (23 - 10) + 1) << 23; // 0.5

    public static void Widen(ReadOnlySpan<Half> source, Span<float> destination)
    {
        if (F16cRoutines.IsAvailable && source.Length >= 16)
        {
            fixed (Half* h = source)
            fixed (float* f = destination)
            {
                F16cRoutines.Widen((ushort*)h, f, source.Length);
                return;
            }
        }

        WidenArithmetic(source, destination);
    }

    public static void Narrow(ReadOnlySpan<float> source, Span<Half> destination)
    {
        if (F16cRoutines.IsAvailable && source.Length >= 16)
        {
            fixed (float* f = source)
            fixed (Half* h = destination)
            {
                F16cRoutines.Narrow(f, (ushort*)h, source.Length);
                return;
            }
        }

        NarrowArithmetic(source, destination);
    }

    /// <summary>The widening in vector arithmetic, where <see cref="F16cRoutines"/> is not available (and for the tests).</summary>
    internal static void WidenArithmetic(ReadOnlySpan<Half> source, Span<float> destination)
    {
        int n = source.Length;
        fixed (Half* h = source)
        fixed (float* f = destination)
        {
            ushort* s = (ushort*)h;
            if (WidenAt<Width512>(s, f, n) || WidenAt<Width256>(s, f, n) || WidenAt<Width128>(s, f, n))
            {
                return;
            }

            for (int i = 0; i < n; i++)
            {
                f[i] = (float)h[i];
            }
        }
    }

    /// <summary>The narrowing in vector arithmetic, where <see cref="F16cRoutines"/> is not available (and for the tests).</summary>
    internal static void NarrowArithmetic(ReadOnlySpan<float> source, Span<Half> destination)
    {
        int n = source.Length;
        fixed (float* f = source)
        fixed (Half* h = destination)
        {
            ushort* d = (ushort*)h;
            if (NarrowAt<Width512>(f, d, n) || NarrowAt<Width256>(f, d, n) || NarrowAt<Width128>(f, d, n))
            {
                return;
            }

            for (int i = 0; i < n; i++)
            {
                h[i] = (Half)f[i];
            }
        }
    }

    /// <summary>
    /// Widens all <paramref name="n"/> values a <typeparamref name="TWidth"/> vector of Half bits at a time, the last vector
    /// overlapping the one before; false (nothing done) where that width is not accelerated or longer than the data.
    /// </summary>
    private static bool WidenAt<TWidth>(ushort* source, float* destination, int n)
        where TWidth : struct, IHalfWidth
    {
        if (!TWidth.IsAccelerated || n < TWidth.Count)
        {
            return false;
        }

        int last = n - TWidth.Count;
        for (int i = 0; ; i += TWidth.Count)
        {
            int at = Math.Min(i, last);
            TWidth.Widen(source + at, destination + at);
            if (at == last)
            {
                return true;
            }
        }
    }

    /// <summary>The narrowing counterpart of <see cref="WidenAt{TWidth}"/>.</summary>
    private static bool NarrowAt<TWidth>(float* source, ushort* destination, int n)
        where TWidth : struct, IHalfWidth
    {
        if (!TWidth.IsAccelerated || n < TWidth.Count)
        {
            return false;
        }

        int last = n - TWidth.Count;
        for (int i = 0; ; i += TWidth.Count)
        {
            int at = Math.Min(i, last);
            TWidth.Narrow(source + at, destination + at);
            if (at == last)
            {
                return true;
            }
        }
    }

    /// <summary>One vector width of the arithmetic conversions: a vector of Half bits (two float vectors) per step.</summary>
    private interface IHalfWidth
    {
        static abstract bool IsAccelerated { get; }

        /// <summary>Half values per step.</summary>
        static abstract int Count { get; }

        static abstract void Widen(ushort* source, float* destination);

        static abstract void Narrow(float* source, ushort* destination);
    }

    private readonly struct Width512 : IHalfWidth
    {
        public static bool IsAccelerated => Vector512.IsHardwareAccelerated;

        public static int Count => Vector512<ushort>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Widen(ushort* source, float* destination)
        {
            (Vector512<uint> lo, Vector512<uint> hi) = Vector512.Widen(Vector512.Load(source));
            HalfConversion.Widen(lo).Store(destination);
            HalfConversion.Widen(hi).Store(destination + Vector512<uint>.Count);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Narrow(float* source, ushort* destination) =>
            Vector512.Narrow(HalfConversion.Narrow(Vector512.Load(source).AsUInt32()), HalfConversion.Narrow(Vector512.Load(source + Vector512<uint>.Count).AsUInt32())).Store(destination);
    }

    private readonly struct Width256 : IHalfWidth
    {
        public static bool IsAccelerated => Vector256.IsHardwareAccelerated;

        public static int Count => Vector256<ushort>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Widen(ushort* source, float* destination)
        {
            (Vector256<uint> lo, Vector256<uint> hi) = Vector256.Widen(Vector256.Load(source));
            HalfConversion.Widen(lo).Store(destination);
            HalfConversion.Widen(hi).Store(destination + Vector256<uint>.Count);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Narrow(float* source, ushort* destination) =>
            Vector256.Narrow(HalfConversion.Narrow(Vector256.Load(source).AsUInt32()), HalfConversion.Narrow(Vector256.Load(source + Vector256<uint>.Count).AsUInt32())).Store(destination);
    }

    private readonly struct Width128 : IHalfWidth
    {
        public static bool IsAccelerated => Vector128.IsHardwareAccelerated;

        public static int Count => Vector128<ushort>.Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Widen(ushort* source, float* destination)
        {
            (Vector128<uint> lo, Vector128<uint> hi) = Vector128.Widen(Vector128.Load(source));
            HalfConversion.Widen(lo).Store(destination);
            HalfConversion.Widen(hi).Store(destination + Vector128<uint>.Count);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Narrow(float* source, ushort* destination) =>
            Vector128.Narrow(HalfConversion.Narrow(Vector128.Load(source).AsUInt32()), HalfConversion.Narrow(Vector128.Load(source + Vector128<uint>.Count).AsUInt32())).Store(destination);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen(Vector512<uint> h)
    {
        Vector512<float> magnitude = ((h & Vector512.Create(0x7FFFu)) << 13).AsSingle() * Vector512.Create(Magic).AsSingle();
        Vector512<uint> infNan = Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(WasInfNan).AsSingle()).AsUInt32() & Vector512.Create(255u << 23);
        Vector512<uint> quiet = Vector512.GreaterThan(h & Vector512.Create(0x7FFFu), Vector512.Create(0x7C00u)) & Vector512.Create(1u << 22);
        return (magnitude.AsUInt32() | infNan | quiet | ((h & Vector512.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Widen(Vector256<uint> h)
    {
        Vector256<float> magnitude = ((h & Vector256.Create(0x7FFFu)) << 13).AsSingle() * Vector256.Create(Magic).AsSingle();
        Vector256<uint> infNan = Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(WasInfNan).AsSingle()).AsUInt32() & Vector256.Create(255u << 23);
        Vector256<uint> quiet = Vector256.GreaterThan(h & Vector256.Create(0x7FFFu), Vector256.Create(0x7C00u)) & Vector256.Create(1u << 22);
        return (magnitude.AsUInt32() | infNan | quiet | ((h & Vector256.Create(0x8000u)) << 16)).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Widen(Vector128<uint> h)
    {
        Vector128<float> magnitude = ((h & Vector128.Create(0x7FFFu)) << 13).AsSingle() * Vector128.Create(Magic).AsSingle();
        Vector128<uint> infNan = Vector128.GreaterThanOrEqual(magnitude, Vector128.Create(WasInfNan).AsSingle()).AsUInt32() & Vector128.Create(255u << 23);
        Vector128<uint> quiet = Vector128.GreaterThan(h & Vector128.Create(0x7FFFu), Vector128.Create(0x7C00u)) & Vector128.Create(1u << 22);
        return (magnitude.AsUInt32() | infNan | quiet | ((h & Vector128.Create(0x8000u)) << 16)).AsSingle();
    }

    /// <summary>Half bits in the low 16 bits of each lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Narrow(Vector512<uint> u)
    {
        Vector512<uint> sign = u & Vector512.Create(0x80000000u);
        Vector512<uint> a = u ^ sign;
        Vector512<uint> big = Vector512.ConditionalSelect(
            Vector512.GreaterThan(a, Vector512.Create(0x7F800000u)), Vector512.Create(0x7E00u), Vector512.Create(0x7C00u));
        Vector512<uint> small = (a.AsSingle() + Vector512.Create(DenormMagic).AsSingle()).AsUInt32() - Vector512.Create(DenormMagic);
        Vector512<uint> odd = (a >>> 13) & Vector512<uint>.One;
        Vector512<uint> normal = (a + Vector512.Create(unchecked((uint)((15 - 127) << 23)) + 0xFFFu) + odd) >>> 13;
        Vector512<uint> r = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(SubnormalBelow)), small, normal);
        r = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(a, Vector512.Create(HalfOverflow)), big, r);
        return r | (sign >>> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Narrow(Vector256<uint> u)
    {
        Vector256<uint> sign = u & Vector256.Create(0x80000000u);
        Vector256<uint> a = u ^ sign;
        Vector256<uint> big = Vector256.ConditionalSelect(
            Vector256.GreaterThan(a, Vector256.Create(0x7F800000u)), Vector256.Create(0x7E00u), Vector256.Create(0x7C00u));
        Vector256<uint> small = (a.AsSingle() + Vector256.Create(DenormMagic).AsSingle()).AsUInt32() - Vector256.Create(DenormMagic);
        Vector256<uint> odd = (a >>> 13) & Vector256<uint>.One;
        Vector256<uint> normal = (a + Vector256.Create(unchecked((uint)((15 - 127) << 23)) + 0xFFFu) + odd) >>> 13;
        Vector256<uint> r = Vector256.ConditionalSelect(Vector256.LessThan(a, Vector256.Create(SubnormalBelow)), small, normal);
        r = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(HalfOverflow)), big, r);
        return r | (sign >>> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Narrow(Vector128<uint> u)
    {
        Vector128<uint> sign = u & Vector128.Create(0x80000000u);
        Vector128<uint> a = u ^ sign;
        Vector128<uint> big = Vector128.ConditionalSelect(
            Vector128.GreaterThan(a, Vector128.Create(0x7F800000u)), Vector128.Create(0x7E00u), Vector128.Create(0x7C00u));
        Vector128<uint> small = (a.AsSingle() + Vector128.Create(DenormMagic).AsSingle()).AsUInt32() - Vector128.Create(DenormMagic);
        Vector128<uint> odd = (a >>> 13) & Vector128<uint>.One;
        Vector128<uint> normal = (a + Vector128.Create(unchecked((uint)((15 - 127) << 23)) + 0xFFFu) + odd) >>> 13;
        Vector128<uint> r = Vector128.ConditionalSelect(Vector128.LessThan(a, Vector128.Create(SubnormalBelow)), small, normal);
        r = Vector128.ConditionalSelect(Vector128.GreaterThanOrEqual(a, Vector128.Create(HalfOverflow)), big, r);
        return r | (sign >>> 16);
    }
}

/// <summary>The float views of one chunk of rows that a float call runs on: scratch, or the caller's own memory where it is float already.</summary>
internal unsafe struct FloatChunk
{
    public float* Logits;
    public float* Output;
    public float* Targets;
    public float* RowLosses;
    public float* LogSumExp;
    public float* RowUpstream;
    public float* RowWeights;
    public float* ClassWeights;
    public int* Labels;
    public int* Predictions;
    public int Rows;
}

/// <summary>Builds the float call of one operation over one chunk; holds what is the same for every chunk (settings, class count).</summary>
internal interface IFloatCallBuilder<TCall>
    where TCall : struct, IWidthCall<float>
{
    TCall Build(in FloatChunk chunk);
}

/// <summary>What a narrow call reads and writes, in the caller's memory (null where absent).</summary>
/// <typeparam name="TStorage">The stored element type.</typeparam>
internal unsafe struct NarrowBuffers<TStorage>
    where TStorage : unmanaged
{
    public TStorage* Logits;
    public TStorage* Output;
    public TStorage* Targets;
    public TStorage* RowLosses;

    /// <summary>The log-sum-exp in the storage format, read (<see cref="ReadsLogSumExp"/>) or written.</summary>
    public TStorage* LogSumExp;

    /// <summary>The log-sum-exp kept in float (the float-statistics overloads), read or written in place.</summary>
    public float* FloatLogSumExp;

    public bool ReadsLogSumExp;

    /// <summary>Whether the float call needs a second chunk-sized scratch (handed over as <see cref="FloatChunk.Targets"/>) when there are no targets.</summary>
    public bool NeedsSpare;
    public TStorage* RowUpstream;
    public TStorage* RowWeights;

    /// <summary>The class weights widened once per call (they are read at random by label, so they are not chunked).</summary>
    public float* ClassWeights;
    public int* Labels;
    public int* Predictions;
}

/// <summary>
/// Runs a float call on 16-bit storage, chunk by chunk: each chunk of rows (the same chunks as <see cref="RowChunks"/> gives
/// float, 64 KiB of floats) is widened into a per-thread float scratch that stays in the core's cache, the float kernels run
/// on it unchanged (in place there), and each output is narrowed back once.
/// </summary>
/// <remarks>
/// <para>
/// Accuracy: widening is exact, so the float results are those the float methods give for the widened inputs; each stored
/// result is then rounded once to the storage format. No intermediate is ever rounded to 16 bits (the gradient's
/// exponentials and their rescale stay in float scratch), and the loss sums stay in double as for float.
/// </para>
/// <para>
/// Threads: <see cref="RowChunks"/> hands the chunks out; every thread owns its scratch, so the results are bitwise the same
/// for any degree of parallelism. A thread keeps its scratch between calls up to <see cref="ScratchBuffer.RetainedBytes"/>
/// (512 KiB: a chunk of rows of up to about 130000 classes, with labels), so that a warm call allocates nothing; a call
/// with larger chunks allocates once per thread and gives the memory back when its rows are done.
/// </para>
/// </remarks>
internal readonly unsafe struct NarrowCall<TStorage, TConvert, TBuilder, TCall>(NarrowBuffers<TStorage> buffers, int rows, int classes, TBuilder builder)
    : IWidthCall<float>
    where TStorage : unmanaged
    where TConvert : struct, IStorageConversion<TStorage>
    where TBuilder : struct, IFloatCallBuilder<TCall>
    where TCall : struct, IWidthCall<float>
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, float>
        where TVec : unmanaged
    {
        int elements = rowCount * classes;
        nint offset = (nint)firstRow * classes;
        ChunkScratch scratch = ChunkScratch.ForThisThread(elements, rowCount, buffers.Targets != null || buffers.NeedsSpare);
        NarrowBuffers<TStorage> b = buffers;
        FloatChunk chunk = default;
        chunk.Rows = rowCount;
        chunk.Logits = scratch.Values;
        TConvert.Widen(new ReadOnlySpan<TStorage>(b.Logits + offset, elements), new Span<float>(scratch.Values, elements));
        if (b.Targets != null)
        {
            chunk.Targets = scratch.Targets;
            TConvert.Widen(new ReadOnlySpan<TStorage>(b.Targets + offset, elements), new Span<float>(scratch.Targets, elements));
        }
        else if (b.NeedsSpare)
        {
            chunk.Targets = scratch.Targets;
        }

        // The float kernels may run in place: the output overwrites the widened logits in scratch.
        chunk.Output = b.Output != null ? scratch.Values : null;
        chunk.RowLosses = b.RowLosses != null ? scratch.RowLosses : null;
        chunk.RowWeights = Widened(b.RowWeights, firstRow, rowCount, scratch.RowWeights);
        chunk.RowUpstream = Widened(b.RowUpstream, firstRow, rowCount, scratch.RowUpstream);
        if (b.FloatLogSumExp != null)
        {
            chunk.LogSumExp = b.FloatLogSumExp + firstRow;
        }
        else if (b.LogSumExp != null)
        {
            chunk.LogSumExp = b.ReadsLogSumExp ? Widened(b.LogSumExp, firstRow, rowCount, scratch.LogSumExp) : scratch.LogSumExp;
        }

        chunk.ClassWeights = b.ClassWeights;
        chunk.Labels = b.Labels == null ? null : b.Labels + firstRow;
        chunk.Predictions = b.Predictions == null ? null : b.Predictions + firstRow;

        PrefetchNextChunk(b.Logits + offset + elements, Math.Min(rowCount, rows - (firstRow + rowCount)) * classes);
        RowTotals totals = builder.Build(chunk).Run<TOps, TVec>(0, rowCount);

        if (b.Output != null)
        {
            TConvert.Narrow(new ReadOnlySpan<float>(scratch.Values, elements), new Span<TStorage>(b.Output + offset, elements));
        }

        if (b.RowLosses != null)
        {
            TConvert.Narrow(new ReadOnlySpan<float>(scratch.RowLosses, rowCount), new Span<TStorage>(b.RowLosses + firstRow, rowCount));
        }

        if (b.LogSumExp != null && !b.ReadsLogSumExp && b.FloatLogSumExp == null)
        {
            TConvert.Narrow(new ReadOnlySpan<float>(scratch.LogSumExp, rowCount), new Span<TStorage>(b.LogSumExp + firstRow, rowCount));
        }

        return totals;
    }

    /// <summary>
    /// Asks for the next chunk's 16-bit logits while the float kernels compute on this one: the layer runs in phases (widen,
    /// compute, narrow), and without this the memory sits idle through the compute phase and the next widening waits for
    /// it (about 10% of a Half call at vocabulary sizes, measured in one process against the same call without it; neutral
    /// on chunks that are in cache). Prefetches never fault, and the count stops at the last row.
    /// </summary>
    private static void PrefetchNextChunk(TStorage* next, int count)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        byte* start = (byte*)next;
        nint bytes = (nint)count * sizeof(TStorage);
        for (nint at = 0; at < bytes; at += 64)
        {
            Sse.Prefetch0(start + at);
        }
    }

    private static float* Widened(TStorage* source, int firstRow, int rowCount, float* scratch)
    {
        if (source == null)
        {
            return null;
        }

        TConvert.Widen(new ReadOnlySpan<TStorage>(source + firstRow, rowCount), new Span<float>(scratch, rowCount));
        return scratch;
    }
}

/// <summary>
/// Log-softmax of float rows for narrow storage, in place: <c>(z_k - max) - log1p(sum_{k != argmax} exp(z_k - max))</c>.
/// </summary>
/// <remarks>
/// The float kernels compute <c>z_k - LSE</c>, whose error is a float ulp of <c>|LSE|</c>: for a log-probability near 0 (a
/// near-certain class) that is several Half ulps of the result (at logits near 65504, a float ulp is 0.004). Here the two terms
/// have the same sign, and the sum of the other exponentials is kept apart from the 1 of the maximum, so every result is
/// within a float ulp or so of itself and rounds once to within one Half ulp of the exact value.
/// </remarks>
internal readonly unsafe struct AccurateLogSoftmaxCall(float* logits, float* spare, int rows, int classes, double logitScale, double softcap) : IWidthCall<float>
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, float>
        where TVec : unmanaged
    {
        Span<float> exps = new(spare, classes);
        for (int r = firstRow; r < firstRow + rowCount; r++)
        {
            Span<float> z = new(logits + ((nint)r * classes), classes);
            if (softcap != 0)
            {
                TensorPrimitives.Multiply(z, (float)(logitScale / softcap), z);
                TensorPrimitives.Tanh(z, z);
                TensorPrimitives.Multiply(z, (float)softcap, z);
            }
            else if (logitScale != 1)
            {
                TensorPrimitives.Multiply(z, (float)logitScale, z);
            }

            float max = TensorPrimitives.Max(z);
            if (!float.IsFinite(max))
            {
                // A NaN, a row of only -inf (no distribution), or +inf (inf - inf): NaN, as the float kernels give.
                z.Fill(float.NaN);
                continue;
            }

            TensorPrimitives.Subtract(z, max, z);
            TensorPrimitives.Exp(z, exps);
            exps[TensorPrimitives.IndexOfMax(z)] = 0;
            float logSum = (float)double.LogP1(TensorPrimitives.Sum(exps));
            TensorPrimitives.Subtract(z, logSum, z);
        }

        return default;
    }
}

/// <summary>
/// One thread's float scratch for <see cref="NarrowCall{TStorage, TConvert, TBuilder, TCall}"/>: a chunk of values (logits,
/// then the output in place), a chunk of targets, and four row-sized arrays, each starting on a cache line, carved from the
/// thread's row buffer (<see cref="ThreadScratch.Rows"/>): kept between calls up to <see cref="ScratchBuffer.RetainedBytes"/>,
/// so warm calls allocate nothing, and given back when the call is done above it.
/// </summary>
internal readonly unsafe struct ChunkScratch
{
    private const int LineFloats = 64 / sizeof(float);

    private ChunkScratch(float* values, float* targets, float* rows, nuint rowStride)
    {
        Values = values;
        Targets = targets;
        RowLosses = rows;
        LogSumExp = rows + rowStride;
        RowUpstream = rows + (2 * rowStride);
        RowWeights = rows + (3 * rowStride);
    }

    public float* Values { get; }

    public float* Targets { get; }

    public float* RowLosses { get; }

    public float* LogSumExp { get; }

    public float* RowUpstream { get; }

    public float* RowWeights { get; }

    public static ChunkScratch ForThisThread(int elements, int rows, bool targets)
    {
        nuint chunk = Lines(elements);
        nuint rowStride = Lines(rows);
        nuint floats = (targets ? 2 * chunk : chunk) + (4 * rowStride);
        float* p = (float*)ThreadScratch.Rows.Get(floats * sizeof(float));
        float* t = targets ? p + chunk : null;
        return new ChunkScratch(p, t, p + (targets ? 2 * chunk : chunk), rowStride);
    }

    /// <summary>
    /// The class weights widened to float on the calling thread, for one call (its workers only read them; the caller
    /// waits for them before it returns, a thread runs one call at a time, and <see cref="RowChunks"/> gives a buffer above
    /// the cap back only when the call's rows are done).
    /// </summary>
    public static float* ClassWeights<TStorage, TConvert>(ReadOnlySpan<TStorage> weights)
        where TStorage : unmanaged
        where TConvert : struct, IStorageConversion<TStorage>
    {
        if (weights.IsEmpty)
        {
            return null;
        }

        float* p = (float*)ThreadScratch.ClassWeights.Get(Lines(weights.Length) * sizeof(float));
        TConvert.Widen(weights, new Span<float>(p, weights.Length));
        return p;
    }

    /// <summary><paramref name="count"/> floats rounded up to whole cache lines.</summary>
    private static nuint Lines(int count) => ((nuint)count + (LineFloats - 1)) / LineFloats * LineFloats;
}
