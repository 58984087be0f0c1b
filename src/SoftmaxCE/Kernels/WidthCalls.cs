using System;
using System.Numerics;

namespace SoftmaxCE.Kernels;

/// <summary>Softmax or log-softmax over all rows.</summary>
internal readonly unsafe struct SoftmaxCall<T, TMode>(T* logits, T* output, int rows, int classes) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        nint offset = (nint)firstRow * classes;
        return RowLoop<TOps, TVec, T>.Run<NoTerm<T>, TMode, FixedPlanner, PlainRows>(
            logits + offset, output + offset, null, null, null, rowCount, classes, default, new FixedPlanner(new RowPlan(-1, 1, 0, 1)), T.Zero);
    }
}

/// <summary>The options every cross-entropy call passes down to its rows.</summary>
internal readonly struct CallSettings(double smoothing, double scale, double zLoss, double softcap, bool argmax)
{
    public double Smoothing { get; } = smoothing;

    /// <summary>The gradient's factor: 1 / denominator for the mean, 1 for the sum.</summary>
    public double Scale { get; } = scale;

    public double ZLoss { get; } = zLoss;

    public double Softcap { get; } = softcap;

    public bool Argmax { get; } = argmax;
}

/// <summary>Cross-entropy with class-index labels: loss, row losses, predictions and/or gradient.</summary>
internal readonly unsafe struct LabelCall<T, TMode>(
    T* logits0, T* output0, T* rowLosses0, int* predictions0, int* labels0, T* weights, int rows, int classes,
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
        return (settings.Softcap != 0, settings.Argmax) switch
        {
            (false, false) => Run<TOps, TVec, PlainRows>(firstRow, rowCount),
            (false, true) => Run<TOps, TVec, ArgmaxRows>(firstRow, rowCount),
            (true, false) => Run<TOps, TVec, SoftcapRows>(firstRow, rowCount),
            _ => Run<TOps, TVec, SoftcapArgmaxRows>(firstRow, rowCount),
        };
    }

    private RowTotals Run<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        nint offset = (nint)firstRow * classes;
        T* logits = logits0 + offset;
        T* output = output0 == null ? null : output0 + offset;
        T* rowLosses = rowLosses0 == null ? null : rowLosses0 + firstRow;
        int* predictions = predictions0 == null ? null : predictions0 + firstRow;
        T softcap = T.CreateTruncating(settings.Softcap);
        double smoothing = settings.Smoothing;
        var planner = new LabelPlanner<T>(
            labels0 + firstRow, weights, ignoreIndex.GetValueOrDefault(), ignoreIndex.HasValue, 1 - smoothing, smoothing / classes, settings.Scale, settings.ZLoss);
        if (smoothing == 0)
        {
            return RowLoop<TOps, TVec, T>.Run<NoTerm<T>, TMode, LabelPlanner<T>, TFeatures>(
                logits, output, null, rowLosses, predictions, rowCount, classes, default, planner, softcap);
        }

        if (weights == null)
        {
            return RowLoop<TOps, TVec, T>.Run<OnesTerm<T>, TMode, LabelPlanner<T>, TFeatures>(
                logits, output, null, rowLosses, predictions, rowCount, classes, default, planner, softcap);
        }

        T* padded = stackalloc T[PaddedWeights.Length];
        var term = new WeightsTerm<T>(PaddedWeights.ForShortRows<TOps, TVec, T>(weights, classes, padded));
        return RowLoop<TOps, TVec, T>.Run<WeightsTerm<T>, TMode, LabelPlanner<T>, TFeatures>(
            logits, output, null, rowLosses, predictions, rowCount, classes, term, planner, softcap);
    }
}

/// <summary>Cross-entropy with dense target rows: loss and/or gradient.</summary>
internal readonly unsafe struct DenseCall<T, TMode>(
    T* logits0, T* output0, T* targets0, T* weights, int rows, int classes, CallSettings settings) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        return settings.Softcap != 0
            ? Run<TOps, TVec, SoftcapRows>(firstRow, rowCount)
            : Run<TOps, TVec, PlainRows>(firstRow, rowCount);
    }

    private RowTotals Run<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        nint offset = (nint)firstRow * classes;
        T* logits = logits0 + offset;
        T* output = output0 == null ? null : output0 + offset;
        T* targets = targets0 + offset;
        T softcap = T.CreateTruncating(settings.Softcap);
        var planner = new FixedPlanner(new RowPlan(-1, 0, 1, settings.Scale, settings.ZLoss));
        T keep = T.CreateTruncating(1 - settings.Smoothing);
        T spread = T.CreateTruncating(settings.Smoothing / classes);
        if (weights == null)
        {
            var term = new DenseTerm<T>(targets, keep, spread);
            return RowLoop<TOps, TVec, T>.Run<DenseTerm<T>, TMode, FixedPlanner, TFeatures>(
                logits, output, targets, null, null, rowCount, classes, term, planner, softcap);
        }

        T* padded = stackalloc T[PaddedWeights.Length];
        var weighted = new WeightedDenseTerm<T>(targets, PaddedWeights.ForShortRows<TOps, TVec, T>(weights, classes, padded), keep, spread);
        return RowLoop<TOps, TVec, T>.Run<WeightedDenseTerm<T>, TMode, FixedPlanner, TFeatures>(
            logits, output, targets, null, null, rowCount, classes, weighted, planner, softcap);
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
