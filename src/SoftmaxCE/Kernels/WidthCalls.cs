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

    public double Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        nint offset = (nint)firstRow * classes;
        return RowLoop<TOps, TVec, T>.Run<NoTerm<T>, TMode, FixedPlanner>(
            logits + offset, output + offset, null, null, rowCount, classes, default, new FixedPlanner(new RowPlan(-1, 1, 0, 1)));
    }
}

/// <summary>Cross-entropy with class-index labels: loss, row losses and/or gradient.</summary>
internal readonly unsafe struct LabelCall<T, TMode>(
    T* logits0, T* output0, T* rowLosses0, int* labels0, T* weights, int rows, int classes,
    int? ignoreIndex, double smoothing, double scale) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => rows;

    public int Classes => classes;

    public double Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        nint offset = (nint)firstRow * classes;
        T* logits = logits0 + offset;
        T* output = output0 == null ? null : output0 + offset;
        T* rowLosses = rowLosses0 == null ? null : rowLosses0 + firstRow;
        int* labels = labels0 + firstRow;
        var planner = new LabelPlanner<T>(
            labels, weights, ignoreIndex.GetValueOrDefault(), ignoreIndex.HasValue, 1 - smoothing, smoothing / classes, scale);
        if (smoothing == 0)
        {
            return RowLoop<TOps, TVec, T>.Run<NoTerm<T>, TMode, LabelPlanner<T>>(logits, output, null, rowLosses, rowCount, classes, default, planner);
        }

        if (weights == null)
        {
            return RowLoop<TOps, TVec, T>.Run<OnesTerm<T>, TMode, LabelPlanner<T>>(logits, output, null, rowLosses, rowCount, classes, default, planner);
        }

        T* padded = stackalloc T[PaddedWeights.Length];
        var term = new WeightsTerm<T>(PaddedWeights.ForShortRows<TOps, TVec, T>(weights, classes, padded));
        return RowLoop<TOps, TVec, T>.Run<WeightsTerm<T>, TMode, LabelPlanner<T>>(logits, output, null, rowLosses, rowCount, classes, term, planner);
    }
}

/// <summary>Cross-entropy with dense target rows: loss and/or gradient.</summary>
internal readonly unsafe struct DenseCall<T, TMode>(
    T* logits0, T* output0, T* targets0, T* weights, int rows, int classes, double smoothing, double scale) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TMode : struct, IOutputMode
{
    public int Rows => rows;

    public int Classes => classes;

    public double Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        nint offset = (nint)firstRow * classes;
        T* logits = logits0 + offset;
        T* output = output0 == null ? null : output0 + offset;
        T* targets = targets0 + offset;
        var planner = new FixedPlanner(new RowPlan(-1, 0, 1, scale));
        T keep = T.CreateTruncating(1 - smoothing);
        T spread = T.CreateTruncating(smoothing / classes);
        if (weights == null)
        {
            var term = new DenseTerm<T>(targets, keep, spread);
            return RowLoop<TOps, TVec, T>.Run<DenseTerm<T>, TMode, FixedPlanner>(logits, output, targets, null, rowCount, classes, term, planner);
        }

        T* padded = stackalloc T[PaddedWeights.Length];
        var weighted = new WeightedDenseTerm<T>(targets, PaddedWeights.ForShortRows<TOps, TVec, T>(weights, classes, padded), keep, spread);
        return RowLoop<TOps, TVec, T>.Run<WeightedDenseTerm<T>, TMode, FixedPlanner>(logits, output, targets, null, rowCount, classes, weighted, planner);
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
