using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// Where a loop's vector stores become aligned. A row of a <c>new float[n]</c> starts at any 4-byte offset, and a
/// misaligned vector store then straddles two cache lines (every one of them at 512 bits); an element-wise loop over
/// the output stores one unaligned vector at the start, aligned vectors from <see cref="Lead"/> on, and the usual
/// overlapping last vector, so that its results do not depend on the alignment.
/// </summary>
internal static unsafe class AlignedStores
{
    /// <summary>
    /// How many elements lie between <paramref name="destination"/> and the next address that is a multiple of the
    /// vector's size: 0 when it is one, for the scalar width, and when <paramref name="destination"/> is not even aligned
    /// to <typeparamref name="T"/>; otherwise less than a vector's lane count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nuint Lead<TOps, TVec, T>(T* destination)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        nuint vectorBytes = (nuint)(TOps.Count * sizeof(T));
        Debug.Assert(BitOperations.IsPow2(vectorBytes), "the alignment mask needs a vector of a power of two bytes");
        nuint address = (nuint)destination;
        if (vectorBytes == (nuint)sizeof(T) || address % (nuint)sizeof(T) != 0)
        {
            return 0;
        }

        return ((vectorBytes - (address & (vectorBytes - 1))) & (vectorBytes - 1)) / (nuint)sizeof(T);
    }
}
