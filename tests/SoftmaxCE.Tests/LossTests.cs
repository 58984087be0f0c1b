using System;
using System.Numerics;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The reduced loss and the row losses against the double reference, for every width and row length.</summary>
public abstract class LossTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Loss_Labels_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < LabelConfig.All.Length; c++)
            {
                LabelProblem<T> p = ProblemCache.Labels<T>(rows, classes, c);
                T[] before = (T[])p.Logits.Clone();
                T loss;
                using (ForcedWidth.Force(width))
                {
                    loss = SoftmaxCrossEntropy.Loss<T>(p.Logits, p.Labels, classes, p.Options, p.Weights);
                }

                string what = $"Loss, width {width}, {p}";
                Check.Bitwise<T>(p.Logits, before, what + ": logits changed");
                Check.Scalar(double.CreateTruncating(loss), p.Loss, (Tol.Loss * p.LossMagnitude) + Tol.Floor, what);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void RowLosses_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < LabelConfig.All.Length; c++)
            {
                LabelProblem<T> p = ProblemCache.Labels<T>(rows, classes, c);
                var losses = new Guarded<T>(rows);
                using (ForcedWidth.Force(width))
                {
                    SoftmaxCrossEntropy.RowLosses<T>(p.Logits, p.Labels, losses.Span, classes, p.Options, p.Weights);
                }

                string what = $"RowLosses, width {width}, {p}";
                losses.AssertGuardsIntact(what);
                Check.Close<T>(losses.Span, p.RowLosses, p.RowLossMagnitudes, Tol.Loss, Tol.Floor, 1, what);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Loss_Dense_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < DenseConfig.All.Length; c++)
            {
                DenseProblem<T> p = ProblemCache.Dense<T>(rows, classes, c);
                T[] before = (T[])p.Logits.Clone();
                T loss;
                using (ForcedWidth.Force(width))
                {
                    loss = SoftmaxCrossEntropy.Loss<T>(p.Logits, p.Targets, classes, p.Options, p.Weights);
                }

                string what = $"Loss (dense), width {width}, {p}";
                Check.Bitwise<T>(p.Logits, before, what + ": logits changed");
                Check.Scalar(double.CreateTruncating(loss), p.Loss, (Tol.Loss * p.LossMagnitude) + Tol.Floor, what);
            }
        }
    }

    [Fact]
    public void Loss_Labels_SumEqualsSumOfRowLosses()
    {
        const int Rows = 50, Classes = 23;
        var p = new LabelProblem<T>(Rows, Classes, LabelConfig.All[2], Seeds.For(Rows, Classes, 9));
        var losses = new T[Rows];
        SoftmaxCrossEntropy.RowLosses<T>(p.Logits, p.Labels, losses, Classes, p.Options, p.Weights);
        double sum = 0;
        foreach (T l in losses)
        {
            sum += double.CreateTruncating(l);
        }

        T total = SoftmaxCrossEntropy.Loss<T>(p.Logits, p.Labels, Classes, p.Options with { Reduction = Reduction.Sum }, p.Weights);
        Check.Scalar(double.CreateTruncating(total), sum, Tol.Loss * p.LossMagnitude * p.Denominator, "Sum loss vs sum of RowLosses");
    }

    [Fact]
    public void Loss_Labels_MatchesDenseOneHot()
    {
        // The same problem two ways: class-index labels, and their one-hot rows as dense targets (unweighted,
        // smoothed: T' = (1 - eps) onehot + eps / C is exactly what smoothing does to a label).
        const int Rows = 9, Classes = 21;
        var p = new LabelProblem<T>(Rows, Classes, LabelConfig.All[3], Seeds.For(Rows, Classes, 10));
        T[] oneHot = Data<T>.FromDouble(Reference.OneHot(p.Labels, Classes));
        T labels = SoftmaxCrossEntropy.Loss<T>(p.Logits, p.Labels, Classes, p.Options);
        T dense = SoftmaxCrossEntropy.Loss<T>(p.Logits, oneHot, Classes, p.Options);
        Check.Scalar(double.CreateTruncating(dense), double.CreateTruncating(labels), 2 * Tol.Loss * p.LossMagnitude, "dense one-hot vs labels");
    }

    [Fact]
    public void Loss_MeanOver200000Rows_IsWithin2e6OfDoubleReference()
    {
        const int Rows = 200_000, Classes = 10;
        var rng = new Random(200_000);
        T[] logits = Data<T>.Logits(rng, Rows * Classes, scale: 6);
        int[] labels = Data<T>.Labels(rng, Rows, Classes);
        double expected = Reference.LabelLoss(Data<T>.ToDouble(logits), labels, Classes, default, null);
        double relative = typeof(T) == typeof(float) ? 2e-6 : 1e-12;
        foreach (int width in TestData.WidthBits)
        {
            T loss;
            using (ForcedWidth.Force(width))
            {
                loss = SoftmaxCrossEntropy.Loss<T>(logits, labels, Classes);
            }

            Check.Scalar(double.CreateTruncating(loss), expected, relative * Math.Abs(expected), $"mean loss over {Rows} rows, width {width}");
        }
    }
}

public sealed class LossTestsSingle : LossTests<float>
{
}

public sealed class LossTestsDouble : LossTests<double>
{
}
