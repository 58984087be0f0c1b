using System;
using System.Buffers;
using System.Linq;
using System.Numerics;
using System.Numerics.Tensors;
using FluentAssertions;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The shapes the tensor overload tests run: ranks 1 to 4, a SIMD tail, an empty batch.</summary>
public static class TensorOverloadData
{
    public static TheoryData<int[]> Shapes() => new()
    {
        new[] { 7 },
        new[] { 5, 7 },
        new[] { 2, 3, 7 },
        new[] { 2, 1, 3, 17 },
        new[] { 3, 257 },
        new[] { 0, 7 },
    };
}

/// <summary>
/// The <see cref="Tensor{T}"/> / <see cref="ReadOnlyTensorSpan{T}"/> / <see cref="TensorSpan{T}"/> overloads:
/// over any row-major contiguous shape <c>[..., classes]</c> they give exactly what the span overloads give over the
/// flattened memory, and every strided view or wrong shape is refused, naming the argument, with the outputs untouched.
/// </summary>
public abstract class TensorOverloadTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static nint[] N(int[] shape) => shape.Select(d => (nint)d).ToArray();

    private static int Rows(int[] shape) => shape[..^1].Aggregate(1, (a, b) => a * b);

    private static T[] RandomLogits(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => T.CreateTruncating((random.NextDouble() * 8) - 4)).ToArray();
    }

    private static int[] RandomLabels(int rows, int classes, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
    }

    private static T[] RandomTargets(int rows, int classes, int seed)
    {
        var random = new Random(seed);
        var targets = new T[rows * classes];
        for (int i = 0; i < rows; i++)
        {
            double[] row = Enumerable.Range(0, classes).Select(_ => random.NextDouble()).ToArray();
            double sum = row.Sum();
            for (int k = 0; k < classes; k++)
            {
                targets[(i * classes) + k] = T.CreateTruncating(row[k] / sum);
            }
        }

        return targets;
    }

    private static T[] Filled(int length) => Enumerable.Repeat(T.CreateTruncating(-123.5), length).ToArray();

    private static readonly CrossEntropyOptions s_options = new() { LabelSmoothing = 0.1, Reduction = Reduction.Sum };

    [Theory]
    [MemberData(nameof(TensorOverloadData.Shapes), MemberType = typeof(TensorOverloadData))]
    public void Softmax_AnyShape_MatchesSpanOverload(int[] shape)
    {
        int classes = shape[^1];
        T[] logits = RandomLogits(shape.Aggregate(1, (a, b) => a * b), 1);
        T[] expected = new T[logits.Length];
        SoftmaxCrossEntropy.Softmax<T>(logits, expected, classes);

        var input = Tensor.Create(logits, N(shape));
        var output = Tensor.Create(new T[logits.Length], N(shape));
        SoftmaxCrossEntropy.Softmax(input, output);
        output.ToArray().Should().Equal(expected);

        var span = new T[logits.Length];
        SoftmaxCrossEntropy.Softmax(input.AsReadOnlyTensorSpan(), new TensorSpan<T>(span, N(shape)));
        span.Should().Equal(expected);
    }

    [Theory]
    [MemberData(nameof(TensorOverloadData.Shapes), MemberType = typeof(TensorOverloadData))]
    public void LogSoftmax_AnyShape_MatchesSpanOverload(int[] shape)
    {
        int classes = shape[^1];
        T[] logits = RandomLogits(shape.Aggregate(1, (a, b) => a * b), 2);
        T[] expected = new T[logits.Length];
        SoftmaxCrossEntropy.LogSoftmax<T>(logits, expected, classes);

        var input = Tensor.Create(logits, N(shape));
        var output = Tensor.Create(new T[logits.Length], N(shape));
        SoftmaxCrossEntropy.LogSoftmax(input, output);
        output.ToArray().Should().Equal(expected);

        var span = new T[logits.Length];
        SoftmaxCrossEntropy.LogSoftmax(new ReadOnlyTensorSpan<T>(logits, N(shape)), new TensorSpan<T>(span, N(shape)));
        span.Should().Equal(expected);
    }

    [Theory]
    [MemberData(nameof(TensorOverloadData.Shapes), MemberType = typeof(TensorOverloadData))]
    public void Softmax_InPlace_MatchesOutOfPlace(int[] shape)
    {
        T[] logits = RandomLogits(shape.Aggregate(1, (a, b) => a * b), 3);
        T[] expected = new T[logits.Length];
        SoftmaxCrossEntropy.Softmax<T>(logits, expected, shape[^1]);

        var tensor = Tensor.Create(logits, N(shape));
        SoftmaxCrossEntropy.Softmax(tensor, tensor);
        logits.Should().Equal(expected);
    }

    [Theory]
    [MemberData(nameof(TensorOverloadData.Shapes), MemberType = typeof(TensorOverloadData))]
    public void LabelOperations_AnyShape_MatchSpanOverloads(int[] shape)
    {
        int classes = shape[^1];
        int rows = Rows(shape);
        T[] logits = RandomLogits(rows * classes, 4);
        int[] labels = RandomLabels(rows, classes, 5);
        T[] weights = RandomLogits(classes, 6).Select(w => T.Abs(w) + T.One).ToArray();

        T expectedLoss = SoftmaxCrossEntropy.Loss<T>(logits, labels, classes, s_options, weights);
        T[] expectedRows = new T[rows];
        SoftmaxCrossEntropy.RowLosses<T>(logits, labels, expectedRows, classes, s_options, weights);
        T[] expectedGradient = new T[logits.Length];
        T expectedFused = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, expectedGradient, classes, s_options, weights);

        var x = Tensor.Create(logits, N(shape));
        var shapedLabels = Tensor.Create(labels, N(shape[..^1].Length == 0 ? new[] { 1 } : shape[..^1]));
        var flatLabels = Tensor.Create(labels, new nint[] { rows });

        // Loss: labels as a tensor of the leading shape, as a flat tensor, as a span; logits as a tensor or a tensor span.
        SoftmaxCrossEntropy.Loss(x, shapedLabels).Should().Be(SoftmaxCrossEntropy.Loss<T>(logits, labels, classes));
        SoftmaxCrossEntropy.Loss(x, shapedLabels, s_options, weights).Should().Be(expectedLoss);
        SoftmaxCrossEntropy.Loss(x, flatLabels, s_options, weights).Should().Be(expectedLoss);
        SoftmaxCrossEntropy.Loss(x, labels, s_options, weights).Should().Be(expectedLoss);
        SoftmaxCrossEntropy.Loss(x.AsReadOnlyTensorSpan(), labels.AsSpan(), s_options, weights).Should().Be(expectedLoss);

        // RowLosses: to a tensor of the leading shape, a flat tensor, a span.
        var rowLosses = Tensor.Create(new T[rows], shapedLabels.Lengths);
        SoftmaxCrossEntropy.RowLosses(x, shapedLabels, rowLosses, s_options, weights);
        rowLosses.ToArray().Should().Equal(expectedRows);
        var flatRowLosses = new T[rows];
        SoftmaxCrossEntropy.RowLosses(x, flatLabels, new TensorSpan<T>(flatRowLosses), s_options, weights);
        flatRowLosses.Should().Equal(expectedRows);
        var spanRowLosses = new T[rows];
        SoftmaxCrossEntropy.RowLosses(x, labels, spanRowLosses, s_options, weights);
        spanRowLosses.Should().Equal(expectedRows);

        // LossAndGradient and Backward, labels as a tensor and as a span.
        var gradient = Tensor.Create(new T[logits.Length], N(shape));
        SoftmaxCrossEntropy.LossAndGradient(x, shapedLabels, gradient, s_options, weights).Should().Be(expectedFused);
        gradient.ToArray().Should().Equal(expectedGradient);
        var gradient2 = new T[logits.Length];
        SoftmaxCrossEntropy.LossAndGradient(x, labels, new TensorSpan<T>(gradient2, N(shape)), s_options, weights).Should().Be(expectedFused);
        gradient2.Should().Equal(expectedGradient);
        var gradient3 = Tensor.Create(new T[logits.Length], N(shape));
        SoftmaxCrossEntropy.Backward(x, shapedLabels, gradient3, s_options, weights);
        gradient3.ToArray().Should().Equal(expectedGradient);
        var gradient4 = Tensor.Create(new T[logits.Length], N(shape));
        SoftmaxCrossEntropy.Backward(x.AsReadOnlyTensorSpan(), labels, gradient4, s_options, weights);
        gradient4.ToArray().Should().Equal(expectedGradient);
    }

    [Theory]
    [MemberData(nameof(TensorOverloadData.Shapes), MemberType = typeof(TensorOverloadData))]
    public void DenseOperations_AnyShape_MatchSpanOverloads(int[] shape)
    {
        int classes = shape[^1];
        int rows = Rows(shape);
        T[] logits = RandomLogits(rows * classes, 7);
        T[] targets = RandomTargets(rows, classes, 8);

        T expectedLoss = SoftmaxCrossEntropy.Loss<T>(logits, targets, classes);
        T[] expectedGradient = new T[logits.Length];
        T expectedFused = SoftmaxCrossEntropy.LossAndGradient<T>(logits, targets, expectedGradient, classes);

        var x = Tensor.Create(logits, N(shape));
        var t = Tensor.Create(targets, N(shape));
        SoftmaxCrossEntropy.Loss(x, t).Should().Be(expectedLoss);
        SoftmaxCrossEntropy.Loss(x.AsReadOnlyTensorSpan(), t.AsReadOnlyTensorSpan()).Should().Be(expectedLoss);

        var gradient = Tensor.Create(new T[logits.Length], N(shape));
        SoftmaxCrossEntropy.LossAndGradient(x, t, gradient).Should().Be(expectedFused);
        gradient.ToArray().Should().Equal(expectedGradient);
        var gradient2 = Tensor.Create(new T[logits.Length], N(shape));
        SoftmaxCrossEntropy.Backward(x.AsReadOnlyTensorSpan(), t, gradient2);
        gradient2.ToArray().Should().Equal(expectedGradient);
    }

    [Fact]
    public void LossAndGradient_InPlace_MatchesOutOfPlace()
    {
        int[] shape = { 2, 3, 33 };
        T[] logits = RandomLogits(2 * 3 * 33, 9);
        int[] labels = RandomLabels(6, 33, 10);
        T[] expected = new T[logits.Length];
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, expected, 33);

        var tensor = Tensor.Create(logits, N(shape));
        SoftmaxCrossEntropy.LossAndGradient(tensor, labels, tensor).Should().Be(expectedLoss);
        logits.Should().Equal(expected);
    }

    [Fact]
    public void LossAndGradient_ContiguousSliceOfRows_IsAccepted()
    {
        // Rows 1..3 of a [4, C] tensor are contiguous: a slice along the first dimension only is still row-major.
        const int C = 9;
        T[] logits = RandomLogits(4 * C, 11);
        int[] labels = { 3, 8 };
        var tensor = Tensor.Create(logits, new nint[] { 4, C });
        var rows = tensor.AsReadOnlyTensorSpan().Slice(new NRange[] { new(1, 3), NRange.All });

        T[] expected = new T[2 * C];
        T expectedLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits.AsSpan(C, 2 * C), labels, expected, C);
        var gradient = new T[2 * C];
        SoftmaxCrossEntropy.LossAndGradient(rows, labels, new TensorSpan<T>(gradient, new nint[] { 2, C })).Should().Be(expectedLoss);
        gradient.Should().Equal(expected);
    }

    [Fact]
    public void Softmax_DimensionOfLengthOneWithAnyStride_IsAccepted()
    {
        T[] logits = RandomLogits(2 * 5, 12);
        var view = new ReadOnlyTensorSpan<T>(logits, new nint[] { 2, 1, 5 }, new nint[] { 5, 0, 1 });
        T[] expected = new T[logits.Length];
        SoftmaxCrossEntropy.Softmax<T>(logits, expected, 5);
        var output = new T[logits.Length];
        SoftmaxCrossEntropy.Softmax(view, new TensorSpan<T>(output, new nint[] { 2, 1, 5 }));
        output.Should().Equal(expected);
    }

    // ------------------------------------------------------------------------------------------------- refusals

    [Fact]
    public void Softmax_RankZero_Throws()
    {
        var output = Filled(3);
        Action act = () => SoftmaxCrossEntropy.Softmax(default(ReadOnlyTensorSpan<T>), new TensorSpan<T>(output));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "logits" && e.Message.Contains("rank 0"));
        output.Should().Equal(Filled(3));
    }

    [Fact]
    public void Loss_NoClasses_Throws()
    {
        var logits = Tensor.Create(Array.Empty<T>(), new nint[] { 3, 0 });
        Action act = () => SoftmaxCrossEntropy.Loss(logits, new[] { 0, 0, 0 });
        act.Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "logits" && e.Message.Contains("last dimension") && e.Message.Contains("[3, 0]"));
    }

    [Fact]
    public void Loss_NullTensor_Throws()
    {
        Action act = () => SoftmaxCrossEntropy.Loss((Tensor<T>)null!, new[] { 0 });
        act.Should().Throw<ArgumentNullException>().Where(e => e.ParamName == "logits");
    }

    [Fact]
    public void LossAndGradient_TransposedLogits_ThrowsAndLeavesGradientUntouched()
    {
        // A [C, rows] tensor transposed to [rows, C] is dense in memory but not row-major: it must not be misread.
        var stored = Tensor.Create(RandomLogits(5 * 3, 13), new nint[] { 5, 3 });
        var transposed = Tensor.PermuteDimensions(stored, new[] { 1, 0 });
        transposed.Lengths.ToArray().Should().Equal(3, 5);
        var gradient = Filled(15);

        Action act = () => SoftmaxCrossEntropy.LossAndGradient(transposed, new[] { 0, 1, 2 }, new TensorSpan<T>(gradient, new nint[] { 3, 5 }));
        act.Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "logits" && e.Message.Contains("not contiguous") && e.Message.Contains("strides [1, 3]"));
        gradient.Should().Equal(Filled(15));
    }

    [Fact]
    public void Softmax_SlicedClasses_ThrowsAndLeavesOutputUntouched()
    {
        var tensor = Tensor.Create(RandomLogits(4 * 6, 14), new nint[] { 4, 6 });
        var output = Filled(16);

        Action act = () => SoftmaxCrossEntropy.Softmax(
            tensor.AsReadOnlyTensorSpan().Slice(new NRange[] { NRange.All, new(0, 4) }),
            new TensorSpan<T>(output, new nint[] { 4, 4 }));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "logits" && e.Message.Contains("not contiguous"));
        output.Should().Equal(Filled(16));
    }

    [Fact]
    public void Loss_BroadcastTargets_Throws()
    {
        var logits = Tensor.Create(RandomLogits(4 * 3, 15), new nint[] { 4, 3 });
        var oneRow = new T[] { T.One, T.Zero, T.Zero };

        Action act = () => SoftmaxCrossEntropy.Loss(logits, new ReadOnlyTensorSpan<T>(oneRow, new nint[] { 4, 3 }, new nint[] { 0, 1 }));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "targets" && e.Message.Contains("not contiguous"));
    }

    [Fact]
    public void LossAndGradient_StridedGradient_ThrowsAndLeavesItUntouched()
    {
        var logits = Tensor.Create(RandomLogits(2 * 3, 16), new nint[] { 2, 3 });
        var memory = Filled(2 * 4);

        Action act = () => SoftmaxCrossEntropy.LossAndGradient(logits, new[] { 0, 1 }, new TensorSpan<T>(memory, new nint[] { 2, 3 }, new nint[] { 4, 1 }));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "gradient" && e.Message.Contains("not contiguous"));
        memory.Should().Equal(Filled(8));
    }

    [Fact]
    public void LossAndGradient_GradientOfAnotherShape_ThrowsAndLeavesItUntouched()
    {
        // Same number of elements, another shape: refused rather than reinterpreted.
        var logits = Tensor.Create(RandomLogits(2 * 3 * 4, 17), new nint[] { 2, 3, 4 });
        var gradient = Filled(24);

        Action act = () => SoftmaxCrossEntropy.LossAndGradient(logits, new int[6], new TensorSpan<T>(gradient, new nint[] { 3, 2, 4 }));
        act.Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "gradient" && e.Message.Contains("[3, 2, 4]") && e.Message.Contains("[2, 3, 4]"));
        gradient.Should().Equal(Filled(24));
    }

    [Fact]
    public void Backward_LabelsOfAnotherShape_ThrowsAndLeavesGradientUntouched()
    {
        var logits = Tensor.Create(RandomLogits(2 * 3 * 4, 18), new nint[] { 2, 3, 4 });
        var labels = Tensor.Create(new int[6], new nint[] { 3, 2 });
        var gradient = Filled(24);

        Action act = () => SoftmaxCrossEntropy.Backward(logits, labels, new TensorSpan<T>(gradient, new nint[] { 2, 3, 4 }));
        act.Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "labels" && e.Message.Contains("[3, 2]") && e.Message.Contains("[2, 3]") && e.Message.Contains("[6]"));
        gradient.Should().Equal(Filled(24));
    }

    [Fact]
    public void LossAndGradient_SpanLabelsOfWrongCount_ThrowsAndLeavesGradientUntouched()
    {
        var logits = Tensor.Create(RandomLogits(2 * 3 * 4, 19), new nint[] { 2, 3, 4 });
        var gradient = Filled(24);

        Action act = () => SoftmaxCrossEntropy.LossAndGradient(logits, new int[5], new TensorSpan<T>(gradient, new nint[] { 2, 3, 4 }));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "labels");
        gradient.Should().Equal(Filled(24));
    }

    [Fact]
    public void LossAndGradient_LabelOutOfRange_ThrowsAndLeavesGradientUntouched()
    {
        var logits = Tensor.Create(RandomLogits(2 * 3 * 4, 20), new nint[] { 2, 3, 4 });
        var labels = Tensor.Create(new[] { 0, 1, 2, 3, 4, 0 }, new nint[] { 2, 3 });
        var gradient = Filled(24);

        Action act = () => SoftmaxCrossEntropy.LossAndGradient(logits, labels, new TensorSpan<T>(gradient, new nint[] { 2, 3, 4 }));
        act.Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "labels");
        gradient.Should().Equal(Filled(24));
    }

    [Fact]
    public void RowLosses_LossesOfWrongShape_ThrowsAndLeavesThemUntouched()
    {
        var logits = Tensor.Create(RandomLogits(2 * 3 * 4, 21), new nint[] { 2, 3, 4 });
        var losses = Filled(6);

        Action act = () => SoftmaxCrossEntropy.RowLosses(logits, Tensor.Create(new int[6], new nint[] { 2, 3 }), new TensorSpan<T>(losses, new nint[] { 6, 1 }));
        act.Should().Throw<ArgumentException>().Where(e => e.ParamName == "rowLosses");
        losses.Should().Equal(Filled(6));
    }

    [Fact]
    public void LossAndGradient_PartialOverlap_ThrowsAndLeavesLogitsUntouched()
    {
        // The span overloads' checks still apply: an output shifted by one element over the logits is refused.
        T[] memory = RandomLogits((2 * 4) + 1, 22);
        T[] before = (T[])memory.Clone();
        var logits = new ReadOnlyTensorSpan<T>(memory.AsSpan(0, 8), new nint[] { 2, 4 });
        var gradient = new TensorSpan<T>(memory.AsSpan(1, 8), new nint[] { 2, 4 });

        bool threw = false;
        try
        {
            SoftmaxCrossEntropy.LossAndGradient(logits, new[] { 0, 1 }, gradient);
        }
        catch (ArgumentException e) when (e.ParamName == "gradient")
        {
            threw = true;
        }

        threw.Should().BeTrue();
        memory.Should().Equal(before);
    }
}

public sealed class TensorOverloadTestsSingle : TensorOverloadTests<float>;

public sealed class TensorOverloadTestsDouble : TensorOverloadTests<double>;
