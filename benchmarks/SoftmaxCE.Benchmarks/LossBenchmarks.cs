using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>The forward pass alone: the mean loss over float logits with class-index labels. It only reads the logits.</summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class LossBenchmarks : NativeBuffers
{
    private float* _logits;
    private float* _copy;
    private float* _scratchRow;
    private int* _labels;

    /// <summary>The common shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.Common;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    private ReadOnlySpan<float> Logits => new(_logits, Shape.Elements);

    private ReadOnlySpan<int> Labels => new(_labels, Shape.Rows);

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(Seed);
        _logits = Allocate<float>(Shape.Elements);
        _copy = Allocate<float>(Shape.Elements);
        _scratchRow = Allocate<float>(Shape.Classes);
        _labels = Allocate<int>(Shape.Rows);
        FillLogits(random, new Span<float>(_logits, Shape.Elements));
        FillLabels(random, new Span<int>(_labels, Shape.Rows), Shape.Classes);
    }

    /// <summary>
    /// Copies the logits into another buffer. It moves twice the bytes the loss needs, so a loss at the memory
    /// roofline runs at about half its time (ratio ~0.5).
    /// </summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void Copy() => Logits.CopyTo(new Span<float>(_copy, Shape.Elements));

    /// <summary>SoftmaxCE.</summary>
    [Benchmark]
    public float SoftmaxCE() => SoftmaxCrossEntropy.Loss(Logits, Labels, Shape.Classes, OneThread);

    /// <summary>The row-by-row TensorPrimitives composition (Max, Subtract and Exp into a scratch row, Sum).</summary>
    [Benchmark]
    public float TensorPrimitivesChain() =>
        Baselines.LossChain(Logits, Labels, new Span<float>(_scratchRow, Shape.Classes), Shape.Classes);
}
