using System;
using System.Linq;
using System.Numerics;
using System.Runtime.InteropServices;
using FluentAssertions;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The operations the validation tests run.</summary>
public static class ValidationData
{
    public static TheoryData<string> LabelOps() => new() { "Loss", "RowLosses", "Backward", "LossAndGradient" };

    public static TheoryData<string> DenseOps() => new() { "Loss", "Backward", "LossAndGradient" };

    public static TheoryData<string> SoftmaxOps() => new() { "Softmax", "LogSoftmax" };

    public static TheoryData<string> GradientOps() => new() { "Backward", "LossAndGradient" };

    public static TheoryData<string, double> LabelOpsAndBadSmoothing()
    {
        var data = new TheoryData<string, double>();
        foreach (string op in new[] { "Loss", "RowLosses", "Backward", "LossAndGradient" })
        {
            foreach (double eps in new[] { -0.1, -double.Epsilon, 1.0000001, 2, double.NaN, double.PositiveInfinity, double.NegativeInfinity })
            {
                data.Add(op, eps);
            }
        }

        return data;
    }
}

/// <summary>
/// Bad arguments: each must throw an <see cref="ArgumentException"/> (or a subclass) naming the right parameter,
/// and leave every output buffer (and the logits, in place) bitwise as it was.
/// </summary>
public abstract class ValidationTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private const int Rows = 4;
    private const int Classes = 5;
    private const int N = Rows * Classes;

    private static T[] Sentinel(int length)
    {
        var a = new T[length];
        MemoryMarshal.AsBytes(a.AsSpan()).Fill(0xA5);
        return a;
    }

    private static T[] RandomLogits(int length, int seed = 1) => Data<T>.Logits(new Random(seed), length);

    private static int[] ValidLabels(int rows = Rows, int classes = Classes) => Data<T>.Labels(new Random(2), rows, classes);

    private static T[] ValidTargets(int length = N) => Data<T>.Targets(new Random(3), length / Classes, Classes, TargetKind.Distribution);

    private static T[] ValidWeights(int classes = Classes) => Data<T>.Weights(new Random(4), classes);

    /// <summary>Runs <paramref name="call"/>, expects an ArgumentException for <paramref name="paramName"/>, and checks the buffers are untouched.</summary>
    private static ArgumentException Rejects(string paramName, Action call, params T[][] untouched)
    {
        T[][] snapshots = [.. untouched.Select(b => (T[])b.Clone())];
        ArgumentException e = call.Should().Throw<ArgumentException>().Which;
        e.ParamName.Should().Be(paramName, "the exception was: {0}", e.Message);
        for (int b = 0; b < untouched.Length; b++)
        {
            Check.Bitwise<T>(untouched[b], snapshots[b], $"buffer {b} after the rejected call");
        }

        return e;
    }

    private static void LabelCall(string op, ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> output, int classes, CrossEntropyOptions options, ReadOnlySpan<T> weights)
    {
        switch (op)
        {
            case "Loss":
                SoftmaxCrossEntropy.Loss(logits, labels, classes, options, weights);
                break;
            case "RowLosses":
                SoftmaxCrossEntropy.RowLosses(logits, labels, output, classes, options, weights);
                break;
            case "Backward":
                SoftmaxCrossEntropy.Backward(logits, labels, output, classes, options, weights);
                break;
            case "LossAndGradient":
                SoftmaxCrossEntropy.LossAndGradient(logits, labels, output, classes, options, weights);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    private static void DenseCall(string op, ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, Span<T> output, int classes, CrossEntropyOptions options, ReadOnlySpan<T> weights)
    {
        switch (op)
        {
            case "Loss":
                SoftmaxCrossEntropy.Loss(logits, targets, classes, options, weights);
                break;
            case "Backward":
                SoftmaxCrossEntropy.Backward(logits, targets, output, classes, options, weights);
                break;
            case "LossAndGradient":
                SoftmaxCrossEntropy.LossAndGradient(logits, targets, output, classes, options, weights);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    private static void SoftmaxCall(string op, ReadOnlySpan<T> logits, Span<T> output, int classes)
    {
        if (op == "Softmax")
        {
            SoftmaxCrossEntropy.Softmax(logits, output, classes);
        }
        else
        {
            SoftmaxCrossEntropy.LogSoftmax(logits, output, classes);
        }
    }

    private static string SoftmaxOutputName(string op) => op == "Softmax" ? "probabilities" : "logProbabilities";

    /// <summary>The output of a label operation: one loss per row for RowLosses, else a gradient.</summary>
    private static int LabelOutputLength(string op, int rows, int classes) => op == "RowLosses" ? rows : rows * classes;

    // ---- Softmax and LogSoftmax ----

    [Theory]
    [MemberData(nameof(ValidationData.SoftmaxOps), MemberType = typeof(ValidationData))]
    public void SoftmaxOp_LogitsLengthNotAMultipleOfClasses_ThrowsAndLeavesOutputUntouched(string op)
    {
        T[] logits = RandomLogits(N - 1), output = Sentinel(N - 1);
        Rejects("logits", () => SoftmaxCall(op, logits, output, Classes), output, logits);
    }

    [Theory]
    [MemberData(nameof(ValidationData.SoftmaxOps), MemberType = typeof(ValidationData))]
    public void SoftmaxOp_ClassesNotPositive_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int classes in new[] { 0, -1, int.MinValue })
        {
            T[] logits = RandomLogits(N), output = Sentinel(N);
            Rejects("classes", () => SoftmaxCall(op, logits, output, classes), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.SoftmaxOps), MemberType = typeof(ValidationData))]
    public void SoftmaxOp_OutputWrongLength_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int length in new[] { 0, N - 1, N + 1, N - Classes })
        {
            T[] logits = RandomLogits(N), output = Sentinel(length);
            Rejects(SoftmaxOutputName(op), () => SoftmaxCall(op, logits, output, Classes), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.SoftmaxOps), MemberType = typeof(ValidationData))]
    public void SoftmaxOp_OutputPartiallyOverlapsLogits_ThrowsAndLeavesBufferUntouched(string op)
    {
        foreach (int shift in new[] { 1, -1, Classes, -(N - 1) })
        {
            T[] buffer = RandomLogits(N + Math.Abs(shift));
            int logitsAt = shift > 0 ? 0 : -shift, outputAt = shift > 0 ? shift : 0;
            Rejects(SoftmaxOutputName(op), () => SoftmaxCall(op, buffer.AsSpan(logitsAt, N), buffer.AsSpan(outputAt, N), Classes), buffer);
        }
    }

    // ---- Class-index labels ----

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_LogitsLengthNotAMultipleOfClasses_ThrowsAndLeavesOutputUntouched(string op)
    {
        T[] logits = RandomLogits(N + 2), output = Sentinel(LabelOutputLength(op, Rows, Classes) + 2);
        Rejects("logits", () => LabelCall(op, logits, ValidLabels(), output, Classes, default, default), output, logits);
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_ClassesNotPositive_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int classes in new[] { 0, -5 })
        {
            T[] logits = RandomLogits(N), output = Sentinel(LabelOutputLength(op, Rows, Classes));
            Rejects("classes", () => LabelCall(op, logits, ValidLabels(), output, classes, default, default), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_LabelsWrongLength_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int length in new[] { 0, Rows - 1, Rows + 1 })
        {
            T[] logits = RandomLogits(N), output = Sentinel(LabelOutputLength(op, Rows, Classes));
            Rejects("labels", () => LabelCall(op, logits, ValidLabels(length), output, Classes, default, default), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_ClassWeightsWrongLength_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int length in new[] { 1, Classes - 1, Classes + 1 })
        {
            T[] logits = RandomLogits(N), output = Sentinel(LabelOutputLength(op, Rows, Classes)), weights = ValidWeights(length);
            Rejects("classWeights", () => LabelCall(op, logits, ValidLabels(), output, Classes, default, weights), output, logits, weights);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOpsAndBadSmoothing), MemberType = typeof(ValidationData))]
    public void LabelOp_LabelSmoothingOutsideZeroToOne_ThrowsAndLeavesOutputUntouched(string op, double smoothing)
    {
        T[] logits = RandomLogits(N), output = Sentinel(LabelOutputLength(op, Rows, Classes));
        Rejects("options", () => LabelCall(op, logits, ValidLabels(), output, Classes, new() { LabelSmoothing = smoothing }, default), output, logits);
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_UndefinedReduction_ThrowsAndLeavesOutputUntouched(string op)
    {
        if (op == "RowLosses")
        {
            return; // RowLosses documents that it does not use the reduction.
        }

        foreach (int reduction in new[] { 2, -1 })
        {
            T[] logits = RandomLogits(N), output = Sentinel(LabelOutputLength(op, Rows, Classes));
            Rejects("options", () => LabelCall(op, logits, ValidLabels(), output, Classes, new() { Reduction = (Reduction)reduction }, default), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_LabelOutOfRange_ThrowsWithRowAndValueInMessageAndLeavesOutputUntouched(string op)
    {
        const int rows = 60, classes = 10;
        int[] labels = ValidLabels(rows, classes);
        labels[57] = 12;
        T[] logits = RandomLogits(rows * classes), output = Sentinel(LabelOutputLength(op, rows, classes));
        ArgumentException e = Rejects("labels", () => LabelCall(op, logits, labels, output, classes, default, default), output, logits);
        e.Message.Should().Contain("Label 12 at row 57 is outside [0, 10).");
        e.Should().BeOfType<ArgumentOutOfRangeException>();
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_LabelEqualToClasses_Throws(string op)
    {
        int[] labels = ValidLabels();
        labels[0] = Classes;
        T[] logits = RandomLogits(N), output = Sentinel(LabelOutputLength(op, Rows, Classes));
        ArgumentException e = Rejects("labels", () => LabelCall(op, logits, labels, output, Classes, new() { IgnoreIndex = -100 }, default), output, logits);
        e.Message.Should().Contain($"Label {Classes} at row 0 is outside [0, {Classes}).");
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_NegativeLabelThatIsNotTheIgnoreIndex_Throws(string op)
    {
        foreach ((int label, int? ignore) in new (int, int?)[] { (-1, -100), (-100, null), (-1, null), (int.MinValue, -100), (-100, 3) })
        {
            int[] labels = ValidLabels();
            labels[2] = label;
            T[] logits = RandomLogits(N), output = Sentinel(LabelOutputLength(op, Rows, Classes));
            ArgumentException e = Rejects("labels", () => LabelCall(op, logits, labels, output, Classes, new() { IgnoreIndex = ignore }, default), output, logits);
            e.Message.Should().Contain(FormattableString.Invariant($"Label {label} at row 2 is outside [0, {Classes})."));
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.GradientOps), MemberType = typeof(ValidationData))]
    public void LabelOp_InPlaceWithBadLabelInLastRow_ThrowsAndLeavesLogitsUntouched(string op)
    {
        foreach (int classes in new[] { 3, 10, 100 })
        {
            const int rows = 33;
            int[] labels = ValidLabels(rows, classes);
            labels[rows - 1] = classes + 1;
            T[] buffer = RandomLogits(rows * classes);
            ArgumentException e = Rejects(
                "labels",
                () => LabelCall(op, buffer, labels, buffer, classes, new() { IgnoreIndex = -100 }, ValidWeights(classes)),
                buffer);
            e.Message.Should().Contain(FormattableString.Invariant($"Label {classes + 1} at row {rows - 1} is outside [0, {classes})."));
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_OutputWrongLength_ThrowsAndLeavesOutputUntouched(string op)
    {
        if (op == "Loss")
        {
            return; // no output
        }

        string name = op == "RowLosses" ? "rowLosses" : "gradient";
        int length = LabelOutputLength(op, Rows, Classes);
        foreach (int wrong in new[] { 0, length - 1, length + 1 })
        {
            T[] logits = RandomLogits(N), output = Sentinel(wrong);
            Rejects(name, () => LabelCall(op, logits, ValidLabels(), output, Classes, default, default), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.GradientOps), MemberType = typeof(ValidationData))]
    public void LabelOp_GradientPartiallyOverlapsLogits_ThrowsAndLeavesBufferUntouched(string op)
    {
        foreach (int shift in new[] { 1, -1, Classes, -(N - 1), N - 1 })
        {
            T[] buffer = RandomLogits(N + Math.Abs(shift));
            int logitsAt = shift > 0 ? 0 : -shift, gradientAt = shift > 0 ? shift : 0;
            Rejects("gradient", () => LabelCall(op, buffer.AsSpan(logitsAt, N), ValidLabels(), buffer.AsSpan(gradientAt, N), Classes, default, default), buffer);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_OutputOverlapsClassWeights_ThrowsAndLeavesBufferUntouched(string op)
    {
        if (op == "Loss")
        {
            return;
        }

        string name = op == "RowLosses" ? "rowLosses" : "gradient";
        int length = LabelOutputLength(op, Rows, Classes);
        T[] buffer = Sentinel(length + Classes - 1);
        ValidWeights().CopyTo(buffer, length - 1); // weights start at the output's last element
        T[] logits = RandomLogits(N);
        Rejects(name, () => LabelCall(op, logits, ValidLabels(), buffer.AsSpan(0, length), Classes, default, buffer.AsSpan(length - 1, Classes)), buffer, logits);
    }

    [Theory]
    [MemberData(nameof(ValidationData.LabelOps), MemberType = typeof(ValidationData))]
    public void LabelOp_OutputOverlapsLabels_ThrowsAndLeavesBufferUntouched(string op)
    {
        if (op == "Loss")
        {
            return;
        }

        string name = op == "RowLosses" ? "rowLosses" : "gradient";
        int length = LabelOutputLength(op, Rows, Classes);
        var buffer = new T[length]; // all zero bits: as ints, valid labels 0
        ReadOnlySpan<int> labels = MemoryMarshal.Cast<T, int>(buffer.AsSpan())[..Rows];
        labels.ToArray().Should().AllBeEquivalentTo(0);
        T[] logits = RandomLogits(N);
        Rejects(name, () => LabelCall(op, logits, MemoryMarshal.Cast<T, int>(buffer.AsSpan())[..Rows], buffer, Classes, default, default), buffer, logits);
    }

    [Fact]
    public void RowLosses_LossesOverlapLogits_ThrowsAndLeavesBufferUntouched()
    {
        T[] buffer = RandomLogits(N + 2);
        Rejects("rowLosses", () => SoftmaxCrossEntropy.RowLosses<T>(buffer.AsSpan(0, N), ValidLabels(), buffer.AsSpan(N - 2, Rows), Classes), buffer);
    }

    // ---- Dense targets ----

    [Theory]
    [MemberData(nameof(ValidationData.DenseOps), MemberType = typeof(ValidationData))]
    public void DenseOp_LogitsLengthNotAMultipleOfClasses_ThrowsAndLeavesOutputUntouched(string op)
    {
        T[] logits = RandomLogits(N - 3), targets = ValidTargets(N)[..(N - 3)], output = Sentinel(N - 3);
        Rejects("logits", () => DenseCall(op, logits, targets, output, Classes, default, default), output, logits);
    }

    [Theory]
    [MemberData(nameof(ValidationData.DenseOps), MemberType = typeof(ValidationData))]
    public void DenseOp_ClassesNotPositive_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int classes in new[] { 0, -1 })
        {
            T[] logits = RandomLogits(N), output = Sentinel(N);
            Rejects("classes", () => DenseCall(op, logits, ValidTargets(), output, classes, default, default), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.DenseOps), MemberType = typeof(ValidationData))]
    public void DenseOp_TargetsWrongLength_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int length in new[] { 0, N - 1, N + 1, N - Classes, N + Classes })
        {
            T[] logits = RandomLogits(N), output = Sentinel(N), targets = Data<T>.Targets(new Random(3), 8, Classes, TargetKind.Distribution)[..length];
            Rejects("targets", () => DenseCall(op, logits, targets, output, Classes, default, default), output, logits, targets);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.DenseOps), MemberType = typeof(ValidationData))]
    public void DenseOp_ClassWeightsWrongLength_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int length in new[] { 1, Classes - 1, Classes + 1, N })
        {
            T[] logits = RandomLogits(N), output = Sentinel(N), weights = ValidWeights(length);
            Rejects("classWeights", () => DenseCall(op, logits, ValidTargets(), output, Classes, default, weights), output, logits, weights);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.DenseOps), MemberType = typeof(ValidationData))]
    public void DenseOp_LabelSmoothingOutsideZeroToOne_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (double eps in new[] { -0.5, 1.5, double.NaN, double.NegativeInfinity })
        {
            T[] logits = RandomLogits(N), output = Sentinel(N);
            Rejects("options", () => DenseCall(op, logits, ValidTargets(), output, Classes, new() { LabelSmoothing = eps }, default), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.DenseOps), MemberType = typeof(ValidationData))]
    public void DenseOp_UndefinedReduction_ThrowsAndLeavesOutputUntouched(string op)
    {
        T[] logits = RandomLogits(N), output = Sentinel(N);
        Rejects("options", () => DenseCall(op, logits, ValidTargets(), output, Classes, new() { Reduction = (Reduction)3 }, default), output, logits);
    }

    [Theory]
    [MemberData(nameof(ValidationData.GradientOps), MemberType = typeof(ValidationData))]
    public void DenseOp_GradientWrongLength_ThrowsAndLeavesOutputUntouched(string op)
    {
        foreach (int length in new[] { 0, N - 1, N + 1 })
        {
            T[] logits = RandomLogits(N), output = Sentinel(length);
            Rejects("gradient", () => DenseCall(op, logits, ValidTargets(), output, Classes, default, default), output, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.GradientOps), MemberType = typeof(ValidationData))]
    public void DenseOp_GradientPartiallyOverlapsLogits_ThrowsAndLeavesBufferUntouched(string op)
    {
        foreach (int shift in new[] { 1, -1, -(N - 1) })
        {
            T[] buffer = RandomLogits(N + Math.Abs(shift));
            int logitsAt = shift > 0 ? 0 : -shift, gradientAt = shift > 0 ? shift : 0;
            Rejects("gradient", () => DenseCall(op, buffer.AsSpan(logitsAt, N), ValidTargets(), buffer.AsSpan(gradientAt, N), Classes, default, default), buffer);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.GradientOps), MemberType = typeof(ValidationData))]
    public void DenseOp_GradientOverlapsTargets_ThrowsAndLeavesBufferUntouched(string op)
    {
        foreach (int shift in new[] { 0, 1, -1, N - 1 })
        {
            T[] buffer = Sentinel(N + Math.Abs(shift));
            int targetsAt = shift > 0 ? 0 : -shift, gradientAt = shift > 0 ? shift : 0;
            ValidTargets().CopyTo(buffer, targetsAt);
            T[] logits = RandomLogits(N);
            Rejects("gradient", () => DenseCall(op, logits, buffer.AsSpan(targetsAt, N), buffer.AsSpan(gradientAt, N), Classes, default, default), buffer, logits);
        }
    }

    [Theory]
    [MemberData(nameof(ValidationData.GradientOps), MemberType = typeof(ValidationData))]
    public void DenseOp_GradientOverlapsClassWeights_ThrowsAndLeavesBufferUntouched(string op)
    {
        T[] buffer = Sentinel(N + 2);
        ValidWeights().CopyTo(buffer, N - 3);
        T[] logits = RandomLogits(N);
        Rejects("gradient", () => DenseCall(op, logits, ValidTargets(), buffer.AsSpan(0, N), Classes, default, buffer.AsSpan(N - 3, Classes)), buffer, logits);
    }

    [Theory]
    [MemberData(nameof(ValidationData.GradientOps), MemberType = typeof(ValidationData))]
    public void DenseOp_InPlaceWithWrongTargets_ThrowsAndLeavesLogitsUntouched(string op)
    {
        T[] buffer = RandomLogits(N);
        T[] targets = ValidTargets(N)[..(N - 1)];
        Rejects("targets", () => DenseCall(op, buffer, targets, buffer, Classes, default, default), buffer, targets);
    }

    // ---- Accepted edge cases (no throw) ----

    [Fact]
    public void LabelOp_LabelSmoothingAtBounds_IsAccepted()
    {
        T[] logits = RandomLogits(N), gradient = new T[N];
        foreach (double eps in new[] { 0.0, -0.0, 1.0 })
        {
            Action act = () => SoftmaxCrossEntropy.LossAndGradient<T>(logits, ValidLabels(), gradient, Classes, new() { LabelSmoothing = eps });
            act.Should().NotThrow();
        }
    }

    [Fact]
    public void GradientOp_SameMemoryAsLogits_IsAccepted()
    {
        T[] buffer = RandomLogits(N);
        Action act = () => SoftmaxCrossEntropy.LossAndGradient<T>(buffer, ValidLabels(), buffer, Classes);
        act.Should().NotThrow();
    }
}

public sealed class ValidationTestsSingle : ValidationTests<float>
{
}

public sealed class ValidationTestsDouble : ValidationTests<double>
{
}

public sealed class ElementTypeTests
{
    [Fact]
    public void Softmax_UnsupportedElementType_ThrowsNotSupportedException()
    {
        // Half is supported since half-precision storage; NFloat is an IEEE type the library does not take.
        Action act = () => SoftmaxCrossEntropy.Softmax<NFloat>(new NFloat[4], new NFloat[4], 2);
        act.Should().Throw<NotSupportedException>();
    }

    [Fact]
    public void Loss_UnsupportedElementType_ThrowsNotSupportedException()
    {
        Action act = () => SoftmaxCrossEntropy.Loss<NFloat>(new NFloat[4], new int[2], 2);
        act.Should().Throw<NotSupportedException>();
    }
}
