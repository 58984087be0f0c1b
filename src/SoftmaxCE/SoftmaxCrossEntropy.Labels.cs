using System;
using System.Numerics;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;

namespace SoftmaxCE;

// Cross-entropy with class-index labels.
public static unsafe partial class SoftmaxCrossEntropy
{
    /// <summary>
    /// The cross-entropy loss of logits against class-index labels, reduced over the batch.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism); the default is PyTorch's default.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator does not change: a row of weight 0 has a zero loss and gradient
    /// but still counts (unlike an ignored label); pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <returns>
    /// The loss. Row <c>i</c> with label <c>l</c> costs <c>w_l (LSE_i - y_il)</c> (with smoothing <c>eps</c>:
    /// <c>(1 - eps) w_l (LSE_i - y_il) + (eps / C) sum_k w_k (LSE_i - y_ik)</c>). <see cref="Reduction.Sum"/> adds the
    /// rows up; <see cref="Reduction.Mean"/> divides the sum by the sum of <c>w_l</c> over the rows that are not
    /// ignored (their number, without weights). When every row is ignored that mean is 0/0: NaN, as in PyTorch.
    /// The batch sum is accumulated in double precision.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="labels"/> or <paramref name="classWeights"/> has the wrong length; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>A label on a masked class (logit negative infinity) gives positive infinity; a NaN logit gives NaN.</remarks>
    public static T Loss<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        RowTotals totals = RunLabels<T, NoOutput>(logits, default, default, default, default, labels, classes, rows, options, classWeights, rowWeights, 1, argmax: false);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    /// <summary>
    /// Each row's cross-entropy loss against its class-index label (PyTorch's <c>reduction='none'</c>).
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="rowLosses">Receives one loss per row: <c>w_l (LSE_i - y_il)</c>, with smoothing as in
    /// <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>; 0 for an ignored row.
    /// It may not overlap any input.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.Reduction"/> and
    /// <see cref="CrossEntropyOptions.Denominator"/> (each row's loss is unreduced).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator does not change: a row of weight 0 has a zero loss and gradient
    /// but still counts (unlike an ignored label); pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="labels"/>, <paramref name="rowLosses"/> or <paramref name="classWeights"/> has the wrong length;
    /// <paramref name="rowLosses"/> overlaps an input; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void RowLosses<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> rowLosses, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        Validation.Length(rowLosses.Length, rows, nameof(rowLosses), "one loss per row");
        Validation.NoOverlap<T, T>(rowLosses, logits, allowSame: false, nameof(rowLosses), nameof(logits));
        Validation.NoOverlap<T, int>(rowLosses, labels, allowSame: false, nameof(rowLosses), nameof(labels));
        Validation.NoOverlap<T, T>(rowLosses, classWeights, allowSame: false, nameof(rowLosses), nameof(classWeights));
        Validation.NoOverlap<T, T>(rowLosses, rowWeights, allowSame: false, nameof(rowLosses), nameof(rowWeights));
        Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        RunLabels<T, NoOutput>(logits, default, rowLosses, default, default, labels, classes, rows, options, classWeights, rowWeights, 1, argmax: false);
    }

    /// <summary>
    /// The gradient of the reduced cross-entropy loss with respect to the logits, for class-index labels.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>; the same length as <paramref name="logits"/>. It may be
    /// the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise, nor any other input.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator does not change: a row of weight 0 has a zero loss and gradient
    /// but still counts (unlike an ignored label); pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="labels"/>, <paramref name="gradient"/> or <paramref name="classWeights"/> has the wrong length;
    /// <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>
    /// Row <c>i</c> with label <c>l</c>: <c>(P_ik * (w_l (1 - eps) + (eps / C) sum_j w_j) - (1 - eps) w_l [k == l] - (eps / C) w_k) / D</c>,
    /// which is <c>(softmax(y_i) - onehot(l)) / D</c> without weights or smoothing; <c>D</c> is the mean's denominator
    /// (1 for <see cref="Reduction.Sum"/>). Ignored rows get zeros. A masked class (logit negative infinity) gets 0.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.
    /// </remarks>
    public static void Backward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> gradient, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LossAndGradient(logits, labels, gradient, classes, options, classWeights, rowWeights);

    /// <summary>
    /// The reduced cross-entropy loss and its gradient with respect to the logits, for class-index labels, in one
    /// fused pass over each row.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, as
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes it.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator does not change: a row of weight 0 has a zero loss and gradient
    /// but still counts (unlike an ignored label); pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <returns>The loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> returns it.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="labels"/>, <paramref name="gradient"/> or <paramref name="classWeights"/> has the wrong length;
    /// <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static T LossAndGradient<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> gradient, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        ValidateGradient<T>(logits, gradient, classWeights, rowWeights);
        Validation.NoOverlap<T, int>(gradient, labels, allowSame: false, nameof(gradient), nameof(labels));
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        RowTotals totals = RunLabels<T, ScaledExpOutput>(logits, gradient, default, default, default, labels, classes, rows, options, classWeights, rowWeights, 1 / divisor, argmax: false);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    /// <summary>
    /// The denominator that <see cref="Reduction.Mean"/> divides by for these labels: the number of rows that are
    /// not ignored, or, with class weights, the sum of the weights of their labels (added in row order, in double).
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="classes">The number of classes <c>C</c>.</param>
    /// <param name="options">The options of the calls (only <see cref="CrossEntropyOptions.IgnoreIndex"/> matters).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <returns>The denominator. Add it up over micro-batches or data-parallel ranks (with any all-reduce) and pass
    /// the total as <see cref="CrossEntropyOptions.Denominator"/> to every call: the summed losses and gradients then
    /// equal those of the whole batch. For dense targets the denominator is simply the number of rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive, or a label is outside
    /// <c>[0, classes)</c> and not the ignored value.</exception>
    /// <exception cref="ArgumentException"><paramref name="classWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    public static double MeanDenominator<T>(ReadOnlySpan<int> labels, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        Validation.Rows(0, classes);
        Validation.ClassWeights(classWeights.Length, classes);
        return Validation.Labels(labels, classes, options.IgnoreIndex, classWeights).Denominator;
    }

    /// <summary>
    /// <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>,
    /// and from the same fused pass the z-loss part of the loss, the number of counted rows whose label is the row's
    /// argmax (accuracy), and optionally each row's predicted class.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>; it may be the very same memory as <paramref name="logits"/> (in place),
    /// but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">All options, as for <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator does not change: a row of weight 0 has a zero loss and gradient
    /// but still counts (unlike an ignored label); pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <param name="predictions">Empty, or one element per row: receives the row's argmax (the lowest index on ties, as
    /// PyTorch's <c>argmax</c>; of the soft-capped logits when capping), or -1 for an ignored row. It may not overlap any other argument.
    /// The argmax of a row holding a NaN is unspecified.</param>
    /// <returns>The loss, its z-loss part, the correct count and the number of counted rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">As for <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>.</exception>
    /// <exception cref="ArgumentException">As for <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>,
    /// and <paramref name="predictions"/> has neither length 0 nor one element per row.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static CrossEntropyMetrics<T> LossAndGradientWithMetrics<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> gradient, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, Span<int> predictions = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        ValidateGradient<T>(logits, gradient, classWeights, rowWeights);
        Validation.NoOverlap<T, int>(gradient, labels, allowSame: false, nameof(gradient), nameof(labels));
        ValidatePredictions(predictions, rows, logits, labels, classWeights, rowWeights);
        Validation.NoOverlap<int, T>(predictions, gradient, allowSame: false, nameof(predictions), nameof(gradient));
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        RowTotals totals = RunLabels<T, ScaledExpOutput>(logits, gradient, default, predictions, default, labels, classes, rows, options, classWeights, rowWeights, 1 / divisor, argmax: true);
        return Metrics<T>(totals, divisor, counts.Counted);
    }

    /// <summary>
    /// <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>, and from the same
    /// pass the z-loss part, the number of counted rows whose label is the row's argmax, and optionally each row's
    /// predicted class: the evaluation loop's call.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">All options, as for <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator does not change: a row of weight 0 has a zero loss and gradient
    /// but still counts (unlike an ignored label); pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <param name="predictions">Empty, or one element per row: receives the row's argmax (as
    /// <see cref="LossAndGradientWithMetrics{T}"/> writes it), or -1 for an ignored row. It may not overlap any input.</param>
    /// <returns>The loss, its z-loss part, the correct count and the number of counted rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">As for <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>.</exception>
    /// <exception cref="ArgumentException">As for <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>,
    /// and <paramref name="predictions"/> has neither length 0 nor one element per row.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static CrossEntropyMetrics<T> LossWithMetrics<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, Span<int> predictions = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        ValidatePredictions(predictions, rows, logits, labels, classWeights, rowWeights);
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        RowTotals totals = RunLabels<T, NoOutput>(logits, default, default, predictions, default, labels, classes, rows, options, classWeights, rowWeights, 1, argmax: true);
        return Metrics<T>(totals, divisor, counts.Counted);
    }

    private static void ValidatePredictions<T>(Span<int> predictions, int rows, ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged
    {
        Validation.NoOverlap<int, T>(predictions, rowWeights, allowSame: false, nameof(predictions), nameof(rowWeights));
        if (!predictions.IsEmpty)
        {
            Validation.Length(predictions.Length, rows, nameof(predictions), "one prediction per row, or none");
        }

        Validation.NoOverlap<int, T>(predictions, logits, allowSame: false, nameof(predictions), nameof(logits));
        Validation.NoOverlap<int, int>(predictions, labels, allowSame: false, nameof(predictions), nameof(labels));
        Validation.NoOverlap<int, T>(predictions, classWeights, allowSame: false, nameof(predictions), nameof(classWeights));
    }

    private static CrossEntropyMetrics<T> Metrics<T>(in RowTotals totals, double divisor, int counted)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        new(T.CreateTruncating(totals.Loss / divisor), T.CreateTruncating(totals.ZLoss / divisor), (int)totals.Correct, counted);

    /// <summary>What the loss and the gradient are divided by: the mean's denominator (the caller's, when given), or 1.</summary>
    private static double Divisor(in CrossEntropyOptions options, double ownDenominator) =>
        options.Reduction == Reduction.Mean ? options.Denominator ?? ownDenominator : 1;

    private static int ValidateLabels<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, int classes, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        int rows = Validation.Rows(logits.Length, classes);
        Validation.Options(options);
        Validation.Length(labels.Length, rows, nameof(labels), "one label per row");
        Validation.ClassWeights(classWeights.Length, classes);
        Validation.RowWeights(rowWeights, rows);
        return rows;
    }

    private static void ValidateGradient<T>(ReadOnlySpan<T> logits, Span<T> gradient, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.Length(gradient.Length, logits.Length, nameof(gradient), "one gradient element per logit");
        Validation.NoOverlap<T, T>(gradient, logits, allowSame: true, nameof(gradient), nameof(logits));
        Validation.NoOverlap<T, T>(gradient, classWeights, allowSame: false, nameof(gradient), nameof(classWeights));
        Validation.NoOverlap<T, T>(gradient, rowWeights, allowSame: false, nameof(gradient), nameof(rowWeights));
    }

    private static RowTotals RunLabels<T, TMode>(
        ReadOnlySpan<T> logits, Span<T> output, Span<T> rowLosses, Span<int> predictions, Span<T> logSumExp, ReadOnlySpan<int> labels, int classes, int rows,
        in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights, double scale, bool argmax)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TMode : struct, IOutputMode
    {
        if (typeof(T) == typeof(Half))
        {
            return RunLabelsHalf<TMode>(
                AsHalfIn<T>(logits), AsHalfOut(output), AsHalfOut(rowLosses), predictions, AsHalfOut(logSumExp), default, labels, classes, rows, options, AsHalfIn(classWeights), AsHalfIn(rowWeights), scale, argmax);
        }

        fixed (T* y = logits)
        fixed (T* o = output)
        fixed (T* l = rowLosses)
        fixed (int* p = predictions)
        fixed (T* s = logSumExp)
        fixed (int* lab = labels)
        fixed (T* w = classWeights)
        fixed (T* r = rowWeights)
        {
            var settings = CallSettings.From(options, scale, argmax);
            var call = new LabelCall<T, TMode>(y, o, new RowOutputs<T>(l, p, s), lab, w, r, rows, classes, options.IgnoreIndex, settings);
            return RowChunks.Run<T, LabelCall<T, TMode>>(call, options.MaxDegreeOfParallelism);
        }
    }
}
