using System.Collections.Generic;

namespace Benchmarks;

/// <summary>The language-model shapes that issue 10's speed targets name.</summary>
internal static class AutogradShapes
{
    public static IEnumerable<Shape> All { get; } =
    [
        new(256, 32000),
        new(64, 128256),
        new(4096, 32000),
    ];
}
