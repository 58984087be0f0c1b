using System;

namespace Benchmarks;

/// <summary>
/// The bytes an operation must move across the memory bus, which the "GB/s" column divides by the median time.
/// Put it on a benchmark class for the operation the class measures, and on a method whose traffic differs
/// (the <c>Copy</c> baseline): the method's attribute wins.
/// </summary>
/// <remarks>
/// Count the least traffic the operation needs, not what one implementation happens to move: read the logits once,
/// write the output once, read the targets once. A two-pass kernel whose rows stay in cache moves exactly that;
/// a chain of passes that spill to memory moves more and so shows a lower GB/s, which is the point of the column.
/// </remarks>
/// <param name="bytesPerElement">Bytes per logit: 8 for float logits in and output out, 16 for double, +4/+8 for dense targets.</param>
/// <param name="bytesPerRow">Bytes per row on top of that: 4 for an <see cref="int"/> class-index label.</param>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, Inherited = true, AllowMultiple = false)]
public sealed class MemoryTrafficAttribute(int bytesPerElement, int bytesPerRow = 0) : Attribute
{
    /// <summary>Bytes moved per element of the [M, C] logits.</summary>
    public int BytesPerElement { get; } = bytesPerElement;

    /// <summary>Bytes moved per row (the labels).</summary>
    public int BytesPerRow { get; } = bytesPerRow;

    /// <summary>The total bytes for one call over <paramref name="shape"/>.</summary>
    public double BytesFor(Shape shape) => (double)BytesPerElement * shape.Elements + (double)BytesPerRow * shape.Rows;
}
