using System;
using System.Runtime.InteropServices;

namespace SoftmaxCE.MatrixMultiply;

/// <summary>
/// Native, 64-byte aligned scratch memory that belongs to one thread and grows to the largest size asked of it, so that a
/// warm call allocates nothing. Freed by the finaliser when its thread ends.
/// </summary>
internal sealed unsafe class ScratchBuffer
{
    private void* _memory;
    private nuint _bytes;

    ~ScratchBuffer()
    {
        NativeMemory.AlignedFree(_memory);
    }

    /// <summary>At least <paramref name="bytes"/> bytes; the previous contents are lost when it grows.</summary>
    public void* Get(nuint bytes)
    {
        if (bytes > _bytes)
        {
            NativeMemory.AlignedFree(_memory);
            _memory = null;
            _bytes = 0;
            _memory = NativeMemory.AlignedAlloc(bytes, 64);
            _bytes = bytes;
        }

        return _memory;
    }

    /// <summary>The bytes held: what the working set of this buffer costs.</summary>
    public nuint Bytes => _bytes;
}

/// <summary>The scratch memory of the current thread: one buffer for the matrix product's packed panels, one for the linear head.</summary>
internal static class ThreadScratch
{
    [ThreadStatic]
    private static ScratchBuffer? t_packing;

    [ThreadStatic]
    private static ScratchBuffer? t_head;

    /// <summary>The packed panels of <see cref="Gemm"/>.</summary>
    public static ScratchBuffer Packing => t_packing ??= new ScratchBuffer();

    /// <summary>The per-call blocks of the fused linear head (owned by the calling thread).</summary>
    public static ScratchBuffer Head => t_head ??= new ScratchBuffer();
}
