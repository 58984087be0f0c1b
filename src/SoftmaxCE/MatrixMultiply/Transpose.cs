using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.MatrixMultiply;

/// <summary>
/// Square block transposes for packing a transposed operand (the weight in <c>hidden * weight^T</c>): 8 x 8 floats or
/// 4 x 4 doubles through AVX registers, so the pack costs a few shuffles per vector instead of a scalar copy per element.
/// </summary>
internal static unsafe class Transpose
{
    /// <summary>Whether <see cref="Block{T}"/> runs here (it needs AVX).</summary>
    public static bool IsSupported => Avx.IsSupported;

    /// <summary>The block's side for <typeparamref name="T"/>: one 256-bit vector.</summary>
    public static int Side<T>()
        where T : unmanaged
        => 32 / sizeof(T);

    /// <summary>
    /// Reads <see cref="Side{T}"/> rows of <see cref="Side{T}"/> elements (row <c>c</c> at <c>source + c * sourceStride</c>) and writes
    /// their transpose: row <c>q</c> of the output (at <c>destination + q * destinationStride</c>) holds element <c>q</c> of every input row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Block<T>(T* source, nint sourceStride, T* destination, nint destinationStride)
        where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            Block8((float*)source, sourceStride, (float*)destination, destinationStride);
        }
        else
        {
            Block4((double*)source, sourceStride, (double*)destination, destinationStride);
        }
    }

    // The same 8 x 8 register transpose the short-row kernels use; the strides here are never negative.
    private static void Block8(float* s, nint ss, float* d, nint ds)
        => SoftmaxCE.Kernels.LaneOps.Transpose8(s, (nuint)ss, d, (nuint)ds);

    private static void Block4(double* s, nint ss, double* d, nint ds)
    {
        Vector256<double> r0 = Avx.LoadVector256(s);
        Vector256<double> r1 = Avx.LoadVector256(s + ss);
        Vector256<double> r2 = Avx.LoadVector256(s + (2 * ss));
        Vector256<double> r3 = Avx.LoadVector256(s + (3 * ss));
        Vector256<double> t0 = Avx.UnpackLow(r0, r1);
        Vector256<double> t1 = Avx.UnpackHigh(r0, r1);
        Vector256<double> t2 = Avx.UnpackLow(r2, r3);
        Vector256<double> t3 = Avx.UnpackHigh(r2, r3);
        Avx.Store(d, Avx.Permute2x128(t0, t2, 0x20));
        Avx.Store(d + ds, Avx.Permute2x128(t1, t3, 0x20));
        Avx.Store(d + (2 * ds), Avx.Permute2x128(t0, t2, 0x31));
        Avx.Store(d + (3 * ds), Avx.Permute2x128(t1, t3, 0x31));
    }
}
