using System;
using System.Collections.Generic;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;
using SoftmaxCE.Kernels;

namespace Benchmarks;

/// <summary>
/// The float exponential: the BCL's <c>Vector512.Exp</c> (which widens to double) against the kernels'
/// <c>ExpSingle</c> (2^t by a degree-5 polynomial and vscalefps), over 64 Ki values already in L1/L2.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float))]
public unsafe class ExpVariantBenchmarks : NativeBuffers
{
    private const int Length = 1 << 16;
    private float* _input;
    private float* _output;

    /// <summary>The one shape: 64 Ki values.</summary>
    public static IEnumerable<Shape> Shapes => [new(1, Length)];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Values in [-20, 0], as <c>y - max</c> is.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(Seed);
        _input = Allocate<float>(Length);
        _output = Allocate<float>(Length);
        for (int i = 0; i < Length; i++)
        {
            _input[i] = (float)(random.NextDouble() * -20);
        }
    }

    /// <summary>The BCL's vector exp.</summary>
    [Benchmark(Baseline = true)]
    public void Vector512Exp()
    {
        for (int i = 0; i < Length; i += Vector512<float>.Count)
        {
            Vector512.Exp(Vector512.Load(_input + i)).Store(_output + i);
        }
    }

    /// <summary>The kernels' exp.</summary>
    [Benchmark]
    public void ExpSingle2t()
    {
        for (int i = 0; i < Length; i += Vector512<float>.Count)
        {
            ExpSingle.ExpDifference(Vector512.Load(_input + i), Vector512<float>.Zero).Store(_output + i);
        }
    }
}

/// <summary>
/// Rows of at most 16 floats: the rows-across-lanes kernel (W rows transposed in registers, at every width) against one row per vector (with a horizontal
/// max, sum and a scalar logarithm per row), both through the public fused call.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(float), bytesPerRow: sizeof(int))]
public unsafe class ShortRowKernelBenchmarks : NativeBuffers
{
    private float* _logits;
    private float* _gradient;
    private int* _labels;

    /// <summary>Small-classifier shapes.</summary>
    public static IEnumerable<Shape> Shapes => [new(4096, 10), new(4096, 16), new(4096, 3)];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Whether the transposed kernel is on.</summary>
    [Params(true, false)]
    public bool Transposed { get; set; }

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        ShortRowsLanes.Enabled = Transposed;
        var random = new Random(Seed);
        _logits = Allocate<float>(Shape.Elements);
        _gradient = Allocate<float>(Shape.Elements);
        _labels = Allocate<int>(Shape.Rows);
        FillLogits(random, new Span<float>(_logits, Shape.Elements));
        FillLabels(random, new Span<int>(_labels, Shape.Rows), Shape.Classes);
    }

    /// <summary>Turns the transposed kernel back on.</summary>
    [GlobalCleanup(Target = nameof(SoftmaxCE))]
    public void Restore() => ShortRowsLanes.Enabled = true;

    /// <summary>The fused call, single-threaded.</summary>
    [Benchmark]
    public float SoftmaxCE() => SoftmaxCrossEntropy.LossAndGradient(
        new ReadOnlySpan<float>(_logits, Shape.Elements), new ReadOnlySpan<int>(_labels, Shape.Rows), new Span<float>(_gradient, Shape.Elements),
        Shape.Classes, new CrossEntropyOptions { MaxDegreeOfParallelism = 1 });
}

/// <summary>
/// The double exponential: the BCL's <c>Vector512.Exp</c> against the kernels' <c>ExpDouble</c> (2^t by a degree-13
/// polynomial and vscalefpd), over 32 Ki values already in L1/L2.
/// </summary>
[MemoryDiagnoser]
[MemoryTraffic(bytesPerElement: 2 * sizeof(double))]
public unsafe class ExpDoubleVariantBenchmarks : NativeBuffers
{
    private const int Length = 1 << 15;
    private double* _input;
    private double* _output;

    /// <summary>The one shape: 32 Ki values.</summary>
    public static IEnumerable<Shape> Shapes => [new(1, Length)];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    /// <summary>Values in [-20, 0], as <c>y - max</c> is.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(Seed);
        _input = Allocate<double>(Length);
        _output = Allocate<double>(Length);
        for (int i = 0; i < Length; i++)
        {
            _input[i] = random.NextDouble() * -20;
        }
    }

    /// <summary>The BCL's vector exp.</summary>
    [Benchmark(Baseline = true)]
    public void Vector512Exp()
    {
        for (int i = 0; i < Length; i += Vector512<double>.Count)
        {
            Vector512.Exp(Vector512.Load(_input + i)).Store(_output + i);
        }
    }

    /// <summary>The kernels' exp.</summary>
    [Benchmark]
    public void ExpDouble2t()
    {
        for (int i = 0; i < Length; i += Vector512<double>.Count)
        {
            ExpDouble.ExpDifference(Vector512.Load(_input + i), Vector512<double>.Zero).Store(_output + i);
        }
    }
}
