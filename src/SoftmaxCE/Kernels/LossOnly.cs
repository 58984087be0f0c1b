using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>The loss-only write strategy: the statistics pass alone, nothing written.</summary>
internal readonly unsafe struct LossOnly<T> : IWriteStrategy<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool StoresExponentials<TTerm, TFeatures>()
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures => false;

    public static bool StoresMappedLogits<TTerm, TFeatures>()
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures => false;

    /// <summary>Nothing: the row's loss, argmax and log-sum-exp are its outcome.</summary>
    public static void Write<TOps, TVec, TTerm, TFeatures>(
        T* y, T* output, nuint classes, TTerm term, in RowPlan plan, ChunkStats* chunks, nuint chunkLength, in LogitMap<T> map, in RowSummary row)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures
    {
    }
}
