using System;
using System.Numerics;
using System.Threading;
using SoftmaxCE.Kernels;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>The two bugs random testing found, at every forced width, and the parallel runner's wait on failure.</summary>
public class RegressionTests
{
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Metrics_CountedRowOfOnlyNegativeInfinity_PredictsClassZero(int width)
    {
        foreach (int classes in new[] { 16, 17, 33, 1000, 5000 })
        {
            var logits = new float[2 * classes];
            logits.AsSpan(0, classes).Fill(float.NegativeInfinity);
            Data<float>.Logits(new Random(classes), classes).CopyTo(logits.AsSpan(classes));
            logits[classes + 3] = 100; // row 1's argmax is 3
            int[] labels = [0, 3];
            var predictions = new int[2];
            var gradient = new float[logits.Length];
            using (ForcedWidth.Force(width))
            {
                CrossEntropyMetrics<float> withGradient = SoftmaxCrossEntropy.LossAndGradientWithMetrics<float>(logits, labels, gradient, classes, predictions: predictions);
                Assert.Equal([0, 3], predictions);
                Assert.Equal(2, withGradient.CorrectCount);

                predictions = new int[2];
                CrossEntropyMetrics<float> lossOnly = SoftmaxCrossEntropy.LossWithMetrics<float>(logits, labels, classes, predictions: predictions);
                Assert.Equal([0, 3], predictions);
                Assert.Equal(2, lossOnly.CorrectCount);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Gradient_NaNWithWholeChunksOfNegativeInfinity_IsNaNEverywhere(int width)
    {
        const int Classes = 4000;
        var logits = new double[Classes];
        logits.AsSpan().Fill(double.NegativeInfinity);
        logits[0] = double.NaN;
        var gradient = new double[Classes];
        using (ForcedWidth.Force(width))
        {
            double loss = SoftmaxCrossEntropy.LossAndGradient<double>(logits, [5], gradient, Classes, new CrossEntropyOptions { LabelSmoothing = 0.1 });
            Assert.True(double.IsNaN(loss));
        }

        for (int k = 0; k < Classes; k++)
        {
            if (!double.IsNaN(gradient[k]))
            {
                throw new XunitException($"width {width}: gradient element {k} is {gradient[k]}, expected NaN");
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Softmax_NaNWithWholeChunksOfNegativeInfinity_IsNaNEverywhere(int width)
    {
        const int Classes = 6000;
        var logits = new float[Classes];
        logits.AsSpan().Fill(float.NegativeInfinity);
        for (int k = 0; k < 10; k++)
        {
            logits[k] = k;
        }

        logits[10] = float.NaN;
        var p = new float[Classes];
        using (ForcedWidth.Force(width))
        {
            SoftmaxCrossEntropy.Softmax<float>(logits, p, Classes);
        }

        for (int k = 0; k < Classes; k++)
        {
            if (!float.IsNaN(p[k]))
            {
                throw new XunitException($"width {width}: probability {k} is {p[k]}, expected NaN");
            }
        }
    }

    /// <summary>A call whose chunk on the calling thread throws at once while the workers' chunks take a while.</summary>
    private readonly struct ThrowingCall(int callerThread, StrongBox counters) : IWidthCall<float>
    {
        public int Rows => 64;

        public int Classes => 16384;

        public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
            where TOps : ISimdOps<TVec, float>
            where TVec : unmanaged
        {
            if (Environment.CurrentManagedThreadId == callerThread)
            {
                throw new InvalidOperationException("the caller's chunk failed");
            }

            Interlocked.Increment(ref counters.Active);
            Thread.Sleep(20);
            Interlocked.Decrement(ref counters.Active);
            return default;
        }
    }

    private sealed class StrongBox
    {
        public int Active;
    }

    [Fact]
    public void ParallelRun_CallerFails_WaitsForEveryWorkerBeforeRethrowing()
    {
        var counters = new StrongBox();
        var call = new ThrowingCall(Environment.CurrentManagedThreadId, counters);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => RowChunks.Run<float, ThrowingCall>(call, maxDegreeOfParallelism: 4));
        Assert.Equal("the caller's chunk failed", e.Message);
        Assert.Equal(0, Volatile.Read(ref counters.Active));
    }
}
