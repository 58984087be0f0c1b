using System;
using System.Numerics;
using System.Threading.Tasks;
using FluentAssertions;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>Shapes above the single-thread threshold (2^16 elements) whose rows split into uneven chunks.</summary>
public static class ParallelShapes
{
    public static TheoryData<int, int> Uneven() => new()
    {
        { 40_001, 10 },   // short rows: 16-row blocks, then a padded tail
        { 1_003, 1000 },  // 16 rows per chunk, the last chunk short
        { 37, 32_000 },   // one row per chunk
        { 90_001, 3 },
    };
}

/// <summary>
/// Several cores, the same bits: every public operation gives bitwise the same outputs for 1, 2, 3 and all
/// threads, on shapes that split into uneven chunks; concurrent calls are safe; the option is validated.
/// </summary>
public abstract class ParallelTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    [Theory]
    [MemberData(nameof(ParallelShapes.Uneven), MemberType = typeof(ParallelShapes))]
    public void EveryOperation_AnyThreadCount_GivesBitwiseTheSameResults(int rows, int classes)
    {
        var rng = new Random(Seeds.For(rows, classes));
        T[] logits = Data<T>.Logits(rng, rows * classes);
        int[] labels = Data<T>.Labels(rng, rows, classes, ignoreIndex: -100, ignoredEvery: 7);
        T[] targets = Data<T>.Targets(rng, rows, classes, TargetKind.Distribution);
        T[] weights = Data<T>.Weights(rng, classes);
        var baseOptions = new CrossEntropyOptions { IgnoreIndex = -100, LabelSmoothing = 0.1, ZLoss = 1e-3 };

        Results reference = Run(logits, labels, targets, weights, classes, baseOptions with { MaxDegreeOfParallelism = 1 });
        foreach (int threads in new[] { 2, 3, 0 })
        {
            Results other = Run(logits, labels, targets, weights, classes, baseOptions with { MaxDegreeOfParallelism = threads });
            reference.AssertBitwiseEqual(other, $"{rows}x{classes}, {threads} threads");
        }
    }

    [Fact]
    public void ConcurrentCalls_OnSharedInputs_EachGetTheSingleThreadedResult()
    {
        const int Rows = 3_001, Classes = 1000;
        var rng = new Random(Seeds.For(Rows, Classes));
        T[] logits = Data<T>.Logits(rng, Rows * Classes);
        int[] labels = Data<T>.Labels(rng, Rows, Classes);
        var expected = new T[logits.Length];
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, expected, Classes, new CrossEntropyOptions { MaxDegreeOfParallelism = 1 });

        // Many callers at once, each allowed all cores: the pool is oversubscribed, and every call must still
        // finish its own work before it returns.
        var losses = new T[16];
        var gradients = new T[16][];
        Parallel.For(0, 16, new ParallelOptions { MaxDegreeOfParallelism = 16 }, i =>
        {
            gradients[i] = new T[logits.Length];
            losses[i] = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradients[i], Classes);
        });

        for (int i = 0; i < 16; i++)
        {
            losses[i].Should().Be(expectedLoss, $"call {i}");
            Check.Bitwise<T>(gradients[i], expected, $"call {i}");
        }
    }

    [Fact]
    public void NegativeMaxDegreeOfParallelism_IsRefused_AndNothingIsWritten()
    {
        T[] logits = Data<T>.Logits(new Random(1), 20);
        var gradient = new T[20];
        gradient.AsSpan().Fill(T.CreateTruncating(7));
        var options = new CrossEntropyOptions { MaxDegreeOfParallelism = -1 };

        Action loss = () => SoftmaxCrossEntropy.LossAndGradient<T>(logits, new[] { 1, 2 }, gradient, 10, options);
        loss.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("options");
        Action softmax = () => SoftmaxCrossEntropy.Softmax<T>(logits, gradient, 10, new CrossEntropyOptions { MaxDegreeOfParallelism = -2 });
        softmax.Should().Throw<ArgumentOutOfRangeException>().Which.ParamName.Should().Be("options");
        gradient.Should().AllSatisfy(g => g.Should().Be(T.CreateTruncating(7)));
    }

    private static Results Run(T[] logits, int[] labels, T[] targets, T[] weights, int classes, CrossEntropyOptions options)
    {
        int rows = labels.Length;
        var r = new Results
        {
            Softmax = new T[logits.Length],
            LogSoftmax = new T[logits.Length],
            Gradient = new T[logits.Length],
            DenseGradient = new T[logits.Length],
            RowLosses = new T[rows],
            Predictions = new int[rows],
        };
        SoftmaxCrossEntropy.Softmax<T>(logits, r.Softmax, classes, options);
        SoftmaxCrossEntropy.LogSoftmax<T>(logits, r.LogSoftmax, classes, options);
        r.Loss = SoftmaxCrossEntropy.Loss<T>(logits, labels, classes, options, weights);
        SoftmaxCrossEntropy.RowLosses<T>(logits, labels, r.RowLosses, classes, options, weights);
        r.LossAndGradient = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, r.Gradient, classes, options, weights);
        r.DenseLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, targets, r.DenseGradient, classes, options, weights);
        r.Metrics = SoftmaxCrossEntropy.LossWithMetrics<T>(logits, labels, classes, options, weights, predictions: r.Predictions);
        return r;
    }

    private sealed class Results
    {
        public required T[] Softmax { get; init; }
        public required T[] LogSoftmax { get; init; }
        public required T[] Gradient { get; init; }
        public required T[] DenseGradient { get; init; }
        public required T[] RowLosses { get; init; }
        public required int[] Predictions { get; init; }
        public T Loss { get; set; }
        public T LossAndGradient { get; set; }
        public T DenseLoss { get; set; }
        public CrossEntropyMetrics<T> Metrics { get; set; }

        public void AssertBitwiseEqual(Results other, string what)
        {
            Check.Bitwise<T>(other.Softmax, Softmax, what + ": softmax");
            Check.Bitwise<T>(other.LogSoftmax, LogSoftmax, what + ": log-softmax");
            Check.Bitwise<T>(other.Gradient, Gradient, what + ": gradient");
            Check.Bitwise<T>(other.DenseGradient, DenseGradient, what + ": dense gradient");
            Check.Bitwise<T>(other.RowLosses, RowLosses, what + ": row losses");
            other.Predictions.Should().Equal(Predictions, what + ": predictions");
            other.Loss.Should().Be(Loss, what + ": loss");
            other.LossAndGradient.Should().Be(LossAndGradient, what + ": fused loss");
            other.DenseLoss.Should().Be(DenseLoss, what + ": dense loss");
            other.Metrics.Should().Be(Metrics, what + ": metrics");
        }
    }
}

public sealed class ParallelTestsSingle : ParallelTests<float>;

public sealed class ParallelTestsDouble : ParallelTests<double>;
