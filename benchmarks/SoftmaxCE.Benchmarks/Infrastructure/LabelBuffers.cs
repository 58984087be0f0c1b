using System;
using System.Numerics;

namespace Benchmarks;

/// <summary>
/// The buffers of every class-index benchmark: logits, a gradient buffer, a copy of the logits for in-place calls,
/// and labels, for one shape, allocated and filled once in the derived class's [GlobalSetup].
/// </summary>
/// <remarks>
/// In place, the gradient overwrites the logits, so every call after the first sees the previous gradient as its
/// logits. Those values lie in about [-1/M, 1/M]: perfectly good logits, so repeated calls stay finite and do the
/// same work (the kernels have no value-dependent branches).
/// </remarks>
public abstract unsafe class LabelBuffers<T> : NativeBuffers
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private T* _logits;
    private T* _gradient;
    private T* _inPlace;
    private int* _labels;
    private int _elements;
    private int _rows;

    /// <summary>The logits, uniform in [-5, 5].</summary>
    protected ReadOnlySpan<T> Logits => new(_logits, _elements);

    /// <summary>The out-of-place output.</summary>
    protected Span<T> Gradient => new(_gradient, _elements);

    /// <summary>A copy of the logits that in-place calls overwrite.</summary>
    protected Span<T> InPlace => new(_inPlace, _elements);

    /// <summary>The logits' address, for code that cannot hold a span (a lambda).</summary>
    protected T* LogitsPointer => _logits;

    /// <summary>The gradient buffer's address.</summary>
    protected T* GradientPointer => _gradient;

    /// <summary>Class-index labels, uniform in [0, C).</summary>
    protected ReadOnlySpan<int> Labels => new(_labels, _rows);

    /// <summary>Allocates and fills the buffers for <paramref name="shape"/>, always from the same seed.</summary>
    protected void AllocateLabelBuffers(Shape shape)
    {
        var random = new Random(Seed);
        _elements = shape.Elements;
        _rows = shape.Rows;
        _logits = Allocate<T>(_elements);
        _gradient = Allocate<T>(_elements);
        _inPlace = Allocate<T>(_elements);
        _labels = Allocate<int>(_rows);
        FillLogits(random, new Span<T>(_logits, _elements));
        Logits.CopyTo(InPlace);
        FillLabels(random, new Span<int>(_labels, _rows), shape.Classes);
    }
}
