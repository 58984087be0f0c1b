using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Numerics.Tensors;
using System.Text.Json;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>One case of <c>Golden/torch-cross-entropy-nd.json</c>: classes on axis 1, computed by libtorch in float32.</summary>
internal sealed record GoldenClassAxisCase(
    int Id,
    string Family,
    int[] Shape,
    int ClassAxis,
    string Reduction,
    double LabelSmoothing,
    int? IgnoreIndex,
    double LogitScale,
    double[] Logits,
    int[]? Labels,
    double[]? Targets,
    double[]? ClassWeights,
    JsonElement Upstream,
    double[] Loss,
    double[] Gradient,
    double[] LogSumExp,
    double[] Softmax,
    double[] LogSoftmax)
{
    public bool IsNone => Reduction == "none";

    public int Classes => Shape[ClassAxis];

    public int Positions => Logits.Length / Classes;

    /// <summary>The library's options; "none" maps to <see cref="SoftmaxCE.Reduction.Sum"/>.</summary>
    public CrossEntropyOptions Options => new()
    {
        Reduction = Reduction == "mean" ? SoftmaxCE.Reduction.Mean : SoftmaxCE.Reduction.Sum,
        IgnoreIndex = IgnoreIndex,
        LabelSmoothing = LabelSmoothing,
        LogitScale = LogitScale,
    };

    public override string ToString() =>
        $"golden N-d case {Id} ({Family}): [{string.Join(", ", Shape)}], {Reduction}, {(Labels is null ? "targets" : "labels")}, " +
        $"eps {LabelSmoothing}, scale {LogitScale}, {(ClassWeights is null ? "unweighted" : "weighted")}";
}

internal static class GoldenClassAxis
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    private static readonly Lazy<Dictionary<int, GoldenClassAxisCase>> Cases = new(() =>
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Golden", "torch-cross-entropy-nd.json");
        using FileStream stream = File.OpenRead(path);
        GoldenClassAxisFile file = JsonSerializer.Deserialize<GoldenClassAxisFile>(stream, JsonOptions)
            ?? throw new InvalidDataException($"{path} is empty");
        return file.Cases.ToDictionary(c => c.Id);
    });

    public static IReadOnlyDictionary<int, GoldenClassAxisCase> All => Cases.Value;

    public static TheoryData<int> CaseIds()
    {
        var data = new TheoryData<int>();
        foreach (int id in All.Keys.Order())
        {
            data.Add(id);
        }

        return data;
    }

    private sealed record GoldenClassAxisFile(string Description, GoldenClassAxisCase[] Cases);
}

