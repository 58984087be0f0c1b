using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Text.Json;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>One case of <c>Golden/torch-cross-entropy.json</c>, computed by libtorch in float32.</summary>
internal sealed record GoldenCase(
    int Id,
    int Rows,
    int Classes,
    string Reduction,
    int? IgnoreIndex,
    double LabelSmoothing,
    double[]? ClassWeights,
    int[]? Labels,
    double[]? Targets,
    double[] Logits,
    double[] Softmax,
    double[] LogSoftmax,
    double[] Loss,
    double[] Gradient)
{
    public bool IsNone => Reduction == "none";

    /// <summary>The library's options for this case; "none" maps to <see cref="SoftmaxCE.Reduction.Sum"/> (the gradient is that of the sum).</summary>
    public CrossEntropyOptions Options => new()
    {
        Reduction = Reduction switch
        {
            "mean" => SoftmaxCE.Reduction.Mean,
            "sum" or "none" => SoftmaxCE.Reduction.Sum,
            _ => throw new InvalidDataException($"case {Id}: unknown reduction '{Reduction}'"),
        },
        IgnoreIndex = IgnoreIndex,
        LabelSmoothing = LabelSmoothing,
    };

    public override string ToString() =>
        $"golden case {Id}: [{Rows} x {Classes}], {Reduction}, {(Labels is null ? "dense" : "labels")}, eps {LabelSmoothing}, " +
        $"ignoreIndex {IgnoreIndex?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, {(ClassWeights is null ? "unweighted" : "weighted")}";
}

internal static class Golden
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static readonly Lazy<Dictionary<int, GoldenCase>> Cases = new(Load);

    public static IReadOnlyDictionary<int, GoldenCase> All => Cases.Value;

    private static Dictionary<int, GoldenCase> Load()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", "torch-cross-entropy.json");
        using FileStream stream = File.OpenRead(path);
        GoldenFile file = JsonSerializer.Deserialize<GoldenFile>(stream, JsonOptions)
            ?? throw new InvalidDataException($"{path} is empty");
        return file.Cases.ToDictionary(c => c.Id);
    }

    private sealed record GoldenFile(string Description, GoldenCase[] Cases);
}

/// <summary>The golden case ids, for [MemberData].</summary>
public static class GoldenData
{
    public static TheoryData<int> CaseIds()
    {
        var data = new TheoryData<int>();
        foreach (int id in Golden.All.Keys.Order())
        {
            data.Add(id);
        }

        return data;
    }
}

/// <summary>Every libtorch golden case, through every operation of the library.</summary>
public abstract class GoldenTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private const double Rel = Tolerances.GoldenRelative;
    private const double Abs = Tolerances.GoldenAbsolute;

    [Fact]
    public void Golden_FileHas120WellFormedCases()
    {
        Assert.Equal(120, Golden.All.Count);
        foreach (GoldenCase c in Golden.All.Values)
        {
            int n = c.Rows * c.Classes;
            Assert.True(c.Logits.Length == n && c.Softmax.Length == n && c.LogSoftmax.Length == n && c.Gradient.Length == n, c.ToString());
            Assert.True((c.Labels is null) != (c.Targets is null), c.ToString());
            Assert.Equal(c.IsNone ? c.Rows : 1, c.Loss.Length);
        }
    }

    [Theory]
    [MemberData(nameof(GoldenData.CaseIds), MemberType = typeof(GoldenData))]
    public void Golden_MatchesLibtorch(int id)
    {
        GoldenCase g = Golden.All[id];
        int classes = g.Classes;
        T[] logits = Data<T>.FromDouble(g.Logits);
        T[] weights = g.ClassWeights is null ? [] : Data<T>.FromDouble(g.ClassWeights);
        CrossEntropyOptions options = g.Options;

        var softmax = new T[logits.Length];
        SoftmaxCrossEntropy.Softmax<T>(logits, softmax, classes);
        Check.Close<T>(softmax, g.Softmax, Magnitudes(g.Softmax), Rel, Abs, classes, $"{g}: softmax");

        var logSoftmax = new T[logits.Length];
        SoftmaxCrossEntropy.LogSoftmax<T>(logits, logSoftmax, classes);
        Check.Close<T>(logSoftmax, g.LogSoftmax, Magnitudes(g.LogSoftmax), Rel, Abs, classes, $"{g}: log-softmax");

        var gradient = new T[logits.Length];
        var backward = new T[logits.Length];
        T loss;
        T fused;
        if (g.Labels is { } labels)
        {
            if (g.IsNone)
            {
                var rowLosses = new T[g.Rows];
                SoftmaxCrossEntropy.RowLosses<T>(logits, labels, rowLosses, classes, options, weights);
                Check.Close<T>(rowLosses, g.Loss, Magnitudes(g.Loss), Rel, Abs, 1, $"{g}: row losses");
            }

            loss = SoftmaxCrossEntropy.Loss<T>(logits, labels, classes, options, weights);
            fused = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, classes, options, weights);
            SoftmaxCrossEntropy.Backward<T>(logits, labels, backward, classes, options, weights);
        }
        else
        {
            T[] targets = Data<T>.FromDouble(g.Targets!);
            loss = SoftmaxCrossEntropy.Loss<T>(logits, targets, classes, options, weights);
            fused = SoftmaxCrossEntropy.LossAndGradient<T>(logits, targets, gradient, classes, options, weights);
            SoftmaxCrossEntropy.Backward<T>(logits, targets, backward, classes, options, weights);
        }

        // For "none" the reduced loss the library can give is the sum of the row losses.
        double expectedLoss = g.Loss.Sum();
        double lossScale = g.Loss.Sum(Math.Abs);
        Check.Scalar(double.CreateTruncating(loss), expectedLoss, (Rel * lossScale) + Abs, $"{g}: Loss");
        Check.Scalar(double.CreateTruncating(fused), expectedLoss, (Rel * lossScale) + Abs, $"{g}: LossAndGradient's loss");
        Check.Close<T>(gradient, g.Gradient, Magnitudes(g.Gradient), Rel, Abs, classes, $"{g}: LossAndGradient's gradient");
        Check.Close<T>(backward, g.Gradient, Magnitudes(g.Gradient), Rel, Abs, classes, $"{g}: Backward's gradient");
    }

    private static double[] Magnitudes(double[] values) => [.. values.Select(Math.Abs)];
}

public sealed class GoldenTestsSingle : GoldenTests<float>
{
}

public sealed class GoldenTestsDouble : GoldenTests<double>
{
}
