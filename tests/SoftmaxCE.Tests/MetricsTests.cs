using System;
using System.Linq;
using System.Numerics;
using FluentAssertions;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>Widths and row lengths for the metrics tests: short rows, the 16-row kernel, and chunked rows.</summary>
public static class MetricsShapes
{
    public static TheoryData<int, int, int> WidthsAndShapes()
    {
        var data = new TheoryData<int, int, int>();
        foreach (int width in TestData.WidthBits)
        {
            foreach (int classes in new[] { 2, 3, 10, 16, 17, 33, 257, 4099 })
            {
                data.Add(width, 37, classes);
            }
        }

        return data;
    }
}

/// <summary>
/// Accuracy and predictions from the fused pass, and the z-loss part, against an independent computation:
/// argmax of the (capped) logits in double, lowest index on ties.
/// </summary>
public abstract class MetricsTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    [Theory]
    [MemberData(nameof(MetricsShapes.WidthsAndShapes), MemberType = typeof(MetricsShapes))]
    public void LossAndGradientWithMetrics_CountsCorrectRowsAndPredicts_LikeArgmax(int width, int rows, int classes)
    {
        var rng = new Random(Seeds.For(rows, classes, 3));
        T[] logits = Data<T>.Logits(rng, rows * classes);

        // Plant exact ties: in every third row, class 0 and the last class share the row's largest value.
        for (int r = 0; r < rows; r += 3)
        {
            T top = T.CreateTruncating(50);
            logits[(r * classes) + classes - 1] = top;
            logits[r * classes] = top;
        }

        int[] labels = Data<T>.Labels(rng, rows, classes, ignoreIndex: -1, ignoredEvery: 5);
        for (int r = 1; r < rows; r += 4)
        {
            labels[r] = labels[r] < 0 ? -1 : Argmax(logits, r, classes); // make some rows correct
        }

        var options = new CrossEntropyOptions { IgnoreIndex = -1, ZLoss = 1e-3 };
        var gradient = new T[logits.Length];
        var predictions = new int[rows];
        var plainGradient = new T[logits.Length];
        CrossEntropyMetrics<T> metrics;
        T plain;
        using (ForcedWidth.Force(width))
        {
            metrics = SoftmaxCrossEntropy.LossAndGradientWithMetrics<T>(logits, labels, gradient, classes, options, default, predictions: predictions);
            plain = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, plainGradient, classes, options);
        }

        int correct = 0, counted = 0;
        for (int r = 0; r < rows; r++)
        {
            int expected = labels[r] < 0 ? -1 : Argmax(logits, r, classes);
            predictions[r].Should().Be(expected, $"row {r} of {rows}x{classes}, width {width}");
            if (labels[r] >= 0)
            {
                counted++;
                correct += expected == labels[r] ? 1 : 0;
            }
        }

        metrics.CountedRows.Should().Be(counted);
        metrics.CorrectCount.Should().Be(correct);

        // The loss and gradient are the plain call's; the z-loss part is z * LSE^2 averaged over the counted rows.
        metrics.Loss.Should().Be(plain);
        Check.Bitwise<T>(gradient, plainGradient, "gradient with metrics");
        double[] lse = Reference.RowLogSumExps(Data<T>.ToDouble(logits), classes);
        double zLoss = Enumerable.Range(0, rows).Where(r => labels[r] >= 0).Sum(r => 1e-3 * lse[r] * lse[r]) / counted;
        Check.Scalar(double.CreateTruncating(metrics.ZLoss), zLoss, Tol.Loss * Math.Max(1, Math.Abs(zLoss)), "z-loss part");
    }

    [Fact]
    public void LossWithMetrics_WithoutPredictions_CountsTheSame()
    {
        var rng = new Random(5);
        const int Rows = 100, Classes = 1000;
        T[] logits = Data<T>.Logits(rng, Rows * Classes);
        int[] labels = Enumerable.Range(0, Rows).Select(r => r % 2 == 0 ? Argmax(logits, r, Classes) : rng.Next(Classes)).ToArray();
        CrossEntropyMetrics<T> withPredictions = SoftmaxCrossEntropy.LossWithMetrics<T>(logits, labels, Classes, default, default, predictions: new int[Rows]);
        CrossEntropyMetrics<T> without = SoftmaxCrossEntropy.LossWithMetrics<T>(logits, labels, Classes);
        without.Should().Be(withPredictions);
        // Even rows are right by construction; an odd row is right when its random label happens to be the argmax.
        int correct = Enumerable.Range(0, Rows).Count(r => labels[r] == Argmax(logits, r, Classes));
        correct.Should().BeGreaterThanOrEqualTo(Rows / 2);
        without.CorrectCount.Should().Be(correct);
        without.CountedRows.Should().Be(Rows);
        without.Loss.Should().Be(SoftmaxCrossEntropy.Loss<T>(logits, labels, Classes));
    }

    [Fact]
    public void Predictions_OfTheWrongLength_AreRefused_AndNothingIsWritten()
    {
        T[] logits = Data<T>.Logits(new Random(2), 30);
        var gradient = new T[30];
        var predictions = new[] { 9, 9 };
        Action act = () => SoftmaxCrossEntropy.LossAndGradientWithMetrics<T>(logits, new[] { 1, 2, 3 }, gradient, 10, default, default, predictions: predictions);
        act.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("predictions");
        predictions.Should().Equal(9, 9);
        gradient.Should().AllSatisfy(g => g.Should().Be(T.Zero));
    }

    /// <summary>The lowest index of the row's largest value, in double.</summary>
    private static int Argmax(T[] logits, int row, int classes)
    {
        int best = 0;
        for (int k = 1; k < classes; k++)
        {
            if (double.CreateTruncating(logits[(row * classes) + k]) > double.CreateTruncating(logits[(row * classes) + best]))
            {
                best = k;
            }
        }

        return best;
    }
}

public sealed class MetricsTestsSingle : MetricsTests<float>;

public sealed class MetricsTestsDouble : MetricsTests<double>;
