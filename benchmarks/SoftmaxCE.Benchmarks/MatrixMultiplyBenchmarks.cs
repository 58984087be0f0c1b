using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Runtime.Intrinsics;
using System.Threading;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using SoftmaxCE.MatrixMultiply;

namespace Benchmarks;

/// <summary>The linear head's shape: hidden size <see cref="Hidden"/>, vocabulary <see cref="Classes"/>, a block of <see cref="Rows"/> tokens.</summary>
public readonly record struct HeadShape(int Rows, int Hidden, int Classes)
{
    /// <summary>Floating-point operations of one <c>[Rows, Hidden] x [Hidden, Classes]</c> product (a multiply-add is two).</summary>
    public double Flops => 2.0 * Rows * Hidden * Classes;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Rows}x{Hidden}x{Classes}");
}

/// <summary>GFLOP/s: the shape's <see cref="HeadShape.Flops"/> over the median time (every method of the class does that much work).</summary>
public sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);
    public string ColumnName => "GFLOP/s";
    public string Legend => "Floating-point operations per second, from the median (a multiply-add counts two)";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? median = summary[benchmarkCase]?.ResultStatistics?.Median;
        HeadShape? shape = benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<HeadShape>().Cast<HeadShape?>().FirstOrDefault();
        return median is > 0 && shape is not null
            ? (shape.Value.Flops / median.Value).ToString("F1", style?.CultureInfo ?? CultureInfo.InvariantCulture)
            : "?";
    }

    public override string ToString() => ColumnName;
}

/// <summary>
/// The library's own matrix products (packed, cache-blocked, fused multiply-add) on the fused linear head's shapes, against
/// the machine's fused-multiply-add peak measured with the same amount of work: <c>FmaPeak_OneCore</c> is the baseline, so
/// a product's Ratio is its time over the peak's and <c>1 / Ratio</c> its fraction of the one-core peak.
/// </summary>
/// <remarks>
/// Each product is what one block of <see cref="HeadShape.Rows"/> tokens costs in <c>LinearLossAndGradient</c>: the logits
/// (<c>H W^T</c>, 2048 classes at a time into one buffer), the hidden gradient (<c>G W</c>) and the weight gradient
/// (<c>+= G^T H</c>), streaming the whole weight matrix from memory.
/// </remarks>
[Config(typeof(Config))]
public unsafe class MatrixMultiplyBenchmarks : NativeBuffers
{
    private const int Chunk = 2048;

    private sealed class Config : ManualConfig
    {
        public Config() => AddColumn(new GflopsColumn());
    }

    private float* _hidden;
    private float* _weight;
    private float* _logits;
    private float* _gradient;
    private float* _hiddenGradient;
    private float* _weightGradient;

    public static IEnumerable<HeadShape> Shapes() =>
    [
        new(256, 1024, 32000),
        new(256, 4096, 32000),
        new(256, 2048, 128256),
    ];

    [ParamsSource(nameof(Shapes))]
    public HeadShape Shape { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int n = Shape.Rows, h = Shape.Hidden, v = Shape.Classes;
        _hidden = Allocate<float>(n * h);
        _weight = Allocate<float>(v * h);
        _logits = Allocate<float>(n * Chunk);
        _gradient = Allocate<float>(n * v);
        _hiddenGradient = Allocate<float>(n * h);
        _weightGradient = Allocate<float>(v * h);
        var random = new Random(Seed);
        Fill(random, new Span<float>(_hidden, n * h), 1);
        Fill(random, new Span<float>(_weight, v * h), 0.05);
        Fill(random, new Span<float>(_gradient, n * v), 1e-4);
    }

    /// <summary>The FMA peak of one core: twelve independent accumulators of the widest vector, as many multiply-adds as the shape.</summary>
    [Benchmark(Baseline = true)]
    public float FmaPeak_OneCore() => FmaLoop(Shape.Flops);

    /// <summary>The FMA peak of all cores: the same loop on every core at once, splitting the same work.</summary>
    [Benchmark]
    public float FmaPeak_AllCores()
    {
        int cores = Environment.ProcessorCount;
        double share = Shape.Flops / cores;
        float total = 0;
        var threads = new Thread[cores - 1];
        for (int t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() => FmaLoop(share));
            threads[t].Start();
        }

