using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// Loss and gradient over float logits with dense targets (each row a probability distribution), mean reduction.
/// </summary>
/// <remarks>
/// In place, the gradient overwrites the logits; repeated calls see gradients in about [-1/M, 1/M] as logits
/// and stay finite (see <see cref="FusedLossAndGradientBenchmarks"/>). The targets are never written.
/// </remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 3 * sizeof(float))]
public unsafe class DenseLossAndGradientBenchmarks : NativeBuffers
{
    private float* _logits;
    private float* _targets;
    private float* _gradient;
    private float* _inPlace;

    /// <summary>The common shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => Shape.Common;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    private ReadOnlySpan<float> Logits => new(_logits, Shape.Elements);

    private ReadOnlySpan<float> Targets => new(_targets, Shape.Elements);

    private Span<float> Gradient => new(_gradient, Shape.Elements);

    private Span<float> InPlace => new(_inPlace, Shape.Elements);

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(Seed);
        _logits = Allocate<float>(Shape.Elements);
        _targets = Allocate<float>(Shape.Elements);
        _gradient = Allocate<float>(Shape.Elements);
        _inPlace = Allocate<float>(Shape.Elements);
        FillLogits(random, new Span<float>(_logits, Shape.Elements));
        Logits.CopyTo(InPlace);
        FillTargets(random, new Span<float>(_targets, Shape.Elements), Shape.Classes);
    }

    /// <summary>Copies the logits into the gradient buffer: the memory roofline for two streams.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void Copy() => Logits.CopyTo(Gradient);

    /// <summary>SoftmaxCE, gradient into a separate buffer.</summary>
    [Benchmark]
    public float SoftmaxCE() => SoftmaxCrossEntropy.LossAndGradient(Logits, Targets, Gradient, Shape.Classes, OneThread);

    /// <summary>SoftmaxCE, gradient written over the logits.</summary>
    [Benchmark]
    public float SoftmaxCEInPlace() => SoftmaxCrossEntropy.LossAndGradient<float>(InPlace, Targets, InPlace, Shape.Classes, OneThread);

    /// <summary>The row-by-row TensorPrimitives composition.</summary>
    [Benchmark]
    public float TensorPrimitivesChain() => Baselines.DenseLossAndGradientChain(Logits, Targets, Gradient, Shape.Classes);
}
