using System.Numerics;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The backward from saved log-sum-exps with class-index labels (<see cref="RecomputeFromStatistics{TOps, TVec, T}"/>).
/// <c>rowFactors0</c> holds per-row upstream gradients (or is null); <c>commonTermSum</c> is <c>sum_k u_k</c> of the
/// smoothing term: the sum of the class weights, or the number of classes.
/// </summary>
internal readonly unsafe struct LabelBackwardCall<T>(
    T* logits0, T* gradient0, T* logSumExp0, T* rowFactors0, int* labels0, T* weights, T* rowWeights0, int rows, int classes,
    int? ignoreIndex, CallSettings settings, double commonTermSum) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        RunAt<TOps, TVec>(firstRow, rowCount);
        return default;
    }

    private void RunAt<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        if (settings.Softcap != 0)
        {
            RunAt<TOps, TVec, SoftcapRows>(firstRow, rowCount);
        }
        else if (settings.LogitScale != 1)
        {
            RunAt<TOps, TVec, ScaledRows>(firstRow, rowCount);
        }
        else
        {
            RunAt<TOps, TVec, PlainRows>(firstRow, rowCount);
        }
    }

    private void RunAt<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        double smoothing = settings.Smoothing;
        var planner = new LabelPlanner<T>(
            labels0 + firstRow, weights, ignoreIndex.GetValueOrDefault(), ignoreIndex.HasValue, 1 - smoothing, smoothing / classes, settings.GradientScale, settings.ZLoss, classes);
        if (rowWeights0 != null)
        {
            RunAt<TOps, TVec, TFeatures, RowWeightPlanner<LabelPlanner<T>, T>>(firstRow, rowCount, new(planner, rowWeights0 + firstRow));
        }
        else
        {
            RunAt<TOps, TVec, TFeatures, LabelPlanner<T>>(firstRow, rowCount, planner);
        }
    }

    private void RunAt<TOps, TVec, TFeatures, TPlanner>(int firstRow, int rowCount, TPlanner planner)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
        where TPlanner : struct, IRowPlanner
    {
        nint offset = (nint)firstRow * classes;
        T* logits = logits0 + offset;
        T* gradient = gradient0 + offset;
        T* logSumExp = logSumExp0 + firstRow;
        T* rowFactors = rowFactors0 == null ? null : rowFactors0 + firstRow;
        LogitMap<T> map = settings.Map<T>();
        if (settings.Smoothing == 0)
        {
            RecomputeFromStatistics<TOps, TVec, T>.Rows<NoTerm<T>, TPlanner, TFeatures, SavedLogSumExp<T>, WithoutLoss>(
                logits, gradient, new SavedLogSumExp<T>(logSumExp), rowFactors, rowCount, classes, default, planner, map, 0, countZLoss: false);
        }
        else if (weights == null)
        {
            RecomputeFromStatistics<TOps, TVec, T>.Rows<OnesTerm<T>, TPlanner, TFeatures, SavedLogSumExp<T>, WithoutLoss>(
                logits, gradient, new SavedLogSumExp<T>(logSumExp), rowFactors, rowCount, classes, default, planner, map, commonTermSum, countZLoss: false);
        }
        else
        {
            RecomputeFromStatistics<TOps, TVec, T>.Rows<WeightsTerm<T>, TPlanner, TFeatures, SavedLogSumExp<T>, WithoutLoss>(
                logits, gradient, new SavedLogSumExp<T>(logSumExp), rowFactors, rowCount, classes, new WeightsTerm<T>(weights), planner, map, commonTermSum, countZLoss: false);
        }
    }
}

/// <summary>
/// The backward from saved log-sum-exps with dense target rows (<see cref="RecomputeFromStatistics{TOps, TVec, T}"/>);
/// <c>rowFactors0</c> holds per-row upstream gradients, or is null.
/// </summary>
internal readonly unsafe struct DenseBackwardCall<T>(
    T* logits0, T* gradient0, T* logSumExp0, T* rowFactors0, T* targets0, T* weights, T* rowWeights0, int rows, int classes, CallSettings settings) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public int Rows => rows;

    public int Classes => classes;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        RunAt<TOps, TVec>(firstRow, rowCount);
        return default;
    }

    private void RunAt<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        if (settings.Softcap != 0)
        {
            RunAt<TOps, TVec, SoftcapRows>(firstRow, rowCount);
        }
        else if (settings.LogitScale != 1)
        {
            RunAt<TOps, TVec, ScaledRows>(firstRow, rowCount);
        }
        else
        {
            RunAt<TOps, TVec, PlainRows>(firstRow, rowCount);
        }
    }

    private void RunAt<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        var planner = new FixedPlanner(new RowPlan(-1, 0, 1, settings.GradientScale, settings.ZLoss));
        if (rowWeights0 != null)
        {
            RunAt<TOps, TVec, TFeatures, RowWeightPlanner<FixedPlanner, T>>(firstRow, rowCount, new(planner, rowWeights0 + firstRow));
        }
        else
        {
            RunAt<TOps, TVec, TFeatures, FixedPlanner>(firstRow, rowCount, planner);
        }
    }

    private void RunAt<TOps, TVec, TFeatures, TPlanner>(int firstRow, int rowCount, TPlanner planner)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
        where TPlanner : struct, IRowPlanner
    {
        nint offset = (nint)firstRow * classes;
        T* logits = logits0 + offset;
        T* gradient = gradient0 + offset;
        T* targets = targets0 + offset;
        T* logSumExp = logSumExp0 + firstRow;
        T* rowFactors = rowFactors0 == null ? null : rowFactors0 + firstRow;
        LogitMap<T> map = settings.Map<T>();
        T keep = T.CreateTruncating(1 - settings.Smoothing);
        T spread = T.CreateTruncating(settings.Smoothing / classes);
        if (weights == null)
        {
            RecomputeFromStatistics<TOps, TVec, T>.Rows<DenseTerm<T>, TPlanner, TFeatures, SavedLogSumExp<T>, WithoutLoss>(
                logits, gradient, new SavedLogSumExp<T>(logSumExp), rowFactors, rowCount, classes, new DenseTerm<T>(targets, keep, spread), planner, map, 0, countZLoss: false);
        }
        else
        {
            RecomputeFromStatistics<TOps, TVec, T>.Rows<WeightedDenseTerm<T>, TPlanner, TFeatures, SavedLogSumExp<T>, WithoutLoss>(
                logits, gradient, new SavedLogSumExp<T>(logSumExp), rowFactors, rowCount, classes, new WeightedDenseTerm<T>(targets, weights, keep, spread), planner, map, 0, countZLoss: false);
        }
    }
}
