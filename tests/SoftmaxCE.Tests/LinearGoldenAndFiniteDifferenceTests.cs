using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>One case of <c>Golden/torch-linear-cross-entropy.json</c> (libtorch 2.10, float32): F.linear, the soft-cap, F.cross_entropy and autograd.</summary>
internal sealed record LinearGoldenCase(
    int Id,
    string Family,
    int Rows,
    int HiddenSize,
    int Classes,
    string Reduction,
    double LabelSmoothing,
    int IgnoreIndex,
    double? Softcap,
    double ZLoss,
    float[] Hidden,
    float[] Weight,
    float[]? Bias,
    int[] Labels,
    float[]? ClassWeights,
    double[] Loss,
    double[] HiddenGradient,
    double[] WeightGradient,
    double[]? BiasGradient)
{
    public CrossEntropyOptions Options => new()
    {
        Reduction = Reduction == "mean" ? SoftmaxCE.Reduction.Mean : SoftmaxCE.Reduction.Sum,
        IgnoreIndex = IgnoreIndex,
        LabelSmoothing = LabelSmoothing,
        LogitSoftcap = Softcap ?? 0,
        ZLoss = ZLoss,
    };

    public override string ToString() =>
        $"linear golden case {Id} ({Family}): [{Rows} x {HiddenSize}] x [{Classes}], {Reduction}, eps {LabelSmoothing}, softcap {Softcap}, zLoss {ZLoss}, " +
        $"{(ClassWeights is null ? "unweighted" : "weighted")}, {(Bias is null ? "no bias" : "bias")}";
}

internal static class LinearGolden
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static readonly Lazy<Dictionary<int, LinearGoldenCase>> Cases = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", "torch-linear-cross-entropy.json");
        using FileStream stream = File.OpenRead(path);
        GoldenFile file = JsonSerializer.Deserialize<GoldenFile>(stream, JsonOptions)
            ?? throw new InvalidDataException($"{path} is empty");
        return file.Cases.ToDictionary(c => c.Id);
    });

    public static IReadOnlyDictionary<int, LinearGoldenCase> All => Cases.Value;

    private sealed record GoldenFile(string Description, LinearGoldenCase[] Cases);
}

public static class LinearGoldenData
{
    public static TheoryData<int> CaseIds()
    {
        var data = new TheoryData<int>();
        foreach (int id in LinearGolden.All.Keys.Order())
        {
            data.Add(id);
        }

        return data;
    }
}

