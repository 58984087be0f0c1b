using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;
using System.Runtime.InteropServices;
using SoftmaxCE.Kernels;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>
/// Named tolerances for one element type. Element-wise checks are relative to the reference's magnitude
/// (the size of the terms the value is made of), plus a floor below the smallest normal number, where the
/// library's <c>exp</c> flushes to zero.
/// </summary>
internal sealed record Tolerances(
    double Probability,
    double LogProbability,
    double Gradient,
    double Loss,
    double Floor,
    double FiniteDifference)
{
    /// <summary>float: about 1e-5 relative for probabilities and gradients, 2e-6 for losses.</summary>
    public static readonly Tolerances Single = new(
        Probability: 1e-5, LogProbability: 1e-5, Gradient: 1e-5, Loss: 2e-6, Floor: 1e-36, FiniteDifference: 1e-5);

    /// <summary>double: about 1e-12 relative.</summary>
    public static readonly Tolerances Double = new(
        Probability: 1e-12, LogProbability: 1e-12, Gradient: 1e-12, Loss: 1e-12, Floor: 1e-300, FiniteDifference: 1e-7);

    /// <summary>Absolute error allowed between a double finite difference and an exact gradient (its own error).</summary>
    public const double FiniteDifferenceAbsolute = 1e-8;

    /// <summary>The golden values are float32 (libtorch), so both element types compare to them at float level.</summary>
    public const double GoldenRelative = 1e-5;

    public const double GoldenAbsolute = 1e-6;

    public static Tolerances For<T>() => typeof(T) == typeof(float) ? Single : Double;
}

/// <summary>Forces a SIMD width on the current thread until disposed, which restores the width forced before (nesting works).</summary>
internal readonly struct ForcedWidth : IDisposable
{
    private readonly SimdWidth _previous;

    private ForcedWidth(SimdWidth width)
    {
        _previous = WidthDispatch.Forced;
        WidthDispatch.Forced = width;
    }

    /// <summary>Forces <paramref name="bits"/> (1 = scalar, 128, 256, 512).</summary>
    public static ForcedWidth Force(int bits)
    {
        var width = (SimdWidth)bits;
        Assert.True(Enum.IsDefined(width), $"{bits} is not a SimdWidth");
        Assert.True(WidthDispatch.IsSupported(width), $"{width} cannot run on this machine");
        return new ForcedWidth(width);
    }

    public void Dispose() => WidthDispatch.Forced = _previous;
}

/// <summary>Shapes and widths the sweeps run over.</summary>
public static class TestData
{
    /// <summary>
    /// Every SIMD width this machine can run: scalar, 128, 256 and 512 bits (on a machine without AVX-512 the
    /// 512-bit cases are not generated, rather than failing).
    /// </summary>
    public static readonly int[] WidthBits = [.. new[] { 1, 128, 256, 512 }.Where(bits => WidthDispatch.IsSupported((SimdWidth)bits))];

    /// <summary>
    /// Every tail of every vector width (1..33), the ones around 64 and 256, the longest rows of the short-row block kernel
    /// (128) and the first beyond it, and vocabulary-sized rows.
    /// </summary>
    public static readonly int[] ClassCounts =
        [.. Enumerable.Range(1, 33), 63, 64, 65, 128, 129, 255, 256, 257, 32000, 128256];

    /// <summary>
    /// The row counts tried for rows of <paramref name="classes"/>: every count up to 20 (and 37) for short rows,
    /// so that the padded copy of the last few rows is hit in every configuration; fewer for long rows.
    /// </summary>
    public static int[] RowCounts(int classes) => classes switch
    {
        <= 33 => [.. Enumerable.Range(1, 20), 37],
        <= 257 => [1, 2, 3, 17],
        _ => [1, 2],
    };

    public static TheoryData<int> Widths()
    {
        var data = new TheoryData<int>();
        foreach (int w in WidthBits)
        {
            data.Add(w);
        }

        return data;
    }

    public static TheoryData<int, int> WidthsAndClasses()
    {
        // Row length outermost: the widths of one shape run one after the other and share its cached reference values.
        var data = new TheoryData<int, int>();
        foreach (int c in ClassCounts)
        {
            foreach (int w in WidthBits)
            {
                data.Add(w, c);
            }
        }

        return data;
    }
}

