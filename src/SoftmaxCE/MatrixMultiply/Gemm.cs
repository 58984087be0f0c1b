using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;

namespace SoftmaxCE.MatrixMultiply;

/// <summary>
/// A strided matrix operand: element <c>(i, j)</c> is at <c>Data[i * RowStride + j * ColumnStride]</c>, so one type
/// describes a row-major matrix (<c>(ld, 1)</c>) and its transpose (<c>(1, ld)</c>) alike.
/// </summary>
internal readonly unsafe struct MatrixView<T>(T* data, nint rowStride, nint columnStride)
    where T : unmanaged
{
    public T* Data { get; } = data;

    public nint RowStride { get; } = rowStride;

    public nint ColumnStride { get; } = columnStride;

    /// <summary>A row-major matrix with rows <paramref name="ld"/> elements apart.</summary>
    public static MatrixView<T> RowMajor(T* data, nint ld) => new(data, ld, 1);

    /// <summary>The transpose of a row-major matrix with rows <paramref name="ld"/> elements apart.</summary>
    public static MatrixView<T> Transposed(T* data, nint ld) => new(data, 1, ld);
}

/// <summary>
/// The matrix products of the fused linear head, on row-major data: packed, cache-blocked and register-tiled
/// (GotoBLAS's loop nest: <see cref="DepthBlock"/> x <see cref="ColumnBlock"/> panels of B, <see cref="RowBlock"/> x
/// <see cref="DepthBlock"/> blocks of A, and a <see cref="MicroKernel{TOps, TVec, T}"/> tile in registers).
/// </summary>
/// <remarks>
/// <para>
/// Deterministic: every element of C is its products summed in increasing <c>k</c>, one fused multiply-add after the
/// other, starting from C (accumulate) or zero. Threads split C into tiles and never share an element, so the result is
/// bitwise the same for any number of threads, and even for every vector width (each lane sums in the same order).
/// </para>
/// <para>
/// Each thread of a product packs into its own slot of the calling thread's <see cref="ThreadScratch.Packing"/> buffer:
/// at most <c>(RowBlock + ColumnBlock) * DepthBlock</c> elements (1.1 MiB of floats, 2.2 MiB of doubles), less for small
/// products. The buffer belongs to the calling thread, so pool threads keep nothing; the fused linear head gives it back
/// above <see cref="ScratchBuffer.RetainedBytes"/> when it returns.
/// </para>
/// </remarks>
internal static unsafe class Gemm
{
    /// <summary>The depth of a packed panel (<c>k</c> per block): a B micro-panel of it stays in the L1 cache.</summary>
    public const int DepthBlock = 256;

    /// <summary>Rows of A packed at once: the block stays in the L2 cache.</summary>
    public const int RowBlock = 96;

    /// <summary>Columns of B packed at once, and the widest tile a thread takes.</summary>
    public const int ColumnBlock = 1024;

    /// <summary>Below this many multiply-adds a product stays on the calling thread.</summary>
    private const long ParallelMinMultiplyAdds = 1L << 21;

    /// <summary>
    /// The scratch bytes one thread's packing needs for a product of <paramref name="m"/> rows, tiles
    /// <paramref name="stripeWidth"/> columns wide and depth <paramref name="k"/>: a packed B stripe and a packed A block
    /// (rounded up to the micro-kernel's <paramref name="mr"/> rows), a whole number of cache lines.
    /// </summary>
    public static nuint PackingBytes<T>(int m, int stripeWidth, int k, int mr)
        where T : unmanaged
    {
        long elements = (long)(stripeWidth + RoundUp(Math.Min(RowBlock, m), mr)) * Math.Min(DepthBlock, k);
        return (nuint)(((elements * sizeof(T)) + 63) / 64 * 64);
    }

    /// <summary><c>C[m, n] (+)= A[m, k] * B[n, k]^T</c>, all row-major (the logits of a row block: hidden * weight^T).</summary>
    public static void MultiplyTransposedB<T>(int m, int n, int k, T* a, nint lda, T* b, nint ldb, T* c, nint ldc, bool accumulate, int degree)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Multiply(m, n, k, MatrixView<T>.RowMajor(a, lda), MatrixView<T>.Transposed(b, ldb), c, ldc, accumulate, degree);

    /// <summary><c>C[m, n] (+)= A[m, k] * B[k, n]</c>, all row-major (the hidden gradient: G * weight).</summary>
    public static void MultiplyPlain<T>(int m, int n, int k, T* a, nint lda, T* b, nint ldb, T* c, nint ldc, bool accumulate, int degree)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Multiply(m, n, k, MatrixView<T>.RowMajor(a, lda), MatrixView<T>.RowMajor(b, ldb), c, ldc, accumulate, degree);

    /// <summary><c>C[m, n] (+)= A[k, m]^T * B[k, n]</c>, all row-major (the weight gradient: G^T * hidden).</summary>
    public static void MultiplyTransposedA<T>(int m, int n, int k, T* a, nint lda, T* b, nint ldb, T* c, nint ldc, bool accumulate, int degree)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Multiply(m, n, k, MatrixView<T>.Transposed(a, lda), MatrixView<T>.RowMajor(b, ldb), c, ldc, accumulate, degree);

