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
public unsafe class ParallelThresholdBenchmarks : LabelBuffers<float>
{
    private static readonly CrossEntropyOptions AllCores = new() { MaxDegreeOfParallelism = 0 };


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
        AllocateLabelBuffers(Shape);
    }

    /// <summary>Restores the library's threshold.</summary>
    [GlobalCleanup(Target = nameof(AllCoresNoThreshold))]
    public void Restore() => RowChunks.ParallelMinElements = RowChunks.DefaultParallelMinElements;

    /// <summary>The calling thread only.</summary>
    [Benchmark(Baseline = true)]
    public float CallingThread() => SoftmaxCrossEntropy.LossAndGradient(
        Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>Every core, however small the call.</summary>
    [Benchmark]
    public float AllCoresNoThreshold() => SoftmaxCrossEntropy.LossAndGradient(
        Logits, Labels, Gradient, Shape.Classes, AllCores);
}
