using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace Benchmarks;

/// <summary>
/// Base of every benchmark class: 64-byte aligned native buffers, allocated in the derived class's
/// [GlobalSetup] and freed here in [GlobalCleanup], so no benchmark allocates and every run starts each
/// buffer on a cache line (the same alignment for every method, so Copy and the kernels compare fairly).
/// </summary>
public abstract unsafe class NativeBuffers
{
    /// <summary>The seed of every random fill, so every run sees the same data.</summary>
    protected const int Seed = 20240601;

    /// <summary>Single-threaded calls: every class but <c>ParallelScalingBenchmarks</c> measures one core.</summary>
    protected static readonly SoftmaxCE.CrossEntropyOptions OneThread = new() { MaxDegreeOfParallelism = 1 };

    private readonly List<IntPtr> _allocations = [];

    /// <summary>Frees every buffer allocated by <see cref="Allocate{T}(int)"/>.</summary>
    [GlobalCleanup]
    public void FreeBuffers()
    {
        foreach (IntPtr pointer in _allocations)
        {
            NativeMemory.AlignedFree((void*)pointer);
        }

        _allocations.Clear();
    }

    /// <summary>A zeroed buffer of <paramref name="length"/> elements, aligned to 64 bytes.</summary>
    protected T* Allocate<T>(int length)
        where T : unmanaged
    {
        nuint bytes = (nuint)Math.Max(length, 1) * (nuint)sizeof(T);
        void* pointer = NativeMemory.AlignedAlloc(bytes, 64);
        NativeMemory.Clear(pointer, bytes);
        _allocations.Add((IntPtr)pointer);
        return (T*)pointer;
    }

    /// <summary>Logits uniform in [-5, 5]: inside the range where TensorPrimitives.SoftMax does not overflow.</summary>
    protected static void FillLogits<T>(Random random, Span<T> logits)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = T.CreateTruncating((random.NextDouble() * 10) - 5);
        }
    }

    /// <summary>Class-index labels uniform in [0, classes).</summary>
    protected static void FillLabels(Random random, Span<int> labels, int classes)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = random.Next(classes);
        }
    }

    /// <summary>Dense targets: each row a random probability distribution (positive, sums to 1).</summary>
    protected static void FillTargets<T>(Random random, Span<T> targets, int classes)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        for (int start = 0; start < targets.Length; start += classes)
        {
            Span<T> row = targets.Slice(start, classes);
            double sum = 0;
            for (int c = 0; c < classes; c++)
            {
                double value = random.NextDouble() + 1e-3;
                row[c] = T.CreateTruncating(value);
                sum += value;
            }

            for (int c = 0; c < classes; c++)
            {
                row[c] = T.CreateTruncating(double.CreateTruncating(row[c]) / sum);
            }
        }
    }
}