/// <summary>
/// Every libtorch N-d case through the tensor overloads with <c>classAxis</c>: softmax, log-softmax, the loss (reduced,
/// or per position for 'none'), and for 'mean' and 'sum' the gradient times the upstream value, with
/// <see cref="CrossEntropyOptions.LogitScale"/> as the case gives it; and the tensor Forward (loss, log-sum-exp, row losses)
/// then Backward from the saved log-sum-exp (one upstream value, or one per position for 'none').
/// </summary>
public abstract class GoldenClassAxisTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private const double Rel = Tolerances.GoldenRelative;
    private const double Abs = Tolerances.GoldenAbsolute;

    [Fact]
    public void GoldenClassAxis_FileHas140WellFormedCases()
    {
        Assert.Equal(140, GoldenClassAxis.All.Count);
        foreach (GoldenClassAxisCase c in GoldenClassAxis.All.Values)
        {
            int n = c.Shape.Aggregate(1, (a, b) => a * b);
            Assert.True(c.Logits.Length == n && c.Softmax.Length == n && c.LogSoftmax.Length == n && c.Gradient.Length == n, c.ToString());
            Assert.True((c.Labels is null) != (c.Targets is null), c.ToString());
            Assert.Equal(c.IsNone ? c.Positions : 1, c.Loss.Length);
            Assert.Equal(1, c.ClassAxis);
        }
    }

    [Theory]
    [MemberData(nameof(GoldenClassAxis.CaseIds), MemberType = typeof(GoldenClassAxis))]
    public void GoldenClassAxis_MatchesLibtorch(int id)
    {
        GoldenClassAxisCase g = GoldenClassAxis.All[id];
        nint[] shape = [.. g.Shape.Select(d => (nint)d)];
        nint[] positions = [.. g.Shape.Where((_, i) => i != g.ClassAxis).Select(d => (nint)d)];
        int rank = shape.Length;

        // Odd cases spell the axis from the end, as PyTorch allows.
        int classAxis = id % 2 == 0 ? g.ClassAxis : g.ClassAxis - rank;
        T[] z = Data<T>.FromDouble(g.Logits);
        T[] weights = g.ClassWeights is null ? [] : Data<T>.FromDouble(g.ClassWeights);
        CrossEntropyOptions options = g.Options;
        var logits = new ReadOnlyTensorSpan<T>(z, shape);

        var softmax = new T[z.Length];
        SoftmaxCrossEntropy.Softmax(logits, new TensorSpan<T>(softmax, shape), options, classAxis);
        Check.Close<T>(softmax, g.Softmax, Magnitudes(g.Softmax), Rel, Abs, 1, $"{g}: softmax");

        var logSoftmax = new T[z.Length];
        SoftmaxCrossEntropy.LogSoftmax(logits, new TensorSpan<T>(logSoftmax, shape), options, classAxis);
        Check.Close<T>(logSoftmax, g.LogSoftmax, Magnitudes(g.LogSoftmax), Rel, Abs, 1, $"{g}: log-softmax");

        var gradient = new T[z.Length];
        var backward = (T[])z.Clone();
        T loss, fused;
        if (g.Labels is { } labels)
        {
            var l = new ReadOnlyTensorSpan<int>(labels, positions);
            if (g.IsNone)
            {
                var rowLosses = new T[g.Positions];
                SoftmaxCrossEntropy.RowLosses(logits, l, new TensorSpan<T>(rowLosses, positions), options, weights, classAxis: classAxis);
                Check.Close<T>(rowLosses, g.Loss, Magnitudes(g.Loss), Rel, Abs, 1, $"{g}: row losses");
            }

            loss = SoftmaxCrossEntropy.Loss(logits, l, options, weights, classAxis: classAxis);
            fused = SoftmaxCrossEntropy.LossAndGradient(logits, l, new TensorSpan<T>(gradient, shape), options, weights, classAxis: classAxis);
            SoftmaxCrossEntropy.Backward<T>(new TensorSpan<T>(backward, shape), l, new TensorSpan<T>(backward, shape), options, weights, classAxis: classAxis);
        }
        else
        {
            var t = new ReadOnlyTensorSpan<T>(Data<T>.FromDouble(g.Targets!), shape);
            loss = SoftmaxCrossEntropy.Loss(logits, t, options, weights, classAxis: classAxis);
            fused = SoftmaxCrossEntropy.LossAndGradient(logits, t, new TensorSpan<T>(gradient, shape), options, weights, classAxis: classAxis);
            SoftmaxCrossEntropy.Backward<T>(new TensorSpan<T>(backward, shape), t, new TensorSpan<T>(backward, shape), options, weights, classAxis: classAxis);
        }

        // For "none" the reduced loss the library gives is the sum of the position losses.
        double expectedLoss = g.Loss.Sum();
        double lossScale = g.Loss.Sum(Math.Abs);
        Check.Scalar(double.CreateTruncating(loss), expectedLoss, (Rel * lossScale) + Abs, $"{g}: Loss");
        Check.Scalar(double.CreateTruncating(fused), expectedLoss, (Rel * lossScale) + Abs, $"{g}: LossAndGradient's loss");
        if (!g.IsNone)
        {
            double upstream = g.Upstream.GetDouble();
            double[] expected = [.. g.Gradient.Select(v => v / upstream)];
            Check.Close<T>(gradient, expected, Magnitudes(expected), Rel, Abs / Math.Abs(upstream), 1, $"{g}: LossAndGradient's gradient");
            Check.Close<T>(backward, expected, Magnitudes(expected), Rel, Abs / Math.Abs(upstream), 1, $"{g}: Backward's gradient, in place");
        }
    }

    [Theory]
    [MemberData(nameof(GoldenClassAxis.CaseIds), MemberType = typeof(GoldenClassAxis))]
    public void GoldenClassAxis_ForwardThenBackward_MatchLibtorch(int id)
    {
        GoldenClassAxisCase g = GoldenClassAxis.All[id];
        nint[] shape = [.. g.Shape.Select(d => (nint)d)];
        nint[] positions = [.. g.Shape.Where((_, i) => i != g.ClassAxis).Select(d => (nint)d)];
        int classAxis = id % 2 == 0 ? g.ClassAxis : g.ClassAxis - shape.Length;
        T[] x = Data<T>.FromDouble(g.Logits);
        T[] weights = g.ClassWeights is null ? [] : Data<T>.FromDouble(g.ClassWeights);
        CrossEntropyOptions options = g.Options;
        var logits = new ReadOnlyTensorSpan<T>(x, shape);
        var lse = new T[g.Positions];
        var rowLosses = new T[g.Positions];
        var gradient = (T[])x.Clone();
        T loss;
        if (g.Labels is { } labels)
        {
            var l = new ReadOnlyTensorSpan<int>(labels, positions);
            loss = SoftmaxCrossEntropy.Forward(logits, l, new TensorSpan<T>(lse, positions), options, weights, rowLosses: new TensorSpan<T>(rowLosses, positions), classAxis: classAxis);
            if (g.IsNone)
            {
                T[] upstream = Data<T>.FromDouble(g.Upstream.EnumerateArray().Select(e => e.GetDouble()).ToArray());
                SoftmaxCrossEntropy.Backward(logits, l, new ReadOnlyTensorSpan<T>(lse, positions), new ReadOnlyTensorSpan<T>(upstream, positions), new TensorSpan<T>(gradient, shape), options, weights, classAxis: classAxis);
            }
            else
            {
                SoftmaxCrossEntropy.Backward(logits, l, new ReadOnlyTensorSpan<T>(lse, positions), T.CreateTruncating(g.Upstream.GetDouble()), new TensorSpan<T>(gradient, shape), options, weights, classAxis: classAxis);
            }

            // Ignored positions' log-sum-exps are unspecified.
            for (int p = 0; p < labels.Length; p++)
            {
                if (labels[p] == g.IgnoreIndex)
                {
                    lse[p] = T.CreateTruncating(g.LogSumExp[p]);
                }
            }
        }
        else
        {
            var t = new ReadOnlyTensorSpan<T>(Data<T>.FromDouble(g.Targets!), shape);
            loss = SoftmaxCrossEntropy.Forward(logits, t, new TensorSpan<T>(lse, positions), options, weights, rowLosses: new TensorSpan<T>(rowLosses, positions), classAxis: classAxis);
            if (g.IsNone)
            {
                T[] upstream = Data<T>.FromDouble(g.Upstream.EnumerateArray().Select(e => e.GetDouble()).ToArray());
                SoftmaxCrossEntropy.Backward(logits, t, new ReadOnlyTensorSpan<T>(lse, positions), new ReadOnlyTensorSpan<T>(upstream, positions), new TensorSpan<T>(gradient, shape), options, weights, classAxis: classAxis);
            }
            else
            {
                SoftmaxCrossEntropy.Backward(logits, t, new ReadOnlyTensorSpan<T>(lse, positions), T.CreateTruncating(g.Upstream.GetDouble()), new TensorSpan<T>(gradient, shape), options, weights, classAxis: classAxis);
            }
        }

        double lossScale = g.Loss.Sum(Math.Abs);
        Check.Scalar(double.CreateTruncating(loss), g.Loss.Sum(), (Rel * lossScale) + Abs, $"{g}: Forward's loss");
        Check.Close<T>(lse, g.LogSumExp, Magnitudes(g.LogSumExp), Rel, Abs, 1, $"{g}: log-sum-exp");
        if (g.IsNone)
        {
            Check.Close<T>(rowLosses, g.Loss, Magnitudes(g.Loss), Rel, Abs, 1, $"{g}: Forward's row losses");
        }

        Check.Close<T>(gradient, g.Gradient, Magnitudes(g.Gradient), Rel, Abs, 1, $"{g}: Backward's gradient (in place)");
    }

    [Fact]
    public void ForwardAndBackward_ClassAxis1_BadShapes_ThrowAndLeaveOutputsUntouched()
    {
        nint[] shape = [2, 3, 4];
        T[] x = Data<T>.FromDouble([.. Enumerable.Range(0, 24).Select(i => (i % 7) - 3.0)]);
        int[] labels = new int[8];
        T sentinel = T.CreateTruncating(-7.25);
        T[] lse = [.. Enumerable.Repeat(sentinel, 8)];
        T[] gradient = [.. Enumerable.Repeat(sentinel, 24)];
        var e1 = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Forward(
            new ReadOnlyTensorSpan<T>(x, shape), new ReadOnlyTensorSpan<int>(labels, [2, 4]), new TensorSpan<T>(lse, [2, 3]), classAxis: 1));
        Assert.Equal("logSumExp", e1.ParamName);
        var e2 = Assert.Throws<ArgumentException>(() => SoftmaxCrossEntropy.Backward(
            new ReadOnlyTensorSpan<T>(x, shape), new ReadOnlyTensorSpan<int>(labels, [2, 4]), new ReadOnlyTensorSpan<T>(lse, [2, 4]), new ReadOnlyTensorSpan<T>(new T[6], [2, 3]),
            new TensorSpan<T>(gradient, shape), classAxis: 1));
        Assert.Equal("rowUpstreamGradients", e2.ParamName);
        var e3 = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Backward(
            new ReadOnlyTensorSpan<T>(x, shape), new ReadOnlyTensorSpan<int>(labels, [2, 4]), new ReadOnlyTensorSpan<T>(lse, [2, 4]), T.One,
            new TensorSpan<T>(gradient, shape), classAxis: -4));
        Assert.Equal("classAxis", e3.ParamName);
        labels[5] = 3;
        var e4 = Assert.Throws<ArgumentOutOfRangeException>(() => SoftmaxCrossEntropy.Backward(
            new ReadOnlyTensorSpan<T>(x, shape), new ReadOnlyTensorSpan<int>(labels, [2, 4]), new ReadOnlyTensorSpan<T>(lse, [2, 4]), T.One,
            new TensorSpan<T>(gradient, shape), classAxis: 1));
        Assert.Equal("labels", e4.ParamName);
        Assert.All(lse, v => Assert.Equal(sentinel, v));
        Assert.All(gradient, v => Assert.Equal(sentinel, v));
    }

    private static double[] Magnitudes(double[] values) => [.. values.Select(Math.Abs)];
}

public sealed class GoldenClassAxisTestsSingle : GoldenClassAxisTests<float>
{
}

public sealed class GoldenClassAxisTestsDouble : GoldenClassAxisTests<double>
{
}
