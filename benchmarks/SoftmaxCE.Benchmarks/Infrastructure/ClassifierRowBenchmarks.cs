using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// What <see cref="ShortRowBenchmarks"/> and <see cref="MediumRowBenchmarks"/> share: class-index labels, the fused loss and
/// gradient against a copy of the same bytes and the TensorPrimitives chain; each names its shapes.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public abstract class ClassifierRowBenchmarks : LabelBuffers<float>
{
    /// <summary>The shape of this case (each derived class gives its shapes).</summary>
    public abstract Shape Shape { get; set; }

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

    /// <summary>The row-by-row TensorPrimitives composition: the baseline the speed targets are stated against.</summary>
    [Benchmark(Baseline = true)]
    public float TensorPrimitivesChain() => Baselines.LossAndGradientChain(Logits, Labels, Gradient, Shape.Classes);
}
