using System;
using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading;
using SoftmaxCE.Internals;

namespace SoftmaxCE.Kernels;

/// <summary>One piece of work split into numbered tasks that may run in any order on any thread.</summary>
/// <remarks>Each task writes only its own outputs, so results never depend on which thread ran which task.</remarks>
internal interface IParallelWork
{
    /// <summary>
    /// Runs task <paramref name="task"/> on the thread numbered <paramref name="worker"/> (0 the calling thread, below
    /// the call's <see cref="ParallelRunner.Degree"/>): a task may use that worker's share of the caller's scratch, since a
    /// worker runs one task at a time.
    /// </summary>
    void Run(int task, int worker);
}

/// <summary>
/// The library's one way of running work on more than one thread: the calling thread and up to <c>degree - 1</c>
/// thread-pool threads take tasks from a shared counter until none are left.
/// </summary>
/// <remarks>
/// <para>
/// The thread pool is shared with the caller, who may itself be running on it (a <c>Parallel.For</c> over micro-batches,
/// a web request, an autograd engine's worker) with the pool capped. So a call never waits for a work item to
/// <em>start</em>: the calling thread runs tasks itself, and when none are left it closes the run. Work items that start
/// after that do nothing; the caller waits only for the workers already inside a task, which are running and need no
/// further pool thread to finish. A call therefore completes even when no pool thread ever becomes free.
/// </para>
/// <para>
/// Nothing a worker touches outlives the call: whatever happens (a task throwing on any thread included), the caller
/// returns or throws only once no worker is inside a task, so the caller's pinned buffers are never used after it leaves.
/// </para>
/// <para>
/// A run's state is cached per calling thread and work type, so a warm call allocates nothing. A work item queued for
/// an earlier call that starts while a later call of the same thread is open simply helps with the later call; it takes
/// one of that call's <c>degree - 1</c> worker slots, so no call ever runs on more threads than its degree.
/// </para>
/// </remarks>
internal static class ParallelRunner
{
    /// <summary>
    /// The threads a call may use: <paramref name="maxDegreeOfParallelism"/> (0 or less: every core), never more than the
    /// cores or than <paramref name="tasks"/>, at least 1.
    /// </summary>
    public static int Degree(int maxDegreeOfParallelism, int tasks)
    {
        int cores = Environment.ProcessorCount;
        int degree = maxDegreeOfParallelism <= 0 ? cores : Math.Min(maxDegreeOfParallelism, cores);
        return Math.Max(1, Math.Min(Math.Min(degree, tasks), ParallelCall<NoWork>.MaxWorkers + 1));
    }

    /// <summary>Runs tasks <c>0 .. tasks - 1</c> of <paramref name="work"/> on at most <paramref name="degree"/> threads (clamped by <see cref="Degree"/>).</summary>
    public static void Run<TWork>(in TWork work, int tasks, int degree)
        where TWork : struct, IParallelWork
    {
        degree = Degree(degree, tasks);
        if (degree <= 1)
        {
            for (int t = 0; t < tasks; t++)
            {
                work.Run(t, 0);
            }

            return;
        }

        ParallelCall<TWork>.Execute(work, tasks, degree);
    }

    private struct NoWork : IParallelWork
    {
        public readonly void Run(int task, int worker)
        {
        }
    }

    /// <summary>The state of one parallel call; see <see cref="ParallelRunner"/>.</summary>
    /// <remarks>It lives as long as its thread, so its event is never disposed (there is no point at which it could be).</remarks>
#pragma warning disable CA1001
    private sealed class ParallelCall<TWork> : IThreadPoolWorkItem
#pragma warning restore CA1001
        where TWork : struct, IParallelWork
    {
        /// <summary>The largest number of workers a run can admit (the slot count's bits).</summary>
        public const int MaxWorkers = SlotMask;

        // _state packs three things, changed together by compare-and-swap: the workers inside the run (bits 0-14), the
        // worker slots still free (bits 15-29), and whether the run is closed (bit 30). A run is closed between calls.
        private const int ActiveMask = (1 << 15) - 1;
        private const int SlotShift = 15;
        private const int SlotMask = (1 << 15) - 1;
        private const int Closed = 1 << 30;

        [ThreadStatic]
        private static ParallelCall<TWork>? t_cached;

        private readonly ManualResetEventSlim _done = new(false);
        private TWork _work;
        private int _tasks;
        private int _next;
        private int _nextWorker;
        private int _state = Closed;
        private Exception? _failure;

        public static void Execute(in TWork work, int tasks, int degree)
        {
            ParallelCall<TWork>? run = t_cached;
            if (run is null || Volatile.Read(ref run._state) != Closed)
            {
                // First use on this thread, or a call made from inside one of this thread's own tasks: a fresh run.
                run = new ParallelCall<TWork>();
                t_cached ??= run;
            }

            run._work = work;
            run._tasks = tasks;
            run._next = 0;
            run._nextWorker = 0;
            run._failure = null;
            run._done.Reset();

            // Open: from here on up to degree - 1 workers may join (the fields above are published by this write).
            Volatile.Write(ref run._state, (degree - 1) << SlotShift);
            for (int i = 0; i < degree - 1; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
            }

            Exception? own = null;
            try
            {
                run.Work(0);
            }
            catch (Exception e)
            {
                // Stop handing out tasks; the workers inside finish theirs, and the caller still waits for them below.
                own = e;
                Volatile.Write(ref run._next, int.MaxValue / 2);
            }

            // Close: no worker joins from now on, and the caller waits only for those inside a task.
            if ((run.Close() & ActiveMask) != 0)
            {
                run._done.Wait();
            }

            Debug.Assert(Volatile.Read(ref run._state) == Closed, "A worker is still inside a closed run.");
            run._work = default;
            if (own is not null)
            {
                ExceptionDispatchInfo.Throw(own);
            }

            if (run._failure is not null)
            {
                throw new InvalidOperationException("A worker thread failed.", run._failure);
            }
        }

        public void Execute()
        {
            if (!TryJoin())
            {
                return;
            }

            try
            {
                Work(Interlocked.Increment(ref _nextWorker));
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
                Volatile.Write(ref _next, int.MaxValue / 2);
            }
            finally
            {
                // This thread's share is done: its scratch above the cap goes back before the caller is released, so
                // that once the call returns no thread holds more than the cap. The last worker out of a closed run
                // wakes the caller.
                ThreadScratch.ReleaseRowBuffers();
                if (Interlocked.Decrement(ref _state) == Closed)
                {
                    _done.Set();
                }
            }
        }

        /// <summary>Takes a free slot of an open run; false when the run is closed or its slots are taken.</summary>
        private bool TryJoin()
        {
            int state = Volatile.Read(ref _state);
            while (true)
            {
                if ((state & Closed) != 0 || (state >> SlotShift) == 0)
                {
                    return false;
                }

                int seen = Interlocked.CompareExchange(ref _state, state - (1 << SlotShift) + 1, state);
                if (seen == state)
                {
                    return true;
                }

                state = seen;
            }
        }

        /// <summary>Closes the run (no free slots, closed) and returns the state before, whose low bits count the workers inside.</summary>
        private int Close()
        {
            int state = Volatile.Read(ref _state);
            while (true)
            {
                int seen = Interlocked.CompareExchange(ref _state, Closed | (state & ActiveMask), state);
                if (seen == state)
                {
                    return state;
                }

                state = seen;
            }
        }

        private void Work(int worker)
        {
            while (true)
            {
                int t = Interlocked.Increment(ref _next) - 1;
                if (t >= _tasks)
                {
                    return;
                }

                _work.Run(t, worker);
            }
        }
    }
}
