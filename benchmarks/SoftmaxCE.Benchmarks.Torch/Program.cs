using System;
using System.Globalization;
using System.Linq;
using BenchmarkDotNet.Running;
using TorchSharp;

namespace SoftmaxCE.Benchmarks.Torch;

/// <summary>
/// Entry point. Checks once that libtorch and SoftmaxCE compute the same loss and gradient, then hands the
/// arguments to BenchmarkDotNet, always in process (the private glibc runtime must not be lost by a child process).
/// <c>--verify-only</c> stops after the check. Each exported <c>*-report-github.md</c> is headed by the machine's load average
/// before the run. Exit code 1 on a failed check or benchmark.
/// </summary>
internal static class Program
{
    private const double LossTolerance = 1e-5;     // relative
    private const double GradientTolerance = 1e-6; // absolute, on values of order 1 / M

    public static int Main(string[] args)
    {
        // Read before anything else runs: each exported results file is headed by the machine's load before the run.
        string loadAverage = global::Benchmarks.LoadAverage.Read();
        DateTime start = DateTime.UtcNow;
        Console.WriteLine($"TorchSharp {typeof(torch).Assembly.GetName().Version}, libtorch threads {torch.get_num_threads()}, cores {Environment.ProcessorCount}");
        Console.WriteLine($"GLIBC_TUNABLES={Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "(unset)"}");

        int memory = Array.IndexOf(args, "--linear-memory");
        if (memory >= 0)
        {
            return LinearMemory.Run(args[memory + 1], new LinearShape(int.Parse(args[memory + 2], CultureInfo.InvariantCulture),
                int.Parse(args[memory + 3], CultureInfo.InvariantCulture), int.Parse(args[memory + 4], CultureInfo.InvariantCulture)));
        }

        bool ok = Verify(new Shape(1024, 1000)) & Verify(new Shape(64, 128256)) & VerifyClassAxis(new ImageShape(4, 21, 32, 48)) & VerifyLinear(new LinearShape(64, 256, 32000));
        if (!ok)
        {
            Console.Error.WriteLine("Verification failed: libtorch and SoftmaxCE disagree.");
            return 1;
        }

        if (args.Contains("--verify-only"))
        {
            return 0;
        }

        RestoreChildLibraryPath();

        // The in-process toolchain keeps every benchmark in this process, which runs on the private runtime.
        string[] benchmarkArgs = args.Contains("--inProcess") || args.Contains("-i") ? args : [.. args, "--inProcess"];
        global::Benchmarks.LoadAverage.Announce(loadAverage);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(benchmarkArgs).ToList();
        global::Benchmarks.LoadAverage.Record(loadAverage, start, summaries.Select(summary => summary.ResultsDirectoryPath));
        if (summaries.Count == 0)
        {
            Console.Error.WriteLine("No benchmark ran.");
            return 1;
        }

        bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success) || s.Reports.Length == 0);
        return failed ? 1 : 0;
    }

    /// <summary>
    /// run.sh starts this process with LD_LIBRARY_PATH pointing at a newer glibc than the system's. The loader has
    /// read it already (and libtorch is loaded by now), but child processes would inherit it and fail to start
    /// ("symbol lookup error": system ld.so with the newer libc), e.g. the ones BenchmarkDotNet runs to identify the
    /// CPU. So the managed environment, which Process.Start passes on, gets back the caller's value.
    /// </summary>
    private static void RestoreChildLibraryPath()
    {
        if (Environment.GetEnvironmentVariable("SOFTMAXCE_TORCH_RUNTIME") is not null)
        {
            string? original = Environment.GetEnvironmentVariable("SOFTMAXCE_CHILD_LD_LIBRARY_PATH");
            Environment.SetEnvironmentVariable("LD_LIBRARY_PATH", string.IsNullOrEmpty(original) ? null : original);
        }
    }

    /// <summary>Loss within 1e-5 relative and gradient elementwise within 1e-6, on one thread, for one shape.</summary>
    private static bool Verify(Shape shape)
    {
        torch.set_num_threads(1);
        var (logits, labels) = TestData.Create(shape);
        var ours = new float[logits.Length];
        float ourLoss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, ours, shape.Classes);

        var (logitsTensor, labelsTensor) = TestData.ToTensors(logits, labels, shape);
        var theirs = new float[logits.Length];
        float torchLoss;
        using (logitsTensor)
        using (labelsTensor)
        {
            torchLoss = TorchPeerBenchmarks.TorchForwardBackward(logitsTensor, labelsTensor, theirs);
        }

        double relative = Math.Abs(ourLoss - torchLoss) / Math.Abs((double)torchLoss);
        double maxGradient = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            maxGradient = Math.Max(maxGradient, Math.Abs(ours[i] - theirs[i]));
        }

        bool ok = relative <= LossTolerance && maxGradient <= GradientTolerance;
        Console.WriteLine(
            $"Verify {shape}: loss ours {ourLoss:R} torch {torchLoss:R} relative diff {relative:E2} (<= {LossTolerance:E0}); " +
            $"max |grad diff| {maxGradient:E2} (<= {GradientTolerance:E0}) -> {(ok ? "OK" : "MISMATCH")}");
        return ok;
    }

    /// <summary>The <c>[N, C, H, W]</c> layout (classes on axis 1) against libtorch on the same 4-d tensor: loss 1e-5 relative, gradient 1e-6 absolute.</summary>
    private static bool VerifyClassAxis(ImageShape shape)
    {
        torch.set_num_threads(1);
        var (logits, labels) = ImageShape.Create(shape);
        var ours = new float[logits.Length];
        float ourLoss = SoftmaxCrossEntropy.LossAndGradient<float>(
            new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(logits, shape.Lengths), new System.Numerics.Tensors.ReadOnlyTensorSpan<int>(labels, shape.LabelLengths),
            new System.Numerics.Tensors.TensorSpan<float>(ours, shape.Lengths), default, default, classAxis: 1);
        var theirs = new float[logits.Length];
        float torchLoss;
        var (logitsTensor, labelsTensor) = shape.ToTensors(logits, labels);
        using (logitsTensor)
        using (labelsTensor)
        {
            torchLoss = TorchPeerBenchmarks.TorchForwardBackward(logitsTensor, labelsTensor, theirs);
        }

        double relative = Math.Abs(ourLoss - torchLoss) / Math.Abs((double)torchLoss);
        double maxGradient = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            maxGradient = Math.Max(maxGradient, Math.Abs(ours[i] - theirs[i]));
        }

        bool ok = relative <= LossTolerance && maxGradient <= GradientTolerance;
        Console.WriteLine(
            $"Verify class axis 1, {shape}: loss ours {ourLoss:R} torch {torchLoss:R} relative diff {relative:E2}; max |grad diff| {maxGradient:E2} -> {(ok ? "OK" : "MISMATCH")}");
        return ok;
    }

    /// <summary>The fused linear head against libtorch's linear + cross_entropy: loss 1e-5 relative, gradients 1e-6 absolute.</summary>
    private static bool VerifyLinear(LinearShape shape)
    {
        torch.set_num_threads(1);
        var (hidden, weight, labels) = LinearData.Create(shape);
        var dh = new float[hidden.Length];
        var dw = new float[weight.Length];
        float ours = SoftmaxCrossEntropy.LinearLossAndGradient<float>(hidden, weight, default, labels, dh, dw, default, shape.Hidden);
        var th = new float[hidden.Length];
        var tw = new float[weight.Length];
        float theirs;
        using (var h = torch.tensor(hidden, [shape.Rows, shape.Hidden], requires_grad: true))
        using (var w = torch.tensor(weight, [shape.Classes, shape.Hidden], requires_grad: true))
        using (var l = torch.tensor(Array.ConvertAll(labels, static x => (long)x), [shape.Rows]))
        {
            theirs = LinearData.TorchForwardBackward(h, w, l, th, tw);
        }

        double relative = Math.Abs(ours - theirs) / Math.Abs((double)theirs);
        double maxGradient = 0;
        for (int i = 0; i < dh.Length; i++)
        {
            maxGradient = Math.Max(maxGradient, Math.Abs(dh[i] - th[i]));
        }

        for (int i = 0; i < dw.Length; i++)
        {
            maxGradient = Math.Max(maxGradient, Math.Abs(dw[i] - tw[i]));
        }

        bool ok = relative <= LossTolerance && maxGradient <= GradientTolerance;
        Console.WriteLine(
            $"Verify linear {shape}: loss ours {ours:R} torch {theirs:R} relative diff {relative:E2}; max |grad diff| {maxGradient:E2} -> {(ok ? "OK" : "MISMATCH")}");
        return ok;
    }
}
