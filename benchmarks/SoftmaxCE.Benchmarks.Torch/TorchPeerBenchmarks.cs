using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using TorchSharp;
using static TorchSharp.torch.nn;

namespace SoftmaxCE.Benchmarks.Torch;

/// <summary>
/// SoftmaxCE's fused loss + gradient against libtorch's <c>cross_entropy</c> (TorchSharp-cpu), on the same float
/// logits and class-index labels, with PyTorch's defaults (mean reduction, no weights, no smoothing) on both sides.
/// All methods are in one class so the ratio column reads "torch / ours" per shape.
/// </summary>
/// <remarks>
/// <c>torch.set_num_threads</c> is process-global and BenchmarkDotNet runs every case of this class in this one
/// process (in-process toolchain), so each case sets it in its own targeted [GlobalSetup]: one thread for ours and
/// the *_1Thread methods, <see cref="Environment.ProcessorCount"/> for the *_AllThreads method. Categories
/// <c>1Thread</c> and <c>AllThreads</c> select them (<c>--anyCategories 1Thread</c>).
/// The allocation column counts managed memory only: libtorch's native buffers are not visible to it.
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(Config))]
public class TorchPeerBenchmarks
{
    // Category names sort so that BenchmarkDotNet (which orders by category) lists the baseline's group first.
    public const string OneThread = "1Thread";
    public const string AllThreads = "AllThreads";

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddColumn(new NsPerElementColumn());

            // One baseline per category (ours on one thread, ours on all cores), so ratios compare like with like.
            AddLogicalGroupRules(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams);
        }
    }

    private float[] _logits = [];
    private int[] _labels = [];
    private float[] _gradient = [];
    private torch.Tensor? _logitsTensor;
    private torch.Tensor? _labelsTensor;

    public static IEnumerable<Shape> Shapes() =>
    [
        new(4096, 10),
        new(1024, 1000),
        new(256, 32000),
        new(64, 128256),
        new(4096, 32000),
    ];

    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; } = new(1, 1);

    [GlobalSetup(Targets = [nameof(SoftmaxCE_LossAndGradient), nameof(Torch_ForwardBackward_1Thread), nameof(Torch_Forward_1Thread)])]
    public void SetupOneThread() => Setup(threads: 1);

    [GlobalSetup(Targets = [nameof(SoftmaxCE_LossAndGradient_AllCores), nameof(Torch_ForwardBackward_AllThreads)])]
    public void SetupAllThreads() => Setup(threads: Environment.ProcessorCount);

    private void Setup(int threads)
    {
        torch.set_num_threads(threads);
        if (torch.get_num_threads() != threads)
        {
            throw new InvalidOperationException($"torch.set_num_threads({threads}) left {torch.get_num_threads()} threads.");
        }

        (_logits, _labels) = TestData.Create(Shape);
        _gradient = new float[_logits.Length];
        (_logitsTensor, _labelsTensor) = TestData.ToTensors(_logits, _labels, Shape);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _logitsTensor?.Dispose();
        _labelsTensor?.Dispose();
        _logitsTensor = null;
        _labelsTensor = null;
        _logits = [];
        _labels = [];
        _gradient = [];
    }

    private static readonly CrossEntropyOptions OneThreadOptions = new() { MaxDegreeOfParallelism = 1 };
    private static readonly CrossEntropyOptions AllCoresOptions = new() { MaxDegreeOfParallelism = 0 };

    /// <summary>Ours: loss and gradient in one fused pass, out of place, into a preallocated buffer, on the calling thread.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory(OneThread)]
    public float SoftmaxCE_LossAndGradient() =>
        SoftmaxCrossEntropy.LossAndGradient<float>(_logits, _labels, _gradient, Shape.Classes, OneThreadOptions);

    /// <summary>Ours on all cores (MaxDegreeOfParallelism = 0): the baseline of the all-threads group.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory(AllThreads)]
    public float SoftmaxCE_LossAndGradient_AllCores() =>
        SoftmaxCrossEntropy.LossAndGradient<float>(_logits, _labels, _gradient, Shape.Classes, AllCoresOptions);

    /// <summary>libtorch on one thread: cross_entropy forward, backward, the gradient read back, grad reset to None.</summary>
    [Benchmark]
    [BenchmarkCategory(OneThread)]
    public float Torch_ForwardBackward_1Thread() => TorchForwardBackward(_logitsTensor!, _labelsTensor!);

    /// <summary>libtorch on one thread: cross_entropy forward only, under no_grad.</summary>
    [Benchmark]
    [BenchmarkCategory(OneThread)]
    public float Torch_Forward_1Thread() => TorchForward(_logitsTensor!, _labelsTensor!);

    /// <summary>libtorch on all cores: cross_entropy forward and backward, as in the 1-thread case.</summary>
    [Benchmark]
    [BenchmarkCategory(AllThreads)]
    public float Torch_ForwardBackward_AllThreads() => TorchForwardBackward(_logitsTensor!, _labelsTensor!);

    /// <summary>One training step's worth of loss work in libtorch; every temporary is freed before returning.</summary>
    internal static float TorchForwardBackward(torch.Tensor logits, torch.Tensor labels) => TorchForwardBackward(logits, labels, gradientOut: null);

    internal static float TorchForwardBackward(torch.Tensor logits, torch.Tensor labels, float[]? gradientOut)
    {
        using var scope = torch.NewDisposeScope();
        var loss = functional.cross_entropy(logits, labels);
        loss.backward();
        var gradient = logits.grad ?? throw new InvalidOperationException("backward() left no gradient.");
        if (gradientOut is not null)
        {
            gradient.data<float>().CopyTo(gradientOut, 0);
        }

        float value = loss.item<float>();
        logits.grad = null; // optimizer.zero_grad(set_to_none=True): the next backward allocates a fresh gradient.
        return value;
    }

    internal static float TorchForward(torch.Tensor logits, torch.Tensor labels)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var loss = functional.cross_entropy(logits, labels);
        return loss.item<float>();
    }
}
