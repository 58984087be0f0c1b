using System;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The oracle checked against itself: its analytic gradient against finite differences, and its two loss routes.</summary>
public sealed class ReferenceTests
{
    [Fact]
    public void Reference_Softmax_MatchesHandComputedValues()
    {
        double[] p = Reference.Softmax([1, 2, 3], 3);
        Assert.Equal(0.09003057317038046, p[0], 1e-15);
        Assert.Equal(0.24472847105479764, p[1], 1e-15);
        Assert.Equal(0.6652409557748219, p[2], 1e-15);
        Assert.Equal(Math.Log(Math.Exp(1) + Math.Exp(2) + Math.Exp(3)), Reference.LogSumExp([1, 2, 3]), 1e-15);
    }

    [Fact]
    public void Reference_LabelGradient_MatchesFiniteDifferences()
    {
        foreach ((int rows, int classes) in new[] { (1, 2), (3, 5), (4, 17) })
        {
            for (int c = 0; c < FiniteDifferenceData.LabelConfigs.Length; c++)
            {
                var p = new LabelProblem<double>(rows, classes, FiniteDifferenceData.LabelConfigs[c], Seeds.For(rows, classes, c + 100));
                double[] fd = Reference.FiniteDifferenceGradient(p.ReferenceLossAt, p.Y);
                Check.Close<double>(p.Gradient.Gradient, fd, p.Gradient.Magnitude, 0, Tolerances.FiniteDifferenceAbsolute, classes, $"reference gradient vs finite differences, {p}");
            }
        }
    }

    [Fact]
    public void Reference_DenseGradient_MatchesFiniteDifferences()
    {
        foreach ((int rows, int classes) in new[] { (1, 2), (3, 5), (4, 17) })
        {
            for (int c = 0; c < FiniteDifferenceData.DenseConfigs.Length; c++)
            {
                var p = new DenseProblem<double>(rows, classes, FiniteDifferenceData.DenseConfigs[c], Seeds.For(rows, classes, c + 100));
                double[] fd = Reference.FiniteDifferenceGradient(p.ReferenceLossAt, p.Y);
                Check.Close<double>(p.Gradient.Gradient, fd, p.Gradient.Magnitude, 0, Tolerances.FiniteDifferenceAbsolute, classes, $"reference gradient vs finite differences, {p}");
            }
        }
    }

    [Fact]
    public void Reference_LabelRowLosses_EqualTheLossOfTheirEffectiveTargets()
    {
        // Two routes to the same row loss: the MATH.md label formula, and sum_k q_ik (LSE_i - y_ik).
        const int Rows = 6, Classes = 9;
        foreach (LabelConfig config in FiniteDifferenceData.LabelConfigs)
        {
            var p = new LabelProblem<double>(Rows, Classes, config, Seeds.For(Rows, Classes, 101));
            double[] lse = Reference.RowLogSumExps(p.Y, Classes);
            for (int i = 0; i < Rows; i++)
            {
                double viaTargets = 0;
                for (int k = 0; k < Classes; k++)
                {
                    viaTargets += p.Q[(i * Classes) + k] * (lse[i] - p.Y[(i * Classes) + k]);
                }

                Assert.Equal(viaTargets, p.RowLosses[i], 1e-12);
            }
        }
    }

    [Fact]
    public void Reference_SmoothedLabels_EqualSmoothedOneHotDenseTargets()
    {
        const int Rows = 5, Classes = 7;
        var p = new LabelProblem<double>(Rows, Classes, LabelConfig.All[3], Seeds.For(Rows, Classes, 102));
        double[] oneHot = Reference.OneHot(p.Labels, Classes);
        double[] dense = Reference.DenseRowLosses(p.Y, oneHot, Classes, null, p.Options.LabelSmoothing);
        for (int i = 0; i < Rows; i++)
        {
            Assert.Equal(dense[i], p.RowLosses[i], 1e-12);
        }
    }

    [Fact]
    public void Reference_AccurateSum_IsExactWhereNaiveSummationIsNot()
    {
        double[] values = [1e16, 1, -1e16, 1];
        Assert.Equal(2, Reference.AccurateSum(values));
        Assert.Equal(double.PositiveInfinity, Reference.AccurateSum([1, double.PositiveInfinity]));
        Assert.True(double.IsNaN(Reference.AccurateSum([1, double.NaN])));
    }
}
