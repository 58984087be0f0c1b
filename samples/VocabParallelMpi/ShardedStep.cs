using System;
using System.Diagnostics;
using MPI;
using SoftmaxCE;

/// <summary>
/// One rank's sharded loss-and-gradient step over its block of the logits: the denominator summed over the
/// data-parallel group, the row statistics combined over the tensor-parallel group, then the shard's gradient and
/// its share of the loss, the shares summed over every rank. The buffers are made once and reused by every step.
/// </summary>
internal sealed class ShardedStep
{
    private readonly Layout _layout;
    private readonly float[] _shard;
    private readonly int[] _labels;
    private readonly float[] _classWeights;
    private readonly CrossEntropyOptions _options;
    private readonly float[] _rowMax;
    private readonly float[] _rowSumExp;
    private readonly float[] _labelLogits;
    private readonly float[] _rescaled;
    private readonly float[] _globalMax;
    private readonly float[] _globalSumExp;
    private long _communicationTicks;

    public ShardedStep(Layout layout, float[] globalLogits, int[] globalLabels, float[] classWeights, CrossEntropyOptions options)
    {
        _layout = layout;
        _classWeights = classWeights;
        _options = options;

        // The block this rank holds: its rows, its classes. (In a real model each rank computes only this block.)
        int rows = layout.RowCount;
        int shardClasses = layout.ClassCount;
        _shard = new float[rows * shardClasses];
        for (int i = 0; i < rows; i++)
        {
            globalLogits.AsSpan(((layout.RowStart + i) * layout.Classes) + layout.ClassStart, shardClasses)
                .CopyTo(_shard.AsSpan(i * shardClasses, shardClasses));
        }

        _labels = globalLabels.AsSpan(layout.RowStart, rows).ToArray();
        Gradient = new float[_shard.Length];
        _rowMax = new float[rows];
        _rowSumExp = new float[rows];
        _labelLogits = new float[rows];
        _rescaled = new float[rows];
        _globalMax = new float[rows];
        _globalSumExp = new float[rows];
    }

    /// <summary>dLoss/dLogits for this rank's block, written by <see cref="Run"/>.</summary>
    public float[] Gradient { get; }

    /// <summary>The seconds the last <see cref="Run"/> spent in all-reduces (waiting for the other ranks included).</summary>
    public double CommunicationSeconds => (double)_communicationTicks / Stopwatch.Frequency;

    /// <summary>Runs the step on every rank (it is collective) and returns the loss of the whole batch.</summary>
    public float Run()
    {
        _communicationTicks = 0;
        int vocab = _layout.Classes;
        int shardClasses = _layout.ClassCount;
        int classOffset = _layout.ClassStart;
        Intracommunicator dataGroup = _layout.DataGroup;     // same classes, other rows
        Intracommunicator tensorGroup = _layout.TensorGroup; // same rows, other classes
        Intracommunicator world = _layout.World;
        CrossEntropyOptions options = _options;
        float[] shard = _shard, shardGradient = Gradient, labelLogits = _labelLogits, classWeights = _classWeights;
        int[] labels = _labels;
        float[] rowMax = _rowMax, rowSumExp = _rowSumExp, rescaled = _rescaled, globalMax = _globalMax, globalSumExp = _globalSumExp;

        #region readme-scaling-out
        // Data parallelism: every call divides by the whole batch's denominator, not by its own rows'.
        double denominator = SoftmaxCrossEntropy.MeanDenominator<float>(labels, vocab, options, classWeights);
        options = options with { Denominator = AllreduceSum(dataGroup, denominator) };

        // Vocabulary parallelism: each shard's (max, sum of exp) per row, combined over the tensor-parallel group:
        // the maximum first, then the sums rescaled to it and added (MergeShardStatistics does this pairwise).
        SoftmaxCrossEntropy.ShardStatistics<float>(shard, labels, rowMax, rowSumExp, labelLogits, shardClasses, classOffset, vocab, options);
        AllreduceMax(tensorGroup, rowMax, ref globalMax);
        for (int i = 0; i < rowMax.Length; i++)
        {
            // A shard whose classes are all masked in a row has (-inf, 0) and adds nothing (-inf - -inf would be NaN).
            rescaled[i] = rowSumExp[i] == 0 ? 0 : rowSumExp[i] * MathF.Exp(rowMax[i] - globalMax[i]);
        }

        AllreduceSum(tensorGroup, rescaled, ref globalSumExp);

        // This shard's columns of the gradient, and its share of the loss; the shares of all the ranks add up to the loss.
        float share = SoftmaxCrossEntropy.ShardLossAndGradient<float>(shard, labels, globalMax, globalSumExp, shardGradient,
            shardClasses, classOffset, vocab, options, classWeights);
        return (float)AllreduceSum(world, share);
        #endregion
    }

    // MPI.NET's all-reduces, timed. (The array forms write into the given arrays when they have the right length.)
    private double AllreduceSum(Intracommunicator group, double value)
    {
        long start = Stopwatch.GetTimestamp();
        double sum = group.Allreduce(value, Operation<double>.Add);
        _communicationTicks += Stopwatch.GetTimestamp() - start;
        return sum;
    }

    private void AllreduceSum(Intracommunicator group, float[] values, ref float[] sums)
    {
        long start = Stopwatch.GetTimestamp();
        group.Allreduce(values, Operation<float>.Add, ref sums);
        _communicationTicks += Stopwatch.GetTimestamp() - start;
    }

    private void AllreduceMax(Intracommunicator group, float[] values, ref float[] maxima)
    {
        long start = Stopwatch.GetTimestamp();
        group.Allreduce(values, Operation<float>.Max, ref maxima);
        _communicationTicks += Stopwatch.GetTimestamp() - start;
    }
}
