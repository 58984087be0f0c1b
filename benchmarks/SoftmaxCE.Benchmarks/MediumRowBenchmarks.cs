using System.Collections.Generic;
using BenchmarkDotNet.Attributes;

namespace Benchmarks;

/// <summary>
/// Rows of 17 to 100 classes, between the shortest rows and the vocabulary sizes: the fused loss and gradient against a
/// copy and the TensorPrimitives chain, with about a million elements per call. Row by row, each row pays a fixed cost
/// (its reductions across lanes, a logarithm, conversions to double) that dominates while rows are short; the short-row
/// block kernel shares it among a vector's lane count of rows.
/// </summary>
public class MediumRowBenchmarks : ClassifierRowBenchmarks
{
    /// <summary>Classifier heads between a handful of classes and a thousand: 17, 33, 64 and 100 classes.</summary>
    public static IEnumerable<Shape> Shapes => [new(61680, 17), new(31775, 33), new(16384, 64), new(10486, 100)];

    /// <inheritdoc/>
    [ParamsSource(nameof(Shapes))]
    public override Shape Shape { get; set; }
}
