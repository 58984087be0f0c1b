using System;
using System.Numerics;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The configurations checked against finite differences.</summary>
public static class FiniteDifferenceData
{
    public static TheoryData<int, int> WidthsAndLabelConfigs()
    {
        var data = new TheoryData<int, int>();
        foreach (int w in TestData.WidthBits)
        {
            for (int c = 0; c < LabelConfigs.Length; c++)
            {
                data.Add(w, c);
            }
        }

        return data;
    }

    public static TheoryData<int, int> WidthsAndDenseConfigs()
    {
        var data = new TheoryData<int, int>();
        foreach (int w in TestData.WidthBits)
        {
            for (int c = 0; c < DenseConfigs.Length; c++)
            {
                data.Add(w, c);
            }
        }

        return data;
    }

    internal static readonly LabelConfig[] LabelConfigs =
    [
        .. LabelConfig.All,
        new("mean+weights", default, Weighted: true, IgnoredRowsEvery: 0),
        new("sum+weights", new() { Reduction = Reduction.Sum }, Weighted: true, IgnoredRowsEvery: 0),
        new("mean+eps0.2", new() { LabelSmoothing = 0.2 }, Weighted: false, IgnoredRowsEvery: 0),
        new("mean+ignore-100", new() { IgnoreIndex = -100 }, Weighted: false, IgnoredRowsEvery: 2),
        new("sum+weights+eps0.3+ignore7", new() { Reduction = Reduction.Sum, IgnoreIndex = 7, LabelSmoothing = 0.3 }, Weighted: true, IgnoredRowsEvery: 3),
    ];

    internal static readonly DenseConfig[] DenseConfigs =
    [
        .. DenseConfig.All,
        new("mean+unnormalised", default, Weighted: false, TargetKind.Unnormalised),
        new("sum+unnormalised", new() { Reduction = Reduction.Sum }, Weighted: false, TargetKind.Unnormalised),
        new("sum+weights+eps0.2+unnormalised", new() { Reduction = Reduction.Sum, LabelSmoothing = 0.2 }, Weighted: true, TargetKind.Unnormalised),
        new("mean+weights+distribution", default, Weighted: true, TargetKind.Distribution),
    ];
}

