using System;
using System.Numerics;

namespace SoftmaxCE.Kernels;

/// <summary>Softmax or log-softmax over all rows, of the scaled and soft-capped logits.</summary>
internal readonly unsafe struct SoftmaxCall<T, TMode>(T* logits, T* output, int rows, int classes, LogitMap<T> map) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        if (map.CapValue != 0)
        {
            return Run<TOps, TVec, SoftcapRows>(firstRow, rowCount);
        }

        return map.ScaleValue != 1 ? Run<TOps, TVec, ScaledRows>(firstRow, rowCount) : Run<TOps, TVec, PlainRows>(firstRow, rowCount);
    }

    private RowTotals Run<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        RowBuffers<T> buffers = new RowBuffers<T>(logits, output, null, rows, classes).Range(firstRow, rowCount);
        return RowLoop<TOps, TVec, T>.Run<NoTerm<T>, TMode, FixedPlanner, TFeatures>(buffers, default, default, new FixedPlanner(new RowPlan(-1, 1, 0, 1)), map);
    }
}

/// <summary>The options every cross-entropy call passes down to its rows.</summary>
internal readonly struct CallSettings(double smoothing, double scale, double zLoss, double softcap, bool argmax, double logitScale = 1)
{
    public double Smoothing { get; } = smoothing;

    /// <summary>The gradient's factor: 1 / denominator for the mean, 1 for the sum (times the upstream gradient).</summary>
    public double Scale { get; } = scale;

    public double ZLoss { get; } = zLoss;

    public double Softcap { get; } = softcap;

    public bool Argmax { get; } = argmax;

    /// <summary>The logit scale <c>s</c> (1 when the options leave it at 0).</summary>
    public double LogitScale { get; } = logitScale;

    /// <summary>The gradient's factor with the logit scale's chain-rule factor: what each row plan's scale starts from.</summary>
    public double GradientScale => Scale * LogitScale;

    public LogitMap<T> Map<T>()
        where T : unmanaged, IFloatingPointIeee754<T> => new(LogitScale, Softcap);

    public static CallSettings From(in CrossEntropyOptions options, double scale, bool argmax) =>
        new(options.LabelSmoothing, scale, options.ZLoss, options.LogitSoftcap, argmax, options.LogitScale == 0 ? 1 : options.LogitScale);
}

/// <summary>Cross-entropy with class-index labels: loss, row losses, predictions, log-sum-exp and/or gradient.</summary>
internal readonly unsafe struct LabelCall<T, TMode>(
    T* logits0, T* output0, RowOutputs<T> outputs0, int* labels0, T* weights, T* rowWeights0, int rows, int classes,
    int? ignoreIndex, CallSettings settings) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        bool scaled = settings.LogitScale != 1;
        return (settings.Softcap != 0, scaled, settings.Argmax) switch
        {
            (false, false, false) => Run<TOps, TVec, PlainRows>(firstRow, rowCount),
            (false, false, true) => Run<TOps, TVec, ArgmaxRows>(firstRow, rowCount),
            (false, true, false) => Run<TOps, TVec, ScaledRows>(firstRow, rowCount),
            (false, true, true) => Run<TOps, TVec, ScaledArgmaxRows>(firstRow, rowCount),
            (true, _, false) => Run<TOps, TVec, SoftcapRows>(firstRow, rowCount),
            _ => Run<TOps, TVec, SoftcapArgmaxRows>(firstRow, rowCount),
        };
    }

    private RowTotals Run<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        double smoothing = settings.Smoothing;
        var planner = new LabelPlanner<T>(
            labels0 + firstRow, weights, ignoreIndex.GetValueOrDefault(), ignoreIndex.HasValue, 1 - smoothing, smoothing / classes, settings.GradientScale, settings.ZLoss, classes);
        if (rowWeights0 != null)
        {
            return Run<TOps, TVec, TFeatures, RowWeightPlanner<LabelPlanner<T>, T>>(firstRow, rowCount, new(planner, rowWeights0 + firstRow));
        }

        return Run<TOps, TVec, TFeatures, LabelPlanner<T>>(firstRow, rowCount, planner);
    }

    private RowTotals Run<TOps, TVec, TFeatures, TPlanner>(int firstRow, int rowCount, TPlanner planner)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
        where TPlanner : struct, IRowPlanner
    {
        RowBuffers<T> buffers = new RowBuffers<T>(logits0, output0, null, rows, classes).Range(firstRow, rowCount);
        RowOutputs<T> outputs = outputs0.From(firstRow);
        LogitMap<T> map = settings.Map<T>();
        if (settings.Smoothing == 0)
        {
            return RowLoop<TOps, TVec, T>.Run<NoTerm<T>, TMode, TPlanner, TFeatures>(buffers, outputs, default, planner, map);
        }

        if (weights == null)
        {
            return RowLoop<TOps, TVec, T>.Run<OnesTerm<T>, TMode, TPlanner, TFeatures>(buffers, outputs, default, planner, map);
        }

        T* padded = stackalloc T[PaddedWeights.Length];
        var term = new WeightsTerm<T>(PaddedWeights.ForShortRows<TOps, TVec, T>(weights, classes, padded));
        return RowLoop<TOps, TVec, T>.Run<WeightsTerm<T>, TMode, TPlanner, TFeatures>(buffers, outputs, term, planner, map);
    }
}

