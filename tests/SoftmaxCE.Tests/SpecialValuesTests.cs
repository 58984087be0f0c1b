using System;
using System.Numerics;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>
/// Masked classes (-inf), huge logits, NaN, one class, every row ignored, empty batches: for every width, on
/// short rows (one vector or less, including the padded last rows) and long rows (several vectors and chunks).
/// </summary>
public abstract class SpecialValuesTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    /// <summary>Short rows for every width, long rows, and a row of several 8 KiB chunks.</summary>
    private static readonly int[] ClassCounts = [2, 3, 7, 16, 17, 37, 300, 5000];

    private static readonly T NegInf = T.NegativeInfinity;

    private static void CheckAll(LabelProblem<T> p, int width, bool checkGradient = true)
    {
        string what = $"width {width}, {p}";
        var losses = new T[p.Rows];
        var gradient = new T[p.Logits.Length];
        T loss, fused;
        using (ForcedWidth.Force(width))
        {
            SoftmaxCrossEntropy.RowLosses<T>(p.Logits, p.Labels, losses, p.Classes, p.Options, p.Weights);
            loss = SoftmaxCrossEntropy.Loss<T>(p.Logits, p.Labels, p.Classes, p.Options, p.Weights);
            fused = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Labels, gradient, p.Classes, p.Options, p.Weights);
        }

        Check.Close<T>(losses, p.RowLosses, p.RowLossMagnitudes, Tol.Loss, Tol.Floor, 1, what + ": row losses");
        Check.Scalar(double.CreateTruncating(loss), p.Loss, (Tol.Loss * p.LossMagnitude) + Tol.Floor, what + ": Loss");
        Check.Scalar(double.CreateTruncating(fused), p.Loss, (Tol.Loss * p.LossMagnitude) + Tol.Floor, what + ": LossAndGradient's loss");
        if (checkGradient)
        {
            Check.Close<T>(gradient, p.Gradient.Gradient, p.Gradient.Magnitude, Tol.Gradient, Tol.Floor, p.Classes, what + ": gradient");
        }
    }

    private static void CheckAll(DenseProblem<T> p, int width)
    {
        string what = $"width {width}, {p}";
        var gradient = new T[p.Logits.Length];
        T loss, fused;
        using (ForcedWidth.Force(width))
        {
            loss = SoftmaxCrossEntropy.Loss<T>(p.Logits, p.Targets, p.Classes, p.Options, p.Weights);
            fused = SoftmaxCrossEntropy.LossAndGradient<T>(p.Logits, p.Targets, gradient, p.Classes, p.Options, p.Weights);
        }

        Check.Scalar(double.CreateTruncating(loss), p.Loss, (Tol.Loss * p.LossMagnitude) + Tol.Floor, what + ": Loss");
        Check.Scalar(double.CreateTruncating(fused), p.Loss, (Tol.Loss * p.LossMagnitude) + Tol.Floor, what + ": LossAndGradient's loss");
        Check.Close<T>(gradient, p.Gradient.Gradient, p.Gradient.Magnitude, Tol.Gradient, Tol.Floor, p.Classes, what + ": gradient");
    }

    private static void CheckSoftmaxes(T[] logits, int classes, int width, string what)
    {
        var p = new T[logits.Length];
        var logP = new T[logits.Length];
        using (ForcedWidth.Force(width))
        {
            SoftmaxCrossEntropy.Softmax<T>(logits, p, classes);
            SoftmaxCrossEntropy.LogSoftmax<T>(logits, logP, classes);
        }

        double[] y = Data<T>.ToDouble(logits);
        Check.CloseRelative<T>(p, Reference.Softmax(y, classes), Tol.Probability, Tol.Floor, classes, what + ": softmax");
        Check.Close<T>(logP, Reference.LogSoftmax(y, classes), Reference.LogSoftmaxMagnitude(y, classes), Tol.LogProbability, Tol.Floor, classes, what + ": log-softmax");
    }

    /// <summary>Masks about a third of each row's classes (never <paramref name="keep"/>, never all).</summary>
    private static void Mask(T[] logits, int rows, int classes, Random rng, Func<int, int> keep)
    {
        for (int i = 0; i < rows; i++)
        {
            for (int k = 0; k < classes; k++)
            {
                if (k != keep(i) && rng.Next(3) == 0)
                {
                    logits[(i * classes) + k] = NegInf;
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void MaskedClasses_HaveZeroProbabilityAndZeroGradient(int width)
    {
        foreach (int classes in ClassCounts)
        {
            foreach (int rows in new[] { 1, 3, 6 })
            {
                var rng = new Random(Seeds.For(rows, classes, 70));
                int[] labels = Data<T>.Labels(rng, rows, classes);
                T[] logits = Data<T>.Logits(rng, rows * classes);
                Mask(logits, rows, classes, rng, i => labels[i]);
                string what = $"masked, width {width}, [{rows} x {classes}]";
                CheckSoftmaxes(logits, classes, width, what);

                var probabilities = new T[logits.Length];
                var logProbabilities = new T[logits.Length];
                var labelGradient = new T[logits.Length];
                var denseGradient = new T[logits.Length];
                T[] oneHot = Data<T>.FromDouble(Reference.OneHot(labels, classes));
                T[] weights = Data<T>.Weights(rng, classes);
                using (ForcedWidth.Force(width))
                {
                    SoftmaxCrossEntropy.Softmax<T>(logits, probabilities, classes);
                    SoftmaxCrossEntropy.LogSoftmax<T>(logits, logProbabilities, classes);
                    SoftmaxCrossEntropy.Backward<T>(logits, labels, labelGradient, classes, new() { IgnoreIndex = -100 }, weights);
                    SoftmaxCrossEntropy.Backward<T>(logits, oneHot, denseGradient, classes, new() { Reduction = Reduction.Sum }, weights);
                }

                for (int j = 0; j < logits.Length; j++)
                {
                    if (T.IsNegativeInfinity(logits[j]))
                    {
                        Assert.True(probabilities[j] == T.Zero, $"{what}: P[{j}] = {probabilities[j]}, expected exactly 0");
                        Assert.True(T.IsNegativeInfinity(logProbabilities[j]), $"{what}: log P[{j}] = {logProbabilities[j]}, expected -inf");
                        Assert.True(labelGradient[j] == T.Zero, $"{what}: label gradient[{j}] = {labelGradient[j]}, expected exactly 0");
                        Assert.True(denseGradient[j] == T.Zero, $"{what}: dense gradient[{j}] = {denseGradient[j]}, expected exactly 0");
                    }
                }

                CheckAll(new LabelProblem<T>(logits, labels, classes, new("masked+weights", new() { IgnoreIndex = -100 }, true, 0), weights), width);
                CheckAll(new LabelProblem<T>(logits, labels, classes, new("masked+sum", new() { Reduction = Reduction.Sum }, false, 0)), width);
                CheckAll(new DenseProblem<T>(logits, oneHot, classes, new("masked+onehot+weights", new() { Reduction = Reduction.Sum }, true, TargetKind.OneHot), weights), width);
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void MaskedChunks_OfALongRow_AreSkippedCorrectly(int width)
    {
        // Whole 8 KiB chunks of -inf at the start, in the middle and at the end of long rows; the maximum in a later chunk.
        const int Classes = 9000, Rows = 2;
        var rng = new Random(71);
        T[] logits = Data<T>.Logits(rng, Rows * Classes);
        logits.AsSpan(0, 4500).Fill(NegInf);
        logits.AsSpan(Classes + 2000, 5000).Fill(NegInf);
        logits.AsSpan((2 * Classes) - 1500, 1500).Fill(NegInf);
        logits[4700] = T.CreateTruncating(30.0);
        int[] labels = [4600, Classes - 1600];
        string what = $"masked chunks, width {width}";
        CheckSoftmaxes(logits, Classes, width, what);
        CheckAll(new LabelProblem<T>(logits, labels, Classes, new("masked chunks", default, false, 0)), width);
        T[] targets = Data<T>.FromDouble(Reference.OneHot(labels, Classes));
        CheckAll(new DenseProblem<T>(logits, targets, Classes, new("masked chunks, dense", default, false, TargetKind.OneHot)), width);
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LabelOnMaskedClass_GivesPositiveInfinityLoss(int width)
    {
        foreach (int classes in ClassCounts)
        {
            const int Rows = 3;
            var rng = new Random(Seeds.For(Rows, classes, 72));
            int[] labels = Data<T>.Labels(rng, Rows, classes);
            T[] logits = Data<T>.Logits(rng, Rows * classes);
            logits[classes + labels[1]] = NegInf; // row 1's label is masked
            var losses = new T[Rows];
            T loss;
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.RowLosses<T>(logits, labels, losses, classes);
                loss = SoftmaxCrossEntropy.Loss<T>(logits, labels, classes);
            }

            string what = $"label on a masked class, width {width}, C = {classes}";
            Assert.True(T.IsPositiveInfinity(losses[1]), $"{what}: row loss {losses[1]}, expected +inf");
            Assert.True(T.IsPositiveInfinity(loss), $"{what}: loss {loss}, expected +inf");
            Assert.True(T.IsFinite(losses[0]) && T.IsFinite(losses[2]), $"{what}: the other rows' losses {losses[0]}, {losses[2]} are not finite");
            double[] expected = Reference.LabelRowLosses(Data<T>.ToDouble(logits), labels, classes, null, null, 0);
            Check.CloseRelative<T>([losses[0], losses[2]], [expected[0], expected[2]], 4 * Tol.Loss * Math.Log(classes + 2), Tol.Floor, 1, what + ": other rows");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void LossAndGradient_LabelOnMaskedClass_GradientIsSoftmaxMinusOneHotAsInPyTorch(int width)
    {
        // PyTorch: d/dy (LSE - y_l) = P - onehot(l) even when P_l = 0: -1/D at the label, P/D elsewhere, all finite.
        foreach (int classes in ClassCounts)
        {
            const int Rows = 2;
            var rng = new Random(Seeds.For(Rows, classes, 73));
            int[] labels = Data<T>.Labels(rng, Rows, classes);
            T[] logits = Data<T>.Logits(rng, Rows * classes);
            logits[labels[0]] = NegInf;
            var gradient = new T[logits.Length];
            T loss;
            using (ForcedWidth.Force(width))
            {
                loss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, classes);
            }

            var p = new LabelProblem<T>(logits, labels, classes, new("label masked", default, false, 0));
            Assert.True(T.IsPositiveInfinity(loss), $"width {width}, C = {classes}: loss {loss}, expected +inf");
            Check.Close<T>(gradient, p.Gradient.Gradient, p.Gradient.Magnitude, Tol.Gradient, Tol.Floor, classes, $"label on a masked class, width {width}, C = {classes}: gradient");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void DenseTargetZeroOnMaskedClass_ContributesNothing(int width)
    {
        foreach (int classes in ClassCounts)
        {
            foreach (int rows in new[] { 1, 4 })
            {
                var rng = new Random(Seeds.For(rows, classes, 74));
                T[] logits = Data<T>.Logits(rng, rows * classes);
                T[] targets = Data<T>.Targets(rng, rows, classes, TargetKind.Sparse);
                for (int j = 0; j < logits.Length; j++)
                {
                    if (targets[j] == T.Zero && rng.Next(2) == 0)
                    {
                        logits[j] = NegInf;
                    }
                }

                T[] weights = Data<T>.Weights(rng, classes);
                var p = new DenseProblem<T>(logits, targets, classes, new("0 on masked", default, false, TargetKind.Sparse));
                var pw = new DenseProblem<T>(logits, targets, classes, new("0 on masked, weights, sum", new() { Reduction = Reduction.Sum }, true, TargetKind.Sparse), weights);
                Assert.True(double.IsFinite(p.Loss), "the reference loss must be finite");
                CheckAll(p, width);
                CheckAll(pw, width);

                var gradient = new T[logits.Length];
                using (ForcedWidth.Force(width))
                {
                    SoftmaxCrossEntropy.Backward<T>(logits, targets, gradient, classes);
                }

                for (int j = 0; j < logits.Length; j++)
                {
                    if (T.IsNegativeInfinity(logits[j]))
                    {
                        Assert.True(gradient[j] == T.Zero, $"width {width}, [{rows} x {classes}]: gradient[{j}] = {gradient[j]} on a masked class, expected 0");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void DenseTargetNonZeroOnMaskedClass_GivesPositiveInfinityLoss(int width)
    {
        foreach (int classes in ClassCounts)
        {
            T[] logits = Data<T>.Logits(new Random(75), 2 * classes);
            T[] targets = Data<T>.Targets(new Random(76), 2, classes, TargetKind.Distribution);
            logits[classes + (classes / 2)] = NegInf;
            T loss;
            using (ForcedWidth.Force(width))
            {
                loss = SoftmaxCrossEntropy.Loss<T>(logits, targets, classes);
            }

            Assert.True(T.IsPositiveInfinity(loss), $"width {width}, C = {classes}: loss {loss}, expected +inf");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void HugeLogits_DoNotOverflow(int width)
    {
        T big = T.CreateTruncating(3e38), nearBig = T.CreateTruncating(2.9e38), mid = T.CreateTruncating(1e38);
        foreach (int classes in ClassCounts)
        {
            var rng = new Random(Seeds.For(4, classes, 77));

            // Softmax only: +3e38 and -3e38 in one row (their difference overflows float, the probabilities must not).
            T[] extreme = Data<T>.Logits(rng, 3 * classes);
            extreme[0] = big;
            extreme[classes - 1] = -big;
            extreme[classes] = -big;
            extreme[(2 * classes) - 1] = -nearBig;
            extreme[2 * classes] = big;
            extreme[(3 * classes) - 1] = big;
            var probabilities = new T[extreme.Length];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Softmax<T>(extreme, probabilities, classes);
            }

            string what = $"huge logits, width {width}, C = {classes}";
            foreach (T v in probabilities)
            {
                Assert.True(T.IsFinite(v), $"{what}: a probability is {v}");
            }

            Check.CloseRelative<T>(probabilities, Reference.Softmax(Data<T>.ToDouble(extreme), classes), Tol.Probability, Tol.Floor, classes, what + ": softmax");

            // Everything: rows whose spread stays below float's maximum.
            T[] logits = Data<T>.Logits(rng, 4 * classes);
            logits[classes / 2] = big;                    // row 0: one huge logit among small ones
            logits[classes] = -big;                       // row 1: one hugely negative logit
            logits.AsSpan(2 * classes, classes).Fill(-big); // row 2: all near -3e38
            logits[(2 * classes) + (classes / 3)] = -nearBig;
            logits[(3 * classes) + (classes - 1)] = big;  // row 3: two huge logits
            logits[3 * classes] = classes > 1 ? nearBig : big;
            if (classes > 2)
            {
                logits[(3 * classes) + 1] = mid;
            }

            int[] labels = [0, classes - 1, classes / 3, 0];
            CheckSoftmaxes(logits, classes, width, what);
            var p = new LabelProblem<T>(logits, labels, classes, new("huge", default, false, 0));
            CheckAll(p, width);
            var gradient = new T[logits.Length];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Backward<T>(logits, labels, gradient, classes);
            }

            foreach (T v in gradient)
            {
                Assert.True(T.IsFinite(v), $"{what}: a gradient element is {v}");
            }

            T[] targets = Data<T>.Targets(rng, 4, classes, TargetKind.Distribution);
            CheckAll(new DenseProblem<T>(logits, targets, classes, new("huge, dense", default, false, TargetKind.Distribution)), width);
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void NaNInARow_PropagatesToThatRowOnly(int width)
    {
        foreach (int classes in ClassCounts)
        {
            const int Rows = 5;
            foreach (int nanRow in new[] { 0, 2, Rows - 1 })
            {
                var rng = new Random(Seeds.For(nanRow, classes, 78));
                T[] logits = Data<T>.Logits(rng, Rows * classes);
                int[] labels = Data<T>.Labels(rng, Rows, classes);
                logits[(nanRow * classes) + rng.Next(classes)] = T.NaN;
                T[] targets = Data<T>.Targets(rng, Rows, classes, TargetKind.Distribution);
                var losses = new T[Rows];
                var probabilities = new T[logits.Length];
                var logProbabilities = new T[logits.Length];
                var gradient = new T[logits.Length];
                var denseGradient = new T[logits.Length];
                T loss, denseLoss;
                using (ForcedWidth.Force(width))
                {
                    SoftmaxCrossEntropy.RowLosses<T>(logits, labels, losses, classes);
                    loss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, classes);
                    denseLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, targets, denseGradient, classes);
                    SoftmaxCrossEntropy.Softmax<T>(logits, probabilities, classes);
                    SoftmaxCrossEntropy.LogSoftmax<T>(logits, logProbabilities, classes);
                }

                string what = $"NaN in row {nanRow}, width {width}, [{Rows} x {classes}]";
                Assert.True(T.IsNaN(loss), $"{what}: loss {loss}, expected NaN");
                Assert.True(T.IsNaN(denseLoss), $"{what}: dense loss {denseLoss}, expected NaN");
                Assert.True(T.IsNaN(losses[nanRow]), $"{what}: row loss {losses[nanRow]}, expected NaN");

                var p = new LabelProblem<T>(logits, labels, classes, new("NaN row", default, false, 0));
                double[] expectedLosses = p.RowLosses;
                Check.Close<T>(losses, expectedLosses, p.RowLossMagnitudes, Tol.Loss, Tol.Floor, 1, what + ": row losses");

                // The NaN row is all NaN in every output (documented); the other rows are as without it.
                double[] y = Data<T>.ToDouble(logits);
                Check.CloseRelative<T>(probabilities, Reference.Softmax(y, classes), Tol.Probability, Tol.Floor, classes, what + ": softmax");
                Check.Close<T>(logProbabilities, Reference.LogSoftmax(y, classes), Reference.LogSoftmaxMagnitude(y, classes), Tol.LogProbability, Tol.Floor, classes, what + ": log-softmax");
                Check.Close<T>(gradient, p.Gradient.Gradient, p.Gradient.Magnitude, Tol.Gradient, Tol.Floor, classes, what + ": gradient");
                var d = new DenseProblem<T>(logits, targets, classes, new("NaN row, dense", default, false, TargetKind.Distribution));
                Check.Close<T>(denseGradient, d.Gradient.Gradient, d.Gradient.Magnitude, Tol.Gradient, Tol.Floor, classes, what + ": dense gradient");
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void NaNInAnIgnoredRow_DoesNotReachTheLoss(int width)
    {
        foreach (int classes in ClassCounts)
        {
            const int Rows = 4;
            var rng = new Random(Seeds.For(Rows, classes, 79));
            T[] logits = Data<T>.Logits(rng, Rows * classes);
            int[] labels = Data<T>.Labels(rng, Rows, classes);
            labels[1] = -100;
            logits[classes + rng.Next(classes)] = T.NaN;
            var options = new CrossEntropyOptions { IgnoreIndex = -100 };
            var losses = new T[Rows];
            T loss;
            using (ForcedWidth.Force(width))
            {
                loss = SoftmaxCrossEntropy.Loss<T>(logits, labels, classes, options);
                SoftmaxCrossEntropy.RowLosses<T>(logits, labels, losses, classes, options);
            }

            var p = new LabelProblem<T>(logits, labels, classes, new("NaN in ignored row", options, false, 0));
            Check.Scalar(double.CreateTruncating(loss), p.Loss, Tol.Loss * p.LossMagnitude, $"width {width}, C = {classes}: loss");
            Assert.True(losses[1] == T.Zero, $"width {width}, C = {classes}: the ignored row's loss is {losses[1]}, expected 0");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void RowOfOnlyNegativeInfinity_GivesNaN(int width)
    {
        foreach (int classes in ClassCounts)
        {
            const int Rows = 3;
            T[] logits = Data<T>.Logits(new Random(80), Rows * classes);
            logits.AsSpan(classes, classes).Fill(NegInf);
            var probabilities = new T[logits.Length];
            var losses = new T[Rows];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Softmax<T>(logits, probabilities, classes);
                SoftmaxCrossEntropy.RowLosses<T>(logits, [0, 0, 0], losses, classes);
            }

            string what = $"row of -inf, width {width}, C = {classes}";
            for (int k = 0; k < classes; k++)
            {
                Assert.True(T.IsNaN(probabilities[classes + k]), $"{what}: P[1, {k}] = {probabilities[classes + k]}, expected NaN");
            }

            Assert.True(T.IsNaN(losses[1]), $"{what}: row loss {losses[1]}, expected NaN");
            Assert.True(T.IsFinite(losses[0]) && T.IsFinite(losses[2]), $"{what}: other rows {losses[0]}, {losses[2]}");
            Check.CloseRelative<T>(probabilities.AsSpan(0, classes), Reference.Softmax(Data<T>.ToDouble(logits.AsSpan(0, classes)), classes), Tol.Probability, Tol.Floor, classes, what + ": row 0");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void OneClass_GivesZeroLossAndZeroGradient(int width)
    {
        foreach (int rows in new[] { 1, 2, 3, 7, 16, 17, 40 })
        {
            T[] logits = Data<T>.Logits(new Random(rows), rows, scale: 50);
            logits[0] = T.CreateTruncating(3e38);
            int[] labels = new int[rows];
            T[] ones = Data<T>.FromDouble(Array.ConvertAll(new double[rows], _ => 1.0));
            T[] halves = Data<T>.FromDouble(Array.ConvertAll(new double[rows], _ => 0.5));
            var probabilities = new T[rows];
            var logProbabilities = new T[rows];
            var gradient = new T[rows];
            var denseGradient = new T[rows];
            var halfGradient = new T[rows];
            var losses = new T[rows];
            T loss, denseLoss, halfLoss;
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Softmax<T>(logits, probabilities, 1);
                SoftmaxCrossEntropy.LogSoftmax<T>(logits, logProbabilities, 1);
                SoftmaxCrossEntropy.RowLosses<T>(logits, labels, losses, 1);
                loss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, 1);
                denseLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, ones, denseGradient, 1);
                halfLoss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, halves, halfGradient, 1, new() { Reduction = Reduction.Sum });
            }

            string what = $"C = 1, {rows} rows, width {width}";
            for (int i = 0; i < rows; i++)
            {
                Assert.True(probabilities[i] == T.One, $"{what}: P[{i}] = {probabilities[i]}, expected 1");
                Assert.True(logProbabilities[i] == T.Zero, $"{what}: log P[{i}] = {logProbabilities[i]}, expected 0");
                Assert.True(losses[i] == T.Zero, $"{what}: row loss {i} = {losses[i]}, expected 0");
            }

            Assert.True(loss == T.Zero && denseLoss == T.Zero && halfLoss == T.Zero, $"{what}: losses {loss}, {denseLoss}, {halfLoss}, expected 0");
            Check.AllZero<T>(gradient, what + ": label gradient");
            Check.AllZero<T>(denseGradient, what + ": dense gradient (target 1)");
            Check.AllZero<T>(halfGradient, what + ": dense gradient (target 0.5: P * 0.5 - 0.5)");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void OneClass_WithSmoothingAndWeights_GivesZeroLossAndNearZeroGradient(int width)
    {
        const int Rows = 9;
        T[] logits = Data<T>.Logits(new Random(81), Rows);
        int[] labels = new int[Rows];
        T[] weights = [T.CreateTruncating(2.5)];
        var gradient = new T[Rows];
        T loss;
        using (ForcedWidth.Force(width))
        {
            loss = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, gradient, 1, new() { LabelSmoothing = 0.1 }, weights);
        }

        Assert.True(loss == T.Zero, $"width {width}: loss {loss}, expected 0");
        double tolerance = Tol.Gradient / Rows;
        foreach (T g in gradient)
        {
            Check.Scalar(double.CreateTruncating(g), 0, tolerance, $"width {width}: gradient with one class");
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void EveryRowIgnored_GivesZeroGradientNaNMeanAndZeroSum(int width)
    {
        foreach (int classes in ClassCounts)
        {
            foreach (int rows in new[] { 1, 2, 5, 17 })
            {
                T[] logits = Data<T>.Logits(new Random(Seeds.For(rows, classes, 82)), rows * classes);
                int[] labels = Array.ConvertAll(new int[rows], _ => -100);
                T[] weights = Data<T>.Weights(new Random(83), classes);
                foreach (CrossEntropyOptions mean in new CrossEntropyOptions[] { new() { IgnoreIndex = -100 }, new() { IgnoreIndex = -100, LabelSmoothing = 0.2 } })
                {
                    foreach (bool weighted in new[] { false, true })
                    {
                        ReadOnlySpan<T> w = weighted ? weights : default;
                        CrossEntropyOptions sum = mean with { Reduction = Reduction.Sum };
                        var meanGradient = new Guarded<T>(logits.Length);
                        var sumGradient = new Guarded<T>(logits.Length);
                        var inPlace = new Guarded<T>(logits);
                        var losses = new Guarded<T>(rows);
                        T meanLoss, sumLoss, fusedMean, fusedSum;
                        using (ForcedWidth.Force(width))
                        {
                            meanLoss = SoftmaxCrossEntropy.Loss<T>(logits, labels, classes, mean, w);
                            sumLoss = SoftmaxCrossEntropy.Loss<T>(logits, labels, classes, sum, w);
                            fusedMean = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, meanGradient.Span, classes, mean, w);
                            fusedSum = SoftmaxCrossEntropy.LossAndGradient<T>(logits, labels, sumGradient.Span, classes, sum, w);
                            SoftmaxCrossEntropy.Backward<T>(inPlace.Span, labels, inPlace.Span, classes, mean, w);
                            SoftmaxCrossEntropy.RowLosses<T>(logits, labels, losses.Span, classes, mean, w);
                        }

                        string what = $"every row ignored, width {width}, [{rows} x {classes}], eps {mean.LabelSmoothing}, weighted {weighted}";
                        Assert.True(T.IsNaN(meanLoss), $"{what}: Mean loss {meanLoss}, expected NaN");
                        Assert.True(T.IsNaN(fusedMean), $"{what}: LossAndGradient Mean loss {fusedMean}, expected NaN");
                        Assert.True(sumLoss == T.Zero, $"{what}: Sum loss {sumLoss}, expected 0");
                        Assert.True(fusedSum == T.Zero, $"{what}: LossAndGradient Sum loss {fusedSum}, expected 0");
                        Check.AllZero<T>(meanGradient.Span, what + ": Mean gradient");
                        Check.AllZero<T>(sumGradient.Span, what + ": Sum gradient");
                        Check.AllZero<T>(inPlace.Span, what + ": Mean gradient in place");
                        Check.AllZero<T>(losses.Span, what + ": row losses");
                        meanGradient.AssertGuardsIntact(what);
                        sumGradient.AssertGuardsIntact(what);
                        inPlace.AssertGuardsIntact(what);
                        losses.AssertGuardsIntact(what);
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void IgnoredRows_GetZeroGradientAndZeroLossAmongOthers(int width)
    {
        foreach (int classes in ClassCounts)
        {
            const int Rows = 7;
            var rng = new Random(Seeds.For(Rows, classes, 84));
            T[] logits = Data<T>.Logits(rng, Rows * classes);
            int[] labels = Data<T>.Labels(rng, Rows, classes);
            labels[0] = labels[3] = labels[6] = 5; // a valid-looking class index used as the ignored value
            var config = new LabelConfig("ignore 5", new() { IgnoreIndex = 5, LabelSmoothing = 0.1 }, true, 0);
            var p = new LabelProblem<T>(logits, labels, classes, config, Data<T>.Weights(rng, classes));
            CheckAll(p, width);
            var gradient = new T[logits.Length];
            var losses = new T[Rows];
            using (ForcedWidth.Force(width))
            {
                SoftmaxCrossEntropy.Backward<T>(logits, labels, gradient, classes, p.Options, p.Weights);
                SoftmaxCrossEntropy.RowLosses<T>(logits, labels, losses, classes, p.Options, p.Weights);
            }

            foreach (int i in new[] { 0, 3, 6 })
            {
                Check.AllZero<T>(gradient.AsSpan(i * classes, classes), $"ignored row {i}, width {width}, C = {classes}");
                Assert.True(losses[i] == T.Zero, $"ignored row {i}: loss {losses[i]}");
            }
        }
    }

    [Fact]
    public void EmptyBatch_MeanIsNaNAndSumIsZero()
    {
        foreach (int width in TestData.WidthBits)
        {
            using (ForcedWidth.Force(width))
            {
                T labelsMean = SoftmaxCrossEntropy.Loss<T>([], ReadOnlySpan<int>.Empty, 4);
                T labelsSum = SoftmaxCrossEntropy.Loss<T>([], ReadOnlySpan<int>.Empty, 4, new() { Reduction = Reduction.Sum });
                T denseMean = SoftmaxCrossEntropy.Loss<T>([], ReadOnlySpan<T>.Empty, 4);
                T denseSum = SoftmaxCrossEntropy.LossAndGradient<T>([], ReadOnlySpan<T>.Empty, [], 4, new() { Reduction = Reduction.Sum });
                SoftmaxCrossEntropy.RowLosses<T>([], ReadOnlySpan<int>.Empty, [], 4);
                if (!(T.IsNaN(labelsMean) && T.IsNaN(denseMean) && labelsSum == T.Zero && denseSum == T.Zero))
                {
                    throw new XunitException($"width {width}: empty batch gave mean {labelsMean} / {denseMean}, sum {labelsSum} / {denseSum}; expected NaN, NaN, 0, 0.");
                }
            }
        }
    }
}

public sealed class SpecialValuesTestsSingle : SpecialValuesTests<float>
{
}

public sealed class SpecialValuesTestsDouble : SpecialValuesTests<double>
{
}
