using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>Row-wise softmax over float logits in [-5, 5] (where TensorPrimitives.SoftMax is valid).</summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
public unsafe class SoftmaxBenchmarks : NativeBuffers
{
    private float* _logits;
    private float* _probabilities;

    /// <summary>The common shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.Common;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    private ReadOnlySpan<float> Logits => new(_logits, Shape.Elements);

    private Span<float> Probabilities => new(_probabilities, Shape.Elements);

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(Seed);
        _logits = Allocate<float>(Shape.Elements);
        _probabilities = Allocate<float>(Shape.Elements);
        FillLogits(random, new Span<float>(_logits, Shape.Elements));
    }

    /// <summary>Copies the logits into the output: the memory roofline.</summary>
    [Benchmark(Baseline = true)]
    public void Copy() => Logits.CopyTo(Probabilities);

    /// <summary>SoftmaxCE.</summary>
    [Benchmark]
    public void SoftmaxCE() => SoftmaxCrossEntropy.Softmax(Logits, Probabilities, Shape.Classes, new CrossEntropyOptions { MaxDegreeOfParallelism = 1 });

    /// <summary>The row-by-row TensorPrimitives composition (Max, Subtract, Exp, Sum, Multiply).</summary>
    [Benchmark]
    public void TensorPrimitivesChain() => Baselines.SoftmaxChain(Logits, Probabilities, Shape.Classes);

    /// <summary>TensorPrimitives.SoftMax per row: no max subtraction, valid only on these small logits.</summary>
    [Benchmark]
    public void TensorPrimitivesSoftMax() => Baselines.SoftmaxTensorPrimitives(Logits, Probabilities, Shape.Classes);
}
