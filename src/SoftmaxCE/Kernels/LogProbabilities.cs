using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The log-probabilities write strategy: after the statistics pass (which writes nothing), a second pass over the
/// logits writes <c>y' - LSE</c>; in place it reads each vector before it overwrites it.
/// </summary>
internal readonly unsafe struct LogProbabilities<T> : IWriteStrategy<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool StoresExponentials<TTerm, TFeatures>()
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures => false;

    public static bool StoresMappedLogits<TTerm, TFeatures>()
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures => false;

    /// <summary>The row's log-probabilities.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write<TOps, TVec, TTerm, TFeatures>(
        T* y, T* output, nuint classes, TTerm term, in RowPlan plan, ChunkStats* chunks, nuint chunkLength, in LogitMap<T> map, in RowSummary row)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures =>
        SubtractAll<TOps, TVec, TFeatures>(y, output, classes, TOps.Create(T.CreateTruncating(row.Outcome.LogSumExp)), map);

    /// <summary><c>out = y' - lse</c> with <c>y'</c> the mapped logits; <paramref name="output"/> may be <paramref name="y"/>.</summary>
    private static void SubtractAll<TOps, TVec, TFeatures>(T* y, T* output, nuint length, TVec lse, in LogitMap<T> map)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        nuint count = (nuint)TOps.Count;
        nuint full = length - (length % count);
        TVec tail = full != length ? Load<TOps, TVec, TFeatures>(y + length - count, map) : TOps.Zero;
        for (nuint i = 0; i < full; i += count)
        {
            TOps.Store(TOps.Subtract(Load<TOps, TVec, TFeatures>(y + i, map), lse), output + i);
        }

        if (full != length)
        {
            TOps.Store(TOps.Subtract(tail, lse), output + length - count);
        }
    }

    /// <summary>A vector of logits, scaled and soft-capped when the features say so.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TVec Load<TOps, TVec, TFeatures>(T* source, in LogitMap<T> map)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
        => map.Apply<TOps, TVec, TFeatures>(TOps.Load(source));
}
