using System;
using System.Numerics;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;

namespace SoftmaxCE;

// Forward and backward apart, for autograd engines: the forward saves one log-sum-exp per row, the backward
// recomputes the softmax from it in one pass and multiplies by the upstream gradient.
public static unsafe partial class SoftmaxCrossEntropy
{
    /// <summary>
    /// The forward of the cross-entropy against class-index labels, saving what <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, ReadOnlySpan{T}, T, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// needs: each row's log-sum-exp. Reads the logits once and writes nothing else (the row losses when asked).
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="logSumExp">Receives each counted row's <c>LSE_i = log sum_k exp(y'_ik)</c> of its final logits <c>y'</c>
    /// (scaled by <see cref="CrossEntropyOptions.LogitScale"/>, then soft-capped); one per row. An ignored row's value is
    /// unspecified. It may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option, as for <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included); the mean's denominator does not change.</param>
    /// <param name="rowLosses">Empty, or one element per row: receives each row's loss (PyTorch's <c>reduction='none'</c>;
    /// 0 for an ignored row), as <see cref="RowLosses{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// writes them. It may not overlap any other argument.</param>
    /// <returns>The loss reduced as <see cref="CrossEntropyOptions.Reduction"/> and <see cref="CrossEntropyOptions.Denominator"/>
    /// say: the value <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> returns.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>; <paramref name="labels"/>,
    /// <paramref name="logSumExp"/>, <paramref name="classWeights"/>, <paramref name="rowWeights"/> or <paramref name="rowLosses"/>
    /// has the wrong length; an output overlaps another argument.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>
    /// Save the logits (or keep them alive), the labels and <paramref name="logSumExp"/> for the backward. A row with a NaN
    /// gets a NaN log-sum-exp; a row whose logits are all negative infinity gets negative infinity (and a NaN gradient later).
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.
    /// </remarks>
    public static T Forward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> logSumExp, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, Span<T> rowLosses = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        ValidateForwardOutputs<T, int>(logits, labels, logSumExp, rowLosses, classWeights, rowWeights, rows, nameof(labels));
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        RowTotals totals = RunLabels<T, NoOutput>(logits, default, rowLosses, default, logSumExp, labels, classes, rows, options, classWeights, rowWeights, 1, argmax: false);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    /// <summary>
    /// The forward of the cross-entropy against dense target rows, saving each row's log-sum-exp for
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>.
    /// Reads the logits and targets once and writes nothing else (the row losses when asked).
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="targets">The targets, the same shape as <paramref name="logits"/>.</param>
    /// <param name="logSumExp">Receives each row's log-sum-exp of its final (scaled, capped) logits; one per row. It may not
    /// overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option, as for <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included); the mean's denominator (the number of rows) does not change.</param>
    /// <param name="rowLosses">Empty, or one element per row: receives each row's loss (<c>reduction='none'</c>). It may not
    /// overlap any other argument.</param>
    /// <returns>The reduced loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> returns it.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range; a
    /// row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>; <paramref name="targets"/>,
    /// <paramref name="logSumExp"/>, <paramref name="classWeights"/>, <paramref name="rowWeights"/> or <paramref name="rowLosses"/>
    /// has the wrong length; an output overlaps another argument.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static T Forward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, Span<T> logSumExp, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, Span<T> rowLosses = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateDense(logits, targets, classes, options, classWeights, rowWeights);
        ValidateForwardOutputs<T, T>(logits, targets, logSumExp, rowLosses, classWeights, rowWeights, rows, nameof(targets));
        double divisor = Divisor(options, rows);
        RowTotals totals = RunDense<T, NoOutput>(logits, default, rowLosses, logSumExp, targets, classes, rows, options, classWeights, rowWeights, scale: 1);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    /// <summary>
    /// The backward of <see cref="Forward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T})"/>
    /// from its saved log-sum-exps: <c>gradient = upstreamGradient * d(reduced loss)/d(logits)</c>, in one pass that reads each
    /// logit once and writes each gradient element once.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits the forward read.</param>
    /// <param name="labels">The labels the forward read.</param>
    /// <param name="logSumExp">The log-sum-exps the forward wrote, with the same options; one per row.</param>
    /// <param name="upstreamGradient">The gradient of the final objective with respect to the reduced loss (1 for the loss itself).</param>
    /// <param name="gradient">Receives the gradient; the same length as <paramref name="logits"/>. It may be the very same memory
    /// as <paramref name="logits"/> (in place), but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">The options of the forward.</param>
    /// <param name="classWeights">The class weights of the forward.</param>
    /// <param name="rowWeights">The row weights of the forward.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>; <paramref name="labels"/>,
    /// <paramref name="logSumExp"/>, <paramref name="gradient"/>, <paramref name="classWeights"/> or <paramref name="rowWeights"/> has
    /// the wrong length; <paramref name="gradient"/> overlaps an argument other than as the very same memory as the logits.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>
    /// <para>
    /// Row <c>i</c> with label <c>l</c>, <c>P_ik = exp(y'_ik - LSE_i)</c> and row weight <c>r_i</c>:
    /// <c>g r_i (P_ik (w_l (1 - eps) + (eps / C) sum_j w_j + 2 z LSE_i) - (1 - eps) w_l [k == l] - (eps / C) w_k) s c'_ik / D</c>,
    /// with <c>s</c> the logit scale, <c>c'</c> the soft-cap's derivative (1 without one) and <c>D</c> the mean's denominator
    /// (1 for the sum). It equals <paramref name="upstreamGradient"/> times the gradient of
    /// <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// within rounding (the log-sum-exp is saved in <typeparamref name="T"/>). Ignored rows get zeros.
    /// </para>
    /// <para>The log-sum-exps must be the forward's for these logits and options; this is not checked.</para>
    /// <para>Every argument is checked before anything is written: a call that throws leaves every output as it was.</para>
    /// </remarks>
    public static void Backward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, ReadOnlySpan<T> logSumExp, T upstreamGradient, Span<T> gradient, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        ValidateBackwardBuffers<T, int>(logits, labels, logSumExp, default, gradient, classWeights, rowWeights, rows, nameof(labels));
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double scale = double.CreateTruncating(upstreamGradient) / Divisor(options, counts.Denominator);
        RunLabelBackward(logits, labels, logSumExp, default, gradient, classes, rows, options, classWeights, rowWeights, scale);
    }

    /// <summary>
    /// The backward of the row losses (PyTorch's <c>reduction='none'</c> with one upstream gradient per row) from the saved
    /// log-sum-exps: gradient row <c>i</c> = <c>rowUpstreamGradients[i] * d(rowLoss_i)/d(logits row i)</c>.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits the forward read.</param>
    /// <param name="labels">The labels the forward read.</param>
    /// <param name="logSumExp">The log-sum-exps the forward wrote, with the same options; one per row.</param>
    /// <param name="rowUpstreamGradients">One upstream gradient per row: the gradient of the final objective with respect to
    /// each row's loss.</param>
    /// <param name="gradient">Receives the gradient; it may be the very same memory as <paramref name="logits"/> (in place),
    /// but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">The options of the forward. <see cref="CrossEntropyOptions.Reduction"/> and
    /// <see cref="CrossEntropyOptions.Denominator"/> do not apply (each row loss is unreduced); the others do.</param>
    /// <param name="classWeights">The class weights of the forward.</param>
    /// <param name="rowWeights">The row weights of the forward.</param>
    /// <exception cref="ArgumentOutOfRangeException">As for the scalar-upstream overload.</exception>
    /// <exception cref="ArgumentException">As for the scalar-upstream overload, and <paramref name="rowUpstreamGradients"/>
    /// does not have one element per row or overlaps <paramref name="gradient"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>As the scalar-upstream overload, with <c>g / D</c> replaced by <c>g_i</c>.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, ReadOnlySpan<T> logSumExp, ReadOnlySpan<T> rowUpstreamGradients, Span<T> gradient, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        Validation.Length(rowUpstreamGradients.Length, rows, nameof(rowUpstreamGradients), "one upstream gradient per row");
        ValidateBackwardBuffers<T, int>(logits, labels, logSumExp, rowUpstreamGradients, gradient, classWeights, rowWeights, rows, nameof(labels));
        Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        RunLabelBackward(logits, labels, logSumExp, rowUpstreamGradients, gradient, classes, rows, options, classWeights, rowWeights, scale: 1);
    }

    /// <summary>
    /// The backward of <see cref="Forward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T})"/>
    /// (dense targets) from its saved log-sum-exps: <c>gradient = upstreamGradient * d(reduced loss)/d(logits)</c>, in one pass
    /// over the logits (a target row is read twice: its sum is needed before the row's first element is written).
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits the forward read.</param>
    /// <param name="targets">The targets the forward read.</param>
    /// <param name="logSumExp">The log-sum-exps the forward wrote, with the same options; one per row.</param>
    /// <param name="upstreamGradient">The gradient of the final objective with respect to the reduced loss.</param>
    /// <param name="gradient">Receives the gradient; it may be the very same memory as <paramref name="logits"/> (in place),
    /// but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">The options of the forward.</param>
    /// <param name="classWeights">The class weights of the forward.</param>
    /// <param name="rowWeights">The row weights of the forward.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range; a
    /// row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">A length is wrong, or <paramref name="gradient"/> overlaps an argument other than as the
    /// very same memory as the logits.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Row <c>i</c>: <c>g r_i (P_ik sum_j u_ij - u_ik) s c'_ik / D</c> with <c>u = w T'</c> (plus the z-loss term),
    /// <paramref name="upstreamGradient"/> times the gradient of
    /// <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> within rounding.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, ReadOnlySpan<T> logSumExp, T upstreamGradient, Span<T> gradient, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateDense(logits, targets, classes, options, classWeights, rowWeights);
        ValidateBackwardBuffers<T, T>(logits, targets, logSumExp, default, gradient, classWeights, rowWeights, rows, nameof(targets));
        double scale = double.CreateTruncating(upstreamGradient) / Divisor(options, rows);
        RunDenseBackward(logits, targets, logSumExp, default, gradient, classes, rows, options, classWeights, rowWeights, scale);
    }

    /// <summary>
    /// The backward of dense-target row losses (<c>reduction='none'</c>, one upstream gradient per row) from the saved
    /// log-sum-exps: gradient row <c>i</c> = <c>rowUpstreamGradients[i] * d(rowLoss_i)/d(logits row i)</c>.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits the forward read.</param>
    /// <param name="targets">The targets the forward read.</param>
    /// <param name="logSumExp">The log-sum-exps the forward wrote, with the same options; one per row.</param>
    /// <param name="rowUpstreamGradients">One upstream gradient per row.</param>
    /// <param name="gradient">Receives the gradient; it may be the very same memory as <paramref name="logits"/> (in place),
    /// but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">The options of the forward; <see cref="CrossEntropyOptions.Reduction"/> and
    /// <see cref="CrossEntropyOptions.Denominator"/> do not apply.</param>
    /// <param name="classWeights">The class weights of the forward.</param>
    /// <param name="rowWeights">The row weights of the forward.</param>
    /// <exception cref="ArgumentOutOfRangeException">As for the scalar-upstream overload.</exception>
    /// <exception cref="ArgumentException">As for the scalar-upstream overload, and <paramref name="rowUpstreamGradients"/>
    /// does not have one element per row or overlaps <paramref name="gradient"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, ReadOnlySpan<T> logSumExp, ReadOnlySpan<T> rowUpstreamGradients, Span<T> gradient, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateDense(logits, targets, classes, options, classWeights, rowWeights);
        Validation.Length(rowUpstreamGradients.Length, rows, nameof(rowUpstreamGradients), "one upstream gradient per row");
        ValidateBackwardBuffers<T, T>(logits, targets, logSumExp, rowUpstreamGradients, gradient, classWeights, rowWeights, rows, nameof(targets));
        RunDenseBackward(logits, targets, logSumExp, rowUpstreamGradients, gradient, classes, rows, options, classWeights, rowWeights, scale: 1);
    }

    private static void ValidateForwardOutputs<T, TTarget>(
        ReadOnlySpan<T> logits, ReadOnlySpan<TTarget> targets, Span<T> logSumExp, Span<T> rowLosses, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights, int rows, string targetsName)
        where T : unmanaged
        where TTarget : unmanaged
    {
        Validation.Length(logSumExp.Length, rows, nameof(logSumExp), "one log-sum-exp per row");
        Validation.NoOverlap<T, T>(logSumExp, logits, allowSame: false, nameof(logSumExp), nameof(logits));
        Validation.NoOverlap<T, TTarget>(logSumExp, targets, allowSame: false, nameof(logSumExp), targetsName);
        Validation.NoOverlap<T, T>(logSumExp, classWeights, allowSame: false, nameof(logSumExp), nameof(classWeights));
        Validation.NoOverlap<T, T>(logSumExp, rowWeights, allowSame: false, nameof(logSumExp), nameof(rowWeights));
        if (!rowLosses.IsEmpty)
        {
            Validation.Length(rowLosses.Length, rows, nameof(rowLosses), "one loss per row, or none");
        }

        Validation.NoOverlap<T, T>(rowLosses, logits, allowSame: false, nameof(rowLosses), nameof(logits));
        Validation.NoOverlap<T, TTarget>(rowLosses, targets, allowSame: false, nameof(rowLosses), targetsName);
        Validation.NoOverlap<T, T>(rowLosses, classWeights, allowSame: false, nameof(rowLosses), nameof(classWeights));
        Validation.NoOverlap<T, T>(rowLosses, rowWeights, allowSame: false, nameof(rowLosses), nameof(rowWeights));
        Validation.NoOverlap<T, T>(rowLosses, logSumExp, allowSame: false, nameof(rowLosses), nameof(logSumExp));
    }

    private static void ValidateBackwardBuffers<T, TTarget>(
        ReadOnlySpan<T> logits, ReadOnlySpan<TTarget> targets, ReadOnlySpan<T> logSumExp, ReadOnlySpan<T> rowUpstreamGradients, Span<T> gradient,
        ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights, int rows, string targetsName)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TTarget : unmanaged
    {
        Validation.Length(logSumExp.Length, rows, nameof(logSumExp), "one log-sum-exp per row");
        ValidateGradient<T>(logits, gradient, classWeights, rowWeights);
        Validation.NoOverlap<T, TTarget>(gradient, targets, allowSame: false, nameof(gradient), targetsName);
        Validation.NoOverlap<T, T>(gradient, logSumExp, allowSame: false, nameof(gradient), nameof(logSumExp));
        Validation.NoOverlap<T, T>(gradient, rowUpstreamGradients, allowSame: false, nameof(gradient), nameof(rowUpstreamGradients));
    }

    private static void RunLabelBackward<T>(
        ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, ReadOnlySpan<T> logSumExp, ReadOnlySpan<T> rowUpstreamGradients, Span<T> gradient, int classes, int rows,
        in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights, double scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double termSum = classes;
        if (!classWeights.IsEmpty)
        {
            termSum = 0;
            foreach (T w in classWeights)
            {
                termSum += double.CreateTruncating(w);
            }
        }

        if (typeof(T) == typeof(Half))
        {
            RunLabelBackwardHalf(
                AsHalfIn(logits), labels, AsHalfIn(logSumExp), default, AsHalfIn(rowUpstreamGradients), AsHalfOut(gradient), classes, rows, options, AsHalfIn(classWeights), AsHalfIn(rowWeights), scale, termSum);
            return;
        }

        fixed (T* y = logits)
        fixed (T* g = gradient)
        fixed (T* s = logSumExp)
        fixed (T* u = rowUpstreamGradients)
        fixed (int* lab = labels)
        fixed (T* w = classWeights)
        fixed (T* r = rowWeights)
        {
            var settings = CallSettings.From(options, scale, argmax: false);
            var call = new LabelBackwardCall<T>(y, g, s, u, lab, w, r, rows, classes, options.IgnoreIndex, settings, termSum);
            RowChunks.Run<T, LabelBackwardCall<T>>(call, options.MaxDegreeOfParallelism);
        }
    }

    private static void RunDenseBackward<T>(
        ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, ReadOnlySpan<T> logSumExp, ReadOnlySpan<T> rowUpstreamGradients, Span<T> gradient, int classes, int rows,
        in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights, double scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(Half))
        {
            RunDenseBackwardHalf(
                AsHalfIn(logits), AsHalfIn(targets), AsHalfIn(logSumExp), default, AsHalfIn(rowUpstreamGradients), AsHalfOut(gradient), classes, rows, options, AsHalfIn(classWeights), AsHalfIn(rowWeights), scale);
            return;
        }

        fixed (T* y = logits)
        fixed (T* g = gradient)
        fixed (T* s = logSumExp)
        fixed (T* u = rowUpstreamGradients)
        fixed (T* t = targets)
        fixed (T* w = classWeights)
        fixed (T* r = rowWeights)
        {
            var settings = CallSettings.From(options, scale, argmax: false);
            var call = new DenseBackwardCall<T>(y, g, s, u, t, w, r, rows, classes, settings);
            RowChunks.Run<T, DenseBackwardCall<T>>(call, options.MaxDegreeOfParallelism);
        }
    }
}
