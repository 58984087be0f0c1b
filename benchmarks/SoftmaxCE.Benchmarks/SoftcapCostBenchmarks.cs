using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// The cost of soft-capping: the fused loss and gradient with <c>LogitSoftcap = 30</c> (Gemma 2's value) against the
/// plain call (the baseline) in the same run, out of place and in place, one thread.
/// </summary>
/// <remarks>
/// 1024 x 1000 fits in cache (the compute cost of the cap shows fully), 4096 x 1000 and 256 x 32000 are about the
/// size of the last-level cache or larger.
/// </remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class SoftcapCostBenchmarks : LabelBuffers<float>
{
    private static readonly CrossEntropyOptions Softcap = OneThread with { LogitSoftcap = 30 };

    /// <summary>An in-cache shape and the two of the issue.</summary>
    public static IEnumerable<Shape> Shapes { get; } =
    [
        new(1024, 1000),
        new(4096, 1000),
        new(256, 32000),
    ];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup() => AllocateLabelBuffers(Shape);

    /// <summary>The plain fused call: the baseline.</summary>
    [Benchmark(Baseline = true)]
    public float Plain() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>With the soft-cap.</summary>
    [Benchmark]
    public float WithSoftcap() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, Softcap);

    /// <summary>The plain call in place.</summary>
    [Benchmark]
    public float PlainInPlace() => SoftmaxCrossEntropy.LossAndGradient<float>(InPlace, Labels, InPlace, Shape.Classes, OneThread);

    /// <summary>With the soft-cap, in place.</summary>
    [Benchmark]
    public float WithSoftcapInPlace() => SoftmaxCrossEntropy.LossAndGradient<float>(InPlace, Labels, InPlace, Shape.Classes, Softcap);
}
