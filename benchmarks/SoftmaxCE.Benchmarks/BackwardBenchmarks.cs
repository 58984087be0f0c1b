using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>The gradient alone (Backward) over float logits with class-index labels, mean reduction.</summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class BackwardBenchmarks : NativeBuffers
{
    private float* _logits;
    private float* _gradient;
    private int* _labels;

    /// <summary>The common shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.Common;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    private ReadOnlySpan<float> Logits => new(_logits, Shape.Elements);

    private Span<float> Gradient => new(_gradient, Shape.Elements);

    private ReadOnlySpan<int> Labels => new(_labels, Shape.Rows);

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(Seed);
        _logits = Allocate<float>(Shape.Elements);
        _gradient = Allocate<float>(Shape.Elements);
        _labels = Allocate<int>(Shape.Rows);
        FillLogits(random, new Span<float>(_logits, Shape.Elements));
        FillLabels(random, new Span<int>(_labels, Shape.Rows), Shape.Classes);
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
