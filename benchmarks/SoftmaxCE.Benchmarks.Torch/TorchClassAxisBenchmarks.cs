using System;
using System.Collections.Generic;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using TorchSharp;
using static TorchSharp.torch.nn;

namespace SoftmaxCE.Benchmarks.Torch;

/// <summary>
/// PyTorch's <c>[N, C, H, W]</c> layout (segmentation: one class-index label per pixel, the classes on axis 1):
/// SoftmaxCE's tensor overload with <c>classAxis: 1</c> against libtorch's <c>cross_entropy</c> on the same
/// 4-d tensor, both on one thread, with PyTorch's defaults (mean over the pixels). Neither side transposes by hand.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Config))]
public class TorchClassAxisBenchmarks
{
    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(new NsPerElementColumn());
    }

    private float[] _logits = [];
    private int[] _labels = [];
    private float[] _gradient = [];
    private torch.Tensor? _logitsTensor;
    private torch.Tensor? _labelsTensor;

    /// <summary>A small classifier's feature map (CIFAR-sized, 10 classes) and a Pascal VOC head (21 classes, 256 x 256).</summary>
    public static IEnumerable<ImageShape> Shapes() => [new(32, 10, 32, 32), new(8, 21, 256, 256)];

    [ParamsSource(nameof(Shapes))]
    public ImageShape Shape { get; set; } = new(1, 1, 1, 1);

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        (_logits, _labels) = ImageShape.Create(Shape);
        _gradient = new float[_logits.Length];
        (_logitsTensor, _labelsTensor) = Shape.ToTensors(_logits, _labels);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _logitsTensor?.Dispose();
        _labelsTensor?.Dispose();
        _logitsTensor = null;
        _labelsTensor = null;
    }

    private static readonly CrossEntropyOptions OneThread = new() { MaxDegreeOfParallelism = 1 };

    /// <summary>Ours: the fused loss and gradient over the 4-d tensors, classes on axis 1, out of place.</summary>
    [Benchmark(Baseline = true)]
    public float SoftmaxCE_LossAndGradient_ClassAxis1() =>
        SoftmaxCrossEntropy.LossAndGradient<float>(
            new ReadOnlyTensorSpan<float>(_logits, Shape.Lengths), new ReadOnlyTensorSpan<int>(_labels, Shape.LabelLengths),
            new TensorSpan<float>(_gradient, Shape.Lengths), OneThread, default, classAxis: 1);

    /// <summary>libtorch on one thread: cross_entropy forward and backward on the 4-d tensor, the gradient reset to None.</summary>
    [Benchmark]
    public float Torch_ForwardBackward_1Thread() => TorchPeerBenchmarks.TorchForwardBackward(_logitsTensor!, _labelsTensor!);

    /// <summary>libtorch on one thread: cross_entropy forward only, under no_grad.</summary>
    [Benchmark]
    public float Torch_Forward_1Thread() => TorchPeerBenchmarks.TorchForward(_logitsTensor!, _labelsTensor!);
}

/// <summary>An image batch's logits <c>[N, C, H, W]</c>; shown as e.g. "8x21x256x256".</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1036", Justification = "Comparable only so BenchmarkDotNet can order parameter values; no operators needed.")]
public sealed class ImageShape(int n, int classes, int height, int width) : IComparable<ImageShape>, IComparable
{
    public int N { get; } = n;

    public int Classes { get; } = classes;

    public int Height { get; } = height;

    public int Width { get; } = width;

    public long Elements => (long)N * Classes * Height * Width;

    internal nint[] Lengths => [N, Classes, Height, Width];

    internal nint[] LabelLengths => [N, Height, Width];

    public override string ToString() => $"{N}x{Classes}x{Height}x{Width}";

    public int CompareTo(ImageShape? other) => other is null ? 1 : Elements.CompareTo(other.Elements);

    public int CompareTo(object? obj) => CompareTo(obj as ImageShape);

    /// <summary>Seeded logits uniform in [-5, 5] and one label per pixel, uniform in [0, C).</summary>
    internal static (float[] Logits, int[] Labels) Create(ImageShape shape)
    {
        var random = new Random(TestData.Seed);
        var logits = new float[checked((int)shape.Elements)];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (random.NextSingle() * 10f) - 5f;
        }

        var labels = new int[shape.N * shape.Height * shape.Width];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = random.Next(shape.Classes);
        }

        return (logits, labels);
    }

    /// <summary>The same data as libtorch tensors: float32 [N, C, H, W] logits with requires_grad, int64 [N, H, W] labels.</summary>
    internal (torch.Tensor Logits, torch.Tensor Labels) ToTensors(float[] logits, int[] labels) =>
        (torch.tensor(logits, [N, Classes, Height, Width], requires_grad: true),
         torch.tensor(Array.ConvertAll(labels, static l => (long)l), [N, Height, Width]));
}
