using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>Outputs of one case of <c>Golden/torch-cross-entropy-half.json</c>.</summary>
internal sealed record HalfGoldenValues(double[] Loss, double[] Gradient, double[] Softmax, double[] LogSoftmax);

/// <summary>One case of <c>Golden/torch-cross-entropy-half.json</c>: libtorch's float16 values and the double values rounded once.</summary>
internal sealed record HalfGoldenCase(
    int Id,
    string Family,
    string? Name,
    int Rows,
    int Classes,
    string Reduction,
    double LabelSmoothing,
    int? IgnoreIndex,
    double[] Logits,
    int[]? Labels,
    double[]? Targets,
    double[]? ClassWeights,
    double[] Loss,
    HalfGoldenValues RoundedOnce)
{
    public bool IsNone => Reduction == "none";

    public CrossEntropyOptions Options => new()
    {
        Reduction = Reduction == "mean" ? SoftmaxCE.Reduction.Mean : SoftmaxCE.Reduction.Sum,
        IgnoreIndex = Labels is null ? null : IgnoreIndex,
        LabelSmoothing = LabelSmoothing,
    };

    public override string ToString() =>
        $"half golden case {Id} ({Family}{(Name is null ? "" : " " + Name)}): [{Rows} x {Classes}], {Reduction}, {(Labels is null ? "dense" : "labels")}, eps {LabelSmoothing}";
}

internal static class HalfGolden
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static readonly Lazy<Dictionary<int, HalfGoldenCase>> Cases = new(Load);

    public static IReadOnlyDictionary<int, HalfGoldenCase> All => Cases.Value;

    public static TheoryData<int> CaseIds()
    {
        var data = new TheoryData<int>();
        foreach (int id in All.Keys.Order())
        {
            data.Add(id);
        }

        return data;
    }

    private static Dictionary<int, HalfGoldenCase> Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", "torch-cross-entropy-half.json");
        using FileStream stream = File.OpenRead(path);
        HalfGoldenFile file = JsonSerializer.Deserialize<HalfGoldenFile>(stream, JsonOptions) ?? throw new InvalidDataException($"{path} is empty");
        return file.Cases.ToDictionary(c => c.Id);
    }

    private sealed record HalfGoldenFile(string Description, string Dtype, HalfGoldenCase[] Cases);
}

/// <summary>Distances in Half ulps, and the one-rounding rule.</summary>
internal static class HalfCheck
{
    /// <summary>Position of a Half on the number line in ulps (monotonic, +0 and -0 both 0).</summary>
    private static int Ordinal(Half h)
    {
        int bits = BitConverter.HalfToInt16Bits(h) & 0xFFFF;
        return (bits & 0x8000) != 0 ? -(bits & 0x7FFF) : bits;
    }

    /// <summary>How many Half ulps <paramref name="actual"/> is from <paramref name="expected"/>; 0 for two NaNs, int.MaxValue when one is NaN.</summary>
    public static int Ulps(Half actual, Half expected)
    {
        if (Half.IsNaN(actual) || Half.IsNaN(expected))
        {
            return Half.IsNaN(actual) && Half.IsNaN(expected) ? 0 : int.MaxValue;
        }

        if (Half.IsInfinity(actual) || Half.IsInfinity(expected))
        {
            return actual == expected ? 0 : int.MaxValue;
        }

        return Math.Abs(Ordinal(actual) - Ordinal(expected));
    }

    /// <summary>Each element within <paramref name="ulps"/> Half ulps of the exact value <paramref name="expected"/> rounded once.</summary>
    public static void WithinUlps(ReadOnlySpan<Half> actual, ReadOnlySpan<double> expected, int ulps, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int j = 0; j < actual.Length; j++)
        {
            Half e = (Half)expected[j];
            int d = Ulps(actual[j], e);
            Assert.True(d <= ulps, $"{what}: element {j} is {actual[j]}, expected {e} (exact {expected[j]:R}): {(d == int.MaxValue ? "NaN/infinity mismatch" : d + " ulps")}");
        }
    }

    public static Half[] ToHalf(IEnumerable<double> values) => [.. values.Select(v => (Half)v)];

    public static double[] ToDouble(ReadOnlySpan<Half> values)
    {
        var d = new double[values.Length];
        for (int j = 0; j < d.Length; j++)
        {
            d[j] = (double)values[j];
        }

        return d;
    }
}

/// <summary>
/// Half storage: libtorch's float16 golden cases, the double reference from the same Half inputs rounded once (within
/// one Half ulp, at every width), special values, bad input, threads and allocation.
/// </summary>
public sealed class HalfTests
{
    private static readonly int[] SweepClasses = [3, 10, 16, 33, 100, 1000, 5000, 20000];

