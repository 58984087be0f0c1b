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
    public static void RowWeightOutOfRange(double value, int row) =>
        throw new ArgumentOutOfRangeException("rowWeights", value,
            string.Create(CultureInfo.InvariantCulture, $"Row weight {value} at row {row} must be finite and >= 0."));

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

    // Tensor overloads (SoftmaxCrossEntropy.Tensors.cs).

    [DoesNotReturn]
    public static void RankZero(string paramName) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'{paramName}' has rank 0; it needs at least one dimension, and the last dimension of the logits holds the classes."),
            paramName);

    [DoesNotReturn]
    public static void NoClasses(string paramName, ReadOnlySpan<nint> lengths) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"The last dimension of '{paramName}' (the classes) has length {lengths[^1]} in shape {Shape(lengths)}; it must be positive."),
            paramName);

    [DoesNotReturn]
    public static void ShapeMismatch(string paramName, ReadOnlySpan<nint> actual, ReadOnlySpan<nint> logits) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'{paramName}' has shape {Shape(actual)}; it must have the shape of 'logits', {Shape(logits)}."),
            paramName);

    [DoesNotReturn]
    public static void RowShapeMismatch(string paramName, ReadOnlySpan<nint> actual, ReadOnlySpan<nint> logits, nint rows) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'{paramName}' has shape {Shape(actual)}; it must hold one element per row of 'logits' {Shape(logits)}: shape {Shape(logits[..^1])} or [{rows}]."),
            paramName);

    [DoesNotReturn]
    public static void ClassAxisOutOfRange(int classAxis, int rank) =>
        throw new ArgumentOutOfRangeException(
            nameof(classAxis),
            classAxis,
            string.Create(CultureInfo.InvariantCulture, $"The class axis {classAxis} is outside the logits' rank {rank}: it must lie in [{-rank}, {rank - 1}] (negative values count from the end)."));

    [DoesNotReturn]
    public static void NoClassesOnAxis(string paramName, ReadOnlySpan<nint> lengths, int axis) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"Dimension {axis} of '{paramName}' (the classes) has length {lengths[axis]} in shape {Shape(lengths)}; it must be positive."),
            paramName);

    [DoesNotReturn]
    public static void PositionShapeMismatch(string paramName, ReadOnlySpan<nint> actual, ReadOnlySpan<nint> logits, int axis, nint positions)
    {
        var expected = new nint[logits.Length - 1];
        logits[..axis].CopyTo(expected);
        logits[(axis + 1)..].CopyTo(expected.AsSpan(axis));
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'{paramName}' has shape {Shape(actual)}; it must hold one element per position of 'logits' {Shape(logits)} with the classes on axis {axis}: shape {Shape(expected)} or [{positions}]."),
            paramName);
    }

    [DoesNotReturn]
    public static void NotRowMajor(string paramName, ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'{paramName}' (shape {Shape(lengths)}, strides {Shape(strides)}) is not contiguous in row-major order, as a transposed, sliced or broadcast view is not. Copy it into a dense tensor first."),
            paramName);

    [DoesNotReturn]
    public static void TooLarge(string paramName, nint length) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'{paramName}' has {length} elements; at most {int.MaxValue} are supported."),
            paramName);

    private static string Shape(ReadOnlySpan<nint> lengths)
    {
        var text = new System.Text.StringBuilder("[");
        for (int i = 0; i < lengths.Length; i++)
        {
            text.Append(i == 0 ? "" : ", ").Append(((long)lengths[i]).ToString(CultureInfo.InvariantCulture));
        }

        return text.Append(']').ToString();
    }

    // Sharded cross-entropy (SoftmaxCrossEntropy.Sharded.cs).

    [DoesNotReturn]
    public static void ShardClassesNotPositive(int shardClasses) =>
        throw new ArgumentOutOfRangeException(nameof(shardClasses), shardClasses,
            string.Create(CultureInfo.InvariantCulture, $"The number of classes in the shard must be positive; it is {shardClasses}."));

    [DoesNotReturn]
    public static void ShardOutsideClasses(int classOffset, int shardClasses, int classes) =>
        throw new ArgumentOutOfRangeException(nameof(classOffset), classOffset,
            string.Create(CultureInfo.InvariantCulture,
                $"The shard's classes [{classOffset}, {(long)classOffset + shardClasses}) are not within [0, {classes})."));

    [DoesNotReturn]
    public static void ShardLogitsNotMultiple(int length, int shardClasses) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"The shard logits length {length} is not a multiple of the number of classes in the shard {shardClasses}."),
            "logits");

    [DoesNotReturn]
    public static void ShardOverlap(string output, string input) =>
        throw new ArgumentException($"'{output}' overlaps '{input}'. No overlap is allowed here.", output);

    // Fused linear head (SoftmaxCrossEntropy.Linear.cs).

    [DoesNotReturn]
    public static void HiddenSizeNotPositive(int hiddenSize) =>
        throw new ArgumentOutOfRangeException(nameof(hiddenSize), hiddenSize,
            string.Create(CultureInfo.InvariantCulture, $"The hidden size must be positive; it is {hiddenSize}."));

    [DoesNotReturn]
    public static void NotMultipleOfHiddenSize(string paramName, int length, int hiddenSize) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'{paramName}' has length {length}, which is not a multiple of the hidden size {hiddenSize}."),
            paramName);

    [DoesNotReturn]
    public static void NoClassesInWeight(int hiddenSize) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'weight' is empty: it must hold at least one class of {hiddenSize} elements."),
            "weight");

    [DoesNotReturn]
    public static void EmptyOrLength(string paramName, int actual, int expected, string what) =>
        throw new ArgumentException(
            string.Create(CultureInfo.InvariantCulture, $"'{paramName}' has length {actual}; it must be empty or have {expected} ({what})."),
            paramName);

    [DoesNotReturn]
    public static void BiasGradientWithoutBias() =>
        throw new ArgumentException("'biasGradient' is not empty but 'bias' is: there is no bias to take the gradient of.", "biasGradient");
}