/// <summary>Cross-entropy with dense target rows: loss, row losses, log-sum-exp and/or gradient.</summary>
internal readonly unsafe struct DenseCall<T, TMode>(
    T* logits0, T* output0, RowOutputs<T> outputs0, T* targets0, T* weights, T* rowWeights0, int rows, int classes, CallSettings settings) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        if (settings.Softcap != 0)
        {
            return Run<TOps, TVec, SoftcapRows>(firstRow, rowCount);
        }

        return settings.LogitScale != 1 ? Run<TOps, TVec, ScaledRows>(firstRow, rowCount) : Run<TOps, TVec, PlainRows>(firstRow, rowCount);
    }

    private RowTotals Run<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        var planner = new FixedPlanner(new RowPlan(-1, 0, 1, settings.GradientScale, settings.ZLoss));
        if (rowWeights0 != null)
        {
            return Run<TOps, TVec, TFeatures, RowWeightPlanner<FixedPlanner, T>>(firstRow, rowCount, new(planner, rowWeights0 + firstRow));
        }

        return Run<TOps, TVec, TFeatures, FixedPlanner>(firstRow, rowCount, planner);
    }

    private RowTotals Run<TOps, TVec, TFeatures, TPlanner>(int firstRow, int rowCount, TPlanner planner)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
        where TPlanner : struct, IRowPlanner
    {
        RowBuffers<T> buffers = new RowBuffers<T>(logits0, output0, targets0, rows, classes).Range(firstRow, rowCount);
        T* targets = buffers.Targets;
        RowOutputs<T> outputs = outputs0.From(firstRow);
        LogitMap<T> map = settings.Map<T>();
        T keep = T.CreateTruncating(1 - settings.Smoothing);
        T spread = T.CreateTruncating(settings.Smoothing / classes);
        if (weights == null)
        {
            var term = new DenseTerm<T>(targets, keep, spread);
            return RowLoop<TOps, TVec, T>.Run<DenseTerm<T>, TMode, TPlanner, TFeatures>(buffers, outputs, term, planner, map);
        }

        T* padded = stackalloc T[PaddedWeights.Length];
        var weighted = new WeightedDenseTerm<T>(targets, PaddedWeights.ForShortRows<TOps, TVec, T>(weights, classes, padded), keep, spread);
        return RowLoop<TOps, TVec, T>.Run<WeightedDenseTerm<T>, TMode, TPlanner, TFeatures>(buffers, outputs, weighted, planner, map);
    }
}

/// <summary>Short rows load a whole vector of weights: they get a copy padded with zeros.</summary>
internal static unsafe class PaddedWeights
{
    public const int Length = 64;

    public static T* ForShortRows<TOps, TVec, T>(T* weights, int classes, T* buffer)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (classes > TOps.Count)
        {
            return weights;
        }

        new Span<T>(buffer, Length).Clear();
        new Span<T>(weights, classes).CopyTo(new Span<T>(buffer, Length));
        return buffer;
    }
}
