using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// Short rows (C = 3, 10, 16) with class-index labels: the fused loss and gradient against a copy and the TensorPrimitives
/// chain, as <see cref="FusedLossAndGradientBenchmarks"/> measures the five main shapes. Run it with
/// <c>DOTNET_EnableAVX512=0</c> too: the rows-across-lanes kernel serves every vector width.
/// </summary>
public class ShortRowBenchmarks : ClassifierRowBenchmarks
{
    /// <summary>Small-classifier shapes.</summary>
    public static IEnumerable<Shape> Shapes => [new(4096, 3), new(4096, 10), new(4096, 16)];

    /// <inheritdoc/>
    [ParamsSource(nameof(Shapes))]
    public override Shape Shape { get; set; }

    /// <summary>SoftmaxCE, gradient written over the logits.</summary>
    [Benchmark]
    public float SoftmaxCEInPlace() => SoftmaxCrossEntropy.LossAndGradient<float>(InPlace, Labels, InPlace, Shape.Classes, OneThread);
}
