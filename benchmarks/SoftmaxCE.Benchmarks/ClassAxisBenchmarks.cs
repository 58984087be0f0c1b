using System;
using System.Collections.Generic;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// PyTorch's N-d layout, classes on axis 1: the fused loss and gradient through the tensor overload with
/// <c>classAxis: 1</c> (the strided kernel, vectors across the positions) against a copy of the same bytes.
/// </summary>
/// <remarks>
/// The Shape column reads positions x classes: 524288x21 is <c>[8, 21, 256, 256]</c> (segmentation, 21 classes),
/// 32768x10 is <c>[32, 10, 32, 32]</c>. Labels are one per position, uniform over the classes.
/// </remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class ClassAxisBenchmarks : LabelBuffers<float>
{
    private static readonly Dictionary<Shape, nint[]> Dimensions = new()
    {
        [new(8 * 256 * 256, 21)] = [8, 21, 256, 256],
        [new(32 * 32 * 32, 10)] = [32, 10, 32, 32],
    };

    private nint[] _dimensions = [];
    private nint[] _positions = [];

    /// <summary>The two shapes, as positions x classes.</summary>
    public static IEnumerable<Shape> Shapes => Dimensions.Keys;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
        _dimensions = Dimensions[Shape];
        _positions = [_dimensions[0], _dimensions[2], _dimensions[3]];
    }

    /// <summary>Copies the logits into the gradient buffer: the least time any out-of-place kernel can take.</summary>
    [Benchmark(Baseline = true)]
    [MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
    public void Copy() => Logits.CopyTo(Gradient);

    /// <summary>Loss and gradient, classes on axis 1, gradient into a separate buffer.</summary>
    [Benchmark]
    public float SoftmaxCE() => SoftmaxCrossEntropy.LossAndGradient(
        new ReadOnlyTensorSpan<float>(Logits, _dimensions), new ReadOnlyTensorSpan<int>(Labels, _positions), new TensorSpan<float>(Gradient, _dimensions),
        OneThread, classAxis: 1);

    /// <summary>Loss and gradient, classes on axis 1, the gradient written over the logits.</summary>
    [Benchmark]
    public float SoftmaxCEInPlace() => SoftmaxCrossEntropy.LossAndGradient(
        new ReadOnlyTensorSpan<float>(InPlace, _dimensions), new ReadOnlyTensorSpan<int>(Labels, _positions), new TensorSpan<float>(InPlace, _dimensions),
        OneThread, classAxis: 1);
}
