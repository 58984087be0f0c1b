using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using BenchmarkDotNet.Attributes;
using TorchSharp;
using static TorchSharp.torch.nn;

namespace SoftmaxCE.Benchmarks.Torch;

/// <summary>A linear head's shape: <c>N</c> tokens, hidden size <c>H</c>, vocabulary <c>V</c>. Shown as "NxHxV".</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1036", Justification = "Comparable only so BenchmarkDotNet can order parameter values.")]
public sealed class LinearShape(int rows, int hidden, int classes) : IComparable<LinearShape>, IComparable
{
    public int Rows { get; } = rows;

    public int Hidden { get; } = hidden;

    public int Classes { get; } = classes;

    /// <summary>Multiply-adds of one product <c>[N, H] x [H, V]</c>.</summary>
    public double MultiplyAdds => (double)Rows * Hidden * Classes;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Rows}x{Hidden}x{Classes}");

    public int CompareTo(LinearShape? other) => other is null ? 1 : MultiplyAdds.CompareTo(other.MultiplyAdds);

    public int CompareTo(object? obj) => CompareTo(obj as LinearShape);
}

/// <summary>Seeded data for a linear head: hidden states uniform in [-1, 1], weights uniform in ±2/sqrt(H) (logits of order 1), no bias (as LM heads).</summary>
internal static class LinearData
{
    public static (float[] Hidden, float[] Weight, int[] Labels) Create(LinearShape shape)
    {
        var random = new Random(TestData.Seed);
        var hidden = new float[checked(shape.Rows * shape.Hidden)];
        var weight = new float[checked(shape.Classes * shape.Hidden)];
        for (int i = 0; i < hidden.Length; i++)
        {
            hidden[i] = (random.NextSingle() * 2) - 1;
        }

        float scale = 2 / MathF.Sqrt(shape.Hidden);
        for (int i = 0; i < weight.Length; i++)
        {
            weight[i] = ((random.NextSingle() * 2) - 1) * scale;
        }

        var labels = new int[shape.Rows];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = random.Next(shape.Classes);
        }

        return (hidden, weight, labels);
    }

    /// <summary>libtorch's step: <c>F.linear</c>, <c>F.cross_entropy</c>, <c>backward()</c>; the gradients read then reset to None.</summary>
    public static float TorchForwardBackward(torch.Tensor hidden, torch.Tensor weight, torch.Tensor labels, float[]? hiddenGradient = null, float[]? weightGradient = null)
    {
        using var scope = torch.NewDisposeScope();
        var loss = functional.cross_entropy(functional.linear(hidden, weight), labels);
        loss.backward();
        hiddenGradient ??= [];
        weightGradient ??= [];
        if (hiddenGradient.Length > 0)
        {
            hidden.grad!.data<float>().CopyTo(hiddenGradient, 0);
            weight.grad!.data<float>().CopyTo(weightGradient, 0);
        }

        float value = loss.item<float>();
        hidden.grad = null;
        weight.grad = null;
        return value;
    }

    public static float TorchForward(torch.Tensor hidden, torch.Tensor weight, torch.Tensor labels)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        return functional.cross_entropy(functional.linear(hidden, weight), labels).item<float>();
    }
}

/// <summary>The buffers and libtorch tensors of one linear-head shape, set up with a given thread count.</summary>
public abstract class LinearHeadPeerBase
{
    protected float[] Hidden { get; private set; } = [];
    protected float[] Weight { get; private set; } = [];
    protected int[] Labels { get; private set; } = [];
    protected float[] HiddenGradient { get; private set; } = [];
    protected float[] WeightGradient { get; private set; } = [];
    protected torch.Tensor? HiddenTensor { get; private set; }
    protected torch.Tensor? WeightTensor { get; private set; }
    protected torch.Tensor? LabelsTensor { get; private set; }

    public static IEnumerable<LinearShape> Shapes() =>
    [
        new(1024, 1024, 32000),
        new(1024, 2048, 32000),
        new(1024, 1024, 128256),
    ];

    [ParamsSource(nameof(Shapes))]
    public LinearShape Shape { get; set; } = new(1, 1, 1);

    /// <summary>libtorch's thread count for this class (process-global, set in the setup).</summary>
    protected abstract int TorchThreads { get; }

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(TorchThreads);
        (Hidden, Weight, Labels) = LinearData.Create(Shape);
        HiddenGradient = new float[Hidden.Length];
        WeightGradient = new float[Weight.Length];
        HiddenTensor = torch.tensor(Hidden, [Shape.Rows, Shape.Hidden], requires_grad: true);
        WeightTensor = torch.tensor(Weight, [Shape.Classes, Shape.Hidden], requires_grad: true);
        LabelsTensor = torch.tensor(Array.ConvertAll(Labels, static l => (long)l), [Shape.Rows]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        HiddenTensor?.Dispose();
        WeightTensor?.Dispose();
        LabelsTensor?.Dispose();
    }
}

/// <summary>
/// The fused linear head (<c>LinearLossAndGradient</c>: logits never stored) against libtorch's <c>linear</c> +
/// <c>cross_entropy</c> forward and backward (MKL/oneDNN products, the whole logits and their gradient in memory), on one
/// thread, float32, mean reduction, no bias. One class, so Ratio reads "torch / ours" per shape.
/// </summary>
/// <remarks>
/// A step takes seconds: run it with a short job given on the command line, e.g.
/// <c>./run.sh --filter '*LinearHeadPeer*' --launchCount 1 --warmupCount 1 --iterationCount 3 --invocationCount 1 --unrollFactor 1</c>.
/// </remarks>
public class LinearHeadPeerBenchmarks : LinearHeadPeerBase
{
    private static readonly CrossEntropyOptions OneThread = new() { MaxDegreeOfParallelism = 1 };