    private static int[] RowsFor(int classes) => classes switch
    {
        <= 33 => [1, 3, 17, 40],
        <= 1000 => [2, 5],
        _ => [2],
    };

    [Fact]
    public void HalfGolden_FileHas144WellFormedCases()
    {
        Assert.Equal(144, HalfGolden.All.Count);
        foreach (HalfGoldenCase c in HalfGolden.All.Values)
        {
            int n = c.Rows * c.Classes;
            Assert.True(c.Logits.Length == n && c.RoundedOnce.Gradient.Length == n && c.RoundedOnce.Softmax.Length == n && c.RoundedOnce.LogSoftmax.Length == n, c.ToString());
            Assert.True((c.Labels is null) != (c.Targets is null), c.ToString());
            Assert.Equal(c.IsNone ? c.Rows : 1, c.RoundedOnce.Loss.Length);
            Assert.All(c.Logits, v => Assert.True(double.IsNaN(v) || (double)(Half)v == v, $"{c}: logit {v} is not a Half"));
        }
    }

    [Theory]
    [MemberData(nameof(HalfGolden.CaseIds), MemberType = typeof(HalfGolden))]
    public void Golden_EqualsRoundedOnceWithinOneUlp_AtEveryWidth(int id)
    {
        HalfGoldenCase g = HalfGolden.All[id];
        int classes = g.Classes;
        Half[] logits = HalfCheck.ToHalf(g.Logits);
        Half[] weights = g.ClassWeights is null ? [] : HalfCheck.ToHalf(g.ClassWeights);
        Half[]? targets = g.Targets is null ? null : HalfCheck.ToHalf(g.Targets);
        CrossEntropyOptions options = g.Options;
        foreach (int width in TestData.WidthBits)
        {
            string what = $"{g}, width {width}";
            using (ForcedWidth.Force(width))
            {
                var softmax = new Half[logits.Length];
                var logSoftmax = new Half[logits.Length];
                SoftmaxCrossEntropy.Softmax<Half>(logits, softmax, classes);
                SoftmaxCrossEntropy.LogSoftmax<Half>(logits, logSoftmax, classes);
                HalfCheck.WithinUlps(softmax, g.RoundedOnce.Softmax, 1, what + " softmax");
                HalfCheck.WithinUlps(logSoftmax, g.RoundedOnce.LogSoftmax, 1, what + " logSoftmax");

                var gradient = new Half[logits.Length];
                Half loss;
                if (targets is null)
                {
                    loss = SoftmaxCrossEntropy.LossAndGradient<Half>(logits, g.Labels, gradient, classes, options, weights);
                }
                else
                {
                    loss = SoftmaxCrossEntropy.LossAndGradient<Half>(logits, targets, gradient, classes, options, weights);
                }

                HalfCheck.WithinUlps(gradient, g.RoundedOnce.Gradient, 1, what + " gradient");
                if (g.IsNone)
                {
                    var rowLosses = new Half[g.Rows];
                    if (targets is null)
                    {
                        SoftmaxCrossEntropy.RowLosses<Half>(logits, g.Labels, rowLosses, classes, options, weights);
                    }
                    else
                    {
                        SoftmaxCrossEntropy.Forward(logits, targets, new float[g.Rows], classes, options, weights, rowLosses: rowLosses);
                    }

                    double[] expectedLosses = g.RoundedOnce.Loss;
                    if (targets is not null && ZeroTargetOnMaskedClass(g))
                    {
                        // libtorch gives NaN (0 * -inf); this library defines a zero target on a masked class to contribute
                        // nothing (SpecialValuesTests.DenseTargetZeroOnMaskedClass_ContributesNothing), so the oracle is the double reference.
                        expectedLosses = Reference.DenseRowLosses(g.Logits, g.Targets!, classes, g.ClassWeights, g.LabelSmoothing);
                        Assert.All(expectedLosses, v => Assert.True(double.IsFinite(v)));
                    }

                    HalfCheck.WithinUlps(rowLosses, expectedLosses, 1, what + " row losses");
                }
                else
                {
                    HalfCheck.WithinUlps([loss], g.RoundedOnce.Loss, 1, what + " loss");
                    Half loss2 = targets is null
                        ? SoftmaxCrossEntropy.Loss<Half>(logits, g.Labels, classes, options, weights)
                        : SoftmaxCrossEntropy.Loss<Half>(logits, targets, classes, options, weights);
                    Assert.Equal(loss, loss2);
                }
            }
        }
    }

    private static bool ZeroTargetOnMaskedClass(HalfGoldenCase g) =>
        g.Targets is not null && g.Logits.Zip(g.Targets).Any(t => double.IsNegativeInfinity(t.First) && t.Second == 0);

