using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftmaxCE.Internals;

/// <summary>
/// Argument checks shared by the entry points. Every check runs before any output is written, so a call
/// that throws leaves every buffer as it was.
/// </summary>
internal static class Validation
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ElementType<T>()
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
        {
            ThrowHelper.TypeNotSupported(typeof(T));
        }
    }

    /// <summary>Checks <paramref name="classes"/> and the logits length, and returns the number of rows.</summary>
    public static int Rows(int logitsLength, int classes)
    {
        if (classes <= 0)
        {
            ThrowHelper.ClassesNotPositive(classes);
        }

        if (logitsLength % classes != 0)
        {
            ThrowHelper.LogitsNotMultipleOfClasses(logitsLength, classes);
        }

        return logitsLength / classes;
    }

    public static void Length(int actual, int expected, string paramName, string what)
    {
        if (actual != expected)
        {
            ThrowHelper.LengthMismatch(paramName, actual, expected, what);
        }
    }

    public static void ClassWeights(int length, int classes)
    {
        if (length != 0 && length != classes)
        {
            ThrowHelper.ClassWeightsLength(length, classes);
        }
    }

    public static void Options(in CrossEntropyOptions options)
    {
        if (options.Reduction is not (Reduction.Mean or Reduction.Sum))
        {
            ThrowHelper.ReductionUndefined(options.Reduction);
        }

        if (!(options.LabelSmoothing >= 0 && options.LabelSmoothing <= 1))
        {
            ThrowHelper.LabelSmoothingOutOfRange(options.LabelSmoothing);
        }

        MaxDegreeOfParallelism(options.MaxDegreeOfParallelism, nameof(options));
        if (!(options.ZLoss >= 0 && double.IsFinite(options.ZLoss)))
        {
            ThrowHelper.OptionOutOfRange(nameof(options.ZLoss), options.ZLoss, "finite and >= 0");
        }

        if (!(options.LogitSoftcap >= 0 && double.IsFinite(options.LogitSoftcap)))
        {
            ThrowHelper.OptionOutOfRange(nameof(options.LogitSoftcap), options.LogitSoftcap, "0 (off), or finite and > 0");
        }

        if (options.Denominator is double d && !(d > 0 && double.IsFinite(d)))
        {
            ThrowHelper.OptionOutOfRange(nameof(options.Denominator), d, "finite and > 0");
        }
    }

    public static void MaxDegreeOfParallelism(int value, string paramName)
    {
        if (value < 0)
        {
            ThrowHelper.MaxDegreeOfParallelismNegative(value, paramName);
        }
    }

    /// <summary>
    /// Refuses an output that overlaps an input, except (when <paramref name="allowSame"/>) the very same
    /// memory: same start, same length.
    /// </summary>
    public static void NoOverlap<TOut, TIn>(ReadOnlySpan<TOut> output, ReadOnlySpan<TIn> input, bool allowSame, string outputName, string inputName)
        where TOut : unmanaged
        where TIn : unmanaged
    {
        ReadOnlySpan<byte> o = MemoryMarshal.AsBytes(output);
        ReadOnlySpan<byte> i = MemoryMarshal.AsBytes(input);
        if (o.Overlaps(i, out int offset) && !(allowSame && offset == 0 && o.Length == i.Length))
        {
            ThrowHelper.Overlap(outputName, inputName);
        }
    }

    /// <summary>
    /// Checks every label, and returns the mean's denominator (the number of counted rows, or the sum of
    /// the class weights of their labels, added in row order) and the number of counted rows.
    /// </summary>
    public static LabelCounts Labels<T>(ReadOnlySpan<int> labels, int classes, int? ignoreIndex, ReadOnlySpan<T> classWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool hasIgnore = ignoreIndex.HasValue;
        int ignore = ignoreIndex.GetValueOrDefault();
        double denominator = 0;
        int counted = 0;
        for (int row = 0; row < labels.Length; row++)
        {
            int label = labels[row];
            if (hasIgnore && label == ignore)
            {
                continue;
            }

            if ((uint)label >= (uint)classes)
            {
                ThrowHelper.LabelOutOfRange(label, row, classes);
            }

            denominator += classWeights.IsEmpty ? 1 : double.CreateTruncating(classWeights[label]);
            counted++;
        }

        return new LabelCounts(denominator, counted);
    }
}

/// <summary>What the labels of a call imply for its mean: the denominator, and how many rows are counted.</summary>
internal readonly record struct LabelCounts(double Denominator, int Counted);
