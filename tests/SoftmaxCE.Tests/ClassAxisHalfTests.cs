using System;
using System.Numerics.Tensors;
using FluentAssertions;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>
/// Half logits with the classes on another axis than the last: the strided kernels are float and double, so every
/// tensor overload refuses Half there before anything runs, with the library's message, and writes nothing.
/// </summary>
public sealed class ClassAxisHalfTests
{
    private static readonly nint[] Shape = [2, 3, 4];
    private static readonly nint[] PositionShape = [2, 4];
    private static readonly Half Sentinel = (Half)(-7.5f);

    private static Half[] Logits()
    {
        var logits = new Half[24];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (Half)(i * 0.25f);
        }

        return logits;
    }

    [Fact]
    public void TensorOverloads_HalfOnClassAxis1_AreRefusedBeforeRunning_AndWriteNothing()
    {
        Half[] logits = Logits();
        Half[] targets = new Half[24];
        targets.AsSpan().Fill((Half)(1f / 3));
        int[] labels = [0, 1, 2, 0, 1, 2, 0, 1];
        Action<Half[], Half[]>[] calls =
        [
            (g, l) => SoftmaxCrossEntropy.Loss(new ReadOnlyTensorSpan<Half>(logits, Shape), new ReadOnlyTensorSpan<int>(labels, PositionShape), classAxis: 1),
            (g, l) => SoftmaxCrossEntropy.Loss(new ReadOnlyTensorSpan<Half>(logits, Shape), new ReadOnlyTensorSpan<Half>(targets, Shape), classAxis: 1),
            (g, l) => SoftmaxCrossEntropy.RowLosses(new ReadOnlyTensorSpan<Half>(logits, Shape), labels.AsSpan(), l.AsSpan(), classAxis: 1),
            (g, l) => SoftmaxCrossEntropy.LossAndGradient(new ReadOnlyTensorSpan<Half>(logits, Shape), labels.AsSpan(), new TensorSpan<Half>(g, Shape), classAxis: 1),
            (g, l) => SoftmaxCrossEntropy.LossAndGradient(new ReadOnlyTensorSpan<Half>(logits, Shape), new ReadOnlyTensorSpan<Half>(targets, Shape), new TensorSpan<Half>(g, Shape), classAxis: 1),
            (g, l) => SoftmaxCrossEntropy.Backward(new ReadOnlyTensorSpan<Half>(logits, Shape), new ReadOnlyTensorSpan<int>(labels, PositionShape), new TensorSpan<Half>(g, Shape), classAxis: 1),
        ];
        for (int c = 0; c < calls.Length; c++)
        {
            var gradient = new Half[24];
            var rowLosses = new Half[8];
            gradient.AsSpan().Fill(Sentinel);
            rowLosses.AsSpan().Fill(Sentinel);
            NotSupportedException e = Assert.Throws<NotSupportedException>(() => calls[c](gradient, rowLosses));
            e.Message.Should().Contain("System.Half is not supported", $"call {c} refuses Half with the library's message");
            gradient.Should().AllSatisfy(v => v.Should().Be(Sentinel), $"call {c} leaves the gradient untouched");
            rowLosses.Should().AllSatisfy(v => v.Should().Be(Sentinel), $"call {c} leaves the row losses untouched");
        }
    }
}