    /// <summary>
    /// <c>C[m, n] = A * B</c> (or <c>C += A * B</c> with <paramref name="accumulate"/>), C row-major with rows
    /// <paramref name="ldc"/> apart, on up to <paramref name="degree"/> threads, with the width of <see cref="WidthDispatch.Current"/>.
    /// </summary>
    public static void Multiply<T>(int m, int n, int k, MatrixView<T> a, MatrixView<T> b, T* c, nint ldc, bool accumulate, int degree)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (WidthDispatch.Current)
        {
            case SimdWidth.Vector512:
                Multiply<Ops512<T>, Vector512<T>, T>(m, n, k, a, b, c, ldc, accumulate, degree);
                break;
            case SimdWidth.Vector256:
                Multiply<Ops256<T>, Vector256<T>, T>(m, n, k, a, b, c, ldc, accumulate, degree);
                break;
            case SimdWidth.Vector128:
                Multiply<Ops128<T>, Vector128<T>, T>(m, n, k, a, b, c, ldc, accumulate, degree);
                break;
            default:
                Multiply<OpsScalar<T>, T, T>(m, n, k, a, b, c, ldc, accumulate, degree);
                break;
        }
    }

    private static void Multiply<TOps, TVec, T>(int m, int n, int k, MatrixView<T> a, MatrixView<T> b, T* c, nint ldc, bool accumulate, int degree)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (m <= 0 || n <= 0)
        {
            return;
        }

        if (k <= 0)
        {
            if (!accumulate)
            {
                for (int i = 0; i < m; i++)
                {
                    new Span<T>(c + (i * ldc), n).Clear();
                }
            }

            return;
        }

        // The tiles: column stripes of at most ColumnBlock, and row groups (multiples of RowBlock) when there are too few
        // stripes to keep every thread busy. The tiling changes which thread computes an element, never its value.
        if ((long)m * n * k < ParallelMinMultiplyAdds)
        {
            degree = 1;
        }

        int stripeWidth = Math.Min(ColumnBlock, RoundUp(n, MicroKernel<TOps, TVec, T>.Columns));
        int stripes = (n + stripeWidth - 1) / stripeWidth;
        int rowBlocks = (m + RowBlock - 1) / RowBlock;
        int groups = degree <= 1 ? 1 : Math.Clamp((4 * degree) / stripes, 1, rowBlocks);
        int groupRows = ((rowBlocks + groups - 1) / groups) * RowBlock;
        groups = (m + groupRows - 1) / groupRows;
        int tasks = stripes * groups;
        nuint slotBytes = PackingBytes<T>(m, stripeWidth, k, MicroKernel<TOps, TVec, T>.Rows);
        byte* packing = (byte*)ThreadScratch.Packing.Get((nuint)ParallelRunner.Degree(degree, tasks) * slotBytes);
        var work = new GemmTiles<TOps, TVec, T>(m, n, k, a, b, c, ldc, accumulate, stripeWidth, stripes, groupRows, packing, slotBytes);
        ParallelRunner.Run(work, tasks, degree);
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>
    /// One tile of C: rows <c>[i0, i1)</c>, columns <c>[j0, j1)</c> (at most <see cref="ColumnBlock"/> wide), packing into
    /// <paramref name="packedB"/> (<see cref="PackingBytes{T}"/> for the tile's product).
    /// </summary>
    [SkipLocalsInit]
    internal static void Tile<TOps, TVec, T>(int i0, int i1, int j0, int j1, int k, MatrixView<T> a, MatrixView<T> b, T* c, nint ldc, bool accumulate, T* packedB)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int mr = MicroKernel<TOps, TVec, T>.Rows;
        int nr = MicroKernel<TOps, TVec, T>.Columns;
        int width = j1 - j0;

        // The packed B stripe holds whole panels of nr columns, Math.Min(DepthBlock, k) steps deep; the A block follows it.
        T* packedA = packedB + ((nint)RoundUp(width, nr) * Math.Min(DepthBlock, k));
        for (int p0 = 0; p0 < k; p0 += DepthBlock)
        {
            int depth = Math.Min(DepthBlock, k - p0);
            bool load = accumulate || p0 > 0;
            PackB<TOps, TVec, T>(b, p0, depth, j0, width, nr, packedB);
            for (int r0 = i0; r0 < i1; r0 += RowBlock)
            {
                int height = Math.Min(RowBlock, i1 - r0);
                PackA(a, r0, height, p0, depth, mr, packedA);
                for (int jr = 0; jr < width; jr += nr)
                {
                    T* bPanel = packedB + (jr * depth);
                    int columns = Math.Min(nr, width - jr);
                    for (int ir = 0; ir < height; ir += mr)
                    {
                        MicroKernel<TOps, TVec, T>.Run(
                            depth, packedA + (ir * depth), bPanel, c + ((r0 + ir) * ldc) + j0 + jr, ldc, Math.Min(mr, height - ir), columns, load);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs rows <c>[r0, r0 + height)</c>, depth <c>[p0, p0 + depth)</c> of A into panels of <paramref name="mr"/> rows,
    /// each stored step by step (<paramref name="mr"/> values a step), zero-padded past the last row.
    /// </summary>
    private static void PackA<T>(MatrixView<T> a, int r0, int height, int p0, int depth, int mr, T* packed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint rs = a.RowStride;
        nint cs = a.ColumnStride;
        for (int ir = 0; ir < height; ir += mr)
        {
            T* panel = packed + (ir * depth);
            int rows = Math.Min(mr, height - ir);
            T* source = a.Data + ((r0 + ir) * rs) + (p0 * cs);
            if (rs == 1 && rows == mr)
            {
                // A transposed (the rows of the panel are contiguous): one short contiguous copy a step.
                for (int p = 0; p < depth; p++)
                {
                    T* s = source + (p * cs);
                    T* d = panel + (p * mr);
                    for (int i = 0; i < mr; i++)
                    {
                        d[i] = s[i];
                    }
                }

                continue;
            }

            for (int i = 0; i < rows; i++)
            {
                T* s = source + (i * rs);
                T* d = panel + i;
                for (int p = 0; p < depth; p++)
                {
                    d[p * mr] = s[p * cs];
                }
            }

            for (int i = rows; i < mr; i++)
            {
                for (int p = 0; p < depth; p++)
                {
                    panel[(p * mr) + i] = T.Zero;
                }
            }
        }
    }

    /// <summary>
    /// Packs depth <c>[p0, p0 + depth)</c>, columns <c>[j0, j0 + width)</c> of B into panels of <paramref name="nr"/>
    /// columns, each stored step by step (<paramref name="nr"/> values a step), zero-padded past the last column.
    /// </summary>
    private static void PackB<TOps, TVec, T>(MatrixView<T> b, int p0, int depth, int j0, int width, int nr, T* packed)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint rs = b.RowStride;
        nint cs = b.ColumnStride;
        int w = TOps.Count;
        for (int jr = 0; jr < width; jr += nr)
        {
            T* panel = packed + (jr * depth);
            int columns = Math.Min(nr, width - jr);
            T* source = b.Data + (p0 * rs) + ((j0 + jr) * cs);
            if (cs == 1 && columns == nr)
            {
                // B row-major: two vectors a step.
                for (int p = 0; p < depth; p++)
                {
                    T* s = source + (p * rs);
                    T* d = panel + (p * nr);
                    TOps.Store(TOps.Load(s), d);
                    TOps.Store(TOps.Load(s + w), d + w);
                }

                continue;
            }

            if (rs == 1 && columns == nr)
            {
                // B transposed (each column contiguous in memory): square blocks through vector registers, then the
                // last steps one by one, so the writes are contiguous and the reads walk nr streams in step.
                int side = Transpose.Side<T>();
                int blocked = 0;
                if (Transpose.IsSupported && nr % side == 0)
                {
                    blocked = depth / side * side;
                    for (int p = 0; p < blocked; p += side)
                    {
                        for (int j = 0; j < nr; j += side)
                        {
                            Transpose.Block(source + p + (j * cs), cs, panel + (p * nr) + j, nr);
                        }
                    }
                }

                for (int p = blocked; p < depth; p++)
                {
                    T* s = source + p;
                    T* d = panel + (p * nr);
                    for (int j = 0; j < nr; j++)
                    {
                        d[j] = s[j * cs];
                    }
                }

                continue;
            }

            // A partial panel: column by column.
            for (int j = 0; j < columns; j++)
            {
                T* s = source + (j * cs);
                T* d = panel + j;
                for (int p = 0; p < depth; p++)
                {
                    d[p * nr] = s[p * rs];
                }
            }

            for (int j = columns; j < nr; j++)
            {
                for (int p = 0; p < depth; p++)
                {
                    panel[(p * nr) + j] = T.Zero;
                }
            }
        }
    }
}

/// <summary>The tiles of one product, numbered stripe-major, for <see cref="ParallelRunner"/>.</summary>
internal readonly unsafe struct GemmTiles<TOps, TVec, T>(
    int m, int n, int k, MatrixView<T> a, MatrixView<T> b, T* c, nint ldc, bool accumulate, int stripeWidth, int stripes, int groupRows, byte* packing, nuint slotBytes) : IParallelWork
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Run(int task, int worker)
    {
        int stripe = task % stripes;
        int group = task / stripes;
        int i0 = group * groupRows;
        int j0 = stripe * stripeWidth;
        T* packed = (T*)(packing + ((nuint)worker * slotBytes));
        Gemm.Tile<TOps, TVec, T>(i0, Math.Min(m, i0 + groupRows), j0, Math.Min(n, j0 + stripeWidth), k, a, b, c, ldc, accumulate, packed);
    }
}
