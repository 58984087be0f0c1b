using System;
using System.Numerics;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>Softmax and log-softmax against the double reference, for every width and row length.</summary>
public abstract class SoftmaxTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Softmax_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            string what = Describe.Case("Softmax", width, rows, classes);
            T[] logits = Data<T>.Logits(new Random(Seeds.For(rows, classes)), rows * classes);
            T[] before = (T[])logits.Clone();
            var output = new Guarded<T>(logits.Length);
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Softmax<T>(logits, output.Span, classes);
            }

            output.AssertGuardsIntact(what);
            Check.Bitwise<T>(logits, before, what + ": logits changed");
            double[] expected = Reference.Softmax(Data<T>.ToDouble(logits), classes);
            Check.CloseRelative<T>(output.Span, expected, Tol.Probability, Tol.Floor, classes, what);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void LogSoftmax_EveryWidthAndRowLength_MatchesReference(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            string what = Describe.Case("LogSoftmax", width, rows, classes);
            T[] logits = Data<T>.Logits(new Random(Seeds.For(rows, classes)), rows * classes);
            T[] before = (T[])logits.Clone();
            var output = new Guarded<T>(logits.Length);
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.LogSoftmax<T>(logits, output.Span, classes);
            }

            output.AssertGuardsIntact(what);
            Check.Bitwise<T>(logits, before, what + ": logits changed");
            double[] y = Data<T>.ToDouble(logits);
            Check.Close<T>(output.Span, Reference.LogSoftmax(y, classes), Reference.LogSoftmaxMagnitude(y, classes), Tol.LogProbability, Tol.Floor, classes, what);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Softmax_InPlace_MatchesOutOfPlace(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            string what = Describe.Case("Softmax in place", width, rows, classes);
            T[] logits = Data<T>.Logits(new Random(Seeds.For(rows, classes, 1)), rows * classes);
            var outOfPlace = new T[logits.Length];
            var inPlace = new Guarded<T>(logits);
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Softmax<T>(logits, outOfPlace, classes);
                SoftmaxCrossEntropy.Softmax<T>(inPlace.Span, inPlace.Span, classes);
            }

            inPlace.AssertGuardsIntact(what);
            Check.Bitwise<T>(inPlace.Span, outOfPlace, what);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void LogSoftmax_InPlace_MatchesOutOfPlace(int width, int classes)
    {
        foreach (int rows in TestData.RowCounts(classes))
        {
            string what = Describe.Case("LogSoftmax in place", width, rows, classes);
            T[] logits = Data<T>.Logits(new Random(Seeds.For(rows, classes, 2)), rows * classes);
            var outOfPlace = new T[logits.Length];
            var inPlace = new Guarded<T>(logits);
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.LogSoftmax<T>(logits, outOfPlace, classes);
                SoftmaxCrossEntropy.LogSoftmax<T>(inPlace.Span, inPlace.Span, classes);
            }

            inPlace.AssertGuardsIntact(what);
            Check.Bitwise<T>(inPlace.Span, outOfPlace, what);
        }
    }

    [Fact]
    public void Softmax_RowsSumToOne()
    {
        foreach (int classes in new[] { 1, 7, 16, 17, 1000, 32000 })
        {
            const int Rows = 3;
            T[] logits = Data<T>.Logits(new Random(Seeds.For(Rows, classes, 3)), Rows * classes, scale: 20);
            var p = new T[logits.Length];
            SoftmaxCrossEntropy.Softmax<T>(logits, p, classes);
            for (int i = 0; i < Rows; i++)
            {
                double sum = 0;
                foreach (T v in p.AsSpan(i * classes, classes))
                {
                    sum += double.CreateTruncating(v);
                }

                Check.Scalar(sum, 1, Tol.Probability, $"Softmax row {i} sum, C = {classes}");
            }
        }
    }

    [Fact]
    public void Softmax_ShiftedLogits_GiveTheSameProbabilities()
    {
        // softmax(y + c) = softmax(y): the row maximum is subtracted, so even a huge shift changes nothing but rounding.
        const int Classes = 37;
        double[] y = Data<double>.Logits(new Random(5), 2 * Classes);
        double[] expected = Reference.Softmax(y, Classes);
        var shifted = new T[y.Length];
        for (int j = 0; j < y.Length; j++)
        {
            shifted[j] = T.CreateTruncating(y[j] + 1000);
        }

        var p = new T[y.Length];
        SoftmaxCrossEntropy.Softmax<T>(shifted, p, Classes);
        Check.CloseRelative<T>(p, Reference.Softmax(Data<T>.ToDouble(shifted), Classes), Tol.Probability, Tol.Floor, Classes, "softmax of y + 1000");
        Check.CloseRelative<T>(p, expected, typeof(T) == typeof(float) ? 1e-3 : 1e-9, Tol.Floor, Classes, "softmax of y + 1000 vs softmax of y (rounding of the shift)");
    }
}

public sealed class SoftmaxTestsSingle : SoftmaxTests<float>
{
}

public sealed class SoftmaxTestsDouble : SoftmaxTests<double>
{
}
