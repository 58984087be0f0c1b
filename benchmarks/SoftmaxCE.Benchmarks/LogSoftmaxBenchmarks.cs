using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>Row-wise log-softmax over float logits.</summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
public unsafe class LogSoftmaxBenchmarks : NativeBuffers
{
    private float* _logits;
    private float* _logProbabilities;
    private float* _scratchRow;

    /// <summary>The common shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.Common;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    private ReadOnlySpan<float> Logits => new(_logits, Shape.Elements);

    private Span<float> LogProbabilities => new(_logProbabilities, Shape.Elements);

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(Seed);
        _logits = Allocate<float>(Shape.Elements);
        _logProbabilities = Allocate<float>(Shape.Elements);
        _scratchRow = Allocate<float>(Shape.Classes);
        FillLogits(random, new Span<float>(_logits, Shape.Elements));
    }

    /// <summary>Copies the logits into the output: the memory roofline.</summary>
    [Benchmark(Baseline = true)]
    public void Copy() => Logits.CopyTo(LogProbabilities);

    /// <summary>SoftmaxCE.</summary>
    [Benchmark]
    public void SoftmaxCE() => SoftmaxCrossEntropy.LogSoftmax(Logits, LogProbabilities, Shape.Classes, new CrossEntropyOptions { MaxDegreeOfParallelism = 1 });

    /// <summary>The row-by-row TensorPrimitives composition (Max, Subtract, Exp to a scratch row, Sum, Subtract).</summary>
    [Benchmark]
    public void TensorPrimitivesChain() =>
        Baselines.LogSoftmaxChain(Logits, LogProbabilities, new Span<float>(_scratchRow, Shape.Classes), Shape.Classes);
}
