using System;
using System.Numerics.Tensors;
using FluentAssertions;
using SoftmaxCE.Internals;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>Tests that measure the process's memory run alone: other tests' allocations would blur the measurement.</summary>
[CollectionDefinition(nameof(MemoryMeasurement), DisableParallelization = true)]
public sealed class MemoryMeasurement;

/// <summary>
/// What the library keeps after a call returns, whatever the call's size: large calls (a segmentation batch with the classes
/// on axis 1, vocabulary-sized Half rows) leave the managed heap within a small fixed bound of where they found it (inputs
/// and outputs allocated before the first measurement), and every scratch buffer of a thread at most
/// <see cref="ScratchBuffer.RetainedBytes"/> in native memory.
/// </summary>
[Collection(nameof(MemoryMeasurement))]
public class RetainedMemoryTests
{
    /// <summary>What the calls may leave on the managed heap: parallel-run bookkeeping and the like, nothing the size of an input.</summary>
    private const long HeapBound = 4L << 20;

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void ClassAxisForwardAndBackward_SegmentationBatch_LeaveTheHeapWithinABound(int threads)
    {
        // (N, C, H, W) = (8, 21, 256, 256): 44 MiB of float logits. Dense targets on a quarter of the batch. The same calls
        // on a small tensor first, so that what the first call of a kind allocates once (compiled code, thread-pool threads)
        // is not counted.
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1, ZLoss = 1e-4, MaxDegreeOfParallelism = threads };
        var small = new ClassAxisBuffers(2, 21, 4096, seed: 1);
        small.Run(options, dense: false);
        small.Run(options, dense: true);
        var labels = new ClassAxisBuffers(8, 21, 256 * 256, seed: 2);
        var dense = new ClassAxisBuffers(2, 21, 256 * 256, seed: 3);

        long growth = HeapGrowth(() =>
        {
            labels.Run(options, dense: false);
            dense.Run(options, dense: true);
        });

        growth.Should().BeLessThan(HeapBound);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public void HalfCalls_VocabularyRows_LeaveTheHeapWithinABound(int threads)
    {
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1, MaxDegreeOfParallelism = threads };

        // Llama 3's vocabulary; then rows eight times wider than the retained scratch holds, so that the dense targets' two
        // chunks and the class weights are larger than the cap. The same calls on small rows first.
        new HalfBuffers(64, 1000, seed: 4).Run(options);
        var vocabulary = new HalfBuffers(64, 128256, seed: 5);
        var wide = new HalfBuffers(4, 1 << 20, seed: 6);

        long growth = HeapGrowth(() =>
        {
            vocabulary.Run(options);
            wide.Run(options);
        });

