using System;
using System.Numerics;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;

namespace SoftmaxCE;

// Cross-entropy with dense (soft or one-hot) target rows.
public static unsafe partial class SoftmaxCrossEntropy
{
    /// <summary>The cross-entropy loss of logits against dense target rows, reduced over the batch.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="targets">The targets, the same shape as <paramref name="logits"/>: one distribution per row
    /// (one-hot, smoothed, soft), though rows need not sum to 1.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.IgnoreIndex"/>, which dense targets do not have.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator (the number of rows) does not change; pass
    /// <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <returns>
    /// The loss. Row <c>i</c> costs <c>-sum_k w_k T'_ik log P_ik</c> with <c>T' = (1 - eps) T + eps / C</c>; a term with
    /// <c>T'_ik = 0</c> adds exactly 0, even on a masked class (<c>0 * log 0 := 0</c>), but a row with a NaN logit, or with
    /// every logit negative infinity, has no distribution and a NaN loss whatever its targets (all zero too), as in PyTorch.
    /// <see cref="Reduction.Mean"/> divides the sum by the number of rows (with or without weights, as PyTorch does); an
    /// empty batch gives NaN.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="targets"/> or <paramref name="classWeights"/> has the wrong length; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    public static T Loss<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateDense(logits, targets, classes, options, classWeights, rowWeights);
        double divisor = Divisor(options, rows);
        RowTotals totals = RunDense<T, NoOutput>(logits, default, default, default, targets, classes, rows, options, classWeights, rowWeights, scale: 1);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    /// <summary>The gradient of the reduced cross-entropy loss with respect to the logits, for dense target rows.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="targets">The targets, the same shape as <paramref name="logits"/>.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>; the same length as <paramref name="logits"/>. It may be the
    /// very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise, nor the targets or weights.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.IgnoreIndex"/>, which dense targets do not have.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator (the number of rows) does not change; pass
    /// <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="targets"/>, <paramref name="gradient"/> or <paramref name="classWeights"/> has the wrong length;
    /// <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>
    /// Row <c>i</c>: <c>(P_ik * sum_j u_ij - u_ik) / D</c> with <c>u = w T'</c>, which is <c>(softmax(y_i) - T_i) / M</c>
    /// when the targets sum to 1 and there are no weights; <c>D</c> is the number of rows for the mean, 1 for the sum.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.
    /// </remarks>
    public static void Backward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, Span<T> gradient, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LossAndGradient(logits, targets, gradient, classes, options, classWeights, rowWeights);

    /// <summary>
    /// The reduced cross-entropy loss and its gradient with respect to the logits, for dense target rows, in one fused
    /// pass over each row.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="targets">The targets, the same shape as <paramref name="logits"/>.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, as
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes it.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.IgnoreIndex"/>, which dense targets do not have.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss (z-loss
    /// included) and its gradient. The mean's denominator (the number of rows) does not change; pass
    /// <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.</param>
    /// <returns>The loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> returns it.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="targets"/>, <paramref name="gradient"/> or <paramref name="classWeights"/> has the wrong length;
    /// <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static T LossAndGradient<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, Span<T> gradient, int classes, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = ValidateDense(logits, targets, classes, options, classWeights, rowWeights);
        ValidateGradient<T>(logits, gradient, classWeights, rowWeights);
        Validation.NoOverlap<T, T>(gradient, targets, allowSame: false, nameof(gradient), nameof(targets));
        double divisor = Divisor(options, rows);
        RowTotals totals = RunDense<T, ScaledExpOutput>(logits, gradient, default, default, targets, classes, rows, options, classWeights, rowWeights, 1 / divisor);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    private static int ValidateDense<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, int classes, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        int rows = Validation.Rows(logits.Length, classes);
        Validation.Options(options);
        Validation.Length(targets.Length, logits.Length, nameof(targets), "one target per logit");
        Validation.ClassWeights(classWeights.Length, classes);
        Validation.RowWeights(rowWeights, rows);
        return rows;
    }

    private static RowTotals RunDense<T, TMode>(
        ReadOnlySpan<T> logits, Span<T> output, Span<T> rowLosses, Span<T> logSumExp, ReadOnlySpan<T> targets, int classes, int rows,
        in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights, double scale)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TMode : struct, IOutputMode
    {
        if (typeof(T) == typeof(Half))
        {
            return RunDenseHalf<TMode>(
                AsHalfIn<T>(logits), AsHalfOut(output), AsHalfOut(rowLosses), AsHalfOut(logSumExp), default, AsHalfIn(targets), classes, rows, options, AsHalfIn(classWeights), AsHalfIn(rowWeights), scale);
        }

        fixed (T* y = logits)
        fixed (T* o = output)
        fixed (T* l = rowLosses)
        fixed (T* s = logSumExp)
        fixed (T* t = targets)
        fixed (T* w = classWeights)
        fixed (T* r = rowWeights)
        {
            var settings = CallSettings.From(options, scale, argmax: false);
            var call = new DenseCall<T, TMode>(y, o, new RowOutputs<T>(l, null, s), t, w, r, rows, classes, settings);
            return RowChunks.Run<T, DenseCall<T, TMode>>(call, options.MaxDegreeOfParallelism);
        }
    }
}
