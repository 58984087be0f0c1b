using System.Numerics;
using System.Runtime.CompilerServices;
using SoftmaxCE.Kernels;

namespace SoftmaxCE.MatrixMultiply;

/// <summary>
/// The register tile of the matrix product: a <see cref="Rows"/> x <c>2 * TOps.Count</c> block of C held in twelve vector
/// registers while the packed panels of A (broadcast one element at a time) and B (two vectors a step) stream past.
/// </summary>
/// <remarks>
/// Twelve accumulators, two B vectors and one broadcast fit the sixteen registers of AVX2 and leave AVX-512 room to spare;
/// twelve independent fused multiply-adds per step hide the multiply-add latency on both. Every element of C is the sum of
/// its products in increasing <c>k</c>, started from C itself (or zero), so how the caller blocks or splits the product
/// never changes a bit of the result.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class MicroKernel<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows of the register tile (the packed A panel's height).</summary>
    public const int Rows = 6;

    /// <summary>Columns of the register tile (the packed B panel's width): two vectors.</summary>
    public static int Columns => 2 * TOps.Count;

    /// <summary>
    /// <c>C[0..rows, 0..columns) (+)= A * B</c> over <paramref name="depth"/> steps: <paramref name="a"/> holds
    /// <see cref="Rows"/> values a step, <paramref name="b"/> <see cref="Columns"/>. With <paramref name="load"/> the sums
    /// start from C, else from zero. A partial tile goes through a full one on the stack.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int depth, T* a, T* b, T* c, nint ldc, int rows, int columns, bool load)
    {
        int w = TOps.Count;
        int nr = 2 * w;
        T* tile = c;
        nint ld = ldc;
        T* temp = stackalloc T[Rows * 128 / sizeof(T)]; // two 64-byte vectors a row at most
        bool full = rows == Rows && columns == nr;
        if (!full)
        {
            tile = temp;
            ld = nr;
            if (load)
            {
                for (int i = 0; i < rows; i++)
                {
                    for (int j = 0; j < columns; j++)
                    {
                        temp[(i * nr) + j] = c[(i * ldc) + j];
                    }
                }
            }
        }

        TVec c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (load)
        {
            c00 = TOps.Load(tile);
            c01 = TOps.Load(tile + w);
            c10 = TOps.Load(tile + ld);
            c11 = TOps.Load(tile + ld + w);
            c20 = TOps.Load(tile + (2 * ld));
            c21 = TOps.Load(tile + (2 * ld) + w);
            c30 = TOps.Load(tile + (3 * ld));
            c31 = TOps.Load(tile + (3 * ld) + w);
            c40 = TOps.Load(tile + (4 * ld));
            c41 = TOps.Load(tile + (4 * ld) + w);
            c50 = TOps.Load(tile + (5 * ld));
            c51 = TOps.Load(tile + (5 * ld) + w);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = TOps.Zero;
        }

        for (int p = 0; p < depth; p++)
        {
            TVec b0 = TOps.Load(b);
            TVec b1 = TOps.Load(b + w);
            TVec av = TOps.Create(a[0]);
            c00 = TOps.MultiplyAdd(av, b0, c00);
            c01 = TOps.MultiplyAdd(av, b1, c01);
            av = TOps.Create(a[1]);
            c10 = TOps.MultiplyAdd(av, b0, c10);
            c11 = TOps.MultiplyAdd(av, b1, c11);
            av = TOps.Create(a[2]);
            c20 = TOps.MultiplyAdd(av, b0, c20);
            c21 = TOps.MultiplyAdd(av, b1, c21);
            av = TOps.Create(a[3]);
            c30 = TOps.MultiplyAdd(av, b0, c30);
            c31 = TOps.MultiplyAdd(av, b1, c31);
            av = TOps.Create(a[4]);
            c40 = TOps.MultiplyAdd(av, b0, c40);
            c41 = TOps.MultiplyAdd(av, b1, c41);
            av = TOps.Create(a[5]);
            c50 = TOps.MultiplyAdd(av, b0, c50);
            c51 = TOps.MultiplyAdd(av, b1, c51);
            a += Rows;
            b += nr;
        }

        TOps.Store(c00, tile);
        TOps.Store(c01, tile + w);
        TOps.Store(c10, tile + ld);
        TOps.Store(c11, tile + ld + w);
        TOps.Store(c20, tile + (2 * ld));
        TOps.Store(c21, tile + (2 * ld) + w);
        TOps.Store(c30, tile + (3 * ld));
        TOps.Store(c31, tile + (3 * ld) + w);
        TOps.Store(c40, tile + (4 * ld));
        TOps.Store(c41, tile + (4 * ld) + w);
        TOps.Store(c50, tile + (5 * ld));
        TOps.Store(c51, tile + (5 * ld) + w);
        if (!full)
        {
            for (int i = 0; i < rows; i++)
            {
                for (int j = 0; j < columns; j++)
                {
                    c[(i * ldc) + j] = temp[(i * nr) + j];
                }
            }
        }
    }
}
