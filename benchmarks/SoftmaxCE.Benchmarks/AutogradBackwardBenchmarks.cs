using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// The backward from saved log-sum-exps (the recompute-from-statistics write strategy) against a copy of the same bytes
/// and the fused loss and gradient: float logits, class-index labels, mean reduction, one thread.
/// </summary>
/// <remarks>The log-sum-exps come from one <c>Forward</c> in the setup: the backward reads the logits and writes the gradient once.</remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int) + sizeof(float))]
public unsafe class AutogradBackwardBenchmarks : LabelBuffers<float>
{
    private float[] _logSumExp = [];

    /// <summary>The language-model shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => AutogradShapes.All;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Allocates and fills every buffer, and saves the log-sum-exps.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
        _logSumExp = new float[Shape.Rows];
        SoftmaxCrossEntropy.Forward(Logits, Labels, _logSumExp, Shape.Classes, OneThread);
    }

    /// <summary>Copies the logits into the gradient buffer: the least time any out-of-place pass can take.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void Copy() => Logits.CopyTo(Gradient);

    /// <summary>The backward from the saved log-sum-exps, upstream gradient 1.</summary>
    [Benchmark]
    public void BackwardFromStatistics() => SoftmaxCrossEntropy.Backward(Logits, Labels, _logSumExp, 1f, Gradient, Shape.Classes, OneThread);

    /// <summary>The fused loss and gradient (statistics and store-and-rescale), which the backward should beat.</summary>
    [Benchmark]
    public float FusedLossAndGradient() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, OneThread);
}
