using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Text.Json;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>
/// One case of <c>Golden/torch-cross-entropy-nd.json</c> (libtorch, float32), with its class axis moved last: every
/// position <c>(n, j1..jK)</c> of the <c>(N, C, d1..dK)</c> input becomes a row of <c>C</c> logits, in the positions'
/// row-major order, so that the row-major span API checks it (the tensor overloads check class axis 1 directly).
/// </summary>
internal sealed class GoldenNdCase
{
    public GoldenNdCase(JsonElement c)
    {
        Id = c.GetProperty("id").GetInt32();
        int[] shape = [.. c.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32())];
        Classes = shape[1];
        int inner = 1;
        for (int d = 2; d < shape.Length; d++)
        {
            inner *= shape[d];
        }

        Rows = shape[0] * inner;
        Reduction = c.GetProperty("reduction").GetString()!;
        LabelSmoothing = c.GetProperty("labelSmoothing").GetDouble();
        LogitScale = c.GetProperty("logitScale").GetDouble();
        double[] Flat(string name) => [.. c.GetProperty(name).EnumerateArray().Select(e => e.GetDouble())];
        double[] Lasted(double[] nd)
        {
            // (N, C, inner) -> (N * inner, C)
            var rows = new double[nd.Length];
            for (int n = 0; n < shape[0]; n++)
            {
                for (int k = 0; k < Classes; k++)
                {
                    for (int j = 0; j < inner; j++)
                    {
                        rows[(((n * inner) + j) * Classes) + k] = nd[(((n * Classes) + k) * inner) + j];
                    }
                }
            }

            return rows;
        }

        Logits = Lasted(Flat("logits"));
        Gradient = Lasted(Flat("gradient"));
        Softmax = Lasted(Flat("softmax"));
        LogSoftmax = Lasted(Flat("logSoftmax"));
        LogSumExp = Flat("logSumExp");
        Loss = Flat("loss");
        Labels = c.GetProperty("labels").ValueKind == JsonValueKind.Null ? null : [.. c.GetProperty("labels").EnumerateArray().Select(e => e.GetInt32())];
        Targets = c.GetProperty("targets").ValueKind == JsonValueKind.Null ? null : Lasted(Flat("targets"));
        ClassWeights = c.GetProperty("classWeights").ValueKind == JsonValueKind.Null ? null : Flat("classWeights");
        JsonElement upstream = c.GetProperty("upstream");
        RowUpstream = upstream.ValueKind == JsonValueKind.Array ? [.. upstream.EnumerateArray().Select(e => e.GetDouble())] : null;
        Upstream = upstream.ValueKind == JsonValueKind.Number ? upstream.GetDouble() : double.NaN;
    }

    public int Id { get; }

    public int Rows { get; }

    public int Classes { get; }

    public string Reduction { get; }

    public double LabelSmoothing { get; }

    public double LogitScale { get; }

    public double[] Logits { get; }

    public double[] Gradient { get; }

    public double[] Softmax { get; }

    public double[] LogSoftmax { get; }

    public double[] LogSumExp { get; }

    public double[] Loss { get; }

    public int[]? Labels { get; }

    public double[]? Targets { get; }

    public double[]? ClassWeights { get; }

    public double[]? RowUpstream { get; }

    public double Upstream { get; }

    public bool IsNone => Reduction == "none";

    /// <summary>The options; "none" reads its row losses from <c>Forward</c>'s <c>rowLosses</c>, so its reduction does not matter.</summary>
    public CrossEntropyOptions Options => new()
    {
        Reduction = Reduction == "mean" ? SoftmaxCE.Reduction.Mean : SoftmaxCE.Reduction.Sum,
        IgnoreIndex = Labels is null ? null : -100,
        LabelSmoothing = LabelSmoothing,
        LogitScale = LogitScale,
    };

    public override string ToString() =>
        $"nd golden case {Id}: [{Rows} x {Classes}], {Reduction}, {(Labels is null ? "probabilities" : "labels")}, eps {LabelSmoothing}, scale {LogitScale}, {(ClassWeights is null ? "unweighted" : "weighted")}";

    private static readonly Lazy<GoldenNdCase[]> Cases = new(() =>
    {
        using FileStream stream = File.OpenRead(Path.Combine(AppContext.BaseDirectory, "Golden", "torch-cross-entropy-nd.json"));
        using JsonDocument document = JsonDocument.Parse(stream);
        return [.. document.RootElement.GetProperty("cases").EnumerateArray().Select(c => new GoldenNdCase(c))];
    });

    public static IReadOnlyList<GoldenNdCase> All => Cases.Value;

    public static TheoryData<int> CaseIndices()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < All.Count; i++)
        {
            data.Add(i);
        }

        return data;
    }
}

