using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
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

    /// <summary>float, double, or <see cref="Half"/> (which the methods that support it route to SoftmaxCrossEntropy.Half.cs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ElementTypeOrHalf<T>()
    {
        if (typeof(T) != typeof(Half))
        {
            ElementType<T>();
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

        if (!(options.LogitScale >= 0 && double.IsFinite(options.LogitScale)))
        {
            ThrowHelper.OptionOutOfRange(nameof(options.LogitScale), options.LogitScale, "0 (meaning 1), or finite and > 0");
        }
    }

    /// <summary>Checks row weights: empty, or one finite, non-negative weight per row.</summary>
    public static void RowWeights<T>(ReadOnlySpan<T> rowWeights, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rowWeights.IsEmpty)
        {
            return;
        }

        Length(rowWeights.Length, rows, nameof(rowWeights), "one weight per row, or none");
        for (int row = 0; row < rowWeights.Length; row++)
        {
            T w = rowWeights[row];
            if (!(w >= T.Zero && T.IsFinite(w)))
            {
                ThrowHelper.RowWeightOutOfRange(double.CreateTruncating(w), row);
            }
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

    /// <summary>The number of labels that are not ignored, or -1 if any label is out of range (the caller then finds and reports it).</summary>
    private static int CountValidLabels(ReadOnlySpan<int> labels, int classes, bool hasIgnore, int ignore)
    {
        Vector512<int> ignoreV = Vector512.Create(ignore);
        Vector512<uint> classesV = Vector512.Create((uint)classes);
        Vector512<int> bad = Vector512<int>.Zero;
        int ignored = 0;
        int last = labels.Length - Vector512<int>.Count;
        for (int i = 0; ; i += Vector512<int>.Count)
        {
            bool tail = i >= last;
            int start = tail ? last : i;
            Vector512<int> v = Vector512.Create(labels.Slice(start, Vector512<int>.Count));
            Vector512<int> isIgnored = hasIgnore ? Vector512.Equals(v, ignoreV) : Vector512<int>.Zero;
            bad |= Vector512.GreaterThanOrEqual(v.AsUInt32(), classesV).AsInt32() & ~isIgnored;
            ulong ignoredBits = isIgnored.ExtractMostSignificantBits();
            if (tail)
            {
                // The last vector overlaps the one before: count only its lanes past i.
                ignoredBits >>= i - last;
                ignored += BitOperations.PopCount(ignoredBits);
                break;
            }

            ignored += BitOperations.PopCount(ignoredBits);
        }

        return bad == Vector512<int>.Zero ? labels.Length - ignored : -1;
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
        if (classWeights.IsEmpty && Vector512.IsHardwareAccelerated && labels.Length >= Vector512<int>.Count)
        {
            // Unweighted, the denominator is a count: check and count sixteen labels at a time. At C = 10 the
            // scalar loop cost a tenth of the whole fused call.
            int count = CountValidLabels(labels, classes, hasIgnore, ignore);
            if (count >= 0)
            {
                return new LabelCounts(count, count);
            }
        }

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
