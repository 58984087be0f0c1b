using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;
using SoftmaxCE.Kernels;

namespace Benchmarks;

/// <summary>
/// Where using a second thread starts to pay: the fused float call at C = 1000 on 16 Ki to 1 Mi elements, on the
/// calling thread against all cores with the library's size threshold switched off. The threshold in
/// <c>RowChunks.DefaultParallelMinElements</c> comes from this table.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class ParallelThresholdBenchmarks : NativeBuffers
{
    private static readonly CrossEntropyOptions AllCores = new() { MaxDegreeOfParallelism = 0 };

    private float* _logits;
    private float* _gradient;
    private int* _labels;

    /// <summary>16 Ki to 1 Mi elements, C = 1000.</summary>
    public static IEnumerable<Shape> Shapes => [new(16, 1000), new(64, 1000), new(256, 1000), new(1024, 1000)];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Allocates and fills every buffer, and lets every size go parallel.</summary>
    [GlobalSetup]
    public void Setup()
    {
        RowChunks.ParallelMinElements = 0;
        var random = new Random(Seed);
        _logits = Allocate<float>(Shape.Elements);
        _gradient = Allocate<float>(Shape.Elements);
        _labels = Allocate<int>(Shape.Rows);
        FillLogits(random, new Span<float>(_logits, Shape.Elements));
        FillLabels(random, new Span<int>(_labels, Shape.Rows), Shape.Classes);
    }

    /// <summary>Restores the library's threshold.</summary>
    [GlobalCleanup(Target = nameof(AllCoresNoThreshold))]
    public void Restore() => RowChunks.ParallelMinElements = RowChunks.DefaultParallelMinElements;

    /// <summary>The calling thread only.</summary>
    [Benchmark(Baseline = true)]
    public float CallingThread() => SoftmaxCrossEntropy.LossAndGradient(
        new ReadOnlySpan<float>(_logits, Shape.Elements), new ReadOnlySpan<int>(_labels, Shape.Rows), new Span<float>(_gradient, Shape.Elements), Shape.Classes, OneThread);

    /// <summary>Every core, however small the call.</summary>
    [Benchmark]
    public float AllCoresNoThreshold() => SoftmaxCrossEntropy.LossAndGradient(
        new ReadOnlySpan<float>(_logits, Shape.Elements), new ReadOnlySpan<int>(_labels, Shape.Rows), new Span<float>(_gradient, Shape.Elements), Shape.Classes, AllCores);
}
