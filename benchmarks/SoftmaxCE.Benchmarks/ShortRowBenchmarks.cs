using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// Short rows (C = 3, 10, 16) with class-index labels: the fused loss and gradient against a copy and the TensorPrimitives
/// chain, as <see cref="FusedLossAndGradientBenchmarks"/> measures the five main shapes. Run it with
/// <c>DOTNET_EnableAVX512=0</c> too: the rows-across-lanes kernel serves every vector width.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public class ShortRowBenchmarks : LabelBuffers<float>
{
    /// <summary>Small-classifier shapes.</summary>
    public static IEnumerable<Shape> Shapes => [new(4096, 3), new(4096, 10), new(4096, 16)];

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

    /// <summary>SoftmaxCE, gradient written over the logits.</summary>
    [Benchmark]
    public float SoftmaxCEInPlace() => SoftmaxCrossEntropy.LossAndGradient<float>(InPlace, Labels, InPlace, Shape.Classes, OneThread);

    /// <summary>The row-by-row TensorPrimitives composition: the baseline the speed targets are stated against.</summary>
    [Benchmark(Baseline = true)]
    public float TensorPrimitivesChain() => Baselines.LossAndGradientChain(Logits, Labels, Gradient, Shape.Classes);
}
