using System.Runtime.InteropServices;
using System.Threading;

namespace SoftmaxCE.Internals;

/// <summary>
/// Native, 64-byte aligned scratch memory that belongs to one thread (<see cref="ThreadScratch"/>). Up to
/// <see cref="RetainedBytes"/> it is kept from call to call, so that a warm call allocates nothing; a larger request is
/// served for one call only, and <see cref="Release"/>, which the thread calls once its share of the call is done, frees
/// it. What is kept is freed by the finaliser when the thread ends.
/// </summary>
internal sealed unsafe class ScratchBuffer
{
    /// <summary>
    /// The most a buffer keeps between calls: 512 KiB, 131072 floats, so that the Half layer's chunk (one row at vocabulary
    /// sizes) stays allocated for rows of up to about 130000 classes (Llama 3's 128256), with labels.
    /// </summary>
    public const nuint RetainedBytes = 512 * 1024;

    private static long s_heldBytes;

    private void* _memory;
    private nuint _bytes;

    ~ScratchBuffer()
    {
        Free();
    }

    /// <summary>The bytes every scratch buffer of the process holds at this moment.</summary>
    public static long HeldBytes => Interlocked.Read(ref s_heldBytes);

    /// <summary>The bytes this buffer holds.</summary>
    public nuint Bytes => _bytes;

    /// <summary>At least <paramref name="bytes"/> bytes; the previous contents are lost when it grows.</summary>
    public void* Get(nuint bytes)
    {
        if (bytes > _bytes)
        {
            Free();
            _memory = NativeMemory.AlignedAlloc(bytes, 64);
            _bytes = bytes;
            Interlocked.Add(ref s_heldBytes, (long)bytes);
        }

        return _memory;
    }

    /// <summary>Frees the memory if it is more than <see cref="RetainedBytes"/>. Only between calls: nothing may point into it.</summary>
    public void Release()
    {
        if (_bytes > RetainedBytes)
        {
            Free();
        }
    }

    private void Free()
    {
        if (_memory != null)
        {
            NativeMemory.AlignedFree(_memory);
            _memory = null;
            Interlocked.Add(ref s_heldBytes, -(long)_bytes);
            _bytes = 0;
        }
    }
}