        total += FmaLoop(share);
        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        return total;
    }

    /// <summary>Logits of a block of rows: <c>[rows, V] = H [rows, H] x W^T</c>, 2048 classes at a time.</summary>
    [Benchmark]
    public void Logits_OneCore() => Logits(degree: 1);

    [Benchmark]
    public void Logits_AllCores() => Logits(degree: Environment.ProcessorCount);

    /// <summary>The hidden gradient of a block: <c>dH [rows, H] = G [rows, V] x W [V, H]</c>, 2048 classes at a time.</summary>
    [Benchmark]
    public void HiddenGradient_OneCore()
    {
        int n = Shape.Rows, h = Shape.Hidden, v = Shape.Classes;
        for (int v0 = 0; v0 < v; v0 += Chunk)
        {
            int width = Math.Min(Chunk, v - v0);
            Gemm.MultiplyPlain(n, h, width, _gradient + v0, v, _weight + ((nint)v0 * h), h, _hiddenGradient, h, accumulate: v0 > 0, degree: 1);
        }
    }

    /// <summary>The weight gradient of a block: <c>dW [V, H] += G^T [V, rows] x H [rows, H]</c>, 2048 classes at a time.</summary>
    [Benchmark]
    public void WeightGradient_OneCore()
    {
        int n = Shape.Rows, h = Shape.Hidden, v = Shape.Classes;
        for (int v0 = 0; v0 < v; v0 += Chunk)
        {
            int width = Math.Min(Chunk, v - v0);
            Gemm.MultiplyTransposedA(width, h, n, _gradient + v0, v, _hidden, h, _weightGradient + ((nint)v0 * h), h, accumulate: true, degree: 1);
        }
    }

    private void Logits(int degree)
    {
        int n = Shape.Rows, h = Shape.Hidden, v = Shape.Classes;
        for (int v0 = 0; v0 < v; v0 += Chunk)
        {
            int width = Math.Min(Chunk, v - v0);
            Gemm.MultiplyTransposedB(n, width, h, _hidden, h, _weight + ((nint)v0 * h), h, _logits, width, accumulate: false, degree);
        }
    }

    private static float FmaLoop(double flops)
    {
        if (Vector512.IsHardwareAccelerated)
        {
            return FmaLoop512((long)(flops / (12 * 2 * Vector512<float>.Count)));
        }

        return FmaLoop256((long)(flops / (12 * 2 * Vector256<float>.Count)));
    }

    private static float FmaLoop512(long steps)
    {
        Vector512<float> a = Vector512.Create(0.999f), b = Vector512.Create(1e-3f);
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < steps; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b);
            c1 = Vector512.FusedMultiplyAdd(c1, a, b);
            c2 = Vector512.FusedMultiplyAdd(c2, a, b);
            c3 = Vector512.FusedMultiplyAdd(c3, a, b);
            c4 = Vector512.FusedMultiplyAdd(c4, a, b);
            c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b);
            c7 = Vector512.FusedMultiplyAdd(c7, a, b);
            c8 = Vector512.FusedMultiplyAdd(c8, a, b);
            c9 = Vector512.FusedMultiplyAdd(c9, a, b);
            c10 = Vector512.FusedMultiplyAdd(c10, a, b);
            c11 = Vector512.FusedMultiplyAdd(c11, a, b);
        }

        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    private static float FmaLoop256(long steps)
    {
        Vector256<float> a = Vector256.Create(0.999f), b = Vector256.Create(1e-3f);
        Vector256<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < steps; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, a, b);
            c1 = Vector256.FusedMultiplyAdd(c1, a, b);
            c2 = Vector256.FusedMultiplyAdd(c2, a, b);
            c3 = Vector256.FusedMultiplyAdd(c3, a, b);
            c4 = Vector256.FusedMultiplyAdd(c4, a, b);
            c5 = Vector256.FusedMultiplyAdd(c5, a, b);
            c6 = Vector256.FusedMultiplyAdd(c6, a, b);
            c7 = Vector256.FusedMultiplyAdd(c7, a, b);
            c8 = Vector256.FusedMultiplyAdd(c8, a, b);
            c9 = Vector256.FusedMultiplyAdd(c9, a, b);
            c10 = Vector256.FusedMultiplyAdd(c10, a, b);
            c11 = Vector256.FusedMultiplyAdd(c11, a, b);
        }

        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    private static void Fill(Random random, Span<float> values, double scale)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = (float)(((random.NextDouble() * 2) - 1) * scale);
        }
    }
}
