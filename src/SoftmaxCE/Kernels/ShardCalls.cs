using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SoftmaxCE.Kernels;

/// <summary>
/// <c>ShardStatistics</c>: the statistics pass over a shard's rows (the same <see cref="RowLoop{TOps, TVec, T}"/> as every
/// other call, writing nothing but each row's max and sum of exponentials).
/// </summary>
internal readonly unsafe struct ShardStatisticsCall<T>(T* logits, T* rowMax, T* rowSumExp, int rows, int classes, LogitMap<T> map) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
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
        nint offset = (nint)firstRow * classes;
        var outputs = new RowOutputs<T>(null, null, null, rowMax + firstRow, rowSumExp + firstRow);
        return RowLoop<TOps, TVec, T>.Run<NoTerm<T>, NoOutput, FixedPlanner, TFeatures>(
            logits + offset, null, null, outputs, rowCount, classes, default, new FixedPlanner(new RowPlan(-1, 0, 0, 1)), map);
    }
}

/// <summary>
/// Class-index labels seen from one class shard: the label (local index, or -1 when another shard holds it), its weight
/// and smoothing, and the ignored value. The label coefficient stays in the plan either way: every class's probability
/// term carries it.
/// </summary>
internal readonly unsafe struct ShardPlanner<T>(
    int* labels, T* weights, int ignoreIndex, bool hasIgnoreIndex, double keep, double spread, double scale, double zLoss, int classOffset, int shardClasses, int classes) : IRowPlanner
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool WeightsRows => false;

    public RowPlan Common => new(-1, 0, spread, scale, zLoss);

    /// <summary>Not used: the shard calls run the row kernels only (their statistics outputs keep the lane kernels away).</summary>
    public LaneLabels Lanes => default;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPlan(int row, out RowPlan plan)
    {
        int label = labels[row];
        if (hasIgnoreIndex && label == ignoreIndex)
        {
            plan = default;
            return false;
        }

        // Read once and checked against every class (not just this shard's): see LabelPlanner.
        if ((uint)label >= (uint)classes)
        {
            plan = RowPlan.Broken(spread, scale, zLoss);
            return true;
        }

        double weight = weights == null ? 1 : double.CreateTruncating(weights[label]);
        int local = label - classOffset;
        plan = new RowPlan((uint)local < (uint)shardClasses ? local : -1, keep * weight, spread, scale, zLoss);
        return true;
    }
}

/// <summary>
/// <c>ShardLossAndGradient</c>: the recompute-from-statistics strategy over a shard's rows from the merged statistics,
/// adding up the shard's share of the loss in the same pass.
/// </summary>
/// <remarks><c>weights</c> are the global class weights (or null); <c>commonTermSum</c> is their sum over every class (or C);
/// <c>rowWeights0</c> the row weights (or null).</remarks>
internal readonly unsafe struct ShardGradientCall<T>(
    T* logits0, T* gradient0, T* rowMax, T* rowSumExp, int* labels0, T* weights, T* rowWeights0, int rows, int shardClasses, int classOffset, int classes,
    int? ignoreIndex, CallSettings settings, double commonTermSum) : IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public int Rows => rows;

    public int Classes => shardClasses;

    public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        return RunAt<TOps, TVec>(firstRow, rowCount);
    }

    private RowTotals RunAt<TOps, TVec>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        if (settings.Softcap != 0)
        {
            return RunAt<TOps, TVec, SoftcapRows>(firstRow, rowCount);
        }

        return settings.LogitScale != 1 ? RunAt<TOps, TVec, ScaledRows>(firstRow, rowCount) : RunAt<TOps, TVec, PlainRows>(firstRow, rowCount);
    }

    private RowTotals RunAt<TOps, TVec, TFeatures>(int firstRow, int rowCount)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        double smoothing = settings.Smoothing;
        var planner = new ShardPlanner<T>(
            labels0 + firstRow, weights, ignoreIndex.GetValueOrDefault(), ignoreIndex.HasValue, 1 - smoothing, smoothing / classes,
            settings.GradientScale, settings.ZLoss, classOffset, shardClasses, classes);
        return rowWeights0 != null
            ? RunAt<TOps, TVec, TFeatures, RowWeightPlanner<ShardPlanner<T>, T>>(firstRow, rowCount, new(planner, rowWeights0 + firstRow))
            : RunAt<TOps, TVec, TFeatures, ShardPlanner<T>>(firstRow, rowCount, planner);
    }

    private RowTotals RunAt<TOps, TVec, TFeatures, TPlanner>(int firstRow, int rowCount, TPlanner planner)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
        where TPlanner : struct, IRowPlanner
    {
        double smoothing = settings.Smoothing;
        nint offset = (nint)firstRow * shardClasses;
        T* logits = logits0 + offset;
        T* gradient = gradient0 + offset;
        var statistics = new MergedShardStatistics<T>(rowMax + firstRow, rowSumExp + firstRow);
        LogitMap<T> map = settings.Map<T>();
        bool countZLoss = classOffset == 0;
        if (smoothing == 0)
        {
            return RecomputeFromStatistics<TOps, TVec, T>.Rows<NoTerm<T>, TPlanner, TFeatures, MergedShardStatistics<T>, WithLoss>(
                logits, gradient, statistics, null, rowCount, shardClasses, default, planner, map, 0, countZLoss);
        }

        if (weights == null)
        {
            return RecomputeFromStatistics<TOps, TVec, T>.Rows<OnesTerm<T>, TPlanner, TFeatures, MergedShardStatistics<T>, WithLoss>(
                logits, gradient, statistics, null, rowCount, shardClasses, default, planner, map, commonTermSum, countZLoss);
        }

        return RecomputeFromStatistics<TOps, TVec, T>.Rows<WeightsTerm<T>, TPlanner, TFeatures, MergedShardStatistics<T>, WithLoss>(
            logits, gradient, statistics, null, rowCount, shardClasses, new WeightsTerm<T>(weights + classOffset), planner, map, commonTermSum, countZLoss);
    }
}
