using System;

namespace SoftmaxCE.Internals;

/// <summary>
/// Every scratch buffer the library keeps on a thread between calls, each at most <see cref="ScratchBuffer.RetainedBytes"/>
/// (the soft-cap chunk is 8 KiB): what a thread holds after a call returns, whatever the call's size.
/// </summary>
/// <remarks>
/// A call larger than that allocates what it needs above the cap once per thread that takes part, and frees it when that
/// thread's share is done: <see cref="ReleaseRowBuffers"/> (called by <c>RowChunks</c> on every thread that ran chunks) and
/// <see cref="ReleaseMatrixBuffers"/> (called by the fused linear head when it returns).
/// </remarks>
internal static class ThreadScratch
{
    [ThreadStatic]
    private static ScratchBuffer? t_rows;

    [ThreadStatic]
    private static ScratchBuffer? t_classWeights;

    [ThreadStatic]
    private static ScratchBuffer? t_softcapChunk;

    [ThreadStatic]
    private static ScratchBuffer? t_packing;

    [ThreadStatic]
    private static ScratchBuffer? t_head;

    /// <summary>One chunk of rows in row-major form: Half rows widened to float, or the positions of a class-axis tensor gathered.</summary>
    public static ScratchBuffer Rows => t_rows ??= new ScratchBuffer();

    /// <summary>The class weights of a Half call widened to float, on the calling thread, for the call.</summary>
    public static ScratchBuffer ClassWeights => t_classWeights ??= new ScratchBuffer();

    /// <summary>The soft-capped logits of one chunk of a row between the statistics pass's two loops.</summary>
    public static ScratchBuffer SoftcapChunk => t_softcapChunk ??= new ScratchBuffer();

    /// <summary>The packed panels of every thread of one matrix product, on its calling thread.</summary>
    public static ScratchBuffer Packing => t_packing ??= new ScratchBuffer();

    /// <summary>The per-call blocks of the fused linear head, on its calling thread.</summary>
    public static ScratchBuffer Head => t_head ??= new ScratchBuffer();

    /// <summary>The bytes the current thread's buffers hold.</summary>
    public static long HeldBytes =>
        (long)((t_rows?.Bytes ?? 0) + (t_classWeights?.Bytes ?? 0) + (t_softcapChunk?.Bytes ?? 0) + (t_packing?.Bytes ?? 0) + (t_head?.Bytes ?? 0));

    /// <summary>Frees the row buffers above the cap: the current thread's share of a row call is done.</summary>
    public static void ReleaseRowBuffers()
    {
        t_rows?.Release();
        t_classWeights?.Release();
    }

    /// <summary>Frees the matrix buffers above the cap: the current thread's fused linear head call is done.</summary>
    public static void ReleaseMatrixBuffers()
    {
        t_packing?.Release();
        t_head?.Release();
    }
}
