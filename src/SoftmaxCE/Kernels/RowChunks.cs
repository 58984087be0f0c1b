using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using SoftmaxCE.Internals;

namespace SoftmaxCE.Kernels;

/// <summary>
/// Splits a call's rows into fixed chunks and runs them on the calling thread or, through <see cref="ParallelRunner"/>, on
/// the thread pool.
/// </summary>
/// <remarks>
/// <para>
/// Reproducibility: the chunks depend only on the number of classes, never on the number of threads, and
/// each chunk's loss sum is kept apart and added up in chunk order at the end. So a call gives bitwise the
/// same loss, gradient and row losses with 1, 2 or N threads, and from run to run, whatever the scheduling.
/// </para>
/// <para>
/// Small calls stay on the calling thread: below <see cref="ParallelMinElements"/> the cost of waking a pool
/// thread (a few microseconds) is larger than what it saves (see <c>ParallelThresholdBenchmarks</c>).
/// </para>
/// </remarks>
internal static class RowChunks
{
    /// <summary>About this many elements per chunk (64 KiB of floats): small enough to balance, large enough that a chunk's fixed cost is noise.</summary>
    public const int ChunkElements = 16384;

    /// <summary>
    /// Calls with fewer elements run on the calling thread only: below this size, waking a worker costs about what
    /// it saves, and 16 Ki elements are a single chunk that cannot be shared anyway. <c>ParallelThresholdBenchmarks</c>
    /// measures where a second thread starts to pay (its committed results are the evidence for this value).
    /// Settable for that benchmark only.
    /// </summary>
    internal static long ParallelMinElements { get; set; } = DefaultParallelMinElements;

    /// <summary>The default of <see cref="ParallelMinElements"/>: 64 Ki elements (256 KiB of floats).</summary>
    public const long DefaultParallelMinElements = 1 << 16;

    /// <summary>Rows per chunk for rows of <paramref name="classes"/>; a multiple of 16 where the short-row block kernel serves them, so its blocks never straddle chunks.</summary>
    public static int RowsPerChunk(int classes)
    {
        int rows = Math.Max(1, ChunkElements / classes);
        return classes <= ShortRowsLanes.MaxClasses ? (rows + 15) / 16 * 16 : rows;
    }

    /// <summary>
    /// Runs every row of <paramref name="call"/> with at most <paramref name="maxDegreeOfParallelism"/> threads
    /// (0: all cores) and returns the sums of the row losses and correct predictions, added chunk by chunk in order.
    /// </summary>
    public static unsafe RowTotals Run<T, TCall>(in TCall call, int maxDegreeOfParallelism)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TCall : struct, IWidthCall<T>
    {
        SimdWidth width = WidthDispatch.Current;
        int rows = call.Rows;
        int rowsPerChunk = RowsPerChunk(call.Classes);
        Debug.Assert(
            call.Classes > ShortRowsLanes.MaxClasses || rowsPerChunk % 16 == 0,
            "rows the short-row block kernel serves come in chunks of whole 16-row blocks, whole W-row blocks at every width");
        int chunks = (int)(((long)rows + rowsPerChunk - 1) / rowsPerChunk);
        int degree = (long)rows * call.Classes < ParallelMinElements ? 1 : ParallelRunner.Degree(maxDegreeOfParallelism, chunks);
        if (degree <= 1)
        {
            try
            {
                RowTotals total = default;
                for (int c = 0; c < chunks; c++)
                {
                    int first = c * rowsPerChunk;
                    Debug.Assert(first < rows, "a chunk starts inside the call");
                    total.Add(WidthDispatch.Run<T, TCall>(call, width, first, Math.Min(rowsPerChunk, rows - first)));
                }

                return total;
            }
            finally
            {
                // The call's rows are done: scratch above the cap goes back (the runner does the same on each worker).
                ThreadScratch.ReleaseRowBuffers();
            }
        }

        // Each chunk's sums are kept apart and added in chunk order, whichever thread ran it. They live on the stack, or
        // for calls of many chunks in native memory that is freed before the call returns (the runner returns only once
        // no worker is inside a chunk).
        RowTotals* onStack = stackalloc RowTotals[StackChunks];
        RowTotals* sums = chunks <= StackChunks ? onStack : (RowTotals*)NativeMemory.Alloc((nuint)chunks, (nuint)sizeof(RowTotals));
        try
        {
            ParallelRunner.Run(new ChunkWork<T, TCall>(call, width, rowsPerChunk, sums), chunks, degree);
            RowTotals total = default;
            for (int c = 0; c < chunks; c++)
            {
                total.Add(sums[c]);
            }

            return total;
        }
        finally
        {
            ThreadScratch.ReleaseRowBuffers();
            if (sums != onStack)
            {
                NativeMemory.Free(sums);
            }
        }
    }

    /// <summary>Chunks whose sums fit on the stack (a call of more chunks keeps them in native memory).</summary>
    private const int StackChunks = 128;

    /// <summary>The chunks of one call as numbered tasks: chunk <c>c</c> runs its rows and writes its sums to <c>sums[c]</c>.</summary>
    private readonly unsafe struct ChunkWork<T, TCall>(TCall call, SimdWidth width, int rowsPerChunk, RowTotals* sums) : IParallelWork
        where T : unmanaged, IFloatingPointIeee754<T>
        where TCall : struct, IWidthCall<T>
    {
        public void Run(int task, int worker)
        {
            int first = task * rowsPerChunk;
            Debug.Assert(first < call.Rows, "a chunk starts inside the call");
            sums[task] = WidthDispatch.Run<T, TCall>(call, width, first, Math.Min(rowsPerChunk, call.Rows - first));
        }
    }
}
