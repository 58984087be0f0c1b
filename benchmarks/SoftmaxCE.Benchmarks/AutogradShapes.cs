using System.Collections.Generic;

namespace Benchmarks;

/// <summary>Language-model shapes: vocabularies of 32000 and 128256 classes, from 64 to 4096 rows.</summary>
internal static class AutogradShapes
{
    public static IEnumerable<Shape> All { get; } =
    [
        new(256, 32000),
        new(64, 128256),
        new(4096, 32000),
    ];
}