        growth.Should().BeLessThan(HeapBound);
    }

    [Fact]
    public void ClassAxisForwardAndBackward_OnceWarm_AllocateNothing()
    {
        var options = new CrossEntropyOptions { LabelSmoothing = 0.1, MaxDegreeOfParallelism = 1 };
        var buffers = new ClassAxisBuffers(2, 21, 4096, seed: 10);
        buffers.Run(options, dense: false);
        buffers.Run(options, dense: true);

        long before = GC.GetAllocatedBytesForCurrentThread();
        buffers.Run(options, dense: false);
        buffers.Run(options, dense: true);

        (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0);
    }

    [Fact]
    public void LargeCalls_KeepAtMostTheCapOfEachScratchBuffer()
    {
        var labels = new ClassAxisBuffers(2, 21, 256 * 256, seed: 7);
        var wideAxis = new ClassAxisBuffers(1, 200_000, 2, seed: 11);
        var wide = new HalfBuffers(4, 1 << 20, seed: 8);
        var head = new LinearBuffers(260, 512, 2100, seed: 9);
        long heldBefore = ScratchBuffer.HeldBytes;
        foreach (int threads in new[] { 1, 0 })
        {
            var options = new CrossEntropyOptions { LabelSmoothing = 0.1, MaxDegreeOfParallelism = threads };
            labels.Run(options, dense: false);
            wideAxis.Run(options, dense: true);
            wide.Run(options);
            head.Run(options);

            // The calling thread's buffers, each used above the cap by these calls.
            ThreadScratch.Rows.Bytes.Should().BeLessThanOrEqualTo(ScratchBuffer.RetainedBytes);
            ThreadScratch.ClassWeights.Bytes.Should().BeLessThanOrEqualTo(ScratchBuffer.RetainedBytes);
            ThreadScratch.Packing.Bytes.Should().BeLessThanOrEqualTo(ScratchBuffer.RetainedBytes);
            ThreadScratch.Head.Bytes.Should().BeLessThanOrEqualTo(ScratchBuffer.RetainedBytes);
        }

        // Every thread that took part keeps its row buffer and its 8 KiB soft-cap chunk at most; the caller its four buffers.
        long perThread = (long)ScratchBuffer.RetainedBytes + 8192;
        (ScratchBuffer.HeldBytes - heldBefore).Should().BeLessThanOrEqualTo((Environment.ProcessorCount + 4) * perThread);
    }

    /// <summary>How much larger the managed heap is, after a full collection, once <paramref name="calls"/> have run.</summary>
    private static long HeapGrowth(Action calls)
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        calls();
        return GC.GetTotalMemory(forceFullCollection: true) - before;
    }

    /// <summary>An <c>(N, C, inner)</c> float tensor with the classes on axis 1, its labels and targets, and the forward's and backward's outputs.</summary>
    private sealed class ClassAxisBuffers
    {
        private readonly nint[] _shape;
        private readonly nint[] _positions;
        private readonly float[] _logits;
        private readonly float[] _targets;
        private readonly int[] _labels;
        private readonly float[] _logSumExp;
        private readonly float[] _gradient;

        public ClassAxisBuffers(int outer, int classes, int inner, int seed)
        {
            var random = new Random(seed);
            _shape = [outer, classes, inner];
            _positions = [outer, inner];
            _logits = new float[outer * classes * inner];
            _targets = new float[_logits.Length];
            for (int i = 0; i < _logits.Length; i++)
            {
                _logits[i] = (float)((random.NextDouble() * 8) - 4);
                _targets[i] = (float)random.NextDouble();
            }

            _labels = new int[outer * inner];
            for (int i = 0; i < _labels.Length; i++)
            {
                _labels[i] = random.Next(classes);
            }

            _logSumExp = new float[_labels.Length];
            _gradient = new float[_logits.Length];
        }

        public void Run(CrossEntropyOptions options, bool dense)
        {
            var logits = new ReadOnlyTensorSpan<float>(_logits, _shape);
            var logSumExp = new TensorSpan<float>(_logSumExp, _positions);
            var gradient = new TensorSpan<float>(_gradient, _shape);
            if (dense)
            {
                var targets = new ReadOnlyTensorSpan<float>(_targets, _shape);
                SoftmaxCrossEntropy.Forward(logits, targets, logSumExp, options, classAxis: 1);
                SoftmaxCrossEntropy.Backward(logits, targets, logSumExp, 1f, gradient, options, classAxis: 1);
            }
            else
            {
                var labels = new ReadOnlyTensorSpan<int>(_labels, _positions);
                SoftmaxCrossEntropy.Forward(logits, labels, logSumExp, options, classAxis: 1);
                SoftmaxCrossEntropy.Backward(logits, labels, logSumExp, 1f, gradient, options, classAxis: 1);
            }
        }
    }

    /// <summary>Half rows with labels, dense targets and class weights, and the outputs of the fused call, the forward and the backward.</summary>
    private sealed class HalfBuffers
    {
        private readonly int _classes;
        private readonly Half[] _logits;
        private readonly Half[] _targets;
        private readonly Half[] _classWeights;
        private readonly int[] _labels;
        private readonly float[] _logSumExp;
        private readonly Half[] _gradient;

        public HalfBuffers(int rows, int classes, int seed)
        {
            var random = new Random(seed);
            _classes = classes;
            _logits = new Half[rows * classes];
            _targets = new Half[_logits.Length];
            for (int i = 0; i < _logits.Length; i++)
            {
                _logits[i] = (Half)((random.NextDouble() * 8) - 4);
                _targets[i] = (Half)(random.NextDouble() / classes);
            }

            _classWeights = new Half[classes];
            for (int k = 0; k < classes; k++)
            {
                _classWeights[k] = (Half)(0.5 + random.NextDouble());
            }

            _labels = new int[rows];
            for (int i = 0; i < rows; i++)
            {
                _labels[i] = random.Next(classes);
            }

            _logSumExp = new float[rows];
            _gradient = new Half[_logits.Length];
        }

        public void Run(CrossEntropyOptions options)
        {
            SoftmaxCrossEntropy.LossAndGradient<Half>(_logits, _labels, _gradient, _classes, options, _classWeights);
            SoftmaxCrossEntropy.Forward(_logits, _labels, _logSumExp, _classes, options, _classWeights);
            SoftmaxCrossEntropy.Backward(_logits, _labels, _logSumExp, Half.One, _gradient, _classes, options, _classWeights);
            SoftmaxCrossEntropy.Forward(_logits, _targets, _logSumExp, _classes, options, _classWeights);
            SoftmaxCrossEntropy.Backward(_logits, _targets, _logSumExp, Half.One, _gradient, _classes, options, _classWeights);
        }
    }

    /// <summary>A fused linear head whose blocks (256 rows of 2 * 512 + 2048 floats) and packed panels are larger than the cap.</summary>
    private sealed class LinearBuffers
    {
        private readonly int _hiddenSize;
        private readonly float[] _hidden;
        private readonly float[] _weight;
        private readonly int[] _labels;
        private readonly float[] _hiddenGradient;
        private readonly float[] _weightGradient;

        public LinearBuffers(int rows, int hiddenSize, int classes, int seed)
        {
            var random = new Random(seed);
            _hiddenSize = hiddenSize;
            _hidden = new float[rows * hiddenSize];
            _weight = new float[classes * hiddenSize];
            for (int i = 0; i < _hidden.Length; i++)
            {
                _hidden[i] = (float)((random.NextDouble() * 2) - 1);
            }

            for (int i = 0; i < _weight.Length; i++)
            {
                _weight[i] = (float)(((random.NextDouble() * 2) - 1) / Math.Sqrt(hiddenSize));
            }

            _labels = new int[rows];
            for (int i = 0; i < rows; i++)
            {
                _labels[i] = random.Next(classes);
            }

            _hiddenGradient = new float[_hidden.Length];
            _weightGradient = new float[_weight.Length];
        }

        public void Run(CrossEntropyOptions options) =>
            SoftmaxCrossEntropy.LinearLossAndGradient<float>(_hidden, _weight, default, _labels, _hiddenGradient, _weightGradient, default, _hiddenSize, options);
    }
}