    public static TheoryData<int, int> WidthsAndClasses()
    {
        var data = new TheoryData<int, int>();
        foreach (int w in TestData.WidthBits)
        {
            foreach (int c in SweepClasses)
            {
                data.Add(w, c);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WidthsAndClasses))]
    public void Labels_EveryOption_EqualsDoubleReferenceRoundedOnce(int width, int classes)
    {
        foreach (int rows in RowsFor(classes))
        {
            for (int config = 0; config < AutogradConfig.All.Length; config++)
            {
                var p = new AutogradProblem<Half>(rows, classes, AutogradConfig.All[config], Seeds.For(rows, classes, 1200 + config));
                string what = Describe.Case("Half labels", width, rows, classes, p.Config.Name);
                double[] rowLossesRef = Reference.FullLabelRowLosses(p.Y, p.Labels, classes, p.Options, p.W, p.R);
                double lossRef = Reference.FullLabelLoss(p.Y, p.Labels, classes, p.Options, p.W, p.R);
                double[] lseRef = Reference.RowLogSumExps(Reference.MapLogits(p.Y, p.Options), classes);
                (double[] gradRef, _) = p.LabelGradient(perRow: false);
                (double[] rowGradRef, _) = p.LabelGradient(perRow: true);
                double upstream = (double)p.Upstream;
                using (ForcedWidth.Force(width))
                {
                    var gradient = new Half[p.Logits.Length];
                    Half loss = SoftmaxCrossEntropy.LossAndGradient<Half>(p.Logits, p.Labels, gradient, classes, p.Options, p.Weights, p.RowWeights);
                    HalfCheck.WithinUlps([loss], [lossRef], 1, what + " loss");
                    HalfCheck.WithinUlps(gradient, [.. gradRef.Select(v => v / upstream)], 1, what + " gradient");
                    Assert.Equal(loss, SoftmaxCrossEntropy.Loss<Half>(p.Logits, p.Labels, classes, p.Options, p.Weights, p.RowWeights));

                    var rowLosses = new Half[rows];
                    SoftmaxCrossEntropy.RowLosses<Half>(p.Logits, p.Labels, rowLosses, classes, p.Options, p.Weights, p.RowWeights);
                    HalfCheck.WithinUlps(rowLosses, rowLossesRef, 1, what + " row losses");

                    // The forward/backward pair with the log-sum-exp kept in float: the same one-rounding rule.
                    var lse = new float[rows];
                    var forwardLosses = new Half[rows];
                    Half forwardLoss = SoftmaxCrossEntropy.Forward(p.Logits, p.Labels, lse, classes, p.Options, p.Weights, p.RowWeights, forwardLosses);
                    Assert.Equal(loss, forwardLoss);
                    Check.Bitwise<Half>(forwardLosses, rowLosses, what + " Forward row losses");
                    CheckCountedLse(lse, lseRef, p.Labels, p.Options.IgnoreIndex, what);
                    var backward = new Half[p.Logits.Length];
                    SoftmaxCrossEntropy.Backward(p.Logits, p.Labels, lse, p.Upstream, backward, classes, p.Options, p.Weights, p.RowWeights);
                    HalfCheck.WithinUlps(backward, gradRef, 1, what + " Backward (float log-sum-exp)");
                    SoftmaxCrossEntropy.Backward(p.Logits, p.Labels, lse, p.RowUpstream, backward, classes, p.Options, p.Weights, p.RowWeights);
                    HalfCheck.WithinUlps(backward, rowGradRef, 1, what + " Backward per row (float log-sum-exp)");

                    // The generic pair saves the log-sum-exp as Half: within one ulp of the exact value rounded once, and the
                    // backward from it off the exact gradient by at most what that rounding moves exp(y - LSE).
                    var halfLse = new Half[rows];
                    Half genericLoss = SoftmaxCrossEntropy.Forward<Half>(p.Logits, p.Labels, halfLse, classes, p.Options, p.Weights, p.RowWeights);
                    Assert.Equal(loss, genericLoss);
                    CheckCountedLse(HalfCheck.ToDouble(halfLse).Select(v => (float)v).ToArray(), lseRef, p.Labels, p.Options.IgnoreIndex, what + " (Half)", halfUlp: true);
                    SoftmaxCrossEntropy.Backward<Half>(p.Logits, p.Labels, halfLse, p.Upstream, backward, classes, p.Options, p.Weights, p.RowWeights);
                    CheckSavedHalfLse(backward, gradRef, halfLse, classes, what + " Backward (Half log-sum-exp)");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(WidthsAndClasses))]
    public void Dense_EveryOption_EqualsDoubleReferenceRoundedOnce(int width, int classes)
    {
        foreach (int rows in RowsFor(classes))
        {
            for (int config = 0; config < AutogradConfig.All.Length; config++)
            {
                var p = new AutogradProblem<Half>(rows, classes, AutogradConfig.All[config], Seeds.For(rows, classes, 1300 + config));
                string what = Describe.Case("Half dense", width, rows, classes, p.Config.Name);
                double[] rowLossesRef = Reference.FullDenseRowLosses(p.Y, p.TargetsD, classes, p.Options, p.W, p.R);
                double lossRef = Reference.FullDenseLoss(p.Y, p.TargetsD, classes, p.Options, p.W, p.R);
                (double[] gradRef, _) = p.DenseGradient(perRow: false);
                (double[] rowGradRef, _) = p.DenseGradient(perRow: true);
                double upstream = (double)p.Upstream;
                using (ForcedWidth.Force(width))
                {
                    var gradient = new Half[p.Logits.Length];
                    Half loss = SoftmaxCrossEntropy.LossAndGradient<Half>(p.Logits, p.Targets, gradient, classes, p.Options, p.Weights, p.RowWeights);
                    HalfCheck.WithinUlps([loss], [lossRef], 1, what + " loss");
                    HalfCheck.WithinUlps(gradient, [.. gradRef.Select(v => v / upstream)], 1, what + " gradient");

                    var rowLosses = new Half[rows];
                    var lse = new float[rows];
                    Half forwardLoss = SoftmaxCrossEntropy.Forward(p.Logits, p.Targets, lse, classes, p.Options, p.Weights, p.RowWeights, rowLosses);
                    Assert.Equal(loss, forwardLoss);
                    HalfCheck.WithinUlps(rowLosses, rowLossesRef, 1, what + " row losses");
                    var backward = new Half[p.Logits.Length];
                    SoftmaxCrossEntropy.Backward(p.Logits, p.Targets, lse, p.Upstream, backward, classes, p.Options, p.Weights, p.RowWeights);
                    HalfCheck.WithinUlps(backward, gradRef, 1, what + " Backward (float log-sum-exp)");
                    SoftmaxCrossEntropy.Backward(p.Logits, p.Targets, lse, p.RowUpstream, backward, classes, p.Options, p.Weights, p.RowWeights);
                    HalfCheck.WithinUlps(backward, rowGradRef, 1, what + " Backward per row (float log-sum-exp)");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(WidthsAndClasses))]
    public void SoftmaxAndLogSoftmax_WithScaleAndSoftcap_EqualDoubleReferenceRoundedOnce(int width, int classes)
    {
        CrossEntropyOptions[] optionSets = [default, new() { LogitScale = 0.5 }, new() { LogitSoftcap = 3, LogitScale = 2 }];
        foreach (int rows in RowsFor(classes))
        {
            Half[] logits = Data<Half>.Logits(new Random(Seeds.For(rows, classes, 1400)), rows * classes, scale: 8);
            double[] y = HalfCheck.ToDouble(logits);
            foreach (CrossEntropyOptions options in optionSets)
            {
                double[] z = Reference.MapLogits(y, options);
                string what = Describe.Case("Half softmax", width, rows, classes, $"scale {options.LogitScale}, cap {options.LogitSoftcap}");
                using (ForcedWidth.Force(width))
                {
                    var output = new Half[logits.Length];
                    SoftmaxCrossEntropy.Softmax<Half>(logits, output, classes, options);
                    HalfCheck.WithinUlps(output, Reference.Softmax(z, classes), 1, what);
                    SoftmaxCrossEntropy.LogSoftmax<Half>(logits, output, classes, options);
                    HalfCheck.WithinUlps(output, Reference.LogSoftmax(z, classes), 1, what + " log");
                }
            }
        }
    }

    [Fact]
    public void SpecialValues_HalfLimitsSubnormalsMasksAndNaN_EqualReferenceRoundedOnce()
    {
        Half max = Half.MaxValue;
        Half tiny = Half.Epsilon; // the smallest subnormal, 2^-24
        Half ninf = Half.NegativeInfinity;
        const int Classes = 4;
        Half[] logits =
        [
            max, -max, (Half)0, max,            // 65504: no overflow, the row maximum is subtracted first
            (Half)1, (Half)1 + tiny, tiny, (Half)0, // differences in the subnormal range
            (Half)2, ninf, (Half)(-3), ninf,     // masked classes
            (Half)0, (Half)(-20), (Half)(-20), (Half)(-20), // probabilities near Half's subnormal range
            (Half)1, Half.NaN, (Half)0, (Half)2, // a NaN row
        ];
        int[] labels = [3, 0, 2, 0, 1];
        double[] y = HalfCheck.ToDouble(logits);
        foreach (int width in TestData.WidthBits)
        {
            using (ForcedWidth.Force(width))
            {
                var softmax = new Half[logits.Length];
                SoftmaxCrossEntropy.Softmax<Half>(logits, softmax, Classes);
                HalfCheck.WithinUlps(softmax, Reference.Softmax(y, Classes), 1, $"width {width} softmax");
                SoftmaxCrossEntropy.LogSoftmax<Half>(logits, softmax, Classes);
                HalfCheck.WithinUlps(softmax, Reference.LogSoftmax(y, Classes), 1, $"width {width} log-softmax");

                var rowLosses = new Half[labels.Length];
                SoftmaxCrossEntropy.RowLosses<Half>(logits, labels, rowLosses, Classes);
                HalfCheck.WithinUlps(rowLosses, Reference.LabelRowLosses(y, labels, Classes, null, null, 0), 1, $"width {width} row losses");
                Assert.True(Half.IsNaN(rowLosses[4]));

                var gradient = new Half[logits.Length];
                Half loss = SoftmaxCrossEntropy.LossAndGradient<Half>(logits, labels, gradient, Classes, new CrossEntropyOptions { Reduction = Reduction.Sum });
                Assert.True(Half.IsNaN(loss), "a NaN row makes the loss NaN");
                double[] q = Reference.LabelEffectiveTargets(labels, Classes, null, null, 0);
                (double[] gradRef, _) = Reference.Gradient(y, q, Classes, 1);
                HalfCheck.WithinUlps(gradient, gradRef, 1, $"width {width} gradient");
                Assert.Equal(Half.Zero, gradient[9]);
                Assert.Equal(Half.Zero, gradient[11]);
            }
        }
    }

    [Fact]
    public void HalfResults_AreTheFloatResultsOfTheWidenedInputs_RoundedOnce()
    {
        // Widening is exact and the float kernels run unchanged, so each Half result is the float method's result rounded once.
        foreach ((int rows, int classes) in new[] { (37, 10), (5, 1000), (3, 20000), (64, 2000) })
        {
            var p = new AutogradProblem<Half>(rows, classes, AutogradConfig.All[3], Seeds.For(rows, classes, 1500));
            float[] yf = [.. p.Logits.Select(h => (float)h)];
            float[] wf = [.. p.Weights.Select(h => (float)h)];
            float[] rf = [.. p.RowWeights.Select(h => (float)h)];
            var gf = new float[yf.Length];
            float lf = SoftmaxCrossEntropy.LossAndGradient<float>(yf, p.Labels, gf, classes, p.Options, wf, rf);
            var gh = new Half[yf.Length];
            Half lh = SoftmaxCrossEntropy.LossAndGradient<Half>(p.Logits, p.Labels, gh, classes, p.Options, p.Weights, p.RowWeights);
            Check.Bitwise<Half>(gh, [.. gf.Select(v => (Half)v)], $"[{rows} x {classes}] gradient");
            HalfCheck.WithinUlps([lh], [lf], 1, $"[{rows} x {classes}] loss");
        }
    }

    [Fact]
    public void InPlace_EqualsOutOfPlace_AndThreadsDoNotChangeABit()
    {
        foreach ((int rows, int classes) in new[] { (4096, 10), (64, 5000), (3, 40000) })
        {
            var p = new AutogradProblem<Half>(rows, classes, AutogradConfig.All[2], Seeds.For(rows, classes, 1600));
            var outOfPlace = new Half[p.Logits.Length];
            var one = p.Options with { MaxDegreeOfParallelism = 1 };
            var all = p.Options with { MaxDegreeOfParallelism = 0 };
            Half loss1 = SoftmaxCrossEntropy.LossAndGradient<Half>(p.Logits, p.Labels, outOfPlace, classes, one, p.Weights, p.RowWeights);
            var parallel = new Half[p.Logits.Length];
            Half lossN = SoftmaxCrossEntropy.LossAndGradient<Half>(p.Logits, p.Labels, parallel, classes, all, p.Weights, p.RowWeights);
            Check.Bitwise<Half>(parallel, outOfPlace, $"[{rows} x {classes}] threads");
            Assert.Equal(loss1, lossN);
            Half[] inPlace = [.. p.Logits];
            Half lossIn = SoftmaxCrossEntropy.LossAndGradient<Half>(inPlace, p.Labels, inPlace, classes, all, p.Weights, p.RowWeights);
            Check.Bitwise<Half>(inPlace, outOfPlace, $"[{rows} x {classes}] in place");
            Assert.Equal(loss1, lossIn);

            var lse = new float[rows];
            SoftmaxCrossEntropy.Forward(p.Logits, p.Labels, lse, classes, all, p.Weights, p.RowWeights);
            Half[] backInPlace = [.. p.Logits];
            var backOut = new Half[p.Logits.Length];
            SoftmaxCrossEntropy.Backward(p.Logits, p.Labels, lse, Half.One, backOut, classes, one, p.Weights, p.RowWeights);
            SoftmaxCrossEntropy.Backward(backInPlace, p.Labels, lse, Half.One, backInPlace, classes, all, p.Weights, p.RowWeights);
            Check.Bitwise<Half>(backInPlace, backOut, $"[{rows} x {classes}] Backward in place and threads");
        }
    }

    [Fact]
    public void BadInput_Throws_AndLeavesEveryOutputUntouched()
    {
        const int Rows = 3, Classes = 4;
        Half[] logits = Data<Half>.Logits(new Random(5), Rows * Classes);
        Half[] gradient = Enumerable.Repeat((Half)7, Rows * Classes).ToArray();
        Half[] inPlace = [.. logits];

        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.LossAndGradient<Half>(logits, [0, 4, 1], gradient, Classes));
        Assert.Contains("row 1", e1.Message, StringComparison.Ordinal);
        Assert.All(gradient, v => Assert.Equal((Half)7, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.LossAndGradient<Half>(inPlace, [0, 9, 1], inPlace, Classes));
        Check.Bitwise<Half>(inPlace, logits, "in place after a bad label");

        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() =>
            SoftmaxCrossEntropy.LossAndGradient<Half>(logits, [0, 1, 2], gradient, Classes, rowWeights: new[] { Half.One, Half.NaN, Half.One }));
        Assert.Equal("rowWeights", e2.ParamName);
        Assert.All(gradient, v => Assert.Equal((Half)7, v));

        var lse = new float[] { 5, 5, 5 };
        var e3 = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Forward(logits, [0, 1, 2], lse.AsSpan(0, 2), Classes));
        Assert.Equal("logSumExp", e3.ParamName);
        var e4 = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Backward(logits, [0, 1, 2], lse.AsSpan(0, 2), Half.One, gradient, Classes));
        Assert.Equal("logSumExp", e4.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Forward(logits, [0, 1, -5], lse, Classes));
        Assert.All(lse, v => Assert.Equal(5f, v));
        Assert.All(gradient, v => Assert.Equal((Half)7, v));

        var rowLosses = Enumerable.Repeat((Half)7, Rows).ToArray();
        Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.RowLosses<Half>(logits, [0, 1, 2], rowLosses, Classes, new CrossEntropyOptions { LabelSmoothing = 2 }));
        Assert.All(rowLosses, v => Assert.Equal((Half)7, v));
        var e5 = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Softmax<Half>(logits, gradient.AsSpan(1), Classes));
        Assert.Equal("probabilities", e5.ParamName);
        Assert.All(gradient, v => Assert.Equal((Half)7, v));
    }

    [Fact]
    public void WarmCalls_AllocateNothing()
    {
        var p = new AutogradProblem<Half>(64, 2000, AutogradConfig.All[3], 77);
        var gradient = new Half[p.Logits.Length];
        var lse = new float[p.Rows];
        var options = p.Options with { MaxDegreeOfParallelism = 1 };
        for (int i = 0; i < 3; i++)
        {
            SoftmaxCrossEntropy.LossAndGradient<Half>(p.Logits, p.Labels, gradient, p.Classes, options, p.Weights, p.RowWeights);
            SoftmaxCrossEntropy.Forward(p.Logits, p.Labels, lse, p.Classes, options, p.Weights, p.RowWeights);
            SoftmaxCrossEntropy.Backward(p.Logits, p.Labels, lse, p.Upstream, gradient, p.Classes, options, p.Weights, p.RowWeights);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        SoftmaxCrossEntropy.LossAndGradient<Half>(p.Logits, p.Labels, gradient, p.Classes, options, p.Weights, p.RowWeights);
        SoftmaxCrossEntropy.Forward(p.Logits, p.Labels, lse, p.Classes, options, p.Weights, p.RowWeights);
        SoftmaxCrossEntropy.Backward(p.Logits, p.Labels, lse, p.Upstream, gradient, p.Classes, options, p.Weights, p.RowWeights);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void MetricsAndTensorOverloads_AcceptHalf()
    {
        var p = new AutogradProblem<Half>(9, 50, AutogradConfig.All[0], 88);
        var gradient = new Half[p.Logits.Length];
        var predictions = new int[p.Rows];
        CrossEntropyMetrics<Half> m = SoftmaxCrossEntropy.LossAndGradientWithMetrics<Half>(p.Logits, p.Labels, gradient, p.Classes, p.Options, predictions: predictions);
        HalfCheck.WithinUlps([m.Loss], [Reference.FullLabelLoss(p.Y, p.Labels, p.Classes, p.Options, null, null)], 1, "metrics loss");
        for (int i = 0; i < p.Rows; i++)
        {
            double[] row = p.Y.AsSpan(i * p.Classes, p.Classes).ToArray();
            Assert.Equal(Array.IndexOf(row, row.Max()), predictions[i]);
        }

        Assert.Equal(predictions.Zip(p.Labels).Count(t => t.First == t.Second), m.CorrectCount);
    }

    /// <summary>The conversion paths: as the library picks (F16C where available), and the vector arithmetic.</summary>
    public static TheoryData<bool> ConversionPaths() => new() { false, true };

    [Fact]
    public void F16cRoutines_AreInUse_WhereTheCpuHasThem()
    {
        // On x64 Linux/Windows with AVX2 enabled and F16C (CPUID 1, ECX bit 29), the machine-code routines must be in use;
        // otherwise the conversion tests below would test the arithmetic path twice.
        bool expected = System.Runtime.Intrinsics.X86.Avx2.IsSupported
            && (OperatingSystem.IsLinux() || OperatingSystem.IsWindows())
            && (System.Runtime.Intrinsics.X86.X86Base.CpuId(1, 0).Ecx & (1 << 29)) != 0;
        Assert.Equal(expected, SoftmaxCE.Kernels.F16cRoutines.IsAvailable);
    }

    [Theory]
    [MemberData(nameof(ConversionPaths))]
    public void Widening_EveryHalf_EqualsTheCastExactly(bool arithmetic)
    {
        var all = new Half[1 << 16];
        for (int i = 0; i < all.Length; i++)
        {
            all[i] = BitConverter.Int16BitsToHalf((short)i);
        }

        foreach (int length in new[] { all.Length, 1, 15, 16, 17, 31, 33, 100, 8191, 8192, 8193, 20000 })
        {
            var widened = new float[length];
            ReadOnlySpan<Half> source = all.AsSpan(all.Length - length);
            if (arithmetic)
            {
                SoftmaxCE.Kernels.HalfConversion.WidenArithmetic(source, widened);
            }
            else
            {
                SoftmaxCE.Kernels.HalfConversion.Widen(source, widened);
            }

            for (int j = 0; j < length; j++)
            {
                int i = all.Length - length + j;
                float expected = (float)all[i];
                Assert.True(
                    float.IsNaN(expected) ? float.IsNaN(widened[j]) : BitConverter.SingleToInt32Bits(widened[j]) == BitConverter.SingleToInt32Bits(expected),
                    $"Half bits 0x{i:X4}, length {length}: {widened[j]:R}, expected {expected:R}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(ConversionPaths))]
    public void Narrowing_RoundsToNearestEven_AsTheCast(bool arithmetic)
    {
        // Every float a stride apart over all bit patterns, and at each Half the midpoint to the next and its float neighbours
        // (where ties to even decide), through vector bodies, overlapping tails and the scalar path (lengths below one vector).
        var values = new List<float>();
        for (long bits = 0; bits <= uint.MaxValue; bits += 4099)
        {
            values.Add(BitConverter.UInt32BitsToSingle((uint)bits));
        }

        for (int i = 0; i < 0x7C00; i++)
        {
            double mid = ((double)BitConverter.Int16BitsToHalf((short)i) + (double)BitConverter.Int16BitsToHalf((short)(i + 1))) / 2;
            float m = (float)mid;
            foreach (float v in new[] { m, MathF.BitDecrement(m), MathF.BitIncrement(m) })
            {
                values.Add(v);
                values.Add(-v);
            }
        }

        values.AddRange([65504f, 65519.996f, 65520f, float.MaxValue, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -0f, float.Epsilon, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f]);
        float[] source = [.. values];
        foreach (int length in new[] { source.Length, 1, 7, 15, 16, 17, 31, 32, 33, 63, 65, 100, 8191, 8192, 8193, 20000 })
        {
            var narrowed = new Half[length];
            if (arithmetic)
            {
                SoftmaxCE.Kernels.HalfConversion.NarrowArithmetic(source.AsSpan(source.Length - length), narrowed);
            }
            else
            {
                SoftmaxCE.Kernels.HalfConversion.Narrow(source.AsSpan(source.Length - length), narrowed);
            }

            for (int i = 0; i < length; i++)
            {
                float f = source[source.Length - length + i];
                Half expected = (Half)f;
                Assert.True(
                    Half.IsNaN(expected) ? Half.IsNaN(narrowed[i]) : BitConverter.HalfToInt16Bits(narrowed[i]) == BitConverter.HalfToInt16Bits(expected),
                    $"float {f:R} (0x{BitConverter.SingleToUInt32Bits(f):X8}), length {length}: {narrowed[i]}, expected {expected}");
            }
        }
    }

    [Fact]
    public void ShardFunctions_PutTogether_MatchTheReference_WithinTheHalfStatisticsRounding()
    {
        // Statistics saved as Half: the maximum is exact (a logit), the sum of exponentials rounded once (2^-11 relative at most),
        // which moves every recomputed probability by that factor: the gradient is checked like a backward from a Half log-sum-exp.
        foreach ((int rows, int classes, int[] split) in new[] { (5, 1000, new[] { 400, 600 }), (17, 33, new[] { 10, 20, 3 }), (2, 20000, new[] { 12000, 8000 }) })
        {
            foreach (CrossEntropyOptions options in new CrossEntropyOptions[] { default, new() { Reduction = Reduction.Sum, LabelSmoothing = 0.1, IgnoreIndex = -100 } })
            {
                var rng = new Random(Seeds.For(rows, classes, 1700));
                Half[] logits = Data<Half>.Logits(rng, rows * classes);
                int[] labels = Data<Half>.Labels(rng, rows, classes, options.IgnoreIndex, 3);
                string what = $"Half shards [{rows} x {classes}] split {string.Join("+", split)}, eps {options.LabelSmoothing}";
                ShardedResult<Half> r = Sharded<Half>.Run(logits, labels, classes, split, options, []);
                double[] y = HalfCheck.ToDouble(logits);
                double[] q = Reference.LabelEffectiveTargets(labels, classes, options.IgnoreIndex, null, options.LabelSmoothing);
                double denominator = Reference.Denominator(options.Reduction, Reference.LabelDenominator(labels, options.IgnoreIndex, null));
                (double[] gradRef, _) = Reference.Gradient(y, q, classes, denominator);
                double[] lseRef = Reference.RowLogSumExps(y, classes);
                for (int i = 0; i < rows; i++)
                {
                    Assert.Equal(logits.AsSpan(i * classes, classes).ToArray().Max(), r.RowMax[i]);
                    HalfCheck.WithinUlps([r.RowSumExp[i]], [Math.Exp(lseRef[i] - (double)r.RowMax[i])], 2, $"{what} sum of exponentials, row {i}");
                }

                var lse = r.RowMax.Zip(r.RowSumExp, (m, s) => (Half)((double)m + Math.Log((double)s))).ToArray();
                CheckSavedHalfLse(r.Gradient, gradRef, lse, classes, what + " gradient");
                double lossRef = Reference.LabelLoss(y, labels, classes, options, null);
                double counted = labels.Count(l => l != -100);
                Assert.True(Math.Abs((double)r.Loss - lossRef) <= (Math.ScaleB(1, -9) * Math.Abs(lossRef)) + (Math.ScaleB(1, -11) * counted / denominator),
                    $"{what}: loss {(double)r.Loss}, expected {lossRef}");
            }
        }
    }

    /// <summary>The log-sum-exp of each counted row: float within 1e-6 relative (plus an absolute 1e-6 near 0), or Half within one ulp.</summary>
    private static void CheckCountedLse(float[] lse, double[] expected, int[] labels, int? ignoreIndex, string what, bool halfUlp = false)
    {
        for (int i = 0; i < lse.Length; i++)
        {
            if (ignoreIndex.HasValue && labels[i] == ignoreIndex.Value)
            {
                continue;
            }

            if (halfUlp)
            {
                HalfCheck.WithinUlps([(Half)lse[i]], [expected[i]], 1, $"{what} log-sum-exp row {i}");
            }
            else
            {
                Assert.True(Math.Abs(lse[i] - expected[i]) <= (1e-6 * Math.Abs(expected[i])) + 1e-6, $"{what}: log-sum-exp row {i} is {lse[i]}, expected {expected[i]}");
            }
        }
    }

    /// <summary>
    /// A backward from a Half log-sum-exp: each probability is <c>exp(y - LSE)</c> with <c>LSE</c> off by up to half an ulp of Half,
    /// a relative error of <c>|LSE| 2^-11</c> in every probability; allow that relative to the row's largest gradient term, plus one ulp.
    /// </summary>
    private static void CheckSavedHalfLse(Half[] actual, double[] expected, Half[] lse, int classes, string what)
    {
        for (int row = 0; row < lse.Length; row++)
        {
            double scale = 0;
            for (int k = 0; k < classes; k++)
            {
                scale = Math.Max(scale, Math.Abs(expected[(row * classes) + k]));
            }

            double allowed = 2 * Math.Abs((double)lse[row]) * Math.ScaleB(1, -11) * (scale + 1);
            for (int k = 0; k < classes; k++)
            {
                int j = (row * classes) + k;
                double a = (double)actual[j];
                Half e = (Half)expected[j];
                Assert.True(HalfCheck.Ulps(actual[j], e) <= 1 || Math.Abs(a - expected[j]) <= allowed + (2 * Math.Abs((double)e - expected[j])),
                    $"{what}: element {j} is {a}, expected {expected[j]:R} (allowed {allowed})");
            }
        }
    }
}

/// <summary>Every tensor overload with Half elements, against the span overloads (the same generic tests as float and double).</summary>
public sealed class TensorOverloadTestsHalf : TensorOverloadTests<Half>;
