using System;
using System.Diagnostics;
using System.Numerics;
using System.Runtime.ExceptionServices;
using System.Threading;

namespace SoftmaxCE.Kernels;

/// <summary>
/// Splits a call's rows into fixed chunks and runs them on the calling thread or on the thread pool.
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
    public static RowTotals Run<T, TCall>(in TCall call, int maxDegreeOfParallelism)
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
        int degree = Degree(maxDegreeOfParallelism, chunks, (long)rows * call.Classes);
        if (degree <= 1)
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

        return ParallelRun<T, TCall>.Run(call, width, rowsPerChunk, chunks, degree);
    }

    private static int Degree(int maxDegreeOfParallelism, int chunks, long elements)
    {
        if (maxDegreeOfParallelism == 1 || chunks <= 1 || elements < ParallelMinElements)
        {
            return 1;
        }

        int cores = Environment.ProcessorCount;
        int degree = maxDegreeOfParallelism <= 0 ? cores : maxDegreeOfParallelism;
        return Math.Min(degree, chunks);
    }

    /// <summary>
    /// The state of one parallel call, cached per calling thread (and per call type) so that a call allocates
    /// nothing once warm: the chunk counter, the per-chunk sums, and the event the caller waits on.
    /// </summary>
    /// <remarks>It lives as long as its thread, so its event is never disposed (there is no point at which it could be).</remarks>
#pragma warning disable CA1001
    private sealed class ParallelRun<T, TCall> : IThreadPoolWorkItem
#pragma warning restore CA1001
        where T : unmanaged, IFloatingPointIeee754<T>
        where TCall : struct, IWidthCall<T>
    {
        [ThreadStatic]
        private static ParallelRun<T, TCall>? t_cached;

        private readonly ManualResetEventSlim _done = new(false);
        private RowTotals[] _sums = [];
        private TCall _call;
        private SimdWidth _width;
        private int _rowsPerChunk;
        private int _chunks;
        private int _nextChunk;
        private int _pendingWorkers;
        private Exception? _failure;

        public static RowTotals Run(in TCall call, SimdWidth width, int rowsPerChunk, int chunks, int degree)
        {
            ParallelRun<T, TCall> run = t_cached ??= new ParallelRun<T, TCall>();
            if (run._sums.Length < chunks)
            {
                run._sums = new RowTotals[Math.Max(chunks, run._sums.Length * 2)];
            }

            run._call = call;
            run._width = width;
            run._rowsPerChunk = rowsPerChunk;
            run._chunks = chunks;
            run._nextChunk = 0;
            run._failure = null;
            run._pendingWorkers = degree - 1;
            run._done.Reset();
            for (int i = 0; i < degree - 1; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
            }

            Exception? own = null;
            try
            {
                run.Work();
            }
            catch (Exception e)
            {
                // Stop handing out chunks, but still wait: the workers may be inside the caller's buffers.
                own = e;
                Volatile.Write(ref run._nextChunk, int.MaxValue / 2);
            }

            // Never return or throw while a worker may still touch the caller's (pinned) buffers.
            run._done.Wait();
            run._call = default;
            if (own is not null)
            {
                ExceptionDispatchInfo.Throw(own);
            }

            if (run._failure is not null)
            {
                throw new InvalidOperationException("A worker thread failed.", run._failure);
            }

            RowTotals total = default;
            for (int c = 0; c < chunks; c++)
            {
                total.Add(run._sums[c]);
            }

            return total;
        }

        public void Execute()
        {
            try
            {
                Work();
            }
            catch (Exception e)
            {
                _failure = e;
                _nextChunk = int.MaxValue / 2;
            }
            finally
            {
                if (Interlocked.Decrement(ref _pendingWorkers) == 0)
                {
                    _done.Set();
                }
            }
        }

        private void Work()
        {
            int rows = _call.Rows;
            while (true)
            {
                int c = Interlocked.Increment(ref _nextChunk) - 1;
                if (c >= _chunks)
                {
                    return;
                }

                int first = c * _rowsPerChunk;
                Debug.Assert(first < rows, "a chunk starts inside the call");
                _sums[c] = WidthDispatch.Run<T, TCall>(_call, _width, first, Math.Min(_rowsPerChunk, rows - first));
            }
        }
    }
}
