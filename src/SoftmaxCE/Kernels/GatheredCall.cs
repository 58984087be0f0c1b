using System;
using System.Numerics;
using SoftmaxCE.Internals;

namespace SoftmaxCE.Kernels;

/// <summary>The row-major views of one chunk of positions that a row-major call runs on: gathered copies in scratch, and the caller's per-row arrays from the chunk's first position.</summary>
internal unsafe struct GatheredChunk<T>
    where T : unmanaged
{
    /// <summary>The chunk's logits, <c>[Rows, C]</c>; the output is written over them (in place).</summary>
    public T* Logits;

    /// <summary><see cref="Logits"/> when the call writes an output per element, otherwise null.</summary>
    public T* Output;

    /// <summary>The chunk's dense targets, <c>[Rows, C]</c>, or null.</summary>
    public T* Targets;
    public T* RowLosses;
    public T* LogSumExp;
    public T* RowUpstream;
    public T* RowWeights;
    public int* Labels;
    public int Rows;
}

/// <summary>Builds the row-major call of one operation over one gathered chunk; holds what is the same for every chunk (settings, class weights, class count).</summary>
internal interface IGatheredCallBuilder<T, TCall>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TCall : struct, IWidthCall<T>
{
    TCall Build(in GatheredChunk<T> chunk);
}

/// <summary>What a gathered call reads and writes in the caller's memory (null where absent): the tensors in their <c>[outer, C, inner]</c> layout, the per-position arrays in position order.</summary>
internal unsafe struct GatheredBuffers<T>
    where T : unmanaged
{
    public T* Logits;

    /// <summary>The output tensor (the gradient), written from the chunk's output; it may be <see cref="Logits"/>.</summary>
    public T* Output;
    public T* Targets;
    public T* RowLosses;
    public T* LogSumExp;
    public T* RowUpstream;
    public T* RowWeights;
    public int* Labels;
}

/// <summary>
/// Runs a row-major call on a tensor whose classes lie on another axis (<c>[outer, C, inner]</c>, as <see cref="StridedRows{TOps, TVec, T}"/>),
/// chunk by chunk: the positions of each chunk are gathered into row-major rows in the thread's row scratch
/// (<see cref="ThreadScratch.Rows"/>), the row-major call runs on them in place, and its output is scattered back.
/// </summary>
/// <remarks>
/// The chunks are those <see cref="RowChunks"/> gives the row-major call on the same rows, and a row's results do not depend on
/// where it lies, so the results are bitwise those of the row-major call on a whole gathered copy, for any number of threads;
/// but the scratch is one chunk per thread (about 64 KiB of elements, or one row when a row is longer), not a copy of the
/// tensor. Each position's elements belong to its chunk alone, so the output may be the logits' very memory.
/// </remarks>
internal readonly unsafe struct GatheredCall<T, TBuilder, TCall>(GatheredBuffers<T> buffers, long positions, int classes, long inner, TBuilder builder) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TBuilder : struct, IGatheredCallBuilder<T, TCall>
    where TCall : struct, IWidthCall<T>
{
    private const int LineElements = 64;

    public int Rows => (int)positions;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        GatheredBuffers<T> b = buffers;
        nuint elements = (nuint)rowCount * (nuint)classes;

        // Each chunk starts on a cache line (64 elements cover every element size).
        nuint stride = (elements + (LineElements - 1)) / LineElements * LineElements;
        T* scratch = (T*)ThreadScratch.Rows.Get((b.Targets != null ? 2 * stride : stride) * (nuint)sizeof(T));
        GatheredChunk<T> chunk = default;
        chunk.Rows = rowCount;
        chunk.Logits = scratch;
        Gather(b.Logits, scratch, firstRow, rowCount);
        if (b.Targets != null)
        {
            chunk.Targets = scratch + stride;
            Gather(b.Targets, chunk.Targets, firstRow, rowCount);
        }

        chunk.Output = b.Output != null ? scratch : null;
        chunk.RowLosses = b.RowLosses == null ? null : b.RowLosses + firstRow;
        chunk.LogSumExp = b.LogSumExp == null ? null : b.LogSumExp + firstRow;
        chunk.RowUpstream = b.RowUpstream == null ? null : b.RowUpstream + firstRow;
        chunk.RowWeights = b.RowWeights == null ? null : b.RowWeights + firstRow;
        chunk.Labels = b.Labels == null ? null : b.Labels + firstRow;

        RowTotals totals = builder.Build(chunk).Run<TOps, TVec>(0, rowCount);

        if (b.Output != null)
        {
            Scatter(scratch, b.Output, firstRow, rowCount);
        }

        return totals;
    }

    /// <summary>Copies positions <c>first .. first + count</c> of an <c>[outer, C, inner]</c> tensor into row-major rows.</summary>
    private void Gather(T* tensor, T* rows, long first, int count)
    {
        nuint c = (nuint)classes;
        for (int row = 0; row < count;)
        {
            long position = first + row;
            long n = position / inner;
            long p = position - (n * inner);
            int run = (int)Math.Min(count - row, inner - p);
            T* source = tensor + (((n * classes) * inner) + p);
            T* destination = rows + ((nuint)row * c);
            for (nuint k = 0; k < c; k++)
            {
                T* s = source + ((long)k * inner);
                T* d = destination + k;
                for (int j = 0; j < run; j++)
                {
                    d[(nuint)j * c] = s[j];
                }
            }

            row += run;
        }
    }

    /// <summary>Writes row-major rows back to positions <c>first .. first + count</c> of an <c>[outer, C, inner]</c> tensor.</summary>
    private void Scatter(T* rows, T* tensor, long first, int count)
    {
        nuint c = (nuint)classes;
        for (int row = 0; row < count;)
        {
            long position = first + row;
            long n = position / inner;
            long p = position - (n * inner);
            int run = (int)Math.Min(count - row, inner - p);
            T* destination = tensor + (((n * classes) * inner) + p);
            T* source = rows + ((nuint)row * c);
            for (nuint k = 0; k < c; k++)
            {
                T* d = destination + ((long)k * inner);
                T* s = source + k;
                for (int j = 0; j < run; j++)
                {
                    d[j] = s[(nuint)j * c];
                }
            }

            row += run;
        }
    }
}
