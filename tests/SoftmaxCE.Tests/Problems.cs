using System;
using System.Collections.Generic;
using System.Numerics;
using System.Threading;

namespace SoftmaxCE.Tests;

/// <summary>Deterministic seeds: the same problem for every width, so widths see identical inputs.</summary>
internal static class Seeds
{
    public static int For(int rows, int classes, int variant = 0) => unchecked((rows * 1_000_003) + (classes * 7919) + (variant * 104_729) + 17);
}

/// <summary>
/// Problems big enough for their reference values to be expensive are shared by every width and every test
/// (the seeds make them identical anyway); the expected values are computed once, lazily. Problems are never
/// mutated by tests (in-place tests copy the logits first).
/// </summary>
internal static class ProblemCache
{
    private const int MinimumElements = 20_000;
    private const long MaximumElements = 8_000_000;
    private static readonly Dictionary<(Type, bool, int, int, int), object> Cache = [];
    private static readonly Lock Gate = new();
    private static long s_elements;

    public static LabelProblem<T> Labels<T>(int rows, int classes, int config, int variant = 0)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Get((typeof(T), false, rows, classes, config + (1000 * variant)), rows * classes,
            () => new LabelProblem<T>(rows, classes, LabelConfig.All[config], Seeds.For(rows, classes, config + (20 * variant))));

    public static DenseProblem<T> Dense<T>(int rows, int classes, int config, int variant = 0)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Get((typeof(T), true, rows, classes, config + (1000 * variant)), rows * classes,
            () => new DenseProblem<T>(rows, classes, DenseConfig.All[config], Seeds.For(rows, classes, config + (20 * variant))));

    private static TProblem Get<TProblem>((Type, bool, int, int, int) key, long elements, Func<TProblem> create)
        where TProblem : class
    {
        if (elements < MinimumElements)
        {
            return create();
        }

        lock (Gate)
        {
            if (Cache.TryGetValue(key, out object? cached))
            {
                return (TProblem)cached;
            }

            if (s_elements + elements > MaximumElements)
            {
                Cache.Clear();
                s_elements = 0;
            }

            TProblem problem = create();
            Cache[key] = problem;
            s_elements += elements;
            return problem;
        }
    }
}

/// <summary>
/// A seeded class-index label problem in <typeparamref name="T"/>, with its expected values from <see cref="Reference"/>
/// (computed on the <typeparamref name="T"/> inputs widened to double).
/// </summary>
internal sealed class LabelProblem<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private double[]? _q;
    private double[]? _y;
    private double[]? _w;
    private double[]? _rowLosses;
    private double[]? _rowLossMagnitudes;
    private double? _loss;
    private (double[] Gradient, double[] Magnitude)? _gradient;

    public LabelProblem(int rows, int classes, LabelConfig config, int seed)
        : this(rows, classes, config, new Random(seed))
    {
    }

    public LabelProblem(int rows, int classes, LabelConfig config, Random rng)
    {
        Rows = rows;
        Classes = classes;
        Config = config;
        Logits = Data<T>.Logits(rng, rows * classes);
        Labels = Data<T>.Labels(rng, rows, classes, config.Options.IgnoreIndex, config.IgnoredRowsEvery);
        Weights = config.Weighted ? Data<T>.Weights(rng, classes) : [];
    }

    /// <summary>A problem with given data (special values).</summary>
    public LabelProblem(T[] logits, int[] labels, int classes, LabelConfig config, T[]? weights = null)
    {
        Rows = labels.Length;
        Classes = classes;
        Config = config;
        Logits = logits;
        Labels = labels;
        Weights = weights ?? [];
    }

    public int Rows { get; }

    public int Classes { get; }

    public LabelConfig Config { get; }

    public CrossEntropyOptions Options => Config.Options;

    public T[] Logits { get; }

    public int[] Labels { get; }

    /// <summary>Empty when unweighted (the library's convention).</summary>
    public T[] Weights { get; }

    public double[] Y => _y ??= Data<T>.ToDouble(Logits);

    public double[]? W => Weights.Length == 0 ? null : _w ??= Data<T>.ToDouble(Weights);

    public double[] Q => _q ??= Reference.LabelEffectiveTargets(Labels, Classes, Options.IgnoreIndex, W, Options.LabelSmoothing);

    public double Denominator => Reference.Denominator(Options.Reduction, Reference.LabelDenominator(Labels, Options.IgnoreIndex, W));

    public double[] RowLosses => _rowLosses ??= Reference.LabelRowLosses(Y, Labels, Classes, Options.IgnoreIndex, W, Options.LabelSmoothing);

    public double[] RowLossMagnitudes => _rowLossMagnitudes ??= Reference.RowLossMagnitudes(Y, Q, Classes);

    public double Loss => _loss ??= Reference.LabelLoss(Y, Labels, Classes, Options, W);

    public double LossMagnitude => Reference.Sum(RowLossMagnitudes) / Math.Abs(Denominator);

    public (double[] Gradient, double[] Magnitude) Gradient => _gradient ??= Reference.Gradient(Y, Q, Classes, Denominator);

    public double ReferenceLossAt(double[] y) => Reference.LabelLoss(y, Labels, Classes, Options, W);

    public override string ToString() =>
        $"{typeof(T).Name} [{Rows} x {Classes}] {Config.Name}, labels [{string.Join(", ", Labels.AsSpan(0, Math.Min(Rows, 8)).ToArray())}{(Rows > 8 ? ", ..." : "")}]";
}

