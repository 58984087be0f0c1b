using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// Scaling over cores: the fused float call on the calling thread only against all cores, next to a copy of the
/// same bytes on one thread and on all cores (the memory roofline for each).
/// </summary>
/// <remarks>The all-core copy splits the buffer into one contiguous piece per core with <see cref="Parallel.For(int, int, Action{int})"/>.</remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class ParallelScalingBenchmarks : LabelBuffers<float>
{
    private static readonly CrossEntropyOptions AllCores = new() { MaxDegreeOfParallelism = 0 };


    /// <summary>The five shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.All;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
    }

    /// <summary>A copy on the calling thread.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void Copy1Thread() => Logits.CopyTo(Gradient);

    /// <summary>A copy split over every core.</summary>
    [Benchmark]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void CopyAllCores()
    {
        int parts = Environment.ProcessorCount;
        int length = Shape.Elements;
        float* source = LogitsPointer;
        float* destination = GradientPointer;
        Parallel.For(0, parts, part =>
        {
            int start = (int)((long)length * part / parts);
            int end = (int)((long)length * (part + 1) / parts);
            new ReadOnlySpan<float>(source + start, end - start).CopyTo(new Span<float>(destination + start, end - start));
        });
    }

    /// <summary>SoftmaxCE on the calling thread (MaxDegreeOfParallelism = 1).</summary>
    [Benchmark]
    public float SoftmaxCE1Thread() => SoftmaxCrossEntropy.LossAndGradient(
        Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>SoftmaxCE on every core (MaxDegreeOfParallelism = 0).</summary>
    [Benchmark]
    public float SoftmaxCEAllCores() => SoftmaxCrossEntropy.LossAndGradient(
        Logits, Labels, Gradient, Shape.Classes, AllCores);
}
