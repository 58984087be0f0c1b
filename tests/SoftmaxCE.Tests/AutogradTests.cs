using System;
using System.Linq;
using System.Numerics;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>An option set for the autograd tests: every option the forward and backward take.</summary>
internal sealed record AutogradConfig(string Name, CrossEntropyOptions Options, bool Weighted, int IgnoredRowsEvery, bool RowWeighted)
{
    public static readonly AutogradConfig[] All =
    [
        new("default", default, Weighted: false, IgnoredRowsEvery: 0, RowWeighted: false),
        new("scale2", new() { LogitScale = 2 }, Weighted: false, IgnoredRowsEvery: 0, RowWeighted: false),
        new("sum+scale0.5+softcap5+zloss0.01+rowweights", new() { Reduction = Reduction.Sum, LogitScale = 0.5, LogitSoftcap = 5, ZLoss = 0.01 },
            Weighted: false, IgnoredRowsEvery: 0, RowWeighted: true),
        new("mean+ignore+weights+eps0.1+scale1.5+rowweights", new() { IgnoreIndex = -100, LabelSmoothing = 0.1, LogitScale = 1.5 },
            Weighted: true, IgnoredRowsEvery: 3, RowWeighted: true),
        new("softcap3+eps0.2+zloss1e-3+denominator7.5", new() { LogitSoftcap = 3, LabelSmoothing = 0.2, ZLoss = 1e-3, Denominator = 7.5 },
            Weighted: true, IgnoredRowsEvery: 0, RowWeighted: false),
    ];
}

/// <summary>A seeded problem with labels and dense targets, row weights and per-row upstream gradients, and its reference values.</summary>
internal sealed class AutogradProblem<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public AutogradProblem(int rows, int classes, AutogradConfig config, int seed)
    {
        var rng = new Random(seed);
        Rows = rows;
        Classes = classes;
        Config = config;
        Logits = Data<T>.Logits(rng, rows * classes);
        Labels = Data<T>.Labels(rng, rows, classes, config.Options.IgnoreIndex, config.IgnoredRowsEvery);
        Targets = Data<T>.Targets(rng, rows, classes, TargetKind.Unnormalised);
        Weights = config.Weighted ? Data<T>.Weights(rng, classes) : [];
        var r = new double[rows];
        var u = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            // Every fourth row weighs 0: a zero gradient, still counted.
            r[i] = i % 4 == 1 ? 0 : 0.25 + (1.5 * rng.NextDouble());
            u[i] = (rng.NextDouble() * 4) - 2;
        }

        RowWeights = config.RowWeighted ? Data<T>.FromDouble(r) : [];
        RowUpstream = Data<T>.FromDouble(u);
        Upstream = T.CreateTruncating(0.75);
    }

    public int Rows { get; }

    public int Classes { get; }

    public AutogradConfig Config { get; }

    public CrossEntropyOptions Options => Config.Options;

    public T[] Logits { get; }

    public int[] Labels { get; }

    public T[] Targets { get; }

    public T[] Weights { get; }

    public T[] RowWeights { get; }

    public T[] RowUpstream { get; }

    public T Upstream { get; }

    public double[] Y => Data<T>.ToDouble(Logits);

    public double[]? W => Weights.Length == 0 ? null : Data<T>.ToDouble(Weights);

    public double[]? R => RowWeights.Length == 0 ? null : Data<T>.ToDouble(RowWeights);

    public double[] TargetsD => Data<T>.ToDouble(Targets);

    public double[] LabelQ => Reference.LabelEffectiveTargets(Labels, Classes, Options.IgnoreIndex, W, Options.LabelSmoothing);

    public double[] DenseQ => Reference.DenseEffectiveTargets(TargetsD, Classes, W, Options.LabelSmoothing);

    /// <summary>The reference gradient for labels: per-row upstream when <paramref name="perRow"/>, else the scalar one over the denominator.</summary>
    public (double[] Gradient, double[] Magnitude) LabelGradient(bool perRow)
    {
        double denominator = Reference.FullLabelDenominator(Labels, Options, W);
        double[] factors = Reference.RowFactors(Rows, R, double.CreateTruncating(Upstream), denominator, perRow ? Data<T>.ToDouble(RowUpstream) : null);
        return Reference.FullGradient(Y, LabelQ, Reference.Counted(Labels, Options.IgnoreIndex), Classes, Options, factors);
    }

    public (double[] Gradient, double[] Magnitude) DenseGradient(bool perRow)
    {
        double denominator = Reference.FullDenseDenominator(Rows, Options);
        double[] factors = Reference.RowFactors(Rows, R, double.CreateTruncating(Upstream), denominator, perRow ? Data<T>.ToDouble(RowUpstream) : null);
        return Reference.FullGradient(Y, DenseQ, Enumerable.Repeat(true, Rows).ToArray(), Classes, Options, factors);
    }

    /// <summary>The rounding scale of a loss: the sum of the row losses' absolute values plus the z-loss terms, plus one.</summary>
    public static double LossScale(double[] rowLosses) => 1 + rowLosses.Sum(Math.Abs);

    public override string ToString() => $"{typeof(T).Name} [{Rows} x {Classes}] {Config.Name}";
}

