using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using SoftmaxCE;
using TorchSharp;
using static TorchSharp.torch;

/// <summary>
/// PyTorch's <c>cross_entropy</c> options for a call: reduction (mean, sum or none), the ignored label, class weights
/// and label smoothing. Made once, outside any dispose scope (it holds the class weights as a tensor for the fallback).
/// </summary>
internal sealed class LossSettings
{
    public LossSettings(nn.Reduction reduction = nn.Reduction.Mean, float[]? classWeights = null, double labelSmoothing = 0, int ignoreIndex = -100)
    {
        Reduction = reduction;
        ClassWeights = classWeights ?? [];
        LabelSmoothing = labelSmoothing;
        IgnoreIndex = ignoreIndex;
        WeightTensor = classWeights is null ? null : tensor(classWeights).DetachFromDisposeScope();
        Options = new CrossEntropyOptions
        {
            Reduction = reduction == nn.Reduction.Sum ? SoftmaxCE.Reduction.Sum : SoftmaxCE.Reduction.Mean,
            IgnoreIndex = ignoreIndex,
            LabelSmoothing = labelSmoothing,
            // One thread, as torch is set to use in this sample, so the two losses are timed alike.
            MaxDegreeOfParallelism = 1,
        };
    }

    public nn.Reduction Reduction { get; }

    public float[] ClassWeights { get; }

    public double LabelSmoothing { get; }

    public int IgnoreIndex { get; }

    /// <summary>The class weights for <c>torch.nn.functional.cross_entropy</c>, or null.</summary>
    public Tensor? WeightTensor { get; }

    /// <summary>The same options for SoftmaxCE (with <c>reduction='none'</c> the reduction is not used).</summary>
    public CrossEntropyOptions Options { get; }

    /// <summary>TorchSharp's own cross-entropy with these settings: the reference, and the fallback.</summary>
    public Tensor TorchLoss(Tensor logits, Tensor labels) =>
        nn.functional.cross_entropy(logits, labels, WeightTensor, IgnoreIndex, Reduction, LabelSmoothing);
}

/// <summary>
/// Cross-entropy for TorchSharp models: SoftmaxCE's fused kernels for contiguous CPU float32 logits <c>[N, C]</c> with
/// int64 labels <c>[N]</c>, TorchSharp's <c>cross_entropy</c> for anything else (another device or dtype, a
/// non-contiguous view, N-d input), which it says once on the console.
/// </summary>
internal static class CrossEntropy
{
    private static int s_fallbackReported;

    public static Tensor Loss(Tensor logits, Tensor labels, LossSettings settings)
    {
        string? reason = UnsupportedReason(logits, labels);
        if (reason is null)
        {
            return SoftmaxCrossEntropyFunction.apply(logits, labels, settings);
        }

        if (Interlocked.Exchange(ref s_fallbackReported, 1) == 0)
        {
            Console.WriteLine($"CrossEntropy: {reason}; using torch.nn.functional.cross_entropy for such inputs (said once)");
        }

        return settings.TorchLoss(logits, labels);
    }

    private static string? UnsupportedReason(Tensor logits, Tensor labels)
    {
        if (logits.device_type != DeviceType.CPU || labels.device_type != DeviceType.CPU)
        {
            return $"logits on {logits.device_type}, labels on {labels.device_type}, not the CPU";
        }

        if (logits.dtype != ScalarType.Float32 || labels.dtype != ScalarType.Int64)
        {
            return $"logits of {logits.dtype} and labels of {labels.dtype}, not Float32 and Int64";
        }

        if (logits.dim() != 2 || labels.dim() != 1 || labels.shape[0] != logits.shape[0])
        {
            return $"logits of shape [{string.Join(", ", logits.shape)}] and labels of shape [{string.Join(", ", labels.shape)}], not [N, C] and [N]";
        }

        if (!logits.is_contiguous())
        {
            return "non-contiguous logits";
        }

        return null;
    }
}

/// <summary>
/// The autograd function. Forward: SoftmaxCE's <c>Forward</c> reads the logits tensor's memory in place (no copy)
/// and returns the loss (a scalar, or one loss per row for <c>reduction='none'</c>), saving only each row's
/// log-sum-exp beside the logits. Backward: SoftmaxCE's <c>Backward</c> from those statistics, times the upstream
/// gradient (a scalar, or one per row), in one pass that writes the logits' gradient.
/// </summary>
internal sealed class SoftmaxCrossEntropyFunction : autograd.SingleTensorFunction<SoftmaxCrossEntropyFunction>
{
    public override string Name => "SoftmaxCrossEntropy";

    #region readme-torchsharp
    // vars: logits (float32 [N, C], contiguous, CPU), labels (int64 [N]), LossSettings.
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var logits = (Tensor)vars[0];
        var labels = (Tensor)vars[1];
        var settings = (LossSettings)vars[2];
        int rows = checked((int)logits.shape[0]);
        int classes = checked((int)logits.shape[1]);

        // The library takes int labels; this converts N labels (the logits themselves are never copied).
        Tensor labels32 = labels.to_type(ScalarType.Int32).contiguous();
        Tensor logSumExp = empty(rows, ScalarType.Float32);
        ReadOnlySpan<float> y = MemoryMarshal.Cast<byte, float>(logits.bytes);
        ReadOnlySpan<int> l = MemoryMarshal.Cast<byte, int>(labels32.bytes);
        Span<float> lse = MemoryMarshal.Cast<byte, float>(logSumExp.bytes);

        Tensor output;
        if (settings.Reduction == nn.Reduction.None)
        {
            output = empty(rows, ScalarType.Float32);
            SoftmaxCrossEntropy.Forward<float>(y, l, lse, classes, settings.Options, settings.ClassWeights,
                rowLosses: MemoryMarshal.Cast<byte, float>(output.bytes));
        }
        else
        {
            output = tensor(SoftmaxCrossEntropy.Forward<float>(y, l, lse, classes, settings.Options, settings.ClassWeights));
        }

        ctx.save_for_backward([logits, logSumExp, labels32]);
        ctx.save_data("settings", settings);
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        List<Tensor> saved = ctx.get_saved_variables();
        using Tensor logits = saved[0];
        using Tensor logSumExp = saved[1];
        using Tensor labels32 = saved[2];
        var settings = (LossSettings)ctx.get_data("settings");
        int classes = checked((int)logits.shape[1]);

        Tensor gradient = empty_like(logits);
        ReadOnlySpan<float> y = MemoryMarshal.Cast<byte, float>(logits.bytes);
        ReadOnlySpan<int> l = MemoryMarshal.Cast<byte, int>(labels32.bytes);
        ReadOnlySpan<float> lse = MemoryMarshal.Cast<byte, float>(logSumExp.bytes);
        Span<float> g = MemoryMarshal.Cast<byte, float>(gradient.bytes);
        if (settings.Reduction == nn.Reduction.None)
        {
            // One upstream gradient per row (often a broadcast view, hence contiguous()).
            using Tensor upstream = grad_output.to_type(ScalarType.Float32).contiguous();
            SoftmaxCrossEntropy.Backward<float>(y, l, lse, MemoryMarshal.Cast<byte, float>(upstream.bytes), g, classes,
                settings.Options, settings.ClassWeights);
        }
        else
        {
            SoftmaxCrossEntropy.Backward<float>(y, l, lse, grad_output.item<float>(), g, classes, settings.Options, settings.ClassWeights);
        }

        // One gradient per forward argument: the logits', none for the labels and the settings.
        return [gradient, null!, null!];
    }
    #endregion
}
