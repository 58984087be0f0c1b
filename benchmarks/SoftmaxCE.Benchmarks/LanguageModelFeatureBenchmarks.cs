using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// What the language-model options cost over the plain fused call (the baseline), single-threaded, float logits
/// at vocabulary sizes: z-loss, logit soft-capping, and accuracy (argmax) with per-row predictions.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class LanguageModelFeatureBenchmarks : LabelBuffers<float>
{
    private static readonly CrossEntropyOptions Plain = new() { MaxDegreeOfParallelism = 1 };
    private static readonly CrossEntropyOptions ZLoss = Plain with { ZLoss = 1e-4 };
    private static readonly CrossEntropyOptions Softcap = Plain with { LogitSoftcap = 30 };

    private int* _predictions;

    /// <summary>Vocabulary shapes.</summary>
    public static IEnumerable<Shape> Shapes => [new(256, 32000), new(64, 128256)];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }




    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
        _predictions = Allocate<int>(Shape.Rows);
    }

    /// <summary>The plain fused call.</summary>
    [Benchmark(Baseline = true)]
    public float Plain_() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, Plain);

    /// <summary>With z-loss.</summary>
    [Benchmark]
    public float WithZLoss() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, ZLoss);

    /// <summary>With logit soft-capping (s = 30, Gemma 2's value).</summary>
    [Benchmark]
    public float WithSoftcap() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, Softcap);

    /// <summary>With the correct count and each row's prediction.</summary>
    [Benchmark]
    public float WithAccuracy() => SoftmaxCrossEntropy.LossAndGradientWithMetrics(
        Logits, Labels, Gradient, Shape.Classes, Plain, predictions: new Span<int>(_predictions, Shape.Rows)).Loss;
}
