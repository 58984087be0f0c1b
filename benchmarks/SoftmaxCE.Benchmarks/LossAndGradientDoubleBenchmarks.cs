using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// Loss and gradient over double logits with class-index labels: the double-precision variant of
/// <see cref="FusedLossAndGradientBenchmarks"/> (named apart so that --filter '*Fused*' selects only the float class).
/// </summary>
/// <remarks>In place: see <see cref="FusedLossAndGradientBenchmarks"/>; repeated calls stay finite.</remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(double), bytesPerRow: sizeof(int))]
public unsafe class LossAndGradientDoubleBenchmarks : LabelBuffers<double>
{

    /// <summary>The common shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.Common;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }





    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
    }

    /// <summary>Copies the logits into the gradient buffer: the memory roofline.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(double))]
    public void Copy() => Logits.CopyTo(Gradient);

    /// <summary>SoftmaxCE, gradient into a separate buffer.</summary>
    [Benchmark]
    public double SoftmaxCE() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>SoftmaxCE, gradient written over the logits.</summary>
    [Benchmark]
    public double SoftmaxCEInPlace() => SoftmaxCrossEntropy.LossAndGradient<double>(InPlace, Labels, InPlace, Shape.Classes, OneThread);

    /// <summary>The row-by-row TensorPrimitives composition.</summary>
    [Benchmark]
    public double TensorPrimitivesChain() => Baselines.LossAndGradientChain(Logits, Labels, Gradient, Shape.Classes);
}
