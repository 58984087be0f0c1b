using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// Rows of 17 to 100 classes, between the rows-across-lanes kernel (C &lt;= 16) and the vocabulary sizes: the fused loss and
/// gradient against a copy and the TensorPrimitives chain, with about a million elements per call. Here each row pays a
/// fixed cost (its reductions across lanes, a logarithm, conversions to double) that dominates while rows are short.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public class MediumRowBenchmarks : LabelBuffers<float>
{
    /// <summary>Classifier heads between a handful of classes and a thousand: 17, 33, 64 and 100 classes.</summary>
    public static IEnumerable<Shape> Shapes => [new(61680, 17), new(31775, 33), new(16384, 64), new(10486, 100)];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup() => AllocateLabelBuffers(Shape);

    /// <summary>Copies the logits into the gradient buffer: the least time any out-of-place kernel can take.</summary>
    [Benchmark]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void Copy() => Logits.CopyTo(Gradient);

    /// <summary>SoftmaxCE, gradient into a separate buffer.</summary>
    [Benchmark]
    public float SoftmaxCE() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>The row-by-row TensorPrimitives composition.</summary>
    [Benchmark(Baseline = true)]
    public float TensorPrimitivesChain() => Baselines.LossAndGradientChain(Logits, Labels, Gradient, Shape.Classes);
}
