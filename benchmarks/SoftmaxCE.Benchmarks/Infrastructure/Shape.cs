using System;
using System.Collections.Generic;
using System.Globalization;

namespace Benchmarks;

/// <summary>
/// One benchmark shape: <see cref="Rows"/> (M, the batch) by <see cref="Classes"/> (C, the classes).
/// A single parameter of this type keeps BenchmarkDotNet from making a cross product of M and C.
/// </summary>
/// <remarks>Ordered by element count so tables read from the smallest shape to the largest.</remarks>
public readonly record struct Shape(int Rows, int Classes) : IComparable<Shape>, IComparable
{
    /// <summary>The five shapes users have: small classifiers, ImageNet, and LLM vocabularies.</summary>
    public static IEnumerable<Shape> All { get; } =
    [
        new(4096, 10),
        new(1024, 1000),
        new(256, 32000),
        new(64, 128256),
        new(4096, 32000),
    ];

    /// <summary>The three shapes the secondary classes run, to keep the default run short.</summary>
    public static IEnumerable<Shape> Common { get; } =
    [
        new(4096, 10),
        new(1024, 1000),
        new(256, 32000),
    ];

    /// <summary>M * C.</summary>
    public int Elements => checked(Rows * Classes);

    /// <inheritdoc/>
    public int CompareTo(Shape other)
    {
        int byElements = ((long)Rows * Classes).CompareTo((long)other.Rows * other.Classes);
        return byElements != 0 ? byElements : Classes.CompareTo(other.Classes);
    }

    /// <inheritdoc/>
    public int CompareTo(object? obj) => obj is Shape other ? CompareTo(other) : 1;

    /// <summary>"MxC", for example "4096x32000": the text in the Shape column.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Rows}x{Classes}");

    public static bool operator <(Shape left, Shape right) => left.CompareTo(right) < 0;

    public static bool operator >(Shape left, Shape right) => left.CompareTo(right) > 0;

    public static bool operator <=(Shape left, Shape right) => left.CompareTo(right) <= 0;

    public static bool operator >=(Shape left, Shape right) => left.CompareTo(right) >= 0;
}