/// <summary>
/// The libtorch N-d cases (class axis 1, moved last) through the span API: <c>Forward</c>'s loss, row losses and saved
/// log-sum-exps, <c>Backward</c> from them with the scalar or per-position upstream gradient, the logit scale, softmax and
/// log-softmax with the scale.
/// </summary>
public abstract class GoldenAutogradTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private const double Rel = Tolerances.GoldenRelative;
    private const double Abs = Tolerances.GoldenAbsolute;

    private static double[] Magnitudes(double[] values) => [.. values.Select(Math.Abs)];

    [Theory]
    [MemberData(nameof(GoldenNdCase.CaseIndices), MemberType = typeof(GoldenNdCase))]
    public void GoldenNd_ForwardBackwardSoftmax_MatchLibtorch(int index)
    {
        GoldenNdCase g = GoldenNdCase.All[index];
        T[] logits = Data<T>.FromDouble(g.Logits);
        T[] weights = g.ClassWeights is null ? [] : Data<T>.FromDouble(g.ClassWeights);
        var lse = new T[g.Rows];
        var rowLosses = new T[g.Rows];
        var gradient = new T[logits.Length];
        int classes = g.Classes;
        CrossEntropyOptions options = g.Options;
        if (g.Labels is int[] labels)
        {
            T loss = SoftmaxCrossEntropy.Forward<T>(logits, labels, lse, classes, options, weights, rowLosses: rowLosses);
            CheckLoss(g, loss, rowLosses);
            for (int i = 0; i < g.Rows; i++)
            {
                if (labels[i] != -100)
                {
                    Check.Scalar(double.CreateTruncating(lse[i]), g.LogSumExp[i], (Rel * Math.Abs(g.LogSumExp[i])) + Abs, $"{g}: log-sum-exp of row {i}");
                }
            }

            if (g.RowUpstream is double[] perRow)
            {
                SoftmaxCrossEntropy.Backward<T>(logits, labels, lse, Data<T>.FromDouble(perRow), gradient, classes, options, weights);
            }
            else
            {
                SoftmaxCrossEntropy.Backward<T>(logits, labels, lse, T.CreateTruncating(g.Upstream), gradient, classes, options, weights);
            }
        }
        else
        {
            T[] targets = Data<T>.FromDouble(g.Targets!);
            T loss = SoftmaxCrossEntropy.Forward<T>(logits, targets, lse, classes, options, weights, rowLosses: rowLosses);
            CheckLoss(g, loss, rowLosses);
            Check.Close<T>(lse, g.LogSumExp, Magnitudes(g.LogSumExp), Rel, Abs, 1, $"{g}: log-sum-exps");
            if (g.RowUpstream is double[] perRow)
            {
                SoftmaxCrossEntropy.Backward<T>(logits, targets, lse, Data<T>.FromDouble(perRow), gradient, classes, options, weights);
            }
            else
            {
                SoftmaxCrossEntropy.Backward<T>(logits, targets, lse, T.CreateTruncating(g.Upstream), gradient, classes, options, weights);
            }
        }

        Check.Close<T>(gradient, g.Gradient, Magnitudes(g.Gradient), Rel, Abs, classes, $"{g}: gradient");

        var scaleOnly = new CrossEntropyOptions { LogitScale = g.LogitScale };
        var softmax = new T[logits.Length];
        SoftmaxCrossEntropy.Softmax<T>(logits, softmax, classes, scaleOnly);
        Check.Close<T>(softmax, g.Softmax, Magnitudes(g.Softmax), Rel, Abs, classes, $"{g}: softmax");
        SoftmaxCrossEntropy.LogSoftmax<T>(logits, softmax, classes, scaleOnly);
        Check.Close<T>(softmax, g.LogSoftmax, Magnitudes(g.LogSoftmax), Rel, Abs, classes, $"{g}: log-softmax");
    }

    private static void CheckLoss(GoldenNdCase g, T loss, T[] rowLosses)
    {
        if (g.IsNone)
        {
            Check.Close<T>(rowLosses, g.Loss, Magnitudes(g.Loss), Rel, Abs, 1, $"{g}: row losses");
        }
        else
        {
            Check.Scalar(double.CreateTruncating(loss), g.Loss[0], (Rel * Math.Abs(g.Loss[0])) + Abs, $"{g}: loss");
        }
    }
}

public sealed class GoldenAutogradTestsSingle : GoldenAutogradTests<float>
{
}

public sealed class GoldenAutogradTestsDouble : GoldenAutogradTests<double>
{
}