/// <summary>A label problem: options, weights, and which label value (if any) marks ignored rows.</summary>
internal sealed record LabelConfig(string Name, CrossEntropyOptions Options, bool Weighted, int IgnoredRowsEvery)
{
    public static readonly LabelConfig[] All =
    [
        new("default", default, Weighted: false, IgnoredRowsEvery: 0),
        new("sum+ignore-100+weights", new() { Reduction = Reduction.Sum, IgnoreIndex = -100 }, Weighted: true, IgnoredRowsEvery: 3),
        new("mean+ignore-1+weights+eps0.1", new() { IgnoreIndex = -1, LabelSmoothing = 0.1 }, Weighted: true, IgnoredRowsEvery: 4),
        new("sum+eps0.25", new() { Reduction = Reduction.Sum, LabelSmoothing = 0.25 }, Weighted: false, IgnoredRowsEvery: 0),
        new("mean+ignore-100+eps1", new() { IgnoreIndex = -100, LabelSmoothing = 1 }, Weighted: false, IgnoredRowsEvery: 2),
    ];
}

/// <summary>A dense-target problem: options, weights, and the kind of target rows.</summary>
internal sealed record DenseConfig(string Name, CrossEntropyOptions Options, bool Weighted, TargetKind Kind)
{
    public static readonly DenseConfig[] All =
    [
        new("default+distribution", default, Weighted: false, TargetKind.Distribution),
        new("sum+weights+onehot", new() { Reduction = Reduction.Sum }, Weighted: true, TargetKind.OneHot),
        new("mean+weights+eps0.1+unnormalised", new() { LabelSmoothing = 0.1 }, Weighted: true, TargetKind.Unnormalised),
        new("sum+eps0.3+sparse", new() { Reduction = Reduction.Sum, LabelSmoothing = 0.3 }, Weighted: false, TargetKind.Sparse),
    ];
}

internal enum TargetKind
{
    /// <summary>Positive, summing to 1.</summary>
    Distribution,

    /// <summary>One-hot rows.</summary>
    OneHot,

    /// <summary>Rows with some zeros, summing to 1.</summary>
    Sparse,

    /// <summary>Non-negative rows that do not sum to 1 (sums between 0.3 and 2.5).</summary>
    Unnormalised,
}

/// <summary>Seeded random data, generated in double and rounded to <typeparamref name="T"/>; the reference reads the rounded values.</summary>
internal static class Data<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T[] Logits(Random rng, int length, double scale = 4)
    {
        var y = new T[length];
        for (int j = 0; j < length; j++)
        {
            y[j] = T.CreateTruncating(((rng.NextDouble() * 2) - 1) * scale);
        }

        return y;
    }

    public static T[] Weights(Random rng, int classes)
    {
        var w = new T[classes];
        for (int k = 0; k < classes; k++)
        {
            w[k] = T.CreateTruncating(0.2 + (1.8 * rng.NextDouble()));
        }

        return w;
    }

    public static T[] Targets(Random rng, int rows, int classes, TargetKind kind)
    {
        var t = new double[rows * classes];
        for (int i = 0; i < rows; i++)
        {
            Span<double> row = t.AsSpan(i * classes, classes);
            switch (kind)
            {
                case TargetKind.OneHot:
                    row[rng.Next(classes)] = 1;
                    break;
                default:
                    double sum = 0;
                    for (int k = 0; k < classes; k++)
                    {
                        row[k] = kind == TargetKind.Sparse && rng.Next(3) == 0 ? 0 : rng.NextDouble();
                        sum += row[k];
                    }

                    if (sum == 0)
                    {
                        row[0] = sum = 1;
                    }

                    double total = kind == TargetKind.Unnormalised ? 0.3 + (2.2 * rng.NextDouble()) : 1;
                    for (int k = 0; k < classes; k++)
                    {
                        row[k] *= total / sum;
                    }

                    break;
            }
        }

        return FromDouble(t);
    }

    public static int[] Labels(Random rng, int rows, int classes, int? ignoreIndex = null, int ignoredEvery = 0)
    {
        var labels = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            labels[i] = ignoreIndex.HasValue && ignoredEvery > 0 && i % ignoredEvery == ignoredEvery - 1
                ? ignoreIndex.Value
                : rng.Next(classes);
        }

        return labels;
    }

    public static double[] ToDouble(ReadOnlySpan<T> values)
    {
        var d = new double[values.Length];
        for (int j = 0; j < values.Length; j++)
        {
            d[j] = double.CreateTruncating(values[j]);
        }

        return d;
    }

    public static T[] FromDouble(ReadOnlySpan<double> values)
    {
        var t = new T[values.Length];
        for (int j = 0; j < values.Length; j++)
        {
            t[j] = T.CreateTruncating(values[j]);
        }

        return t;
    }
}

