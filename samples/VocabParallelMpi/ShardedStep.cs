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
    private readonly float[] _logits;
    private readonly int[] _labels;
    private readonly float[] _classWeights;
    private readonly CrossEntropyOptions _options;
    private readonly float[] _rowMax;
    private readonly float[] _rowSumExp;
    private readonly float[] _labelLogits;
    private float[] _globalMax;
    private readonly double[] _rescaledSumExp;
    private double[] _globalSumExpDouble;
    private readonly float[] _globalSumExp;

    public ShardedStep(Layout layout, float[] globalLogits, int[] globalLabels, float[] classWeights, CrossEntropyOptions options)
    {
        _layout = layout;
        _classWeights = classWeights;
        _options = options;

        // The block this rank holds: its rows, its classes. (In a real model each rank computes only this block.)
        int rows = layout.RowCount;
        int shardClasses = layout.ClassCount;
        _logits = new float[rows * shardClasses];
        for (int i = 0; i < rows; i++)
        {
            globalLogits.AsSpan(((layout.RowStart + i) * layout.Classes) + layout.ClassStart, shardClasses)
                .CopyTo(_logits.AsSpan(i * shardClasses, shardClasses));
        }

        _labels = globalLabels.AsSpan(layout.RowStart, rows).ToArray();
        Gradient = new float[_logits.Length];
        _rowMax = new float[rows];
        _rowSumExp = new float[rows];
        _labelLogits = new float[rows];
        _globalMax = new float[rows];
        _rescaledSumExp = new double[rows];
        _globalSumExpDouble = new double[rows];
        _globalSumExp = new float[rows];
    }

    /// <summary>dLoss/dLogits for this rank's block, written by <see cref="Run"/>.</summary>
    public float[] Gradient { get; }

    /// <summary>The seconds the last <see cref="Run"/> spent in all-reduces (waiting for the other ranks included).</summary>
    public double CommunicationSeconds { get; private set; }

    /// <summary>Runs the step on every rank (it is collective) and returns the loss of the whole batch.</summary>
    public float Run()
    {
        int classes = _layout.Classes;
        CrossEntropyOptions options = _options;
        long communication = 0;
        long start;

        // Data parallelism: the mean divides by the whole batch's denominator, not by this rank's.
        if (options.Reduction == Reduction.Mean)
        {
            double local = SoftmaxCrossEntropy.MeanDenominator<float>(_labels, classes, options, _classWeights);
            start = Stopwatch.GetTimestamp();
            options = options with { Denominator = _layout.DataGroup.Allreduce(local, Operation<double>.Add) };
            communication += Stopwatch.GetTimestamp() - start;
        }

        // Vocabulary parallelism: each shard's (max, sum of exp) per row, combined over the tensor-parallel group:
        // the global max first, then the sums rescaled to it and added. (MergeShardStatistics does the same pairwise.)
        SoftmaxCrossEntropy.ShardStatistics<float>(_logits, _labels, _rowMax, _rowSumExp, _labelLogits,
            _layout.ClassCount, _layout.ClassStart, classes, options);
        start = Stopwatch.GetTimestamp();
        _layout.TensorGroup.Allreduce(_rowMax, Operation<float>.Max, ref _globalMax);
        communication += Stopwatch.GetTimestamp() - start;
        for (int i = 0; i < _rowMax.Length; i++)
        {
            // A shard whose classes are all masked in a row has (-inf, 0): it adds nothing (and -inf - -inf is NaN).
            _rescaledSumExp[i] = _rowSumExp[i] == 0 ? 0 : _rowSumExp[i] * Math.Exp((double)_rowMax[i] - _globalMax[i]);
        }

        start = Stopwatch.GetTimestamp();
        _layout.TensorGroup.Allreduce(_rescaledSumExp, Operation<double>.Add, ref _globalSumExpDouble);
        communication += Stopwatch.GetTimestamp() - start;
        for (int i = 0; i < _globalSumExp.Length; i++)
        {
            _globalSumExp[i] = (float)_globalSumExpDouble[i];
        }

        float share = SoftmaxCrossEntropy.ShardLossAndGradient<float>(_logits, _labels, _globalMax, _globalSumExp, Gradient,
            _layout.ClassCount, _layout.ClassStart, classes, options, _classWeights);

        // Every rank's share, over both kinds of parallelism, adds up to the whole batch's loss.
        start = Stopwatch.GetTimestamp();
        double loss = _layout.World.Allreduce((double)share, Operation<double>.Add);
        communication += Stopwatch.GetTimestamp() - start;
        CommunicationSeconds = (double)communication / Stopwatch.Frequency;
        return (float)loss;
    }
}
