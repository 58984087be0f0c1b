using System.Collections.Generic;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// The forward that saves log-sum-exps (loss and LSE, no gradient) against a read-only pass over the same logits (a vector
/// sum): float logits, class-index labels, mean reduction, one thread.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: sizeof(float), bytesPerRow: sizeof(int) + sizeof(float))]
public unsafe class AutogradForwardBenchmarks : LabelBuffers<float>
{
    private float[] _logSumExp = [];

    /// <summary>The language-model shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => AutogradShapes.All;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
        _logSumExp = new float[Shape.Rows];
    }

    /// <summary>A vector sum over the logits: the least time any pass that reads them can take.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: sizeof(float))]
    public float ReadOnlyPass() => TensorPrimitives.Sum(Logits);

    /// <summary>The forward: the loss, and each row's log-sum-exp saved.</summary>
    [Benchmark]
    public float Forward() => SoftmaxCrossEntropy.Forward(Logits, Labels, _logSumExp, Shape.Classes, OneThread);

    /// <summary>The loss alone, for comparison.</summary>
    [Benchmark]
    public float Loss() => SoftmaxCrossEntropy.Loss(Logits, Labels, Shape.Classes, OneThread);
}