/// <summary>An output buffer with sentinel-filled guard zones on both sides, to catch writes outside the span.</summary>
internal sealed class Guarded<T>
    where T : unmanaged
{
    private const int Guard = 40;
    private const byte Sentinel = 0xA5;
    private readonly T[] _storage;

    public Guarded(int length)
    {
        Length = length;
        _storage = new T[length + (2 * Guard)];
        MemoryMarshal.AsBytes(_storage.AsSpan()).Fill(Sentinel);
    }

    public Guarded(ReadOnlySpan<T> contents)
        : this(contents.Length) => contents.CopyTo(Span);

    public int Length { get; }

    public Span<T> Span => _storage.AsSpan(Guard, Length);

    public T[] ToArray() => Span.ToArray();

    public void AssertGuardsIntact(string what)
    {
        ReadOnlySpan<byte> before = MemoryMarshal.AsBytes(_storage.AsSpan(0, Guard));
        ReadOnlySpan<byte> after = MemoryMarshal.AsBytes(_storage.AsSpan(Guard + Length, Guard));
        if (before.IndexOfAnyExcept(Sentinel) >= 0 || after.IndexOfAnyExcept(Sentinel) >= 0)
        {
            throw new XunitException($"{what}: the library wrote outside the {Length}-element output span.");
        }
    }
}

/// <summary>Element-wise comparisons with messages that say where and by how much.</summary>
internal static class Check
{
    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// Asserts <c>|actual - expected| &lt;= relative * magnitude + floor</c> for every element (NaN must match NaN,
    /// infinities must match exactly).
    /// </summary>
    public static void Close<T>(ReadOnlySpan<T> actual, ReadOnlySpan<double> expected, ReadOnlySpan<double> magnitude, double relative, double floor, int classes, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (actual.Length != expected.Length)
        {
            throw new XunitException($"{what}: length {actual.Length}, expected {expected.Length}.");
        }

        for (int j = 0; j < expected.Length; j++)
        {
            double a = double.CreateTruncating(actual[j]);
            double tolerance = (relative * magnitude[j]) + floor;
            if (!Agrees(a, expected[j], tolerance))
            {
                throw new XunitException(
                    $"{what}: element {j} (row {j / classes}, class {j % classes}) is {Format(a)}, expected {Format(expected[j])} " +
                    $"(difference {Format(Math.Abs(a - expected[j]))}, tolerance {Format(tolerance)}).");
            }
        }
    }

    /// <summary>The same, with the magnitude of every element its own absolute value.</summary>
    public static void CloseRelative<T>(ReadOnlySpan<T> actual, ReadOnlySpan<double> expected, double relative, double floor, int classes, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var magnitude = new double[expected.Length];
        for (int j = 0; j < magnitude.Length; j++)
        {
            magnitude[j] = Math.Abs(expected[j]);
        }

        Close(actual, expected, magnitude, relative, floor, classes, what);
    }

    public static void Scalar(double actual, double expected, double tolerance, string what)
    {
        if (!Agrees(actual, expected, tolerance))
        {
            throw new XunitException(
                $"{what}: {Format(actual)}, expected {Format(expected)} (difference {Format(Math.Abs(actual - expected))}, tolerance {Format(tolerance)}).");
        }
    }

    public static bool Agrees(double actual, double expected, double tolerance)
    {
        if (double.IsNaN(expected) || double.IsNaN(actual))
        {
            return double.IsNaN(expected) && double.IsNaN(actual);
        }

        if (double.IsInfinity(expected) || double.IsInfinity(actual))
        {
            return actual == expected;
        }

        return Math.Abs(actual - expected) <= tolerance;
    }

    public static void Bitwise<T>(ReadOnlySpan<T> actual, ReadOnlySpan<T> expected, string what)
        where T : unmanaged
    {
        ReadOnlySpan<byte> a = MemoryMarshal.AsBytes(actual);
        ReadOnlySpan<byte> e = MemoryMarshal.AsBytes(expected);
        if (!a.SequenceEqual(e))
        {
            int size = Marshal.SizeOf<T>();
            int first = a.Length == e.Length ? a.CommonPrefixLength(e) / size : -1;
            string detail = first >= 0 ? $"; first difference at element {first}: {actual[first]} vs {expected[first]}" : "";
            throw new XunitException($"{what}: not bitwise equal{detail}.");
        }
    }

    public static void AllZero<T>(ReadOnlySpan<T> values, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int j = 0; j < values.Length; j++)
        {
            if (values[j] != T.Zero)
            {
                throw new XunitException($"{what}: element {j} is {values[j]}, expected 0.");
            }
        }
    }
}

/// <summary>Formats the context of a sweep case for failure messages.</summary>
internal static class Describe
{
    public static string Case(string op, int width, int rows, int classes, string config = "") =>
        $"{op} [{rows} x {classes}], width {width}{(config.Length > 0 ? ", " + config : "")}";

    public static string Names<T>(IEnumerable<T> items) => string.Join(", ", items);
}