    protected override int TorchThreads => 1;

    /// <summary>Ours: loss, hidden gradient and weight gradient (added to), on the calling thread.</summary>
    [Benchmark(Baseline = true)]
    public float SoftmaxCE_LinearLossAndGradient_1Thread() =>
        SoftmaxCrossEntropy.LinearLossAndGradient<float>(Hidden, Weight, default, Labels, HiddenGradient, WeightGradient, default, Shape.Hidden, OneThread);

    [Benchmark]
    public float Torch_LinearCrossEntropy_ForwardBackward_1Thread() => LinearData.TorchForwardBackward(HiddenTensor!, WeightTensor!, LabelsTensor!);

    /// <summary>Ours: the loss alone (evaluation).</summary>
    [Benchmark]
    public float SoftmaxCE_LinearLoss_1Thread() => SoftmaxCrossEntropy.LinearLoss<float>(Hidden, Weight, default, Labels, Shape.Hidden, OneThread);

    [Benchmark]
    public float Torch_LinearCrossEntropy_Forward_1Thread() => LinearData.TorchForward(HiddenTensor!, WeightTensor!, LabelsTensor!);
}

/// <summary>
/// The same forward + backward step on every core: ours with <c>MaxDegreeOfParallelism = 0</c> (the thread pool, bitwise
/// the same result as one thread), libtorch with <c>set_num_threads(Environment.ProcessorCount)</c>. Same shapes and data
/// as <see cref="LinearHeadPeerBenchmarks"/>; run it with the same short job.
/// </summary>
public class LinearHeadPeerAllCoresBenchmarks : LinearHeadPeerBase
{
    private static readonly CrossEntropyOptions AllCores = new() { MaxDegreeOfParallelism = 0 };

    protected override int TorchThreads => Environment.ProcessorCount;

    /// <summary>Ours on every core: loss, hidden gradient and weight gradient (added to).</summary>
    [Benchmark(Baseline = true)]
    public float SoftmaxCE_LinearLossAndGradient_AllCores() =>
        SoftmaxCrossEntropy.LinearLossAndGradient<float>(Hidden, Weight, default, Labels, HiddenGradient, WeightGradient, default, Shape.Hidden, AllCores);

    [Benchmark]
    public float Torch_LinearCrossEntropy_ForwardBackward_AllThreads() => LinearData.TorchForwardBackward(HiddenTensor!, WeightTensor!, LabelsTensor!);
}

/// <summary>
/// Peak extra resident memory of one forward + backward step, one library per process (<c>--linear-memory ours|torch N H V</c>):
/// the inputs (and, for ours, the gradient buffers) are created first, the peak RSS is reset (<c>/proc/self/clear_refs</c>), then
/// one step runs and the new peak minus the resident size before it is printed. libtorch's gradients (allocated by
/// <c>backward()</c>, <c>(N + V) * H</c> floats) are subtracted from its figure, so both count only memory beyond inputs and gradients.
/// The first call is measured on both sides: ours includes its pooled scratch and JIT-compiled code.
/// </summary>
internal static class LinearMemory
{
    public static int Run(string library, LinearShape shape)
    {
        torch.set_num_threads(1);
        var (hidden, weight, labels) = LinearData.Create(shape);
        long gradientBytes = 4L * ((long)(shape.Rows + shape.Classes) * shape.Hidden);
        long before;
        long peak;
        float loss;
        if (library == "ours")
        {
            var hiddenGradient = new float[hidden.Length];
            var weightGradient = new float[weight.Length];
            Touch(hiddenGradient);
            Touch(weightGradient);
            before = Reset();
            loss = SoftmaxCrossEntropy.LinearLossAndGradient<float>(hidden, weight, default, labels, hiddenGradient, weightGradient, default, shape.Hidden, new() { MaxDegreeOfParallelism = 1 });
            peak = Status("VmHWM");
            gradientBytes = 0;
        }
        else
        {
            using var h = torch.tensor(hidden, [shape.Rows, shape.Hidden], requires_grad: true);
            using var w = torch.tensor(weight, [shape.Classes, shape.Hidden], requires_grad: true);
            using var l = torch.tensor(Array.ConvertAll(labels, static x => (long)x), [shape.Rows]);
            hidden = [];
            weight = [];
            GC.Collect();
            before = Reset();
            using (var scope = torch.NewDisposeScope())
            {
                var lossTensor = functional.cross_entropy(functional.linear(h, w), l);
                lossTensor.backward();
                loss = lossTensor.item<float>();
            }

            peak = Status("VmHWM");
        }

        long extra = peak - before - gradientBytes;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"linear-memory {library} {shape}: loss {loss:R}, peak extra {extra / 1048576.0:F1} MiB (peak RSS {peak / 1048576.0:F1} MiB, before {before / 1048576.0:F1} MiB, gradients subtracted {gradientBytes / 1048576.0:F1} MiB)"));
        return 0;
    }

    private static void Touch(float[] values) => Array.Fill(values, 0.5f);

    /// <summary>Resets the peak resident size to the current one and returns it.</summary>
    private static long Reset()
    {
        GC.Collect();
        File.WriteAllText("/proc/self/clear_refs", "5");
        return Status("VmRSS");
    }

    private static long Status(string field)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(field.Length + 1).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException($"No {field} in /proc/self/status.");
    }
}