/// <summary>
/// Forward and backward apart: the saved log-sum-exp, the backward from it with a scalar or per-row upstream
/// gradient, row weights and the logit scale, against the fused call and the double reference.
/// </summary>
public abstract class AutogradTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    /// <summary>
    /// Forward then backward against the fused call: 1e-6 relative in float, 1e-12 in double, relative to the largest term of
    /// the row's gradient (see <see cref="RowNorm"/>), plus what saving the log-sum-exp in <typeparamref name="T"/> costs
    /// (see <see cref="SavedLseRounding"/>).
    /// </summary>
    private static readonly double Agreement = typeof(T) == typeof(float) ? 1e-6 : 1e-12;

    /// <summary>
    /// The relative error that rounding the saved log-sum-exp to <typeparamref name="T"/> puts into every recomputed
    /// probability <c>exp(y - LSE)</c>: half an ulp of <c>|LSE|</c>, which no backward from a saved <typeparamref name="T"/> can
    /// avoid (PyTorch saves it in the logits' type too). Up to 9.5e-7 in float for <c>|LSE|</c> in [8, 16), as at 32000 classes.
    /// </summary>
    private static double SavedLseRounding(ReadOnlySpan<T> lse) =>
        lse.ToArray().Max(v => Math.Abs(double.CreateTruncating(v))) * Math.ScaleB(1, typeof(T) == typeof(float) ? -24 : -53);

    /// <summary>
    /// Each element's magnitude replaced by the largest of its row: the two routes compute a probability as <c>exp</c> of
    /// different arguments (<c>y - LSE</c> against <c>y - chunk max</c>), and the float exponential's relative error grows
    /// with its argument (about 2e-6 for results near 1e-6, see ExpSingle), so tiny probabilities agree only to that
    /// relative to themselves; relative to the row's gradient they agree to 1e-6.
    /// </summary>
    private static double[] RowNorm(double[] magnitude, int classes)
    {
        var result = new double[magnitude.Length];
        for (int row = 0; row < magnitude.Length / classes; row++)
        {
            double max = 0;
            for (int k = 0; k < classes; k++)
            {
                max = Math.Max(max, magnitude[(row * classes) + k]);
            }

            result.AsSpan(row * classes, classes).Fill(max);
        }

        return result;
    }

    private static int[] Rows(int classes) => classes switch
    {
        <= 33 => [1, 3, 17],
        <= 257 => [2, 5],
        _ => [2],
    };

    private static double[] Upstream(T value, ReadOnlySpan<double> gradient) => [.. gradient.ToArray().Select(g => g * double.CreateTruncating(value))];

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void ForwardThenBackward_Labels_EqualsLossAndGradientTimesUpstream(int width, int classes)
    {
        foreach (int rows in Rows(classes))
        {
            for (int config = 0; config < AutogradConfig.All.Length; config++)
            {
                var p = new AutogradProblem<T>(rows, classes, AutogradConfig.All[config], Seeds.For(rows, classes, 300 + config));
                (double[] _, double[] magnitude) = p.LabelGradient(perRow: false);
                string what = Describe.Case("Forward/Backward labels", width, rows, classes, p.Config.Name);
                using (ForcedWidth.Force(width))
                {
                    var fused = new T[p.Logits.Length];
                    T fusedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, fused, classes, p.Options, p.Weights, p.RowWeights);
                    var lse = new T[rows];
                    var rowLosses = new T[rows];
                    T loss = SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Labels, lse, classes, p.Options, p.Weights, p.RowWeights, rowLosses);
                    double[] referenceRows = Reference.FullLabelRowLosses(p.Y, p.Labels, classes, p.Options, p.W, p.R);
                    Check.Scalar(double.CreateTruncating(loss), double.CreateTruncating(fusedLoss), Tol.Loss * AutogradProblem<T>.LossScale(referenceRows), what + ": loss");
                    Check.Close<T>(rowLosses, referenceRows, [.. referenceRows.Select(v => 1 + Math.Abs(v))], Tol.Loss, 0, 1, what + ": row losses");

                    double[] expected = Upstream(p.Upstream, Data<T>.ToDouble(fused));
                    double[] scaledMagnitude = RowNorm(magnitude, classes);
                    var gradient = new Guarded<T>(p.Logits.Length);
                    SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Labels, lse, p.Upstream, gradient.Span, classes, p.Options, p.Weights, p.RowWeights);
                    gradient.AssertGuardsIntact(what);
                    Check.Close<T>(gradient.Span, expected, scaledMagnitude, Agreement + SavedLseRounding(lse), Tol.Floor, classes, what + ": out of place");

                    T[] inPlace = [.. p.Logits];
                    SoftmaxCrossEntropy.Backward<T>(inPlace, p.Labels, lse, p.Upstream, inPlace, classes, p.Options, p.Weights, p.RowWeights);
                    Check.Bitwise<T>(inPlace, gradient.Span, what + ": in place vs out of place");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void ForwardThenBackward_Dense_EqualsLossAndGradientTimesUpstream(int width, int classes)
    {
        foreach (int rows in Rows(classes))
        {
            for (int config = 0; config < AutogradConfig.All.Length; config++)
            {
                var p = new AutogradProblem<T>(rows, classes, AutogradConfig.All[config], Seeds.For(rows, classes, 320 + config));
                (double[] _, double[] magnitude) = p.DenseGradient(perRow: false);
                string what = Describe.Case("Forward/Backward dense", width, rows, classes, p.Config.Name);
                using (ForcedWidth.Force(width))
                {
                    var fused = new T[p.Logits.Length];
                    T fusedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Targets, fused, classes, p.Options, p.Weights, p.RowWeights);
                    var lse = new T[rows];
                    var rowLosses = new T[rows];
                    T loss = SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Targets, lse, classes, p.Options, p.Weights, p.RowWeights, rowLosses);
                    double[] referenceRows = Reference.FullDenseRowLosses(p.Y, p.TargetsD, classes, p.Options, p.W, p.R);
                    Check.Scalar(double.CreateTruncating(loss), double.CreateTruncating(fusedLoss), Tol.Loss * AutogradProblem<T>.LossScale(referenceRows), what + ": loss");
                    Check.Close<T>(rowLosses, referenceRows, [.. referenceRows.Select(v => 1 + Math.Abs(v))], Tol.Loss, 0, 1, what + ": row losses");

                    double[] expected = Upstream(p.Upstream, Data<T>.ToDouble(fused));
                    var gradient = new Guarded<T>(p.Logits.Length);
                    SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Targets, lse, p.Upstream, gradient.Span, classes, p.Options, p.Weights, p.RowWeights);
                    gradient.AssertGuardsIntact(what);
                    Check.Close<T>(gradient.Span, expected, RowNorm(magnitude, classes), Agreement + SavedLseRounding(lse), Tol.Floor, classes, what + ": out of place");

                    T[] inPlace = [.. p.Logits];
                    SoftmaxCrossEntropy.Backward<T>(inPlace, p.Targets, lse, p.Upstream, inPlace, classes, p.Options, p.Weights, p.RowWeights);
                    Check.Bitwise<T>(inPlace, gradient.Span, what + ": in place vs out of place");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Backward_PerRowUpstream_MatchesTheReference(int width, int classes)
    {
        foreach (int rows in Rows(classes))
        {
            for (int config = 0; config < AutogradConfig.All.Length; config++)
            {
                var p = new AutogradProblem<T>(rows, classes, AutogradConfig.All[config], Seeds.For(rows, classes, 340 + config));
                string what = Describe.Case("Backward per-row upstream", width, rows, classes, p.Config.Name);
                using (ForcedWidth.Force(width))
                {
                    var lse = new T[rows];
                    SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Labels, lse, classes, p.Options, p.Weights, p.RowWeights);
                    (double[] expected, double[] magnitude) = p.LabelGradient(perRow: true);
                    T[] gradient = [.. p.Logits];
                    SoftmaxCrossEntropy.Backward<T>(gradient, p.Labels, lse, p.RowUpstream, gradient, classes, p.Options, p.Weights, p.RowWeights);
                    Check.Close<T>(gradient, expected, magnitude, Tol.Gradient, Tol.Floor, classes, what + ": labels, in place");

                    SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Targets, lse, classes, p.Options, p.Weights, p.RowWeights);
                    (expected, magnitude) = p.DenseGradient(perRow: true);
                    var dense = new T[p.Logits.Length];
                    SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Targets, lse, p.RowUpstream, dense, classes, p.Options, p.Weights, p.RowWeights);
                    Check.Close<T>(dense, expected, magnitude, Tol.Gradient, Tol.Floor, classes, what + ": dense");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void LossAndGradient_WithScaleAndRowWeights_MatchesTheReference(int width, int classes)
    {
        foreach (int rows in Rows(classes))
        {
            for (int config = 0; config < AutogradConfig.All.Length; config++)
            {
                var p = new AutogradProblem<T>(rows, classes, AutogradConfig.All[config], Seeds.For(rows, classes, 360 + config));
                string what = Describe.Case("LossAndGradient", width, rows, classes, p.Config.Name);
                using (ForcedWidth.Force(width))
                {
                    var gradient = new T[p.Logits.Length];
                    T loss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, gradient, classes, p.Options, p.Weights, p.RowWeights);
                    double[] rowLosses = Reference.FullLabelRowLosses(p.Y, p.Labels, classes, p.Options, p.W, p.R);
                    double denominator = Reference.FullLabelDenominator(p.Labels, p.Options, p.W);
                    Check.Scalar(double.CreateTruncating(loss), Reference.Sum(rowLosses) / denominator, Tol.Loss * AutogradProblem<T>.LossScale(rowLosses) / denominator, what + ": loss");
                    double[] factors = Reference.RowFactors(rows, p.R, 1, denominator, null);
                    (double[] expected, double[] magnitude) = Reference.FullGradient(p.Y, p.LabelQ, Reference.Counted(p.Labels, p.Options.IgnoreIndex), classes, p.Options, factors);
                    Check.Close<T>(gradient, expected, magnitude, Tol.Gradient, Tol.Floor, classes, what + ": gradient");

                    var losses = new T[rows];
                    SoftmaxCrossEntropy.RowLosses<T>(p.Logits, p.Labels, losses, classes, p.Options, p.Weights, p.RowWeights);
                    Check.Close<T>(losses, rowLosses, [.. rowLosses.Select(v => 1 + Math.Abs(v))], Tol.Loss, 0, 1, what + ": RowLosses");

                    var dense = new T[p.Logits.Length];
                    T denseLoss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Targets, dense, classes, p.Options, p.Weights, p.RowWeights);
                    double[] denseRows = Reference.FullDenseRowLosses(p.Y, p.TargetsD, classes, p.Options, p.W, p.R);
                    double denseDenominator = Reference.FullDenseDenominator(rows, p.Options);
                    Check.Scalar(double.CreateTruncating(denseLoss), Reference.Sum(denseRows) / denseDenominator, Tol.Loss * AutogradProblem<T>.LossScale(denseRows) / denseDenominator, what + ": dense loss");
                    (expected, magnitude) = Reference.FullGradient(p.Y, p.DenseQ, Enumerable.Repeat(true, rows).ToArray(), classes, p.Options, Reference.RowFactors(rows, p.R, 1, denseDenominator, null));
                    Check.Close<T>(dense, expected, magnitude, Tol.Gradient, Tol.Floor, classes, what + ": dense gradient");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void SoftmaxAndLogSoftmax_WithScaleAndSoftcap_MatchTheReference(int width, int classes)
    {
        CrossEntropyOptions[] all = [new() { LogitScale = 2 }, new() { LogitScale = 0.5, LogitSoftcap = 3 }, new() { LogitSoftcap = 2 }];
        foreach (CrossEntropyOptions options in all)
        {
            int rows = Rows(classes)[^1];
            T[] logits = Data<T>.Logits(new Random(Seeds.For(rows, classes, 380)), rows * classes);
            double[] z = Reference.MapLogits(Data<T>.ToDouble(logits), options);
            string what = Describe.Case("Softmax/LogSoftmax", width, rows, classes, options.ToString());
            using (ForcedWidth.Force(width))
            {
                T[] p = [.. logits];
                SoftmaxCrossEntropy.Softmax<T>(p, p, classes, options);
                Check.CloseRelative<T>(p, Reference.Softmax(z, classes), Tol.Probability, Tol.Floor, classes, what + ": softmax");
                var logP = new T[logits.Length];
                SoftmaxCrossEntropy.LogSoftmax<T>(logits, logP, classes, options);
                Check.Close<T>(logP, Reference.LogSoftmax(z, classes), Reference.LogSoftmaxMagnitude(z, classes), Tol.LogProbability, Tol.Floor, classes, what + ": log-softmax");
            }
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(70)]
    public void Gradients_MatchFiniteDifferencesOfTheReferenceLoss(int classes)
    {
        const int Rows = 3;
        for (int config = 0; config < AutogradConfig.All.Length; config++)
        {
            var p = new AutogradProblem<T>(Rows, classes, AutogradConfig.All[config], Seeds.For(Rows, classes, 400 + config));
            double upstream = double.CreateTruncating(p.Upstream);
            double[] numeric = Reference.FiniteDifferenceGradient(y => upstream * Reference.FullLabelLoss(y, p.Labels, classes, p.Options, p.W, p.R), p.Y);
            var lse = new T[Rows];
            SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Labels, lse, classes, p.Options, p.Weights, p.RowWeights);
            var gradient = new T[p.Logits.Length];
            SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Labels, lse, p.Upstream, gradient, classes, p.Options, p.Weights, p.RowWeights);
            double[] magnitude = [.. numeric.Select(v => Math.Abs(v) + Tolerances.FiniteDifferenceAbsolute)];
            Check.Close<T>(gradient, numeric, magnitude, Tol.FiniteDifference, Tolerances.FiniteDifferenceAbsolute, classes, $"{p}: labels vs finite differences");

            double[] denseNumeric = Reference.FiniteDifferenceGradient(y => upstream * Reference.FullDenseLoss(y, p.TargetsD, classes, p.Options, p.W, p.R), p.Y);
            SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Targets, lse, classes, p.Options, p.Weights, p.RowWeights);
            SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Targets, lse, p.Upstream, gradient, classes, p.Options, p.Weights, p.RowWeights);
            magnitude = [.. denseNumeric.Select(v => Math.Abs(v) + Tolerances.FiniteDifferenceAbsolute)];
            Check.Close<T>(gradient, denseNumeric, magnitude, Tol.FiniteDifference, Tolerances.FiniteDifferenceAbsolute, classes, $"{p}: dense vs finite differences");
        }
    }

    [Fact]
    public void Forward_LogSumExp_MatchesTheReferenceOfTheMappedLogits()
    {
        foreach (int classes in new[] { 1, 7, 16, 33, 1000, 5000 })
        {
            foreach (AutogradConfig config in AutogradConfig.All)
            {
                var p = new AutogradProblem<T>(5, classes, config, Seeds.For(5, classes, 420));
                var lse = new T[5];
                SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Labels, lse, classes, p.Options, p.Weights, p.RowWeights);
                double[] expected = Reference.RowLogSumExps(Reference.MapLogits(p.Y, p.Options), classes);
                bool[] counted = Reference.Counted(p.Labels, p.Options.IgnoreIndex);
                for (int i = 0; i < 5; i++)
                {
                    if (counted[i])
                    {
                        Check.Scalar(double.CreateTruncating(lse[i]), expected[i], Tol.Loss * (1 + Math.Abs(expected[i])), $"{p}: log-sum-exp of row {i}");
                    }
                }
            }
        }
    }

    [Fact]
    public void RowWeights_ZeroWeightRow_HasZeroGradientAndStillCounts()
    {
        const int Classes = 40;
        T[] logits = Data<T>.Logits(new Random(5), 3 * Classes);
        int[] labels = [1, 2, 3];
        T[] rowWeights = [T.One, T.Zero, T.One];
        var gradient = new T[logits.Length];
        T loss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, Classes, rowWeights: rowWeights);
        Check.AllZero<T>(gradient.AsSpan(Classes, Classes), "row 1's gradient");
        double[] rows = Reference.LabelRowLosses(Data<T>.ToDouble(logits), labels, Classes, null, null, 0);
        Check.Scalar(double.CreateTruncating(loss), (rows[0] + rows[2]) / 3, Tol.Loss * 4, "the mean over all three rows");
    }

    [Fact]
    public void BadInput_IsRefusedWithTheArgumentNamed_AndNothingIsWritten()
    {
        const int Classes = 20, Rows = 4;
        T[] logits = Data<T>.Logits(new Random(6), Rows * Classes);
        int[] labels = [0, 1, 2, 3];
        T[] targets = Data<T>.Targets(new Random(7), Rows, Classes, TargetKind.Distribution);
        T sentinel = T.CreateTruncating(12.5);
        T[] Filled(int n) => Enumerable.Repeat(sentinel, n).ToArray();
        T[] good = Filled(Rows);

        void Refused<TException>(string param, Action<T[], T[], T[]> call)
            where TException : ArgumentException
        {
            T[] gradient = Filled(logits.Length), lse = Filled(Rows), rowLosses = Filled(Rows);
            T[] logitsCopy = [.. logits];
            TException e = Assert.Throws<TException>(() => call(gradient, lse, rowLosses));
            Assert.Equal(param, e.ParamName);
            Assert.All(gradient, v => Assert.Equal(sentinel, v));
            Assert.All(lse, v => Assert.Equal(sentinel, v));
            Assert.All(rowLosses, v => Assert.Equal(sentinel, v));
            Check.Bitwise<T>(logitsCopy, logits, "logits untouched");
        }

        T[] negative = [T.One, T.CreateTruncating(-0.5), T.One, T.One];
        T[] nan = [T.One, T.One, T.NaN, T.One];
        T[] infinite = [T.PositiveInfinity, T.One, T.One, T.One];
        foreach (T[] bad in new[] { negative, nan, infinite })
        {
            Refused<ArgumentOutOfRangeException>("rowWeights", (g, s, l) => SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, g, Classes, rowWeights: bad));
            Refused<ArgumentOutOfRangeException>("rowWeights", (g, s, l) => SoftmaxCrossEntropy.Forward<T>(logits, labels, s, Classes, rowWeights: bad, rowLosses: l));
            Refused<ArgumentOutOfRangeException>("rowWeights", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, targets, good, T.One, g, Classes, rowWeights: bad));
            Refused<ArgumentOutOfRangeException>("rowWeights", (g, s, l) => SoftmaxCrossEntropy.RowLosses<T>(logits, labels, l, Classes, rowWeights: bad));
        }

        Refused<ArgumentException>("rowWeights", (g, s, l) => SoftmaxCrossEntropy.Loss<T>(logits, targets, Classes, rowWeights: Filled(Rows + 1)));
        Refused<ArgumentException>("rowWeights", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, labels, good, T.One, g, Classes, rowWeights: Filled(Rows - 1)));
        Refused<ArgumentException>("logSumExp", (g, s, l) => SoftmaxCrossEntropy.Forward<T>(logits, labels, Filled(Rows - 1), Classes));
        Refused<ArgumentException>("logSumExp", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, labels, Filled(Rows + 1), T.One, g, Classes));
        Refused<ArgumentException>("logSumExp", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, targets, Filled(Rows + 1), good, g, Classes));
        Refused<ArgumentException>("rowUpstreamGradients", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, labels, good, Filled(Rows - 1), g, Classes));
        Refused<ArgumentException>("rowUpstreamGradients", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, targets, good, Filled(Rows + 1), g, Classes));
        Refused<ArgumentException>("rowLosses", (g, s, l) => SoftmaxCrossEntropy.Forward<T>(logits, labels, s, Classes, rowLosses: l.AsSpan(1)));
        Refused<ArgumentException>("logSumExp", (g, s, l) => SoftmaxCrossEntropy.Forward<T>(g, labels, g.AsSpan(0, Rows), Classes, rowLosses: l));
        Refused<ArgumentException>("gradient", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(g, labels, g.AsSpan(0, Rows), T.One, g, Classes));
        Refused<ArgumentException>("gradient", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, labels, s, g.AsSpan(0, Rows), g, Classes));
        Refused<ArgumentOutOfRangeException>("labels", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, [0, 1, 20, 3], good, T.One, g, Classes));

        foreach (double scale in new[] { -1, double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var options = new CrossEntropyOptions { LogitScale = scale };
            Refused<ArgumentOutOfRangeException>("options", (g, s, l) => SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, g, Classes, options));
            Refused<ArgumentOutOfRangeException>("options", (g, s, l) => SoftmaxCrossEntropy.Forward<T>(logits, targets, s, Classes, options, rowLosses: l));
            Refused<ArgumentOutOfRangeException>("options", (g, s, l) => SoftmaxCrossEntropy.Backward<T>(logits, labels, good, good, g, Classes, options));
            Refused<ArgumentOutOfRangeException>("options", (g, s, l) => SoftmaxCrossEntropy.Softmax<T>(logits, g, Classes, options));
            Refused<ArgumentOutOfRangeException>("options", (g, s, l) => SoftmaxCrossEntropy.LogSoftmax<T>(logits, g, Classes, options));
            ArgumentOutOfRangeException e = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Loss<T>(logits, labels, Classes, options));
            Assert.Contains("LogitScale", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Backward_IsBitwiseTheSameForAnyThreadCount()
    {
        const int Classes = 3000, Rows = 64;
        var p = new AutogradProblem<T>(Rows, Classes, AutogradConfig.All[3], 11);
        var lse = new T[Rows];
        SoftmaxCrossEntropy.Forward<T>(p.Logits, p.Labels, lse, Classes, p.Options, p.Weights, p.RowWeights);
        var one = new T[p.Logits.Length];
        var many = new T[p.Logits.Length];
        SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Labels, lse, p.Upstream, one, Classes, p.Options with { MaxDegreeOfParallelism = 1 }, p.Weights, p.RowWeights);
        SoftmaxCrossEntropy.Backward<T>(p.Logits, p.Labels, lse, p.Upstream, many, Classes, p.Options with { MaxDegreeOfParallelism = 0 }, p.Weights, p.RowWeights);
        Check.Bitwise<T>(one, many, "1 thread vs all");
    }
}

public sealed class AutogradTestsSingle : AutogradTests<float>
{
}

public sealed class AutogradTestsDouble : AutogradTests<double>
{
}
