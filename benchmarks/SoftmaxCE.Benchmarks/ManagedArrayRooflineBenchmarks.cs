using System;
using System.Collections.Generic;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>Where a benchmark's buffers live.</summary>
public enum BufferKind
{
    /// <summary><c>new float[n]</c>, as users allocate them: the data starts wherever the GC puts it, not on a cache line.</summary>
    Managed,

    /// <summary>64-byte aligned native memory (<c>NativeMemory.AlignedAlloc</c>), as the other benchmark classes use.</summary>
    Aligned,
}

/// <summary>
/// The memory roofline on the buffers users have: the fused loss and gradient (float, class-index labels, one thread),
/// out of place and in place, on managed arrays and on aligned native memory, next to the two ways of moving the same
/// bytes: <see cref="Span{T}.CopyTo(Span{T})"/> (the baseline) and a copy with streaming (non-temporal) stores, which
/// skip the read-for-ownership of the destination; and a read-only pass over the logits, the floor of a loss alone.
/// </summary>
/// <remarks>
/// Every shape is larger than the last-level cache (two buffers of 32 MB or more), so these are the rows bound by memory.
/// In place, each call's gradient is the next call's logits, as in <see cref="FusedLossAndGradientBenchmarks"/>.
/// </remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class ManagedArrayRooflineBenchmarks : NativeBuffers
{
    private float[] _managedLogits = [];
    private float[] _managedGradient = [];
    private float[] _managedInPlace = [];
    private float* _logits;
    private float* _gradient;
    private float* _inPlace;
    private int* _labels;

    /// <summary>The three vocabulary shapes of the issue, all larger than the last-level cache.</summary>
    public static IEnumerable<Shape> Shapes { get; } =
    [
        new(256, 32000),
        new(64, 128256),
        new(4096, 32000),
    ];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Managed arrays or aligned native memory.</summary>
    [Params(BufferKind.Managed, BufferKind.Aligned)]
    public BufferKind Memory { get; set; }

    private Span<float> Logits => Memory == BufferKind.Managed ? _managedLogits : new Span<float>(_logits, Shape.Elements);

    private Span<float> Gradient => Memory == BufferKind.Managed ? _managedGradient : new Span<float>(_gradient, Shape.Elements);

    private Span<float> InPlace => Memory == BufferKind.Managed ? _managedInPlace : new Span<float>(_inPlace, Shape.Elements);

    private ReadOnlySpan<int> Labels => new(_labels, Shape.Rows);

    /// <summary>Allocates and fills the buffers of this case's kind only (the biggest shape needs 1.6 GB).</summary>
    [GlobalSetup]
    public void Setup()
    {
        int elements = Shape.Elements;
        if (Memory == BufferKind.Managed)
        {
            _managedLogits = new float[elements];
            _managedGradient = new float[elements];
            _managedInPlace = new float[elements];
        }
        else
        {
            _logits = Allocate<float>(elements);
            _gradient = Allocate<float>(elements);
            _inPlace = Allocate<float>(elements);
        }

        var random = new Random(Seed);
        _labels = Allocate<int>(Shape.Rows);
        FillLogits(random, Logits);
        Logits.CopyTo(InPlace);
        FillLabels(random, new Span<int>(_labels, Shape.Rows), Shape.Classes);
    }

    /// <summary><see cref="Span{T}.CopyTo(Span{T})"/> of the logits into the gradient buffer: the baseline.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void CopyTo() => Logits.CopyTo(Gradient);

    /// <summary>
    /// A copy whose stores bypass the caches (<c>vmovntps</c>, each a whole aligned line), after a few plain stores up to
    /// the destination's first cache line: the least any out-of-place kernel can move.
    /// </summary>
    [Benchmark]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void StreamingCopy() => StreamingCopy(Logits, Gradient);

    /// <summary>A read-only pass over the logits (a vector sum): the floor of a forward that writes nothing per element.</summary>
    [Benchmark]
    [MemoryTraffic(bytesPerElement: sizeof(float))]
    public float ReadOnly() => Sum(Logits);

    /// <summary>The fused loss and gradient, gradient into a separate buffer.</summary>
    [Benchmark]
    public float Fused() => SoftmaxCrossEntropy.LossAndGradient<float>(Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>The fused loss and gradient, gradient over the logits.</summary>
    [Benchmark]
    public float FusedInPlace() => SoftmaxCrossEntropy.LossAndGradient<float>(InPlace, Labels, InPlace, Shape.Classes, OneThread);

    private static void StreamingCopy(ReadOnlySpan<float> source, Span<float> destination)
    {
        fixed (float* s = source)
        fixed (float* d = destination)
        {
            nuint length = (nuint)source.Length;
            nuint i = 0;
            if (Avx512F.IsSupported)
            {
                nuint head = Math.Min(length, (nuint)((64 - ((nint)d & 63)) & 63) / sizeof(float));
                for (; i < head; i++)
                {
                    d[i] = s[i];
                }

                for (; i + 16 <= length; i += 16)
                {
                    Avx512F.StoreAlignedNonTemporal(d + i, Vector512.Load(s + i));
                }

                Sse.StoreFence();
            }

            source[(int)i..].CopyTo(destination[(int)i..]);
        }
    }

    private static float Sum(ReadOnlySpan<float> values)
    {
        fixed (float* p = values)
        {
            // Four accumulators, so that the adds' latency does not bound a pass that only the memory should.
            Vector512<float> s0 = Vector512<float>.Zero, s1 = s0, s2 = s0, s3 = s0;
            nuint length = (nuint)values.Length;
            nuint i = 0;
            for (; i + 64 <= length; i += 64)
            {
                s0 += Vector512.Load(p + i);
                s1 += Vector512.Load(p + i + 16);
                s2 += Vector512.Load(p + i + 32);
                s3 += Vector512.Load(p + i + 48);
            }

            float sum = Vector512.Sum((s0 + s1) + (s2 + s3));
            for (; i < length; i++)
            {
                sum += p[i];
            }

            return sum;
        }
    }
}