/// <summary>Backward and LossAndGradient against the double reference, finite differences, and in place.</summary>
public abstract class GradientTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    private static void CheckLabelGradient(LabelProblem<T> p, ReadOnlySpan<T> gradient, string what)
    {
        (double[] g, double[] magnitude) = p.Gradient;
        Check.Close(gradient, g, magnitude, Tol.Gradient, Tol.Floor, p.Classes, what);
    }

    private static void CheckDenseGradient(DenseProblem<T> p, ReadOnlySpan<T> gradient, string what)
    {
        (double[] g, double[] magnitude) = p.Gradient;
        Check.Close(gradient, g, magnitude, Tol.Gradient, Tol.Floor, p.Classes, what);
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Backward_Labels_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < LabelConfig.All.Length; c++)
            {
                LabelProblem<T> p = ProblemCache.Labels<T>(rows, classes, c);
                T[] before = (T[])p.Logits.Clone();
                var gradient = new Guarded<T>(p.Logits.Length);
                using (ForcedWidth.Force(width))
                {
                    SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Labels, gradient.Span, classes, p.Options, p.Weights);
                }

                string what = $"Backward, width {width}, {p}";
                gradient.AssertGuardsIntact(what);
                Check.Bitwise<T>(p.Logits, before, what + ": logits changed");
                CheckLabelGradient(p, gradient.Span, what);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void LossAndGradient_Labels_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < LabelConfig.All.Length; c++)
            {
                LabelProblem<T> p = ProblemCache.Labels<T>(rows, classes, c);
                var gradient = new Guarded<T>(p.Logits.Length);
                T loss;
                using (ForcedWidth.Force(width))
                {
                    loss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, gradient.Span, classes, p.Options, p.Weights);
                }

                string what = $"LossAndGradient, width {width}, {p}";
                gradient.AssertGuardsIntact(what);
                Check.Scalar(double.CreateTruncating(loss), p.Loss, (Tol.Loss * p.LossMagnitude) + Tol.Floor, what + ": loss");
                CheckLabelGradient(p, gradient.Span, what);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Backward_Dense_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < DenseConfig.All.Length; c++)
            {
                DenseProblem<T> p = ProblemCache.Dense<T>(rows, classes, c);
                T[] before = (T[])p.Logits.Clone();
                var gradient = new Guarded<T>(p.Logits.Length);
                using (ForcedWidth.Force(width))
                {
                    SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Targets, gradient.Span, classes, p.Options, p.Weights);
                }

                string what = $"Backward (dense), width {width}, {p}";
                gradient.AssertGuardsIntact(what);
                Check.Bitwise<T>(p.Logits, before, what + ": logits changed");
                CheckDenseGradient(p, gradient.Span, what);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void LossAndGradient_Dense_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < DenseConfig.All.Length; c++)
            {
                DenseProblem<T> p = ProblemCache.Dense<T>(rows, classes, c);
                var gradient = new Guarded<T>(p.Logits.Length);
                T loss;
                using (ForcedWidth.Force(width))
                {
                    loss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Targets, gradient.Span, classes, p.Options, p.Weights);
                }

                string what = $"LossAndGradient (dense), width {width}, {p}";
                gradient.AssertGuardsIntact(what);
                Check.Scalar(double.CreateTruncating(loss), p.Loss, (Tol.Loss * p.LossMagnitude) + Tol.Floor, what + ": loss");
                CheckDenseGradient(p, gradient.Span, what);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void LossAndGradient_Labels_InPlace_MatchesOutOfPlace(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < LabelConfig.All.Length; c++)
            {
                LabelProblem<T> p = ProblemCache.Labels<T>(rows, classes, c, variant: 1);
                var outOfPlace = new T[p.Logits.Length];
                var inPlace = new Guarded<T>(p.Logits);
                T lossOut, lossIn;
                using (ForcedWidth.Force(width))
                {
                    lossOut = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, outOfPlace, classes, p.Options, p.Weights);
                    lossIn = SoftmaxCrossEntropy.LossAndGradient<T>(inPlace.Span, p.Labels, inPlace.Span, classes, p.Options, p.Weights);
                }

                string what = $"LossAndGradient in place, width {width}, {p}";
                inPlace.AssertGuardsIntact(what);
                Check.Bitwise<T>(inPlace.Span, outOfPlace, what + ": gradient");
                Check.Bitwise<T>([lossIn], [lossOut], what + ": loss");
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void LossAndGradient_Dense_InPlace_MatchesOutOfPlace(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            for (int c = 0; c < DenseConfig.All.Length; c++)
            {
                DenseProblem<T> p = ProblemCache.Dense<T>(rows, classes, c, variant: 1);
                var outOfPlace = new T[p.Logits.Length];
                var inPlace = new Guarded<T>(p.Logits);
                T lossOut, lossIn;
                using (ForcedWidth.Force(width))
                {
                    lossOut = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Targets, outOfPlace, classes, p.Options, p.Weights);
                    lossIn = SoftmaxCrossEntropy.LossAndGradient<T>(inPlace.Span, p.Targets, inPlace.Span, classes, p.Options, p.Weights);
                }

                string what = $"LossAndGradient (dense) in place, width {width}, {p}";
                inPlace.AssertGuardsIntact(what);
                Check.Bitwise<T>(inPlace.Span, outOfPlace, what + ": gradient");
                Check.Bitwise<T>([lossIn], [lossOut], what + ": loss");
            }
        }
    }

    private static readonly (int Rows, int Classes)[] FiniteDifferenceShapes = [(1, 3), (3, 5), (4, 8), (2, 17), (3, 37)];

    [Theory]
    [MemberData(nameof(FiniteDifferenceData.WidthsAndLabelConfigs), MemberType = typeof(FiniteDifferenceData))]
    public void Gradient_Labels_MatchesFiniteDifferences(int width, int config)
    {
        foreach ((int rows, int classes) in FiniteDifferenceShapes)
        {
            var p = new LabelProblem<T>(rows, classes, FiniteDifferenceData.LabelConfigs[config], Seeds.For(rows, classes, config + 40));
            double[] fd = Reference.FiniteDifferenceGradient(p.ReferenceLossAt, p.Y);
            var gradient = new T[p.Logits.Length];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Labels, gradient, classes, p.Options, p.Weights);
            }

            Check.Close<T>(gradient, fd, p.Gradient.Magnitude, Tol.Gradient, Tolerances.FiniteDifferenceAbsolute, classes, $"Backward vs finite differences, width {width}, {p}");
        }
    }

    [Theory]
    [MemberData(nameof(FiniteDifferenceData.WidthsAndDenseConfigs), MemberType = typeof(FiniteDifferenceData))]
    public void Gradient_Dense_MatchesFiniteDifferences(int width, int config)
    {
        foreach ((int rows, int classes) in FiniteDifferenceShapes)
        {
            var p = new DenseProblem<T>(rows, classes, FiniteDifferenceData.DenseConfigs[config], Seeds.For(rows, classes, config + 40));
            double[] fd = Reference.FiniteDifferenceGradient(p.ReferenceLossAt, p.Y);
            var gradient = new T[p.Logits.Length];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Targets, gradient, classes, p.Options, p.Weights);
            }

            Check.Close<T>(gradient, fd, p.Gradient.Magnitude, Tol.Gradient, Tolerances.FiniteDifferenceAbsolute, classes, $"Backward (dense) vs finite differences, width {width}, {p}");
        }
    }

    [Fact]
    public void Gradient_UnnormalisedTargets_IsPTimesRowSumMinusT()
    {
        // dL/dy = P * sum(T) - T (Sum reduction, no weights, no smoothing), not P - T.
        const int Classes = 4;
        T[] logits = Data<T>.FromDouble([0.5, -1, 2, 0.25]);
        T[] targets = Data<T>.FromDouble([0.5, 0, 1.5, 0]);
        var gradient = new T[Classes];
        SoftmaxCrossEntropy.Backward<T>(logits, targets, gradient, Classes, new() { Reduction = Reduction.Sum });
        double[] p = Reference.Softmax(Data<T>.ToDouble(logits), Classes);
        double[] expected = [(2 * p[0]) - 0.5, 2 * p[1], (2 * p[2]) - 1.5, 2 * p[3]];
        Check.CloseRelative<T>(gradient, expected, Tol.Gradient, Tol.Floor, Classes, "P * 2 - T");
    }

    [Fact]
    public void Backward_WorkedExampleFromTheSeed_IsSoftmaxMinusOneHot()
    {
        // C = 3, one row, logits (1, 2, 3), label 2. By hand: e = (e^-2, e^-1, 1) = (0.1353352832, 0.3678794412, 1),
        // S = 1.5032147244, P = (0.0900305732, 0.2447284711, 0.6652409558); with M = 1, dL/dy = P - T.
        T[] logits = Data<T>.FromDouble([1, 2, 3]);
        int[] labels = [2];
        double[] p = [0.09003057317038046, 0.24472847105479764, 0.6652409557748219];
        double[] expected = [p[0], p[1], p[2] - 1];

        var probabilities = new T[3];
        SoftmaxCrossEntropy.Softmax<T>(logits, probabilities, 3);
        Check.CloseRelative<T>(probabilities, p, Tol.Probability, Tol.Floor, 3, "softmax(1, 2, 3)");

        var gradient = new T[3];
        T loss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, 3);
        Check.CloseRelative<T>(gradient, expected, Tol.Gradient, Tol.Floor, 3, "gradient of the seed's example");
        Check.Scalar(double.CreateTruncating(loss), 0.40760596444437476, Tol.Loss, "loss = -ln P_2");

        var dense = new T[3];
        SoftmaxCrossEntropy.Backward<T>(logits, Data<T>.FromDouble([0, 0, 1]), dense, 3);
        Check.CloseRelative<T>(dense, expected, Tol.Gradient, Tol.Floor, 3, "gradient of the seed's example with a one-hot dense target");
    }

    [Fact]
    public void Backward_MeanGradient_IsSumGradientDividedByDenominator()
    {
        const int Rows = 11, Classes = 19;
        var p = new LabelProblem<T>(Rows, Classes, LabelConfig.All[2], Seeds.For(Rows, Classes, 60));
        var mean = new T[p.Logits.Length];
        var sum = new T[p.Logits.Length];
        SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Labels, mean, Classes, p.Options with { Reduction = Reduction.Mean }, p.Weights);
        SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Labels, sum, Classes, p.Options with { Reduction = Reduction.Sum }, p.Weights);
        double d = Reference.LabelDenominator(p.Labels, p.Options.IgnoreIndex, p.W);
        double[] scaled = Data<T>.ToDouble(sum);
        for (int j = 0; j < scaled.Length; j++)
        {
            scaled[j] /= d;
        }

        Check.Close<T>(mean, scaled, p.Gradient.Magnitude, 4 * Tol.Gradient, Tol.Floor, Classes, "mean gradient vs sum gradient / D");
    }
}

public sealed class GradientTestsSingle : GradientTests<float>
{
}

public sealed class GradientTestsDouble : GradientTests<double>
{
}
