using System;

namespace SoftmaxCE.Benchmarks.Torch;

/// <summary>A benchmark shape: <c>M</c> rows of <c>C</c> classes. Shown as e.g. "4096x32000".</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1036", Justification = "Comparable only so BenchmarkDotNet can order parameter values; no operators needed.")]
public sealed class Shape : IComparable<Shape>, IComparable
{
    public Shape(int rows, int classes)
    {
        Rows = rows;
        Classes = classes;
    }

    /// <summary>M, the number of rows (batch size).</summary>
    public int Rows { get; }

    /// <summary>C, the number of classes (row length).</summary>
    public int Classes { get; }

    /// <summary>M * C.</summary>
    public long Elements => (long)Rows * Classes;

    public override string ToString() => $"{Rows}x{Classes}";

    /// <summary>Orders by size (M * C), then by M, so tables list shapes smallest first rather than as strings.</summary>
    public int CompareTo(Shape? other) =>
        other is null ? 1 : Elements != other.Elements ? Elements.CompareTo(other.Elements) : Rows.CompareTo(other.Rows);

    public int CompareTo(object? obj) => CompareTo(obj as Shape);
}
