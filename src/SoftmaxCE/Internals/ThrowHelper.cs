using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

// The parameter names below are those of the public methods that call these helpers.
#pragma warning disable CA2208

namespace SoftmaxCE.Internals;

/// <summary>Every exception the library throws, with its message, in one place.</summary>
[StackTraceHidden]
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ClassesNotPositive(int classes) =>
        throw new ArgumentOutOfRangeException(nameof(classes), classes, $"The number of classes must be positive; it is {classes}.");

    [DoesNotReturn]
    public static void LogitsNotMultipleOfClasses(int length, int classes) =>
        throw new ArgumentException($"The logits length {length} is not a multiple of the number of classes {classes}.", "logits");

    [DoesNotReturn]
    public static void LengthMismatch(string paramName, int actual, int expected, string what) =>
        throw new ArgumentException($"'{paramName}' has length {actual}; it must have {expected} ({what}).", paramName);

    [DoesNotReturn]
    public static void ClassWeightsLength(int actual, int classes) =>
        throw new ArgumentException($"'classWeights' has length {actual}; it must be empty or have one weight per class ({classes}).", "classWeights");

    [DoesNotReturn]
    public static void LabelOutOfRange(int label, int row, int classes) =>
        throw new ArgumentOutOfRangeException("labels", label,
            string.Create(CultureInfo.InvariantCulture, $"Label {label} at row {row} is outside [0, {classes})."));

    [DoesNotReturn]
    public static void LabelSmoothingOutOfRange(double value) =>
        throw new ArgumentOutOfRangeException("options",
            string.Create(CultureInfo.InvariantCulture, $"LabelSmoothing must be in [0, 1]; it is {value}."));

    [DoesNotReturn]
    public static void MaxDegreeOfParallelismNegative(int value, string paramName) =>
        throw new ArgumentOutOfRangeException(paramName, value, $"MaxDegreeOfParallelism must be 0 (all cores) or positive; it is {value}.");

    [DoesNotReturn]
    public static void OptionOutOfRange(string option, double value, string rule) =>
        throw new ArgumentOutOfRangeException("options",
            string.Create(CultureInfo.InvariantCulture, $"{option} must be {rule}; it is {value}."));

    [DoesNotReturn]
    public static void ReductionUndefined(Reduction value) =>
        throw new ArgumentOutOfRangeException("options", $"Reduction {(int)value} is not a defined value of {nameof(Reduction)}.");

    [DoesNotReturn]
    public static void Overlap(string output, string input) =>
        throw new ArgumentException(
            $"'{output}' overlaps '{input}'. An output may be the very same memory as the logits (in place), but no other overlap is allowed.",
            output);

    [DoesNotReturn]
    public static void TypeNotSupported(Type type) =>
        throw new NotSupportedException($"Element type {type} is not supported; use float or double.");
}