/// <summary>A seeded dense-target problem, with its expected values from <see cref="Reference"/>.</summary>
internal sealed class DenseProblem<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private double[]? _q;
    private double[]? _y;
    private double[]? _w;
    private double[]? _t;
    private double? _loss;
    private double? _lossMagnitude;
    private (double[] Gradient, double[] Magnitude)? _gradient;

    public DenseProblem(int rows, int classes, DenseConfig config, int seed)
    {
        var rng = new Random(seed);
        Rows = rows;
        Classes = classes;
        Config = config;
        Logits = Data<T>.Logits(rng, rows * classes);
        Targets = Data<T>.Targets(rng, rows, classes, config.Kind);
        Weights = config.Weighted ? Data<T>.Weights(rng, classes) : [];
    }

    /// <summary>A problem with given data (special values).</summary>
    public DenseProblem(T[] logits, T[] targets, int classes, DenseConfig config, T[]? weights = null)
    {
        Rows = logits.Length / classes;
        Classes = classes;
        Config = config;
        Logits = logits;
        Targets = targets;
        Weights = weights ?? [];
    }

    public int Rows { get; }

    public int Classes { get; }

    public DenseConfig Config { get; }

    public CrossEntropyOptions Options => Config.Options;

    public T[] Logits { get; }

    public T[] Targets { get; }

    public T[] Weights { get; }

    public double[] Y => _y ??= Data<T>.ToDouble(Logits);

    public double[] TargetValues => _t ??= Data<T>.ToDouble(Targets);

    public double[]? W => Weights.Length == 0 ? null : _w ??= Data<T>.ToDouble(Weights);

    public double[] Q => _q ??= Reference.DenseEffectiveTargets(TargetValues, Classes, W, Options.LabelSmoothing);

    public double Denominator => Reference.Denominator(Options.Reduction, Rows);

    public double Loss => _loss ??= Reference.DenseLoss(Y, TargetValues, Classes, Options, W);

    public double LossMagnitude => _lossMagnitude ??= Reference.Sum(Reference.RowLossMagnitudes(Y, Q, Classes)) / Denominator;

    public (double[] Gradient, double[] Magnitude) Gradient => _gradient ??= Reference.Gradient(Y, Q, Classes, Denominator);

    public double ReferenceLossAt(double[] y) => Reference.DenseLoss(y, TargetValues, Classes, Options, W);

    public override string ToString() => $"{typeof(T).Name} [{Rows} x {Classes}] {Config.Name}";
}
