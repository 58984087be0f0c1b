using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// The headline benchmark: fused loss and gradient over float logits with class-index labels, mean reduction,
/// against a plain copy (the memory roofline), the TensorPrimitives chain and scalar loops.
/// </summary>
/// <remarks>
/// In place, the gradient overwrites the logits, so every call after the first sees the previous gradient as its
/// logits. Those values lie in about [-1/M, 1/M]: perfectly good logits, so repeated calls stay finite and do the
/// same work (the kernel has no value-dependent branches). The buffer is filled once with logits in [-5, 5].
/// </remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class FusedLossAndGradientBenchmarks : LabelBuffers<float>
{

    /// <summary>The five shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.All;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }





    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
    }

    /// <summary>Copies the logits into the gradient buffer: the least time any out-of-place kernel can take.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void Copy() => Logits.CopyTo(Gradient);

    /// <summary>SoftmaxCE, gradient into a separate buffer.</summary>
    [Benchmark]
    public float SoftmaxCE() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>SoftmaxCE, gradient written over the logits.</summary>
    [Benchmark]
    public float SoftmaxCEInPlace() => SoftmaxCrossEntropy.LossAndGradient<float>(InPlace, Labels, InPlace, Shape.Classes, OneThread);

    /// <summary>The row-by-row TensorPrimitives composition.</summary>
    [Benchmark]
    public float TensorPrimitivesChain() => Baselines.LossAndGradientChain(Logits, Labels, Gradient, Shape.Classes);

    /// <summary>Plain scalar loops with MathF.Exp.</summary>
    [Benchmark]
    public float ScalarLoop() => Baselines.LossAndGradientScalar(Logits, Labels, Gradient, Shape.Classes);
}
