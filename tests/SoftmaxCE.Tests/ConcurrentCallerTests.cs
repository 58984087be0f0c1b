using System;
using System.Diagnostics;
using System.Linq;
using System.Numerics.Tensors;
using System.Threading;
using System.Threading.Tasks;
using SoftmaxCE.Kernels;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>
/// Tests that change the process's thread pool, or time calls against each other, run alone: no other test shares the
/// pool with them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadPoolGroup
{
    public const string Name = "Thread pool";
}

/// <summary>
/// Callers the library does not control: parallel calls made from thread-pool threads with the pool capped, and labels
/// changed by another thread while a call runs.
/// </summary>
[Collection(ThreadPoolGroup.Name)]
public sealed class ConcurrentCallerTests
{
    private const int Classes = 1000;
    private static readonly int[] BadLabels = [-5, Classes, 1 << 20, int.MaxValue, int.MinValue];

    /// <summary>
    /// At least 64 parallel calls (every core each) made from pool threads while the pool is capped: each call must finish
    /// with the chunks its own thread can run, never waiting for a work item that needs another pool thread.
    /// </summary>
    [Fact]
    public void ParallelCalls_FromPoolThreadsWithThePoolCapped_CompleteAndMatchASerialCall()
    {
        const int Rows = 512, Columns = 4096;
        var rng = new Random(17);
        float[] logits = Data<float>.Logits(rng, Rows * Columns);
        int[] labels = Data<float>.Labels(rng, Rows, Columns);
        var serialGradient = new float[logits.Length];
        var serial = new CrossEntropyOptions { MaxDegreeOfParallelism = 1 };
        float serialLoss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, serialGradient, Columns, serial);

        // A single call's time, to bound the wait: a stalled call waits for seconds, a deadlocked one forever.
        var watch = Stopwatch.StartNew();
        SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, new float[logits.Length], Columns, serial);
        TimeSpan single = watch.Elapsed;

        ThreadPool.GetMaxThreads(out int maxWorkers, out int maxIo);
        ThreadPool.GetMinThreads(out int minWorkers, out int minIo);
        int cores = Environment.ProcessorCount;
        // The cap: the core count, or the threads the pool already has if more (the test host's own pool threads, some of
        // them blocked, this test's thread among them, count against the cap too). More calls than that many threads can
        // run at once, so that calls queue behind calls: a call that waited for its work item to start would wait forever.
        int cap = Math.Max(cores, ThreadPool.ThreadCount);
        int calls = Math.Max(64, 4 * cap);
        var gradients = new float[calls][];
        var losses = new float[calls];
        var parallel = new CrossEntropyOptions { MaxDegreeOfParallelism = 0 };
        int finishedCalls = 0;
        try
        {
            Assert.True(ThreadPool.SetMinThreads(1, minIo));
            Assert.True(ThreadPool.SetMaxThreads(cap, maxIo), $"the pool could not be capped at {cap} threads");
            Task[] running = Enumerable.Range(0, calls).Select(i => Task.Run(() =>
            {
                gradients[i] = new float[logits.Length];
                losses[i] = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, gradients[i], Columns, parallel);
                Interlocked.Increment(ref finishedCalls);
            })).ToArray();

            // Every call done within a few times the serial work of all of them, however the pool schedules them.
            // A blocking wait on purpose: awaiting would need a free pool thread to resume on.
            TimeSpan limit = TimeSpan.FromSeconds(10) + (single * calls * 4);
#pragma warning disable xUnit1031
            bool finished = Task.WaitAll(running, limit);
