using System;
using System.Threading;

namespace SoftmaxCE.MatrixMultiply;

/// <summary>One piece of work split into numbered tasks that may run in any order on any thread.</summary>
internal interface ITaskWork
{
    /// <summary>Runs task <paramref name="task"/> on the thread numbered <paramref name="worker"/> (0 the calling thread, below
    /// the run's degree): a task may use the worker's share of the caller's scratch, since a worker runs one task at a time.</summary>
    void Run(int task, int worker);
}

/// <summary>
/// Runs the tasks of an <see cref="ITaskWork"/> on the calling thread and up to <c>degree - 1</c> pool threads, and
/// returns when all are done. Results never depend on which thread ran which task: every task writes its own outputs.
/// The threads are numbered <c>0 .. min(degree, tasks) - 1</c> (<see cref="Workers"/>), the caller 0.
/// </summary>
internal static class ParallelTasks
{
    /// <summary>The number of threads a call with <paramref name="maxDegreeOfParallelism"/> (0: all cores) may use.</summary>
    public static int Degree(int maxDegreeOfParallelism)
    {
        int cores = Environment.ProcessorCount;
        return maxDegreeOfParallelism <= 0 ? cores : Math.Min(maxDegreeOfParallelism, cores);
    }

    /// <summary>How many threads <see cref="Run{TWork}"/> uses for <paramref name="tasks"/> tasks at <paramref name="degree"/>.</summary>
    public static int Workers(int tasks, int degree) => degree <= 1 || tasks <= 1 ? 1 : Math.Min(degree, tasks);

    public static void Run<TWork>(in TWork work, int tasks, int degree)
        where TWork : struct, ITaskWork
    {
        int workers = Workers(tasks, degree);
        if (workers == 1)
        {
            for (int t = 0; t < tasks; t++)
            {
                work.Run(t, 0);
            }

            return;
        }

        Runner<TWork>.Run(work, tasks, workers);
    }

    /// <summary>The state of one parallel run, cached per calling thread and work type, so a warm call allocates nothing.</summary>
    /// <remarks>It lives as long as its thread, so its event is never disposed (there is no point at which it could be).</remarks>
#pragma warning disable CA1001
    private sealed class Runner<TWork> : IThreadPoolWorkItem
#pragma warning restore CA1001
        where TWork : struct, ITaskWork
    {
        [ThreadStatic]
        private static Runner<TWork>? t_cached;

        private readonly ManualResetEventSlim _done = new(false);
        private TWork _work;
        private int _tasks;
        private int _next;
        private int _nextWorker;
        private int _pending;
        private Exception? _failure;

        public static void Run(in TWork work, int tasks, int degree)
        {
            Runner<TWork> run = t_cached ??= new Runner<TWork>();
            run._work = work;
            run._tasks = tasks;
            run._next = 0;
            run._nextWorker = 0;
            run._failure = null;
            run._pending = degree - 1;
            run._done.Reset();
            for (int i = 0; i < degree - 1; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(run, preferLocal: false);
            }

            run.Work(0);

            // Never return while a worker may still touch the caller's (pinned) buffers.
            run._done.Wait();
            run._work = default;
            if (run._failure is not null)
            {
                throw new InvalidOperationException("A worker thread failed.", run._failure);
            }
        }

        public void Execute()
        {
            try
            {
                Work(Interlocked.Increment(ref _nextWorker));
            }
            catch (Exception e)
            {
                _failure = e;
                _next = int.MaxValue / 2;
            }
            finally
            {
                if (Interlocked.Decrement(ref _pending) == 0)
                {
                    _done.Set();
                }
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
