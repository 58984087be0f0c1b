using System;
using System.Collections.Generic;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// Vocabulary-parallel cross-entropy on one machine: one shard holding every class, and 8 equal shards with their statistics
/// merged, each <c>ShardStatistics</c> + <c>MergeShardStatistics</c> + <c>ShardLossAndGradient</c>, against the fused call on
/// the whole logits. Float, class-index labels, mean reduction, one thread.
/// </summary>
/// <remarks>The 8 shards are 8 separate row-major buffers, as on 8 devices; together they hold the same logits.</remarks>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class ShardedBenchmarks : LabelBuffers<float>
{
    private const int ShardCount = 8;
    private float[][] _shards = [];
    private float[][] _shardGradients = [];
    private float[] _rowMax = [], _rowSumExp = [], _labelLogits = [], _otherMax = [], _otherSumExp = [];

    /// <summary>The language-model shapes: (M, C).</summary>
    public static IEnumerable<Shape> Shapes => AutogradShapes.All;

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Allocates and fills every buffer, and cuts the logits into 8 shards.</summary>
    [GlobalSetup]
    public void Setup()
    {
        AllocateLabelBuffers(Shape);
        int rows = Shape.Rows, classes = Shape.Classes, width = classes / ShardCount;
        _shards = new float[ShardCount][];
        _shardGradients = new float[ShardCount][];
        for (int s = 0; s < ShardCount; s++)
        {
            _shards[s] = new float[rows * width];
            _shardGradients[s] = new float[rows * width];
            for (int r = 0; r < rows; r++)
            {
                Logits.Slice((r * classes) + (s * width), width).CopyTo(_shards[s].AsSpan(r * width, width));
            }
        }

        _rowMax = new float[rows];
        _rowSumExp = new float[rows];
        _labelLogits = new float[rows];
        _otherMax = new float[rows];
        _otherSumExp = new float[rows];
    }

    /// <summary>The fused loss and gradient on the whole logits.</summary>
    [Benchmark(Baseline = true)]
    public float Fused() => SoftmaxCrossEntropy.LossAndGradient(Logits, Labels, Gradient, Shape.Classes, OneThread);

    /// <summary>One shard holding every class: statistics, then loss and gradient.</summary>
    [Benchmark]
    public float OneShard()
    {
        int classes = Shape.Classes;
        SoftmaxCrossEntropy.ShardStatistics(Logits, Labels, _rowMax, _rowSumExp, _labelLogits, classes, 0, classes, OneThread);
        return SoftmaxCrossEntropy.ShardLossAndGradient(Logits, Labels, _rowMax, _rowSumExp, Gradient, classes, 0, classes, OneThread);
    }

    /// <summary>8 equal shards: 8 statistics, 7 merges, 8 losses and gradients.</summary>
    [Benchmark]
    public float EightShards()
    {
        int classes = Shape.Classes, width = classes / ShardCount;
        SoftmaxCrossEntropy.ShardStatistics<float>(_shards[0], Labels, _rowMax, _rowSumExp, _labelLogits, width, 0, classes, OneThread);
        for (int s = 1; s < ShardCount; s++)
        {
            SoftmaxCrossEntropy.ShardStatistics<float>(_shards[s], Labels, _otherMax, _otherSumExp, _labelLogits, width, s * width, classes, OneThread);
            SoftmaxCrossEntropy.MergeShardStatistics<float>(_otherMax, _otherSumExp, _rowMax, _rowSumExp);
        }

        float loss = 0;
        for (int s = 0; s < ShardCount; s++)
        {
            loss += SoftmaxCrossEntropy.ShardLossAndGradient<float>(_shards[s], Labels, _rowMax, _rowSumExp, _shardGradients[s], width, s * width, classes, OneThread);
        }

        return loss;
    }
}
