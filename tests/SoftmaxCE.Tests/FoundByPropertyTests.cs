using System;
using System.Linq;
using System.Numerics;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>Focused cases of what the property tests found, each checked against the reference.</summary>
public sealed class FoundByPropertyTests
{
    /// <summary>
    /// With label smoothing, the smoothing part <c>(eps / C) sum_k (LSE - y_k)</c> is summed before it is scaled:
    /// with large float logits the per-lane sum of <c>LSE - y_k</c> overflows float although the loss is far below
    /// float's largest value. Here one logit is 1e37 (the label) and 999 are -1e36: the loss is
    /// 0.1 / 1000 * 999 * 1.1e37, about 1.1e36, and the library returned +inf. The distances are now summed scaled by a
    /// power of two (<c>TermDistance</c>).
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LabelSmoothing_LargeFloatLogits_DoNotOverflowTheSmoothingSum(int width)
    {
        // C = 1000 (one chunk at most widths) and 5000 (several), 1e37 against -1e36 and, where even one difference
        // shift - y is beyond float's range, 1.5e38 against -3e38; C = 5 with row weights runs one row per vector.
        foreach ((int classes, float top, float rest, bool weighted) in new[]
        {
            (1000, 1e37f, -1e36f, false), (5000, 1e37f, -1e36f, false), (1000, 1.5e38f, -3e38f, false), (5, 1.5e38f, -3e38f, true),
        })
        {
            float[] logits = [.. Enumerable.Repeat(rest, 2 * classes)];
            logits[0] = top;
            logits[classes + 3] = top;
            int[] labels = [0, 1];
            float[]? rowWeights = weighted ? [1f, 0.5f] : null;
            var options = new CrossEntropyOptions { LabelSmoothing = 0.1 };
            float loss, fused;
            var gradient = new float[logits.Length];
            using (ForcedWidth.Force(width))
            {
                loss = SoftmaxCrossEntropy.Loss<float>(logits, labels, classes, options, default, rowWeights);
                fused = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, gradient, classes, options, default, rowWeights);
            }

            double expected = Reference.FullLabelLoss([.. logits.Select(v => (double)v)], labels, classes, options, null, rowWeights?.Select(v => (double)v).ToArray());
            Assert.True(double.IsFinite(expected) && expected < float.MaxValue, "the reference loss is finite in float");
            string what = $"C = {classes}, width {width}, logits {top} and {rest}";
            Check.Scalar(loss, expected, Tolerances.Single.Loss * 2 * Math.Abs(expected), what + ": Loss");
            Check.Scalar(fused, expected, Tolerances.Single.Loss * 2 * Math.Abs(expected), what + ": LossAndGradient");
        }
    }

    /// <summary>
    /// The same overflow in the rows-across-lanes kernel, which sums <c>u_k (shift - y_k)</c> in each row's lane: it gave
    /// +inf for these losses until it summed them scaled too (it serves 16 rows at a time of 2 to 128 classes without row
    /// weights). 37 rows of C = 10, 17 and 100, 1.5e38 against -3e38, label smoothing 0.1, against the double reference.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LabelSmoothing_LargeFloatLogits_DoNotOverflowTheLaneSums(int width)
    {
        const int Rows = 37;
        foreach (int classes in new[] { 10, 17, 100 })
        {
            float[] logits = [.. Enumerable.Repeat(-3e38f, Rows * classes)];
            int[] labels = [.. Enumerable.Range(0, Rows).Select(r => (r * 7) % classes)]; // the label is the top logit
            for (int r = 0; r < Rows; r++)
            {
                logits[(r * classes) + ((r * 7) % classes)] = 1.5e38f;
            }

            var options = new CrossEntropyOptions { LabelSmoothing = 0.1 };
            var rowLosses = new float[Rows];
            float loss;
            using (ForcedWidth.Force(width))
            {
                loss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, new float[logits.Length], classes, options);
                SoftmaxCrossEntropy.RowLosses<float>(logits, labels, rowLosses, classes, options);
            }

            double[] y = [.. logits.Select(v => (double)v)];
            double expected = Reference.FullLabelLoss(y, labels, classes, options, null, null);
            double[] expectedRows = Reference.FullLabelRowLosses(y, labels, classes, options, null, null);
            Assert.True(double.IsFinite(expected) && expected < float.MaxValue, "the reference loss is finite in float");
            string what = $"C = {classes}, width {width}";
            Check.Scalar(loss, expected, Tolerances.Single.Loss * 2 * Math.Abs(expected), what + ": LossAndGradient");
            for (int r = 0; r < Rows; r++)
            {
                Check.Scalar(rowLosses[r], expectedRows[r], Tolerances.Single.Loss * 2 * Math.Abs(expectedRows[r]), $"{what}: row {r}");
            }
        }
    }

    /// <summary>
    /// A counted row whose logits are all negative infinity has no log-sum-exp (NaN, as its loss is), so the z-loss
    /// part of the metrics, <c>z * LSE^2</c> summed over counted rows, is NaN like the loss. The library squares
    /// an LSE of -inf and reported +inf while the loss it belongs to is NaN.
    /// </summary>
    [Theory]
    [InlineData(5)]
    [InlineData(40)]
    [InlineData(3000)]
    public void ZLossPart_OfARowWithNoDistribution_IsNaNLikeTheLoss(int classes)
    {
        var logits = new float[2 * classes];
        logits.AsSpan(0, classes).Fill(float.NegativeInfinity);
        CrossEntropyMetrics<float> metrics = SoftmaxCrossEntropy.LossWithMetrics<float>(logits, [1, 2], classes, new CrossEntropyOptions { ZLoss = 0.1 });
        Assert.True(float.IsNaN(metrics.Loss), $"loss {metrics.Loss}");
        Assert.True(float.IsNaN(metrics.ZLoss), $"z-loss part {metrics.ZLoss}, expected NaN");
    }

    /// <summary>
    /// Without z-loss the z-loss part of the metrics is 0, as documented, even when a row's LSE is NaN or +inf (a NaN
    /// or +inf logit): the row kernel multiplied the weight 0 by LSE^2 and reported NaN where the lane kernel gave 0.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void ZLossPart_WithoutZLoss_IsZero_WhateverTheRowsHold(int width, int classes)
    {
        const int Rows = 5;
        float[] logits = [.. Enumerable.Range(0, Rows * classes).Select(j => (float)(j % 3))];
        logits[classes] = float.NaN;
        logits[(2 * classes) + (classes / 2)] = float.PositiveInfinity;
        float[] rowWeights = [1, 2, 1, 0.5f, 1];
        foreach (bool weighted in new[] { false, true })
        {
            CrossEntropyMetrics<float> metrics;
            using (ForcedWidth.Force(width))
            {
                metrics = SoftmaxCrossEntropy.LossWithMetrics<float>(logits, new int[Rows], classes, default, default, weighted ? rowWeights : default);
            }

            Assert.True(float.IsNaN(metrics.Loss), $"C = {classes}, width {width}: loss {metrics.Loss}, expected NaN");
            Assert.True(metrics.ZLoss == 0, $"C = {classes}, width {width}, row weights {weighted}: z-loss part {metrics.ZLoss}, expected 0");
        }
    }

    /// <summary>
    /// A counted row whose logits are all negative infinity is predicted as class 0 (ties go to the lowest index, as
    /// PyTorch's argmax does), at every width and row length: -1 is documented for ignored rows only (a row of negative
    /// infinities once got -1, at every C longer than one vector at the narrower widths too).
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Prediction_OfACountedRowWithNoDistribution_IsClassZero(int width, int classes) =>
        PredictionOfFirstRow(width, classes, nanAt: -1, expected: 0);

    /// <summary>
    /// A counted row holding a NaN among negative infinities gets a prediction in [0, C), never -1 (documented for
    /// ignored rows only). PyTorch's argmax would give the NaN's index.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Prediction_OfACountedRowWithANaNAmongMaskedClasses_IsAClass(int width, int classes)
    {
        PredictionOfFirstRow(width, classes, nanAt: 0, expected: null);
        PredictionOfFirstRow(width, classes, nanAt: classes - 1, expected: null);
    }

    /// <summary>A counted row holding a NaN among finite logits gets a prediction in [0, C).</summary>
    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Prediction_OfACountedRowWithANaNAmongFiniteLogits_IsAClass(int width, int classes)
    {
        const int Rows = 37;
        for (int nanAt = 0; nanAt < Math.Min(classes, 3); nanAt++)
        {
            float[] logits = [.. Enumerable.Range(0, Rows * classes).Select(j => (float)(j % 5))];
            for (int row = 0; row < Rows; row += 3)
            {
                logits[(row * classes) + nanAt] = float.NaN;
            }

            var predictions = new int[Rows];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.LossWithMetrics<float>(logits, new int[Rows], classes, default, default, predictions: predictions);
            }

            Assert.True(predictions.All(p => p >= 0 && p < classes), $"C = {classes}, width {width}, NaN at {nanAt} in every third row: predictions {string.Join(", ", predictions)}");
        }
    }

    /// <summary>
    /// A row whose largest logit is +inf is predicted as that class (the lowest such index), as PyTorch's argmax does:
    /// with row weights (which send short rows one row per vector) the row kernel took the NaN sum that +inf - +inf
    /// gives for a NaN in the row and predicted class 0. Found by the special-values property at C = 4 and 7.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.WidthsAndClasses), MemberType = typeof(TestData))]
    public void Prediction_OfARowWithPositiveInfinity_IsThatClass(int width, int classes)
    {
        const int Rows = 19;
        float[] logits = [.. Enumerable.Range(0, Rows * classes).Select(j => (float)(j % 7) - 3)];
        int[] infinityAt = [.. Enumerable.Range(0, Rows).Select(r => (r * 5) % classes)];
        for (int row = 0; row < Rows; row++)
        {
            logits[(row * classes) + infinityAt[row]] = float.PositiveInfinity;
            if (row % 4 == 1 && infinityAt[row] + 1 < classes)
            {
                logits[(row * classes) + infinityAt[row] + 1] = float.PositiveInfinity; // a tie: the lower index wins
            }
        }

        float[] rowWeights = [.. Enumerable.Range(0, Rows).Select(r => 0.5f + (r % 3))];
        foreach (bool weighted in new[] { false, true })
        {
            var predictions = new int[Rows];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.LossWithMetrics<float>(logits, new int[Rows], classes, default, default, weighted ? rowWeights : default, predictions);
            }

            Assert.True(predictions.SequenceEqual(infinityAt), $"C = {classes}, width {width}, row weights {weighted}: predictions {string.Join(", ", predictions)}, expected {string.Join(", ", infinityAt)}");
        }
    }

    /// <summary>
    /// A row's gradient coefficient <c>(a + 2 z LSE) s r / sum</c> can be finite in double but beyond T's range (logits
    /// near T's largest value, z-loss, a logit scale, row weights): as one factor in T it was +inf, and every class whose
    /// exponential underflowed to 0 got 0 * inf = NaN where the gradient is 0. Found by the special-values property
    /// (16 x 131, width 256, z-loss 0.093, logit scale 4, row weights: NaN for class 0 of a row holding +-8e37).
    /// Here: one-vector rows (C = 3, 7), chunked rows (131, 3000), the soft-capped write and the backward from the saved
    /// log-sum-exp, each against the double reference; an element beyond T's range must be an infinity of its sign.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void GradientCoefficient_BeyondTheTypesRange_GivesZerosNotNaN(int width)
    {
        foreach (int classes in new[] { 3, 7, 131, 3000 })
        {
            CoefficientBeyondRange<float>(width, classes);
            CoefficientBeyondRange<double>(width, classes);
        }
    }

    /// <summary>
    /// The fused linear head had the same pattern as the row kernels before <c>SplitFactor</c>: its row coefficient
    /// <c>1 + 2 z LSE</c> as one factor in T, +inf when z-loss times the log-sum-exp is beyond T's range, so a class
    /// whose exponential (times the cap's derivative) is 0 got <c>0 * inf = NaN</c>, and a finite element +inf. Here
    /// float, one row, hidden size 1 and hidden value 1, so the weight gradient is the logits gradient: soft-cap 30 (the
    /// LSE is about 30), z-loss float's largest value / 50 (the coefficient is 1.2 times float's largest value), the
    /// label far above the cap (its derivative tiny), classes at 0 (a finite gradient, near 4e25) and far below the cap
    /// (a derivative of exactly 0, a gradient of 0), over vector bodies and tails, each against the double reference.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LinearHead_GradientCoefficient_BeyondFloatsRange_GivesZerosNotNaN(int width)
    {
        const int Classes = 40;
        double[] weight = [.. Enumerable.Range(0, Classes).Select(k => k == 0 ? 1000 : k % 2 == 1 ? 0.01 * k : -1e30)];
        var options = new CrossEntropyOptions { Reduction = Reduction.Sum, ZLoss = float.MaxValue / 50.0, LogitSoftcap = 30 };
        Assert.True(2 * options.ZLoss * 29 > float.MaxValue, "the row coefficient is beyond float's range");
        LinearProblem p = LinearTests<float>.Rounded(new LinearProblem(1, 1, Classes, [1.0], weight, null, [0], options, null, null));
        LinearExpected expected = LinearReference.Compute(p);
        LinearTests<float>.Buffers b = LinearTests<float>.Buffers.For(p);
        using (ForcedWidth.Force(width))
        {
            b.Run(p);
        }

        for (int k = 0; k < Classes; k++)
        {
            double e = expected.WeightGradient[k];
            Assert.True(double.IsFinite(e) && Math.Abs(e) < float.MaxValue, $"the reference gradient of class {k} is finite in float");
            double a = b.WeightGradient[k];

            // The label's cap derivative 1 - (y'/c)^2 is 0 in double, and a float ulp (1.2e-7) of its unit-size terms
            // (p - q = 1 - 1) in float, where y'/c rounds next to 1: the floor of 1 in the magnitude covers that.
            Assert.True(
                Math.Abs(a - e) <= Tolerances.Single.Gradient * Math.Max(expected.WeightMagnitude[k], 1),
                $"width {width}, class {k} (weight {weight[k]}): {a}, expected {e} (magnitude {expected.WeightMagnitude[k]:G3})");
        }
    }

    private static void CoefficientBeyondRange<T>(int width, int classes)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int Rows = 4;
        double big = 0.9 * double.CreateTruncating(T.BitDecrement(T.PositiveInfinity)) / 4; // s y stays finite in T
        var rng = new Random(Seeds.For(Rows, classes, 131));
        double[] y = [.. Enumerable.Range(0, Rows * classes).Select(_ => (4 * rng.NextDouble()) - 2)];
        int[] labels = [.. Enumerable.Range(0, Rows).Select(i => (i * 7) % classes)];
        int Other(int row, int k) => (row * classes) + ((labels[row] + k) % classes);
        y[Other(1, 1)] = big;                  // the max, and a class far below it: P = 1 and 0
        y[Other(1, Math.Min(2, classes - 1))] = -big;
        y[Other(2, 1)] = big;                  // a tie: P = 1/2 twice
        y[Other(2, Math.Min(2, classes - 1))] = big;
        for (int k = 0; k < classes; k++)      // a negative LSE: the coefficient is -inf in T
        {
            y[(3 * classes) + k] = k % 3 == 1 ? -0.95 * big : -big;
        }

        double[] rowWeights = [1, 2, 1.5, 2];
        var plain = new CrossEntropyOptions { Reduction = Reduction.Sum, ZLoss = 0.1, LogitScale = 4 };

        // Soft-capped, the LSE stays near the cap: a z-loss near T's largest value overflows the coefficient, and with
        // exponentials of e^-60 and below the elements are finite in T when they are multiplied by the cap's derivative
        // before the large factor: their values check that the factor is split without losing precision.
        double capped = double.CreateTruncating(T.BitDecrement(T.PositiveInfinity)) / 150;
        var softcap = new CrossEntropyOptions { Reduction = Reduction.Sum, ZLoss = capped, LogitScale = 4, LogitSoftcap = 30 };
        foreach (CrossEntropyOptions options in new[] { plain, softcap })
        {
            T[] logits = Data<T>.FromDouble(y);
            T[] r = Data<T>.FromDouble(rowWeights);
            double[] yt = Data<T>.ToDouble(logits);
            double[] q = Reference.LabelEffectiveTargets(labels, classes, null, null, 0);
            (double[] expected, double[] magnitude) = Reference.FullGradient(yt, q, Reference.Counted(labels, null), classes, options, Reference.RowFactors(Rows, Data<T>.ToDouble(r), 1, 1, null));
            for (int j = 0; j < expected.Length; j++)
            {
                expected[j] = double.CreateTruncating(T.CreateTruncating(expected[j])); // beyond T's range: an infinity
            }

            var gradient = new T[logits.Length];
            var backward = new T[logits.Length];
            var lse = new T[Rows];
            var fromSaved = new T[logits.Length];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, classes, options, default, r);
                SoftmaxCrossEntropy.Backward<T>(logits, labels, backward, classes, options, default, r);
                SoftmaxCrossEntropy.Forward<T>(logits, labels, lse, classes, options, default, r);
                SoftmaxCrossEntropy.Backward<T>(logits, labels, lse, T.One, fromSaved, classes, options, default, r);
            }

            Tolerances tol = Tolerances.For<T>();
            string what = $"{typeof(T).Name}, C = {classes}, width {width}, cap {options.LogitSoftcap}";
            Check.Close<T>(gradient, expected, magnitude, tol.Gradient, tol.Floor, classes, what + ": LossAndGradient");
            Check.Close<T>(backward, expected, magnitude, tol.Gradient, tol.Floor, classes, what + ": Backward");

            // Saved in T, the LSE of a row whose largest logits are near T's largest value has lost ln(ties) (an ulp there
            // is 2e31 in float): P = exp(y' - LSE) is then 1 for each tie. Rows 2 and 3 (ties) are left to the fused calls.
            int saved = options.LogitSoftcap == 0 ? 2 * classes : logits.Length;
            Check.Close<T>(fromSaved.AsSpan(0, saved), expected.AsSpan(0, saved), magnitude.AsSpan(0, saved), tol.Gradient, tol.Floor, classes, what + ": Backward from the saved log-sum-exp");
        }
    }

    /// <summary>A one-class row holding a NaN is predicted as class 0, the only class there is.</summary>
    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void Prediction_OfAOneClassRowWithANaN_IsClassZero(int width)
    {
        const int Rows = 16;
        float[] logits = [.. Enumerable.Range(0, Rows).Select(i => i % 3 == 1 ? float.NaN : 1f)];
        var predictions = new int[Rows];
        using (ForcedWidth.Force(width))
        {
            SoftmaxCrossEntropy.LossWithMetrics<float>(logits, new int[Rows], 1, default, default, predictions: predictions);
        }

        Assert.True(predictions.All(p => p == 0), $"width {width}: predictions {string.Join(", ", predictions)}");
    }

    /// <summary>
    /// One row all -inf (with a NaN at <paramref name="nanAt"/> unless it is -1) among 37 finite rows, at the first,
    /// a middle and the last row (short rows run in blocks, the last few from a padded copy); every row counted.
    /// </summary>
    private static void PredictionOfFirstRow(int width, int classes, int nanAt, int? expected)
    {
        const int Rows = 37;
        foreach (int row in new[] { 0, 20, Rows - 1 })
        {
            var logits = new float[Rows * classes];
            for (int k = 0; k < logits.Length; k++)
            {
                logits[k] = k % 7;
            }

            logits.AsSpan(row * classes, classes).Fill(float.NegativeInfinity);
            if (nanAt >= 0)
            {
                logits[(row * classes) + nanAt] = float.NaN;
            }

            var labels = new int[Rows];
            var predictions = new int[Rows];
            var gradient = new float[logits.Length];
            var withGradient = new int[Rows];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.LossWithMetrics<float>(logits, labels, classes, default, default, predictions: predictions);
                SoftmaxCrossEntropy.LossAndGradientWithMetrics<float>(logits, labels, gradient, classes, default, default, predictions: withGradient);
            }

            foreach (int p in new[] { predictions[row], withGradient[row] })
            {
                bool ok = expected is int e ? p == e : p >= 0 && p < classes;
                Assert.True(ok, $"C = {classes}, width {width}, NaN at {nanAt}: prediction {p} for row {row}, expected {expected?.ToString() ?? $"a class in [0, {classes})"}");
            }
        }
    }
}
