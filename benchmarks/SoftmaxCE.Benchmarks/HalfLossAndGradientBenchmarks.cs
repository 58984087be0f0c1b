using System;
using System.Collections.Generic;
using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using SoftmaxCE;

namespace Benchmarks;

/// <summary>
/// Half logits: the fused loss and gradient on Half logits against the same call on float logits (the baseline),
/// next to a copy of the same Half bytes and of the float bytes (the memory rooflines), and the conversions alone (each chunk
/// widened into a cache-sized float scratch and narrowed back), which show how much of the Half time is conversion.
/// </summary>
/// <remarks>
/// 1024 x 1000 fits in cache: there float's time is its compute floor. The Half and float logits hold the same values
/// (uniform in [-5, 5], rounded to Half). In place, each call's gradient is the next call's logits, as in
/// <see cref="FusedLossAndGradientBenchmarks"/>.
/// </remarks>
[MemoryDiagnoser]
public unsafe class HalfLossAndGradientBenchmarks : NativeBuffers
{
    private const int ChunkElements = 16384;

    private float* _floatLogits;
    private float* _floatGradient;
    private float* _floatInPlace;
    private Half* _halfLogits;
    private Half* _halfGradient;
    private Half* _halfInPlace;
    private float* _scratch;
    private int* _labels;

    /// <summary>The in-cache floor and the three language-model shapes of the issue.</summary>
    public static IEnumerable<Shape> Shapes { get; } =
    [
        new(1024, 1000),
        new(256, 32000),
        new(64, 128256),
        new(4096, 32000),
    ];

    /// <summary>The shape of this case.</summary>
    [ParamsSource(nameof(Shapes))]
    public Shape Shape { get; set; }

    private int Elements => Shape.Elements;

    /// <summary>Allocates and fills every buffer.</summary>
    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(Seed);
        _floatLogits = Allocate<float>(Elements);
        _floatGradient = Allocate<float>(Elements);
        _floatInPlace = Allocate<float>(Elements);
        _halfLogits = Allocate<Half>(Elements);
        _halfGradient = Allocate<Half>(Elements);
        _halfInPlace = Allocate<Half>(Elements);
        _scratch = Allocate<float>(Math.Max(ChunkElements, Shape.Classes));
        _labels = Allocate<int>(Shape.Rows);
        FillLogits(random, new Span<Half>(_halfLogits, Elements));
        TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(_halfLogits, Elements), new Span<float>(_floatLogits, Elements));
        new Span<float>(_floatLogits, Elements).CopyTo(new Span<float>(_floatInPlace, Elements));
        new Span<Half>(_halfLogits, Elements).CopyTo(new Span<Half>(_halfInPlace, Elements));
        FillLabels(random, new Span<int>(_labels, Shape.Rows), Shape.Classes);
    }

    /// <summary>Float, gradient into a separate buffer: the baseline.</summary>
    [Benchmark(Baseline = true)]
    public float FloatFused() => SoftmaxCrossEntropy.LossAndGradient<float>(
        new ReadOnlySpan<float>(_floatLogits, Elements), new ReadOnlySpan<int>(_labels, Shape.Rows), new Span<float>(_floatGradient, Elements), Shape.Classes, OneThread);

    /// <summary>Float, gradient over the logits.</summary>
    [Benchmark]
    public float FloatFusedInPlace() => SoftmaxCrossEntropy.LossAndGradient<float>(
        new ReadOnlySpan<float>(_floatInPlace, Elements), new ReadOnlySpan<int>(_labels, Shape.Rows), new Span<float>(_floatInPlace, Elements), Shape.Classes, OneThread);

    /// <summary>Half, gradient into a separate buffer.</summary>
    [Benchmark]
    public Half HalfFused() => SoftmaxCrossEntropy.LossAndGradient<Half>(
        new ReadOnlySpan<Half>(_halfLogits, Elements), new ReadOnlySpan<int>(_labels, Shape.Rows), new Span<Half>(_halfGradient, Elements), Shape.Classes, OneThread);

    /// <summary>Half, gradient over the logits.</summary>
    [Benchmark]
    public Half HalfFusedInPlace() => SoftmaxCrossEntropy.LossAndGradient<Half>(
        new ReadOnlySpan<Half>(_halfInPlace, Elements), new ReadOnlySpan<int>(_labels, Shape.Rows), new Span<Half>(_halfInPlace, Elements), Shape.Classes, OneThread);

    /// <summary>A copy of the float bytes: float's memory roofline out of place.</summary>
    [Benchmark]
    public void FloatCopy() => new ReadOnlySpan<float>(_floatLogits, Elements).CopyTo(new Span<float>(_floatGradient, Elements));

    /// <summary>A copy of the Half bytes: Half's memory roofline out of place.</summary>
    [Benchmark]
    public void HalfCopy() => new ReadOnlySpan<Half>(_halfLogits, Elements).CopyTo(new Span<Half>(_halfGradient, Elements));

    /// <summary>The Half layer without the kernel: each chunk widened into a float scratch and narrowed into the gradient, with the library's conversions (F16C where the CPU has it).</summary>
    [Benchmark]
    public void HalfConvertOnly() => ConvertChunks(&SoftmaxCE.Kernels.HalfConversion.Widen, &SoftmaxCE.Kernels.HalfConversion.Narrow);

    /// <summary>The same with the library's vector-arithmetic conversions, its path where F16C is not available.</summary>
    [Benchmark]
    public void HalfConvertOnlyArithmetic() => ConvertChunks(&SoftmaxCE.Kernels.HalfConversion.WidenArithmetic, &SoftmaxCE.Kernels.HalfConversion.NarrowArithmetic);

    /// <summary>The same with <see cref="TensorPrimitives"/>' conversions, which the library does not use.</summary>
    [Benchmark]
    public void HalfConvertOnlyTensorPrimitives() => ConvertChunks(&TensorPrimitives.ConvertToSingle, &TensorPrimitives.ConvertToHalf);

    private void ConvertChunks(delegate*<ReadOnlySpan<Half>, Span<float>, void> widen, delegate*<ReadOnlySpan<float>, Span<Half>, void> narrow)
    {
        int chunk = Math.Max(ChunkElements / Shape.Classes, 1) * Shape.Classes;
        for (int start = 0; start < Elements; start += chunk)
        {
            int n = Math.Min(chunk, Elements - start);
            widen(new ReadOnlySpan<Half>(_halfLogits + start, n), new Span<float>(_scratch, n));
            narrow(new ReadOnlySpan<float>(_scratch, n), new Span<Half>(_halfGradient + start, n));
        }
    }
}