/// <summary>The fused linear head against libtorch, case by case, and against finite differences of its own loss.</summary>
public sealed class LinearGoldenAndFiniteDifferenceTests
{
    [Theory]
    [MemberData(nameof(LinearGoldenData.CaseIds), MemberType = typeof(LinearGoldenData))]
    public void LinearLossAndGradient_MatchesLibtorch(int id)
    {
        LinearGoldenCase c = LinearGolden.All[id];
        float[] bias = c.Bias ?? [];
        float[] hiddenGradient = new float[c.Hidden.Length];
        float[] weightGradient = new float[c.Weight.Length];
        float[] biasGradient = new float[bias.Length];
        float loss = SoftmaxCrossEntropy.LinearLossAndGradient<float>(
            c.Hidden, c.Weight, bias, c.Labels, hiddenGradient, weightGradient, biasGradient, c.HiddenSize, c.Options, c.ClassWeights ?? []);
        AssertClose(c.Loss[0], loss, $"{c}: loss");
        Assert.Equal(loss, SoftmaxCrossEntropy.LinearLoss<float>(c.Hidden, c.Weight, bias, c.Labels, c.HiddenSize, c.Options, c.ClassWeights ?? []));
        AssertAllClose(c.HiddenGradient, hiddenGradient, $"{c}: hidden gradient");
        AssertAllClose(c.WeightGradient, weightGradient, $"{c}: weight gradient");
        if (c.BiasGradient is not null)
        {
            AssertAllClose(c.BiasGradient, biasGradient, $"{c}: bias gradient");
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void LinearLossAndGradient_MatchesFiniteDifferencesOfLinearLoss(int config)
    {
        var (_, options, hasBias, classWeights, rowWeights) = LinearData.Configs[config];
        LinearProblem p = LinearReference.Random(40 + config, 5, 4, 5, options, hasBias, classWeights, rowWeights, options.IgnoreIndex.HasValue ? 3 : 0);
        double[] bias = p.Bias ?? [];
        double[] cw = p.ClassWeights ?? [];
        double[] rw = p.RowWeights ?? [];
        var dh = new double[p.Hidden.Length];
        var dw = new double[p.Weight.Length];
        var db = new double[bias.Length];
        SoftmaxCrossEntropy.LinearLossAndGradient<double>(p.Hidden, p.Weight, bias, p.Labels, dh, dw, db, p.HiddenSize, options, cw, rw);

        double[] fdHidden = Reference.FiniteDifferenceGradient(h => SoftmaxCrossEntropy.LinearLoss<double>(h, p.Weight, bias, p.Labels, p.HiddenSize, options, cw, rw), p.Hidden);
        double[] fdWeight = Reference.FiniteDifferenceGradient(w => SoftmaxCrossEntropy.LinearLoss<double>(p.Hidden, w, bias, p.Labels, p.HiddenSize, options, cw, rw), p.Weight);
        AssertFiniteDifference(fdHidden, dh, "hidden");
        AssertFiniteDifference(fdWeight, dw, "weight");
        if (hasBias)
        {
            double[] fdBias = Reference.FiniteDifferenceGradient(b => SoftmaxCrossEntropy.LinearLoss<double>(p.Hidden, p.Weight, b, p.Labels, p.HiddenSize, options, cw, rw), bias);
            AssertFiniteDifference(fdBias, db, "bias");
        }

        Assert.Contains(dh, x => x != 0);
    }

    [Fact]
    public void ReadmeExample_LinearHead_MatchesTheReference()
    {
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LogitSoftcap = 30 };
        LinearProblem p = LinearReference.Random(90, 6, 8, 50, options, bias: false, classWeights: false, rowWeights: false, ignoreEvery: 4);
        float[] hidden = [.. p.Hidden.Select(x => (float)x)];
        float[] weight = [.. p.Weight.Select(x => (float)x)];
        int[] labels = p.Labels;
        int hiddenSize = p.HiddenSize;

        #region readme-linear-head
        // hidden: [tokens, hiddenSize] from the model; weight: [vocabulary, hiddenSize] (nn.Linear's layout); labels: [tokens].
        float[] hiddenGradient = new float[hidden.Length]; // overwritten
        float[] weightGradient = new float[weight.Length]; // added to, like autograd's .grad
        float loss = SoftmaxCrossEntropy.LinearLossAndGradient<float>(
            hidden, weight, bias: default, labels, hiddenGradient, weightGradient, biasGradient: default,
            hiddenSize, new CrossEntropyOptions { IgnoreIndex = -100, LogitSoftcap = 30 });
        #endregion

        LinearExpected expected = LinearReference.Compute(p with
        {
            Hidden = [.. hidden.Select(x => (double)x)],
            Weight = [.. weight.Select(x => (double)x)],
        });
        Assert.True(Math.Abs(loss - expected.Loss) <= Tolerances.Single.Loss * expected.LossMagnitude, $"loss {loss}, expected {expected.Loss}");
        for (int i = 0; i < hiddenGradient.Length; i++)
        {
            Assert.True(Math.Abs(hiddenGradient[i] - expected.HiddenGradient[i]) <= (Tolerances.Single.Gradient * expected.HiddenMagnitude[i]) + 1e-12, $"hidden gradient {i}");
        }

        for (int i = 0; i < weightGradient.Length; i++)
        {
            Assert.True(Math.Abs(weightGradient[i] - expected.WeightGradient[i]) <= (Tolerances.Single.Gradient * expected.WeightMagnitude[i]) + 1e-12, $"weight gradient {i}");
        }
    }

    private static void AssertFiniteDifference(double[] expected, double[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]);
            double allowed = (Tolerances.Double.FiniteDifference * Math.Abs(expected[i])) + Tolerances.FiniteDifferenceAbsolute;
            Assert.True(error <= allowed, $"d loss / d {what}[{i}]: {actual[i]}, finite difference {expected[i]} (error {error:G3}, allowed {allowed:G3})");
        }
    }

    private static void AssertClose(double expected, float actual, string what)
    {
        double error = Math.Abs(actual - expected);
        double allowed = (Tolerances.GoldenRelative * Math.Abs(expected)) + Tolerances.GoldenAbsolute;
        Assert.True(error <= allowed, $"{what}: {actual}, libtorch {expected} (error {error:G3}, allowed {allowed:G3})");
    }

    private static void AssertAllClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            AssertClose(expected[i], actual[i], $"{what}[{i}]");
        }
    }
}