#pragma warning restore xUnit1031
            Assert.True(finished, $"{calls - finishedCalls} of {calls} calls did not finish within {limit.TotalSeconds:F1} s (one serial call: " +
                $"{single.TotalMilliseconds:F1} ms; pool threads {ThreadPool.ThreadCount}, pending items {ThreadPool.PendingWorkItemCount}, " +
                $"test on a pool thread: {Thread.CurrentThread.IsThreadPoolThread})");
        }
        finally
        {
            ThreadPool.SetMaxThreads(maxWorkers, maxIo);
            ThreadPool.SetMinThreads(minWorkers, minIo);
        }

        for (int i = 0; i < calls; i++)
        {
            Check.Bitwise<float>([losses[i]], [serialLoss], $"call {i}: loss");
            Check.Bitwise<float>(gradients[i], serialGradient, $"call {i}: gradient");
        }
    }

    /// <summary>A task that throws on the calling thread: the call throws only once every worker is out of its task.</summary>
    [Fact]
    public void ParallelRunner_TaskThrowsOnTheCallingThread_ReturnsOnlyAfterEveryWorkerLeft()
    {
        if (Environment.ProcessorCount < 2)
        {
            return; // one core: the runner never uses a second thread
        }

        for (int attempt = 0; attempt < 20; attempt++)
        {
            var state = new RunnerProbe();
            var work = new ThrowingWork(state, Environment.CurrentManagedThreadId);
            Assert.Throws<InvalidOperationException>(() => ParallelRunner.Run(work, tasks: 64, degree: Environment.ProcessorCount));
            Assert.Equal(0, Volatile.Read(ref state.Inside));
        }
    }

    /// <summary>
    /// Labels flipped by another thread to values outside the classes while large parallel calls run, through every family
    /// that reads labels (row-major rows long and short, rows across lanes, the class axis, autograd, shards, Half, the
    /// linear head): no call may read or write outside its spans (the outputs sit between sentinel guards, and a wild
    /// read or write of unmapped memory ends the test process), and every row is either NaN (its label was out of range
    /// when the kernel read it) or finite.
    /// </summary>
    [Theory]
    [InlineData("rows")]
    [InlineData("short rows")]
    [InlineData("class axis")]
    [InlineData("backward")]
    [InlineData("shards")]
    [InlineData("half")]
    [InlineData("linear head")]
    public void Labels_ChangedByAnotherThreadDuringCalls_NeverReadOrWriteOutOfBounds(string family)
    {
        int classes = family == "short rows" ? 10 : Classes;
        int rows = family == "linear head" ? 256 : family == "short rows" ? 20480 : 2048;
        var rng = new Random(family.Length);
        int[] labels = Data<float>.Labels(rng, rows, classes);
        int[] original = (int[])labels.Clone();
        float[] logits = Data<float>.Logits(rng, rows * classes);
        float[] weights = Data<float>.Weights(rng, classes);
        var options = new CrossEntropyOptions { MaxDegreeOfParallelism = 0, Reduction = Reduction.Sum };
        using var stop = new CancellationTokenSource();
        var flipper = new Thread(() => Flip(labels, original, stop.Token)) { IsBackground = true };
        flipper.Start();
        try
        {
            var deadline = Stopwatch.StartNew();
            int ran = 0;
            ArgumentException? refused = null;
            while ((deadline.Elapsed < TimeSpan.FromSeconds(0.5) || ran < 4) && deadline.Elapsed < TimeSpan.FromSeconds(10))
            {
                try
                {
                    RunOnce(family, logits, labels, weights, rows, classes, options);
                    ran++;
                }
                catch (ArgumentException e)
                {
                    refused = e;
                    // Validation saw a label out of range and refused the call before writing anything: also right.
                }
            }

            Assert.True(ran >= 4, $"only {ran} calls got past validation: the test did not reach the kernels ({refused?.Message})");
        }
        finally
        {
            stop.Cancel();
            flipper.Join();
        }
    }

    private static void RunOnce(string family, float[] logits, int[] labels, float[] weights, int rows, int classes, CrossEntropyOptions options)
    {
        switch (family)
        {
            case "rows":
            case "short rows":
            {
                var gradient = new Guarded<float>(logits.Length);
                var rowLosses = new Guarded<float>(rows);
                SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, gradient.Span, classes, options, weights);
                SoftmaxCrossEntropy.RowLosses<float>(logits, labels, rowLosses.Span, classes, options, weights);
                gradient.AssertGuardsIntact(family + ": gradient");
                rowLosses.AssertGuardsIntact(family + ": row losses");
                AssertRowsNaNOrFinite(gradient.Span, classes, family);
                break;
            }

            case "class axis":
            {
                // (N, C, H, W) with the classes on axis 1: rows x classes as (rows / 64, classes, 8, 8).
                int n = rows / 64;
                var gradient = new Guarded<float>(logits.Length);
                Tensor<float> input = Tensor.Create(logits, [n, classes, 8, 8]);
                Tensor<int> target = Tensor.Create(labels, [n, 8, 8]);
                SoftmaxCrossEntropy.LossAndGradient<float>(input, target.AsReadOnlyTensorSpan(), new TensorSpan<float>(gradient.Span, [n, classes, 8, 8], default),
                    options, weights, classAxis: 1);
                gradient.AssertGuardsIntact(family + ": gradient");
                break;
            }

            case "backward":
            {
                var logSumExp = new Guarded<float>(rows);
                var gradient = new Guarded<float>(logits.Length);
                SoftmaxCrossEntropy.Forward<float>(logits, labels, logSumExp.Span, classes, options, weights);
                SoftmaxCrossEntropy.Backward<float>(logits, labels, logSumExp.Span, 1f, gradient.Span, classes, options, weights);
                logSumExp.AssertGuardsIntact(family + ": log-sum-exp");
                gradient.AssertGuardsIntact(family + ": gradient");
                AssertRowsNaNOrFinite(gradient.Span, classes, family);
                break;
            }

            case "shards":
            {
                // Two shards of half the classes each: statistics, merge, then each shard's gradient.
                int half = classes / 2;
                var left = new float[rows * half];
                var right = new float[rows * half];
                for (int i = 0; i < rows; i++)
                {
                    logits.AsSpan((i * classes), half).CopyTo(left.AsSpan(i * half));
                    logits.AsSpan((i * classes) + half, half).CopyTo(right.AsSpan(i * half));
                }

                var max = new float[rows];
                var sum = new float[rows];
                var labelLogits = new float[rows];
                var otherMax = new float[rows];
                var otherSum = new float[rows];
                SoftmaxCrossEntropy.ShardStatistics<float>(left, labels, max, sum, labelLogits, half, 0, classes, options);
                SoftmaxCrossEntropy.ShardStatistics<float>(right, labels, otherMax, otherSum, labelLogits, half, half, classes, options);
                SoftmaxCrossEntropy.MergeShardStatistics<float>(otherMax, otherSum, max, sum);
                var gradient = new Guarded<float>(left.Length);
                SoftmaxCrossEntropy.ShardLossAndGradient<float>(right, labels, max, sum, gradient.Span, half, half, classes, options, weights);
                gradient.AssertGuardsIntact(family + ": gradient");
                AssertRowsNaNOrFinite(gradient.Span, half, family);
                break;
            }

            case "half":
            {
                Half[] halfLogits = logits.Select(x => (Half)x).ToArray();
                Half[] halfWeights = weights.Select(x => (Half)x).ToArray();
                var gradient = new Guarded<Half>(halfLogits.Length);
                SoftmaxCrossEntropy.LossAndGradient<Half>(halfLogits, labels, gradient.Span, classes, options, halfWeights);
                gradient.AssertGuardsIntact(family + ": gradient");
                break;
            }

            case "linear head":
            {
                const int Hidden = 32;
                var rng = new Random(5);
                float[] hidden = Data<float>.Logits(rng, rows * Hidden, 1);
                float[] weight = Data<float>.Logits(rng, classes * Hidden, 0.2);
                var hiddenGradient = new Guarded<float>(hidden.Length);
                var weightGradient = new Guarded<float>(weight.Length);
                var biasGradient = new Guarded<float>(classes);
                SoftmaxCrossEntropy.LinearLossAndGradient<float>(hidden, weight, new float[classes], labels, hiddenGradient.Span, weightGradient.Span, biasGradient.Span,
                    Hidden, options, weights);
                hiddenGradient.AssertGuardsIntact(family + ": hidden gradient");
                weightGradient.AssertGuardsIntact(family + ": weight gradient");
                biasGradient.AssertGuardsIntact(family + ": bias gradient");
                AssertRowsNaNOrFinite(hiddenGradient.Span, Hidden, family);
                break;
            }

            default:
                throw new ArgumentOutOfRangeException(nameof(family));
        }
    }

    /// <summary>Sets random labels to values outside the classes and back, as fast as it can, until cancelled.</summary>
    private static void Flip(int[] labels, int[] original, CancellationToken stop)
    {
        var rng = new Random(3);
        while (!stop.IsCancellationRequested)
        {
            int i = rng.Next(labels.Length);
            // Briefly out of range, then in range for longer, so that most calls get past validation and their kernels
            // read some labels while they are out of range.
            Volatile.Write(ref labels[i], BadLabels[rng.Next(BadLabels.Length)]);
            Thread.SpinWait(20);
            Volatile.Write(ref labels[i], original[i]);
            Thread.SpinWait(400);
        }

        original.CopyTo(labels, 0);
    }

    /// <summary>Each row is all NaN (its label was out of range when read) or all finite (the label in range).</summary>
    private static void AssertRowsNaNOrFinite(ReadOnlySpan<float> gradient, int classes, string what)
    {
        for (int row = 0; row < gradient.Length / classes; row++)
        {
            ReadOnlySpan<float> r = gradient.Slice(row * classes, classes);
            bool broken = float.IsNaN(r[0]);
            for (int k = 0; k < classes; k++)
            {
                if (broken ? !float.IsNaN(r[k]) : !float.IsFinite(r[k]))
                {
                    Assert.Fail($"{what}: row {row} is neither all NaN nor all finite (class 0: {r[0]}, class {k}: {r[k]}).");
                }
            }
        }
    }

    private sealed class RunnerProbe
    {
        public int Inside;
    }

    /// <summary>Task 0 runs on the caller and throws after the workers have started; the others sleep inside their task.</summary>
    private readonly struct ThrowingWork(RunnerProbe probe, int callerThread) : IParallelWork
    {
        public void Run(int task, int worker)
        {
            if (Environment.CurrentManagedThreadId == callerThread)
            {
                Thread.Sleep(5);
                throw new InvalidOperationException("the caller's task failed");
            }

            Interlocked.Increment(ref probe.Inside);
            Thread.Sleep(20);
            Interlocked.Decrement(ref probe.Inside);
        }
    }
}
