using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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

/// <summary>IEEE binary16: <see cref="TensorPrimitives"/> converts with the hardware's vector instructions where it can.</summary>
internal readonly struct HalfConversion : IStorageConversion<Half>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Widen(ReadOnlySpan<Half> source, Span<float> destination) => TensorPrimitives.ConvertToSingle(source, destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Narrow(ReadOnlySpan<float> source, Span<Half> destination) => TensorPrimitives.ConvertToHalf(source, destination);
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
/// for any degree of parallelism. Once a thread's scratch is as large as the widest chunk it has seen, a call allocates nothing.
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
        ChunkScratch scratch = ChunkScratch.ForThisThread(elements, rowCount, buffers.Targets != null);
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
/// One thread's float scratch for <see cref="NarrowCall{TStorage, TConvert, TBuilder, TCall}"/>: a chunk of values (logits,
/// then the output in place), a chunk of targets, and four row-sized arrays. Pinned, aligned to 64 bytes, grown on demand
/// and kept for the thread's life, so warm calls allocate nothing.
/// </summary>
internal sealed unsafe class ChunkScratch
{
    private const int Alignment = 64;

    [ThreadStatic]
    private static ChunkScratch? t_scratch;

    [ThreadStatic]
    private static float[]? t_classWeights;

    private float[] _values = [];
    private float[] _targets = [];
    private float[] _rows = [];

    public float* Values { get; private set; }

    public float* Targets { get; private set; }

    public float* RowLosses { get; private set; }

    public float* LogSumExp { get; private set; }

    public float* RowUpstream { get; private set; }

    public float* RowWeights { get; private set; }

    public static ChunkScratch ForThisThread(int elements, int rows, bool targets)
    {
        ChunkScratch scratch = t_scratch ??= new ChunkScratch();
        scratch.Ensure(elements, rows, targets);
        return scratch;
    }

    /// <summary>
    /// The class weights widened to float on the calling thread, for one call (its workers only read them; the caller
    /// waits for them before it returns, and a thread runs one call at a time).
    /// </summary>
    public static float* ClassWeights<TStorage, TConvert>(ReadOnlySpan<TStorage> weights)
        where TStorage : unmanaged
        where TConvert : struct, IStorageConversion<TStorage>
    {
        if (weights.IsEmpty)
        {
            return null;
        }

        float[] buffer = t_classWeights ?? [];
        if (buffer.Length < weights.Length + (Alignment / sizeof(float)))
        {
            buffer = GC.AllocateUninitializedArray<float>(weights.Length + (Alignment / sizeof(float)), pinned: true);
            t_classWeights = buffer;
        }

        float* p = Aligned(buffer);
        TConvert.Widen(weights, new Span<float>(p, weights.Length));
        return p;
    }

    private void Ensure(int elements, int rows, bool targets)
    {
        int padded = elements + (Alignment / sizeof(float));
        if (_values.Length < padded)
        {
            _values = GC.AllocateUninitializedArray<float>(padded, pinned: true);
            Values = Aligned(_values);
        }

        if (targets && _targets.Length < padded)
        {
            _targets = GC.AllocateUninitializedArray<float>(padded, pinned: true);
            Targets = Aligned(_targets);
        }

        // Four row arrays, each starting on its own cache line.
        int rowStride = (rows + 15) / 16 * 16;
        if (_rows.Length < (4 * rowStride) + (Alignment / sizeof(float)))
        {
            _rows = GC.AllocateUninitializedArray<float>((4 * rowStride) + (Alignment / sizeof(float)), pinned: true);
        }

        float* r = Aligned(_rows);
        RowLosses = r;
        LogSumExp = r + rowStride;
        RowUpstream = r + (2 * rowStride);
        RowWeights = r + (3 * rowStride);
    }

    private static float* Aligned(float[] pinned)
    {
        nuint address = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
        return (float*)((address + (Alignment - 1)) & ~(nuint)(Alignment - 1));
    }
}
