using System;
using System.Numerics;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>
/// The kernels store on the output's vector alignment (a first vector up to it, aligned vectors, an overlapping last
/// one): the results must not depend on where the buffers start, and nothing may be written outside the output.
/// </summary>
public abstract class AlignmentTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    // Rows within one chunk, across the tails, and of several chunks at every width (a chunk holds at most 2048 floats).
    private static readonly int[] Classes = [17, 33, 63, 257, 1000, 4100];

    private static readonly T Sentinel = T.CreateTruncating(12345.5);

    [Fact]
    public void LossAndGradient_OutputAtEveryOffsetOfACacheLine_IsBitwiseTheSame()
    {
        const int Rows = 3;
        int offsets = 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        foreach (int width in TestData.WidthBits)
        {
            foreach (int classes in Classes)
            {
                for (int c = 0; c < LabelConfig.All.Length; c++)
                {
                    LabelProblem<T> p = ProblemCache.Labels<T>(Rows, classes, c, variant: 2);
                    int n = p.Logits.Length;
                    var expected = new T[n];
                    T expectedLoss;
                    using (ForcedWidth.Force(width))
                    {
                        expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, expected, classes, p.Options, p.Weights);
                    }

                    for (int offset = 0; offset < offsets; offset++)
                    {
                        // The gradient at every offset of a line, out of place (the logits a few elements off too) and in place.
                        var logits = new T[n + offsets];
                        p.Logits.CopyTo(logits.AsSpan((offset * 5) % offsets));
                        var output = new T[n + (2 * offsets)];
                        var inPlace = new T[n + (2 * offsets)];
                        output.AsSpan().Fill(Sentinel);
                        inPlace.AsSpan().Fill(Sentinel);
                        p.Logits.CopyTo(inPlace.AsSpan(offset));
                        T loss, lossInPlace;
                        using (ForcedWidth.Force(width))
                        {
                            loss = SoftmaxCrossEntropy.LossAndGradient<T>(logits.AsSpan((offset * 5) % offsets, n), p.Labels, output.AsSpan(offset, n), classes, p.Options, p.Weights);
                            lossInPlace = SoftmaxCrossEntropy.LossAndGradient<T>(inPlace.AsSpan(offset, n), p.Labels, inPlace.AsSpan(offset, n), classes, p.Options, p.Weights);
                        }

                        string what = $"width {width}, {p}, output offset {offset}";
                        Check.Bitwise<T>(output.AsSpan(offset, n), expected, what + ": gradient");
                        Check.Bitwise<T>([loss], [expectedLoss], what + ": loss");
                        Check.Bitwise<T>(inPlace.AsSpan(offset, n), expected, what + ": gradient in place");
                        Check.Bitwise<T>([lossInPlace], [expectedLoss], what + ": loss in place");
                        AssertUntouchedOutside(output, offset, n, what);
                        AssertUntouchedOutside(inPlace, offset, n, what + " in place");
                    }
                }
            }
        }
    }

    private static void AssertUntouchedOutside(T[] buffer, int offset, int length, string what)
    {
        for (int i = 0; i < buffer.Length; i++)
        {
            if ((i < offset || i >= offset + length) && buffer[i] != Sentinel)
            {
                throw new XunitException($"{what}: element {i - offset} of the output span, outside it, was written.");
            }
        }
    }
}

public sealed class AlignmentTestsSingle : AlignmentTests<float>
{
}

public sealed class AlignmentTestsDouble : AlignmentTests<double>
{
}
