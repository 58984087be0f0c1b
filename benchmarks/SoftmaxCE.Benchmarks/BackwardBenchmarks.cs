using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>The gradient alone (Backward) over float logits with class-index labels, mean reduction.</summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class BackwardBenchmarks : LabelBuffers<float>
{

    /// <summary>The common shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.Common;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }




    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
    }

    /// <summary>Copies the logits into the gradient buffer: the memory roofline.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void Copy() => Logits.CopyTo(Gradient);

    /// <summary>SoftmaxCE.</summary>
    [Benchmark]
    public void SoftmaxCE() => SoftmaxCrossEntropy.Backward(Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>The row-by-row TensorPrimitives composition (the fused chain; its loss is discarded).</summary>
    [Benchmark]
    public float TensorPrimitivesChain() => Baselines.LossAndGradientChain(Logits, Labels, Gradient, Shape.Classes);
}
