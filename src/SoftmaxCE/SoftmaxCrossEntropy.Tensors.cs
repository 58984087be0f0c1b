using System;
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;
using System.Runtime.InteropServices;

namespace SoftmaxCE;

// Overloads over Tensor<T>, ReadOnlyTensorSpan<T> and TensorSpan<T> from System.Numerics.Tensors: the classes are
// the dimension classAxis (by default the last), every other dimension is a batch dimension ([batch, sequence, vocabulary]
// is the language-model shape, [N, C, H, W] with classAxis 1 the segmentation one). Seen around the class axis the logits
// are [outer, C, inner]: with inner = 1 (the classes last) each row is contiguous and the span overloads run; otherwise the
// strided kernels run vectors across the inner positions, with no transposed copy. (A plain comment: doc comments on several partial declarations pile up as several <summary> elements.)
//
// Each overload checks what is particular to tensors (rank, shapes, row-major layout), then calls the span overload of
// the same name over the flattened memory, which checks the rest (labels, options, class weights, overlap) before
// anything is written: a call that throws leaves every output as it was. A transposed, sliced or broadcast view is
// refused with an ArgumentException naming the argument, never misread. Labels (and row losses) are one per
// row: shaped as the logits without the class axis, one-dimensional, or a span over the positions in row-major order.
//
// The Tensor<T> overloads exist for type inference: C# does not infer T through the implicit conversion from Tensor<T>
// to ReadOnlyTensorSpan<T>. A TensorSpan<T> of logits needs AsReadOnlyTensorSpan() (or an explicit <T>) in Loss, which
// has no TensorSpan<T> output to infer T from.
public static unsafe partial class SoftmaxCrossEntropy
{
    // ---------------------------------------------------------------- Softmax, LogSoftmax

    /// <summary>Computes the softmax over the class axis (by default the last dimension): <c>P_k = exp(y_k - LSE(y))</c> for every position <c>y</c>.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="probabilities">Receives the probabilities; the same shape as <paramref name="logits"/>, contiguous.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise.</param>
    /// <param name="options">Only <see cref="CrossEntropyOptions.LogitScale"/>, <see cref="CrossEntropyOptions.LogitSoftcap"/>
    /// (the logits are scaled, then capped) and <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/> apply; the other fields
    /// are checked but not used.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="probabilities"/> has another shape or partially overlaps <paramref name="logits"/>;
    /// a tensor is not contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>As <see cref="Softmax{T}(ReadOnlySpan{T}, Span{T}, int, CrossEntropyOptions)"/>: each row sums to 1 within rounding; a row with a
    /// NaN, or of only negative infinities, gives NaN; the row maximum is subtracted first, so large logits do not overflow.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Softmax<T>(in ReadOnlyTensorSpan<T> logits, in TensorSpan<T> probabilities, CrossEntropyOptions options = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        Validation.Options(options);
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.SameShape(probabilities.Lengths, logits.Lengths, nameof(probabilities));
        Span<T> p = TensorShapes.Flatten(probabilities, nameof(probabilities));
        if (layout.IsRowMajor)
        {
            Softmax(y, p, classes, options);
        }
        else
        {
            StridedSoftmax<T, ScaledExpOutput>(y, p, layout, options, nameof(probabilities));
        }
    }

    /// <inheritdoc cref="Softmax{T}(in ReadOnlyTensorSpan{T}, in TensorSpan{T}, CrossEntropyOptions, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static void Softmax<T>(Tensor<T> logits, in TensorSpan<T> probabilities, CrossEntropyOptions options = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        Softmax(logits.AsReadOnlyTensorSpan(), probabilities, options, classAxis);
    }

    /// <summary>Computes the log-softmax over the class axis (by default the last dimension): <c>log P_k = y_k - LSE(y)</c> for every position <c>y</c>.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="logProbabilities">Receives the log-probabilities; the same shape as <paramref name="logits"/>, contiguous.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise.</param>
    /// <param name="options">Only <see cref="CrossEntropyOptions.LogitScale"/>, <see cref="CrossEntropyOptions.LogitSoftcap"/>
    /// (the logits are scaled, then capped) and <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/> apply; the other fields
    /// are checked but not used.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="logProbabilities"/> has another shape or partially overlaps <paramref name="logits"/>;
    /// a tensor is not contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>As <see cref="LogSoftmax{T}(ReadOnlySpan{T}, Span{T}, int, CrossEntropyOptions)"/>: a logit of negative infinity gives negative
    /// infinity; a row with a NaN gives NaN.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void LogSoftmax<T>(in ReadOnlyTensorSpan<T> logits, in TensorSpan<T> logProbabilities, CrossEntropyOptions options = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        Validation.Options(options);
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.SameShape(logProbabilities.Lengths, logits.Lengths, nameof(logProbabilities));
        Span<T> p = TensorShapes.Flatten(logProbabilities, nameof(logProbabilities));
        if (layout.IsRowMajor)
        {
            LogSoftmax(y, p, classes, options);
        }
        else
        {
            StridedSoftmax<T, LogProbabilityOutput>(y, p, layout, options, nameof(logProbabilities));
        }
    }

    /// <inheritdoc cref="LogSoftmax{T}(in ReadOnlyTensorSpan{T}, in TensorSpan{T}, CrossEntropyOptions, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static void LogSoftmax<T>(Tensor<T> logits, in TensorSpan<T> logProbabilities, CrossEntropyOptions options = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        LogSoftmax(logits.AsReadOnlyTensorSpan(), logProbabilities, options, classAxis);
    }

    // ---------------------------------------------------------------- Loss

    /// <summary>The cross-entropy loss of logits against class-index labels, reduced over every position.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> (or <see cref="CrossEntropyOptions.IgnoreIndex"/>) per row:
    /// shaped as the logits without the class axis, or one-dimensional; contiguous.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism); the default is PyTorch's default.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one finite, non-negative weight per row (position), shaped as the
    /// logits without the class axis, or one-dimensional; contiguous. It multiplies the row's loss (z-loss included) and its
    /// gradient. The mean's denominator does not change; pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.
    /// With the classes on another axis than the last, row weights make the call gather the logits (and targets) into a
    /// pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <returns>The loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// returns it for the flattened rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside <c>[0, classes)</c> and not the ignored value;
    /// the options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="labels"/> has the wrong shape; <paramref name="classWeights"/> has the wrong length;
    /// a tensor is not contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    public static T Loss<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<int> labels, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.RowShape(labels.Lengths, logits.Lengths, layout, nameof(labels));
        ReadOnlySpan<int> l = TensorShapes.Flatten(labels, nameof(labels));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        return layout.IsRowMajor ? Loss(y, l, classes, options, classWeights, w) : StridedLabelLoss(y, l, layout, options, classWeights, w);
    }

    /// <summary>The cross-entropy loss of logits against class-index labels, reduced over every position.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> (or <see cref="CrossEntropyOptions.IgnoreIndex"/>) per row,
    /// the positions (the logits' dimensions without the class axis) in row-major order.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism); the default is PyTorch's default.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row, in the order of <paramref name="labels"/>:
    /// it multiplies the row's loss (z-loss included) and its gradient. The mean's denominator does not change; pass
    /// <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean. With the classes on another axis than the last, row
    /// weights make the call gather the logits (and targets) into a pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <returns>The loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// returns it for the flattened rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside <c>[0, classes)</c> and not the ignored value;
    /// the options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0), is not
    /// contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements; <paramref name="labels"/> does
    /// not hold one label per row; <paramref name="classWeights"/> has the wrong length; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    public static T Loss<T>(in ReadOnlyTensorSpan<T> logits, ReadOnlySpan<int> labels, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        return layout.IsRowMajor ? Loss(y, labels, classes, options, classWeights, rowWeights) : StridedLabelLoss(y, labels, layout, options, classWeights, rowWeights);
    }

    /// <summary>The cross-entropy loss of logits against dense target rows, reduced over every position.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="targets">The targets, the same shape as <paramref name="logits"/> and contiguous: one distribution per
    /// row (one-hot, smoothed, soft), though rows need not sum to 1.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.IgnoreIndex"/>, which dense targets do not have.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one finite, non-negative weight per row (position), shaped as the
    /// logits without the class axis, or one-dimensional; contiguous. It multiplies the row's loss (z-loss included) and its
    /// gradient. The mean's denominator does not change; pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.
    /// With the classes on another axis than the last, row weights make the call gather the logits (and targets) into a
    /// pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <returns>The loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// returns it for the flattened rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="targets"/> has another shape; <paramref name="classWeights"/> has the wrong length;
    /// a tensor is not contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    public static T Loss<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<T> targets, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.SameShape(targets.Lengths, logits.Lengths, nameof(targets));
        ReadOnlySpan<T> t = TensorShapes.Flatten(targets, nameof(targets));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        return layout.IsRowMajor ? Loss(y, t, classes, options, classWeights, w) : StridedDenseLoss(y, t, layout, options, classWeights, w);
    }

    /// <inheritdoc cref="Loss{T}(in ReadOnlyTensorSpan{T}, in ReadOnlyTensorSpan{int}, CrossEntropyOptions, ReadOnlySpan{T}, in ReadOnlyTensorSpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static T Loss<T>(Tensor<T> logits, in ReadOnlyTensorSpan<int> labels, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        return Loss(logits.AsReadOnlyTensorSpan(), labels, options, classWeights, rowWeights, classAxis);
    }

    /// <inheritdoc cref="Loss{T}(in ReadOnlyTensorSpan{T}, ReadOnlySpan{int}, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static T Loss<T>(Tensor<T> logits, ReadOnlySpan<int> labels, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        return Loss(logits.AsReadOnlyTensorSpan(), labels, options, classWeights, rowWeights, classAxis);
    }

    /// <inheritdoc cref="Loss{T}(in ReadOnlyTensorSpan{T}, in ReadOnlyTensorSpan{T}, CrossEntropyOptions, ReadOnlySpan{T}, in ReadOnlyTensorSpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static T Loss<T>(Tensor<T> logits, in ReadOnlyTensorSpan<T> targets, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        return Loss(logits.AsReadOnlyTensorSpan(), targets, options, classWeights, rowWeights, classAxis);
    }

    // ---------------------------------------------------------------- RowLosses

    /// <summary>Each row's cross-entropy loss against its class-index label (PyTorch's <c>reduction='none'</c>).</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> (or <see cref="CrossEntropyOptions.IgnoreIndex"/>) per row:
    /// shaped as the logits without the class axis, or one-dimensional; contiguous.</param>
    /// <param name="rowLosses">Receives one loss per row, as
    /// <see cref="RowLosses{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes
    /// them: shaped as the logits without the class axis, or one-dimensional; contiguous. It may not overlap any input.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.Reduction"/> and
    /// <see cref="CrossEntropyOptions.Denominator"/> (each row's loss is unreduced).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one finite, non-negative weight per row (position), shaped as the
    /// logits without the class axis, or one-dimensional; contiguous. It multiplies the row's loss (z-loss included) and its
    /// gradient. The mean's denominator does not change; pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.
    /// With the classes on another axis than the last, row weights make the call gather the logits (and targets) into a
    /// pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside <c>[0, classes)</c> and not the ignored value;
    /// the options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="labels"/> or <paramref name="rowLosses"/> has the wrong shape; <paramref name="classWeights"/> has the
    /// wrong length; <paramref name="rowLosses"/> overlaps an input; a tensor is not contiguous in row-major order or has more
    /// than <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void RowLosses<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<int> labels, in TensorSpan<T> rowLosses, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.RowShape(labels.Lengths, logits.Lengths, layout, nameof(labels));
        ReadOnlySpan<int> l = TensorShapes.Flatten(labels, nameof(labels));
        TensorShapes.RowShape(rowLosses.Lengths, logits.Lengths, layout, nameof(rowLosses));
        Span<T> r = TensorShapes.Flatten(rowLosses, nameof(rowLosses));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        if (layout.IsRowMajor)
        {
            RowLosses(y, l, r, classes, options, classWeights, w);
        }
        else
        {
            StridedRowLosses(y, l, r, layout, options, classWeights, w);
        }
    }

    /// <summary>Each row's cross-entropy loss against its class-index label (PyTorch's <c>reduction='none'</c>).</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> (or <see cref="CrossEntropyOptions.IgnoreIndex"/>) per row,
    /// the positions (the logits' dimensions without the class axis) in row-major order.</param>
    /// <param name="rowLosses">Receives one loss per row, in the order of <paramref name="labels"/>, as
    /// <see cref="RowLosses{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes
    /// them. It may not overlap any input.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.Reduction"/> and
    /// <see cref="CrossEntropyOptions.Denominator"/> (each row's loss is unreduced).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row, in the order of <paramref name="labels"/>:
    /// it multiplies the row's loss (z-loss included) and its gradient. The mean's denominator does not change; pass
    /// <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean. With the classes on another axis than the last, row
    /// weights make the call gather the logits (and targets) into a pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside <c>[0, classes)</c> and not the ignored value;
    /// the options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0), is not
    /// contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements; <paramref name="labels"/> or
    /// <paramref name="rowLosses"/> does not hold one element per row; <paramref name="classWeights"/> has the wrong length;
    /// <paramref name="rowLosses"/> overlaps an input; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void RowLosses<T>(in ReadOnlyTensorSpan<T> logits, ReadOnlySpan<int> labels, Span<T> rowLosses, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        if (layout.IsRowMajor)
        {
            RowLosses(y, labels, rowLosses, classes, options, classWeights, rowWeights);
        }
        else
        {
            StridedRowLosses(y, labels, rowLosses, layout, options, classWeights, rowWeights);
        }
    }

    /// <inheritdoc cref="RowLosses{T}(in ReadOnlyTensorSpan{T}, in ReadOnlyTensorSpan{int}, in TensorSpan{T}, CrossEntropyOptions, ReadOnlySpan{T}, in ReadOnlyTensorSpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static void RowLosses<T>(Tensor<T> logits, in ReadOnlyTensorSpan<int> labels, in TensorSpan<T> rowLosses, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        RowLosses(logits.AsReadOnlyTensorSpan(), labels, rowLosses, options, classWeights, rowWeights, classAxis);
    }

    /// <inheritdoc cref="RowLosses{T}(in ReadOnlyTensorSpan{T}, ReadOnlySpan{int}, Span{T}, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static void RowLosses<T>(Tensor<T> logits, ReadOnlySpan<int> labels, Span<T> rowLosses, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        RowLosses(logits.AsReadOnlyTensorSpan(), labels, rowLosses, options, classWeights, rowWeights, classAxis);
    }

    // ---------------------------------------------------------------- Backward

    /// <summary>The gradient of the reduced cross-entropy loss with respect to the logits, for class-index labels.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> (or <see cref="CrossEntropyOptions.IgnoreIndex"/>) per row:
    /// shaped as the logits without the class axis, or one-dimensional; contiguous.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, as
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes it;
    /// the same shape as <paramref name="logits"/>, contiguous. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap it otherwise, nor any other input.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one finite, non-negative weight per row (position), shaped as the
    /// logits without the class axis, or one-dimensional; contiguous. It multiplies the row's loss (z-loss included) and its
    /// gradient. The mean's denominator does not change; pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.
    /// With the classes on another axis than the last, row weights make the call gather the logits (and targets) into a
    /// pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside <c>[0, classes)</c> and not the ignored value;
    /// the options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="labels"/> or <paramref name="gradient"/> has the wrong shape; <paramref name="classWeights"/> has the
    /// wrong length; <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits;
    /// a tensor is not contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<int> labels, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LossAndGradient(logits, labels, gradient, options, classWeights, rowWeights, classAxis);

    /// <summary>The gradient of the reduced cross-entropy loss with respect to the logits, for class-index labels.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> (or <see cref="CrossEntropyOptions.IgnoreIndex"/>) per row,
    /// the positions (the logits' dimensions without the class axis) in row-major order.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, as
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes it;
    /// the same shape as <paramref name="logits"/>, contiguous. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap it otherwise, nor any other input.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row, in the order of <paramref name="labels"/>:
    /// it multiplies the row's loss (z-loss included) and its gradient. The mean's denominator does not change; pass
    /// <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean. With the classes on another axis than the last, row
    /// weights make the call gather the logits (and targets) into a pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside <c>[0, classes)</c> and not the ignored value;
    /// the options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="labels"/> does not hold one label per row; <paramref name="gradient"/> has another shape;
    /// <paramref name="classWeights"/> has the wrong length; <paramref name="gradient"/> overlaps an input other than as the
    /// very same memory as the logits; a tensor is not contiguous in row-major order or has more than
    /// <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward<T>(in ReadOnlyTensorSpan<T> logits, ReadOnlySpan<int> labels, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LossAndGradient(logits, labels, gradient, options, classWeights, rowWeights, classAxis);

    /// <summary>The gradient of the reduced cross-entropy loss with respect to the logits, for dense target rows.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="targets">The targets, the same shape as <paramref name="logits"/>, contiguous.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, as
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes it;
    /// the same shape as <paramref name="logits"/>, contiguous. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap it otherwise, nor the targets or weights.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.IgnoreIndex"/>, which dense targets do not have.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one finite, non-negative weight per row (position), shaped as the
    /// logits without the class axis, or one-dimensional; contiguous. It multiplies the row's loss (z-loss included) and its
    /// gradient. The mean's denominator does not change; pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.
    /// With the classes on another axis than the last, row weights make the call gather the logits (and targets) into a
    /// pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <exception cref="ArgumentOutOfRangeException">The options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="targets"/> or <paramref name="gradient"/> has another shape; <paramref name="classWeights"/> has the
    /// wrong length; <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits;
    /// a tensor is not contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<T> targets, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LossAndGradient(logits, targets, gradient, options, classWeights, rowWeights, classAxis);

    /// <inheritdoc cref="Backward{T}(in ReadOnlyTensorSpan{T}, in ReadOnlyTensorSpan{int}, in TensorSpan{T}, CrossEntropyOptions, ReadOnlySpan{T}, in ReadOnlyTensorSpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static void Backward<T>(Tensor<T> logits, in ReadOnlyTensorSpan<int> labels, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LossAndGradient(logits, labels, gradient, options, classWeights, rowWeights, classAxis);

    /// <inheritdoc cref="Backward{T}(in ReadOnlyTensorSpan{T}, ReadOnlySpan{int}, in TensorSpan{T}, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static void Backward<T>(Tensor<T> logits, ReadOnlySpan<int> labels, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LossAndGradient(logits, labels, gradient, options, classWeights, rowWeights, classAxis);

    /// <inheritdoc cref="Backward{T}(in ReadOnlyTensorSpan{T}, in ReadOnlyTensorSpan{T}, in TensorSpan{T}, CrossEntropyOptions, ReadOnlySpan{T}, in ReadOnlyTensorSpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static void Backward<T>(Tensor<T> logits, in ReadOnlyTensorSpan<T> targets, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LossAndGradient(logits, targets, gradient, options, classWeights, rowWeights, classAxis);

    // ---------------------------------------------------------------- LossAndGradient

    /// <summary>
    /// The reduced cross-entropy loss and its gradient with respect to the logits, for class-index labels, in one fused
    /// pass over each row.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> (or <see cref="CrossEntropyOptions.IgnoreIndex"/>) per row:
    /// shaped as the logits without the class axis, or one-dimensional; contiguous.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, as
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes it;
    /// the same shape as <paramref name="logits"/>, contiguous. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap it otherwise, nor any other input.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one finite, non-negative weight per row (position), shaped as the
    /// logits without the class axis, or one-dimensional; contiguous. It multiplies the row's loss (z-loss included) and its
    /// gradient. The mean's denominator does not change; pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.
    /// With the classes on another axis than the last, row weights make the call gather the logits (and targets) into a
    /// pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <returns>The loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// returns it for the flattened rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside <c>[0, classes)</c> and not the ignored value;
    /// the options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="labels"/> or <paramref name="gradient"/> has the wrong shape; <paramref name="classWeights"/> has the
    /// wrong length; <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits;
    /// a tensor is not contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static T LossAndGradient<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<int> labels, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.RowShape(labels.Lengths, logits.Lengths, layout, nameof(labels));
        ReadOnlySpan<int> l = TensorShapes.Flatten(labels, nameof(labels));
        TensorShapes.SameShape(gradient.Lengths, logits.Lengths, nameof(gradient));
        Span<T> g = TensorShapes.Flatten(gradient, nameof(gradient));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        return layout.IsRowMajor ? LossAndGradient(y, l, g, classes, options, classWeights, w) : StridedLabelLossAndGradient(y, l, g, layout, options, classWeights, w);
    }

    /// <summary>
    /// The reduced cross-entropy loss and its gradient with respect to the logits, for class-index labels, in one fused
    /// pass over each row.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> (or <see cref="CrossEntropyOptions.IgnoreIndex"/>) per row,
    /// the positions (the logits' dimensions without the class axis) in row-major order.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, as
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes it;
    /// the same shape as <paramref name="logits"/>, contiguous. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap it otherwise, nor any other input.</param>
    /// <param name="options">Every option applies (reduction, ignored label, label smoothing, z-loss, logit scale, soft-cap,
    /// denominator, parallelism).</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row, in the order of <paramref name="labels"/>:
    /// it multiplies the row's loss (z-loss included) and its gradient. The mean's denominator does not change; pass
    /// <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean. With the classes on another axis than the last, row
    /// weights make the call gather the logits (and targets) into a pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <returns>The loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// returns it for the flattened rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside <c>[0, classes)</c> and not the ignored value;
    /// the options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="labels"/> does not hold one label per row; <paramref name="gradient"/> has another shape;
    /// <paramref name="classWeights"/> has the wrong length; <paramref name="gradient"/> overlaps an input other than as the
    /// very same memory as the logits; a tensor is not contiguous in row-major order or has more than
    /// <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static T LossAndGradient<T>(in ReadOnlyTensorSpan<T> logits, ReadOnlySpan<int> labels, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.SameShape(gradient.Lengths, logits.Lengths, nameof(gradient));
        Span<T> g = TensorShapes.Flatten(gradient, nameof(gradient));
        return layout.IsRowMajor ? LossAndGradient(y, labels, g, classes, options, classWeights, rowWeights) : StridedLabelLossAndGradient(y, labels, g, layout, options, classWeights, rowWeights);
    }

    /// <summary>
    /// The reduced cross-entropy loss and its gradient with respect to the logits, for dense target rows, in one fused
    /// pass over each row.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, rank at least 1, contiguous in row-major order; dimension <paramref name="classAxis"/>
    /// (by default the last) holds the classes.</param>
    /// <param name="targets">The targets, the same shape as <paramref name="logits"/>, contiguous.</param>
    /// <param name="gradient">Receives <c>dLoss/dLogits</c>, as
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/> writes it;
    /// the same shape as <paramref name="logits"/>, contiguous. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap it otherwise, nor the targets or weights.</param>
    /// <param name="options">Every option applies but <see cref="CrossEntropyOptions.IgnoreIndex"/>, which dense targets do not have.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one finite, non-negative weight per row (position), shaped as the
    /// logits without the class axis, or one-dimensional; contiguous. It multiplies the row's loss (z-loss included) and its
    /// gradient. The mean's denominator does not change; pass <see cref="CrossEntropyOptions.Denominator"/> for a weighted mean.
    /// With the classes on another axis than the last, row weights make the call gather the logits (and targets) into a
    /// pooled row-major copy first.</param>
    /// <param name="classAxis">The dimension of <paramref name="logits"/> that holds the classes: -1 (the default) the last,
    /// 1 PyTorch's <c>(N, C, d1, ..., dK)</c>; negative values count from the end. Every other dimension indexes positions
    /// (rows), whose labels, losses and targets follow the logits' dimensions without the class axis, in row-major order.</param>
    /// <returns>The loss, as <see cref="Loss{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// returns it for the flattened rows.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The options are out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException"><paramref name="logits"/> has rank 0 or no classes (a class axis of length 0);
    /// <paramref name="targets"/> or <paramref name="gradient"/> has another shape; <paramref name="classWeights"/> has the
    /// wrong length; <paramref name="gradient"/> overlaps an input other than as the very same memory as the logits;
    /// a tensor is not contiguous in row-major order or has more than <see cref="int.MaxValue"/> elements; <paramref name="rowWeights"/> has the wrong shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static T LossAndGradient<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<T> targets, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        int classes = layout.Classes;
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.SameShape(targets.Lengths, logits.Lengths, nameof(targets));
        ReadOnlySpan<T> t = TensorShapes.Flatten(targets, nameof(targets));
        TensorShapes.SameShape(gradient.Lengths, logits.Lengths, nameof(gradient));
        Span<T> g = TensorShapes.Flatten(gradient, nameof(gradient));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        return layout.IsRowMajor ? LossAndGradient(y, t, g, classes, options, classWeights, w) : StridedDenseLossAndGradient(y, t, g, layout, options, classWeights, w);
    }

    /// <inheritdoc cref="LossAndGradient{T}(in ReadOnlyTensorSpan{T}, in ReadOnlyTensorSpan{int}, in TensorSpan{T}, CrossEntropyOptions, ReadOnlySpan{T}, in ReadOnlyTensorSpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static T LossAndGradient<T>(Tensor<T> logits, in ReadOnlyTensorSpan<int> labels, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        return LossAndGradient(logits.AsReadOnlyTensorSpan(), labels, gradient, options, classWeights, rowWeights, classAxis);
    }

    /// <inheritdoc cref="LossAndGradient{T}(in ReadOnlyTensorSpan{T}, ReadOnlySpan{int}, in TensorSpan{T}, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static T LossAndGradient<T>(Tensor<T> logits, ReadOnlySpan<int> labels, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, ReadOnlySpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        return LossAndGradient(logits.AsReadOnlyTensorSpan(), labels, gradient, options, classWeights, rowWeights, classAxis);
    }

    /// <inheritdoc cref="LossAndGradient{T}(in ReadOnlyTensorSpan{T}, in ReadOnlyTensorSpan{T}, in TensorSpan{T}, CrossEntropyOptions, ReadOnlySpan{T}, in ReadOnlyTensorSpan{T}, int)"/>
    /// <exception cref="ArgumentNullException"><paramref name="logits"/> is <see langword="null"/>.</exception>
    public static T LossAndGradient<T>(Tensor<T> logits, in ReadOnlyTensorSpan<T> targets, in TensorSpan<T> gradient, CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(logits);
        return LossAndGradient(logits.AsReadOnlyTensorSpan(), targets, gradient, options, classWeights, rowWeights, classAxis);
    }

    /// <summary>
    /// The forward that saves each position's log-sum-exp for a later backward (see
    /// <see cref="Forward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T})"/>),
    /// over a tensor whose classes lie on <paramref name="classAxis"/>.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, contiguous in row-major order; dimension <paramref name="classAxis"/> holds the classes.</param>
    /// <param name="labels">Class indices (or the ignored value), one per position: the logits' shape without the class axis, or one-dimensional.</param>
    /// <param name="logSumExp">Receives each position's log-sum-exp: the logits' shape without the class axis, or one-dimensional.
    /// It may not overlap any other argument.</param>
    /// <param name="options">Every option, as for the span overload.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one weight per position, shaped as <paramref name="logSumExp"/>.</param>
    /// <param name="rowLosses">Empty (<c>default</c>), or one element per position, shaped as <paramref name="logSumExp"/>: each position's loss.
    /// It may not overlap any other argument.</param>
    /// <param name="classAxis">The dimension that holds the classes: -1 (the default) the last, 1 PyTorch's <c>(N, C, d1, ..., dK)</c>;
    /// negative values count from the end.</param>
    /// <returns>The reduced loss, as the span overload returns it for the positions in row-major order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>; a label, an option
    /// or a row weight is out of range.</exception>
    /// <exception cref="ArgumentException">A tensor has the wrong shape, is not contiguous in row-major order or overlaps an output;
    /// <paramref name="classWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>With the classes last this is the span overload over the flattened memory. On another axis the span overload's
    /// kernels run on the positions a chunk at a time, each chunk gathered into row-major rows in the thread's scratch (the
    /// strided kernels do not write log-sum-exps yet): a copy of one chunk per thread, never of the tensor; the results are
    /// bitwise those of the span overload on the gathered rows.</remarks>
    public static T Forward<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<int> labels, in TensorSpan<T> logSumExp,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, in TensorSpan<T> rowLosses = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.RowShape(labels.Lengths, logits.Lengths, layout, nameof(labels));
        ReadOnlySpan<int> t = TensorShapes.Flatten(labels, nameof(labels));
        TensorShapes.RowShape(logSumExp.Lengths, logits.Lengths, layout, nameof(logSumExp));
        Span<T> s = TensorShapes.Flatten(logSumExp, nameof(logSumExp));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        Span<T> r = TensorShapes.OptionalRows(rowLosses, logits.Lengths, layout, nameof(rowLosses));
        if (layout.IsRowMajor)
        {
            return Forward(y, t, s, layout.Classes, options, classWeights, w, r);
        }

        // The span overload's checks, on the tensor's memory, then its kernels on gathered chunks of positions.
        Validation.ElementType<T>();
        int rows = ValidateLabels(y, t, layout.Classes, options, classWeights, w);
        ValidateForwardOutputs<T, int>(y, t, s, r, classWeights, w, rows, nameof(labels));
        LabelCounts counts = Validation.Labels(t, layout.Classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        fixed (T* py = y)
        fixed (int* pt = t)
        fixed (T* ps = s)
        fixed (T* pr = r)
        fixed (T* pw = w)
        fixed (T* cw = classWeights)
        {
            GatheredBuffers<T> b = default;
            b.Logits = py;
            b.Labels = pt;
            b.LogSumExp = ps;
            b.RowLosses = pr;
            b.RowWeights = pw;
            var builder = new LabelForwardBuilder<T>(cw, layout.Classes, options.IgnoreIndex, CallSettings.From(options, 1, argmax: false));
            RowTotals totals = RunGathered<T, LabelForwardBuilder<T>, LabelCall<T, NoOutput>>(b, layout, builder, options.MaxDegreeOfParallelism);
            return T.CreateTruncating(totals.Loss / divisor);
        }
    }

    /// <summary>
    /// The forward that saves each position's log-sum-exp for a later backward (see
    /// <see cref="Forward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T}, Span{T})"/>),
    /// over a tensor whose classes lie on <paramref name="classAxis"/>.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits, contiguous in row-major order; dimension <paramref name="classAxis"/> holds the classes.</param>
    /// <param name="targets">Probabilities along the class axis: the logits' shape.</param>
    /// <param name="logSumExp">Receives each position's log-sum-exp: the logits' shape without the class axis, or one-dimensional.
    /// It may not overlap any other argument.</param>
    /// <param name="options">Every option, as for the span overload.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one weight per position, shaped as <paramref name="logSumExp"/>.</param>
    /// <param name="rowLosses">Empty (<c>default</c>), or one element per position, shaped as <paramref name="logSumExp"/>: each position's loss.
    /// It may not overlap any other argument.</param>
    /// <param name="classAxis">The dimension that holds the classes: -1 (the default) the last, 1 PyTorch's <c>(N, C, d1, ..., dK)</c>;
    /// negative values count from the end.</param>
    /// <returns>The reduced loss, as the span overload returns it for the positions in row-major order.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>; a label, an option
    /// or a row weight is out of range.</exception>
    /// <exception cref="ArgumentException">A tensor has the wrong shape, is not contiguous in row-major order or overlaps an output;
    /// <paramref name="classWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>With the classes last this is the span overload over the flattened memory. On another axis the span overload's
    /// kernels run on the positions a chunk at a time, each chunk gathered into row-major rows in the thread's scratch (the
    /// strided kernels do not write log-sum-exps yet): a copy of one chunk per thread, never of the tensor; the results are
    /// bitwise those of the span overload on the gathered rows.</remarks>
    public static T Forward<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<T> targets, in TensorSpan<T> logSumExp,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, in TensorSpan<T> rowLosses = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.SameShape(targets.Lengths, logits.Lengths, nameof(targets));
        ReadOnlySpan<T> t = TensorShapes.Flatten(targets, nameof(targets));
        TensorShapes.RowShape(logSumExp.Lengths, logits.Lengths, layout, nameof(logSumExp));
        Span<T> s = TensorShapes.Flatten(logSumExp, nameof(logSumExp));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        Span<T> r = TensorShapes.OptionalRows(rowLosses, logits.Lengths, layout, nameof(rowLosses));
        if (layout.IsRowMajor)
        {
            return Forward(y, t, s, layout.Classes, options, classWeights, w, r);
        }

        // The span overload's checks, on the tensor's memory, then its kernels on gathered chunks of positions.
        Validation.ElementType<T>();
        int rows = ValidateDense(y, t, layout.Classes, options, classWeights, w);
        ValidateForwardOutputs<T, T>(y, t, s, r, classWeights, w, rows, nameof(targets));
        double divisor = Divisor(options, rows);
        fixed (T* py = y)
        fixed (T* pt = t)
        fixed (T* ps = s)
        fixed (T* pr = r)
        fixed (T* pw = w)
        fixed (T* cw = classWeights)
        {
            GatheredBuffers<T> b = default;
            b.Logits = py;
            b.Targets = pt;
            b.LogSumExp = ps;
            b.RowLosses = pr;
            b.RowWeights = pw;
            var builder = new DenseForwardBuilder<T>(cw, layout.Classes, CallSettings.From(options, 1, argmax: false));
            RowTotals totals = RunGathered<T, DenseForwardBuilder<T>, DenseCall<T, NoOutput>>(b, layout, builder, options.MaxDegreeOfParallelism);
            return T.CreateTruncating(totals.Loss / divisor);
        }
    }

    /// <summary>
    /// The backward from the saved log-sum-exp (see
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, ReadOnlySpan{T}, T, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>),
    /// over a tensor whose classes lie on <paramref name="classAxis"/>: the gradient of the reduced loss times one upstream value.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits the forward saw, contiguous in row-major order; dimension <paramref name="classAxis"/> holds the classes.</param>
    /// <param name="labels">Class indices (or the ignored value), one per position: the logits' shape without the class axis, or one-dimensional.</param>
    /// <param name="logSumExp">The forward's log-sum-exp: the logits' shape without the class axis, or one-dimensional.</param>
    /// <param name="upstreamGradient">The gradient of the objective with respect to the reduced loss.</param>
    /// <param name="gradient">Receives the gradient; the logits' shape. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap any other argument.</param>
    /// <param name="options">Every option, as for the forward.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one weight per position, shaped as <paramref name="logSumExp"/>.</param>
    /// <param name="classAxis">The dimension that holds the classes: -1 (the default) the last, 1 PyTorch's <c>(N, C, d1, ..., dK)</c>;
    /// negative values count from the end.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>; a label, an option
    /// or a row weight is out of range.</exception>
    /// <exception cref="ArgumentException">A tensor has the wrong shape, is not contiguous in row-major order or overlaps the gradient
    /// other than as the logits' very memory; <paramref name="classWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>With the classes last this is the span overload over the flattened memory. On another axis the span overload's
    /// kernels run on the positions a chunk at a time: each chunk's logits (and targets) gathered into row-major rows in the
    /// thread's scratch, its gradient scattered back; copies of one chunk per thread, never of the tensor.</remarks>
    public static void Backward<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<int> labels, in ReadOnlyTensorSpan<T> logSumExp, T upstreamGradient, in TensorSpan<T> gradient,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.RowShape(labels.Lengths, logits.Lengths, layout, nameof(labels));
        ReadOnlySpan<int> t = TensorShapes.Flatten(labels, nameof(labels));
        TensorShapes.RowShape(logSumExp.Lengths, logits.Lengths, layout, nameof(logSumExp));
        ReadOnlySpan<T> s = TensorShapes.Flatten(logSumExp, nameof(logSumExp));
        TensorShapes.SameShape(gradient.Lengths, logits.Lengths, nameof(gradient));
        Span<T> g = TensorShapes.Flatten(gradient, nameof(gradient));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        BackwardOnClassAxis(y, new BackwardInputs<T>(t, default, false, upstreamGradient, default, false), s, g, layout, options, classWeights, w);
    }

    /// <summary>
    /// The backward from the saved log-sum-exp (see
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, ReadOnlySpan{T}, T, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>),
    /// over a tensor whose classes lie on <paramref name="classAxis"/>: each position's loss gradient times its own upstream value.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits the forward saw, contiguous in row-major order; dimension <paramref name="classAxis"/> holds the classes.</param>
    /// <param name="labels">Class indices (or the ignored value), one per position: the logits' shape without the class axis, or one-dimensional.</param>
    /// <param name="logSumExp">The forward's log-sum-exp: the logits' shape without the class axis, or one-dimensional.</param>
    /// <param name="rowUpstreamGradients">One upstream value per position (reduction 'none'), shaped as <paramref name="logSumExp"/>.</param>
    /// <param name="gradient">Receives the gradient; the logits' shape. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap any other argument.</param>
    /// <param name="options">Every option, as for the forward.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one weight per position, shaped as <paramref name="logSumExp"/>.</param>
    /// <param name="classAxis">The dimension that holds the classes: -1 (the default) the last, 1 PyTorch's <c>(N, C, d1, ..., dK)</c>;
    /// negative values count from the end.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>; a label, an option
    /// or a row weight is out of range.</exception>
    /// <exception cref="ArgumentException">A tensor has the wrong shape, is not contiguous in row-major order or overlaps the gradient
    /// other than as the logits' very memory; <paramref name="classWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>With the classes last this is the span overload over the flattened memory. On another axis the span overload's
    /// kernels run on the positions a chunk at a time: each chunk's logits (and targets) gathered into row-major rows in the
    /// thread's scratch, its gradient scattered back; copies of one chunk per thread, never of the tensor.</remarks>
    public static void Backward<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<int> labels, in ReadOnlyTensorSpan<T> logSumExp, in ReadOnlyTensorSpan<T> rowUpstreamGradients, in TensorSpan<T> gradient,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.RowShape(labels.Lengths, logits.Lengths, layout, nameof(labels));
        ReadOnlySpan<int> t = TensorShapes.Flatten(labels, nameof(labels));
        TensorShapes.RowShape(logSumExp.Lengths, logits.Lengths, layout, nameof(logSumExp));
        ReadOnlySpan<T> s = TensorShapes.Flatten(logSumExp, nameof(logSumExp));
        TensorShapes.RowShape(rowUpstreamGradients.Lengths, logits.Lengths, layout, nameof(rowUpstreamGradients));
        ReadOnlySpan<T> u = TensorShapes.Flatten(rowUpstreamGradients, nameof(rowUpstreamGradients));
        TensorShapes.SameShape(gradient.Lengths, logits.Lengths, nameof(gradient));
        Span<T> g = TensorShapes.Flatten(gradient, nameof(gradient));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        BackwardOnClassAxis(y, new BackwardInputs<T>(t, default, false, T.Zero, u, true), s, g, layout, options, classWeights, w);
    }

    /// <summary>
    /// The backward from the saved log-sum-exp (see
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>),
    /// over a tensor whose classes lie on <paramref name="classAxis"/>: the gradient of the reduced loss times one upstream value.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits the forward saw, contiguous in row-major order; dimension <paramref name="classAxis"/> holds the classes.</param>
    /// <param name="targets">Probabilities along the class axis: the logits' shape.</param>
    /// <param name="logSumExp">The forward's log-sum-exp: the logits' shape without the class axis, or one-dimensional.</param>
    /// <param name="upstreamGradient">The gradient of the objective with respect to the reduced loss.</param>
    /// <param name="gradient">Receives the gradient; the logits' shape. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap any other argument.</param>
    /// <param name="options">Every option, as for the forward.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one weight per position, shaped as <paramref name="logSumExp"/>.</param>
    /// <param name="classAxis">The dimension that holds the classes: -1 (the default) the last, 1 PyTorch's <c>(N, C, d1, ..., dK)</c>;
    /// negative values count from the end.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>; a label, an option
    /// or a row weight is out of range.</exception>
    /// <exception cref="ArgumentException">A tensor has the wrong shape, is not contiguous in row-major order or overlaps the gradient
    /// other than as the logits' very memory; <paramref name="classWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>With the classes last this is the span overload over the flattened memory. On another axis the span overload's
    /// kernels run on the positions a chunk at a time: each chunk's logits (and targets) gathered into row-major rows in the
    /// thread's scratch, its gradient scattered back; copies of one chunk per thread, never of the tensor.</remarks>
    public static void Backward<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<T> targets, in ReadOnlyTensorSpan<T> logSumExp, T upstreamGradient, in TensorSpan<T> gradient,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.SameShape(targets.Lengths, logits.Lengths, nameof(targets));
        ReadOnlySpan<T> t = TensorShapes.Flatten(targets, nameof(targets));
        TensorShapes.RowShape(logSumExp.Lengths, logits.Lengths, layout, nameof(logSumExp));
        ReadOnlySpan<T> s = TensorShapes.Flatten(logSumExp, nameof(logSumExp));
        TensorShapes.SameShape(gradient.Lengths, logits.Lengths, nameof(gradient));
        Span<T> g = TensorShapes.Flatten(gradient, nameof(gradient));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        BackwardOnClassAxis(y, new BackwardInputs<T>(default, t, true, upstreamGradient, default, false), s, g, layout, options, classWeights, w);
    }

    /// <summary>
    /// The backward from the saved log-sum-exp (see
    /// <see cref="Backward{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, T, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>),
    /// over a tensor whose classes lie on <paramref name="classAxis"/>: each position's loss gradient times its own upstream value.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/>; Half only with the classes on the last axis.</typeparam>
    /// <param name="logits">The logits the forward saw, contiguous in row-major order; dimension <paramref name="classAxis"/> holds the classes.</param>
    /// <param name="targets">Probabilities along the class axis: the logits' shape.</param>
    /// <param name="logSumExp">The forward's log-sum-exp: the logits' shape without the class axis, or one-dimensional.</param>
    /// <param name="rowUpstreamGradients">One upstream value per position (reduction 'none'), shaped as <paramref name="logSumExp"/>.</param>
    /// <param name="gradient">Receives the gradient; the logits' shape. It may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap any other argument.</param>
    /// <param name="options">Every option, as for the forward.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty (<c>default</c>), or one weight per position, shaped as <paramref name="logSumExp"/>.</param>
    /// <param name="classAxis">The dimension that holds the classes: -1 (the default) the last, 1 PyTorch's <c>(N, C, d1, ..., dK)</c>;
    /// negative values count from the end.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classAxis"/> is outside <c>[-rank, rank)</c>; a label, an option
    /// or a row weight is out of range.</exception>
    /// <exception cref="ArgumentException">A tensor has the wrong shape, is not contiguous in row-major order or overlaps the gradient
    /// other than as the logits' very memory; <paramref name="classWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half, or is Half with the classes on another axis than the last.</exception>
    /// <remarks>With the classes last this is the span overload over the flattened memory. On another axis the span overload's
    /// kernels run on the positions a chunk at a time: each chunk's logits (and targets) gathered into row-major rows in the
    /// thread's scratch, its gradient scattered back; copies of one chunk per thread, never of the tensor.</remarks>
    public static void Backward<T>(in ReadOnlyTensorSpan<T> logits, in ReadOnlyTensorSpan<T> targets, in ReadOnlyTensorSpan<T> logSumExp, in ReadOnlyTensorSpan<T> rowUpstreamGradients, in TensorSpan<T> gradient,
        CrossEntropyOptions options = default, ReadOnlySpan<T> classWeights = default, in ReadOnlyTensorSpan<T> rowWeights = default, int classAxis = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ClassLayout layout = TensorShapes.Layout(logits.Lengths, classAxis, nameof(logits));
        ReadOnlySpan<T> y = TensorShapes.Flatten(logits, nameof(logits));
        TensorShapes.SameShape(targets.Lengths, logits.Lengths, nameof(targets));
        ReadOnlySpan<T> t = TensorShapes.Flatten(targets, nameof(targets));
        TensorShapes.RowShape(logSumExp.Lengths, logits.Lengths, layout, nameof(logSumExp));
        ReadOnlySpan<T> s = TensorShapes.Flatten(logSumExp, nameof(logSumExp));
        TensorShapes.RowShape(rowUpstreamGradients.Lengths, logits.Lengths, layout, nameof(rowUpstreamGradients));
        ReadOnlySpan<T> u = TensorShapes.Flatten(rowUpstreamGradients, nameof(rowUpstreamGradients));
        TensorShapes.SameShape(gradient.Lengths, logits.Lengths, nameof(gradient));
        Span<T> g = TensorShapes.Flatten(gradient, nameof(gradient));
        ReadOnlySpan<T> w = TensorShapes.OptionalRows(rowWeights, logits.Lengths, layout, nameof(rowWeights));
        BackwardOnClassAxis(y, new BackwardInputs<T>(default, t, true, T.Zero, u, true), s, g, layout, options, classWeights, w);
    }

    /// <summary>What a backward from saved statistics reads besides the logits, flattened: labels or dense targets, and one
    /// upstream value or one per row.</summary>
    private readonly ref struct BackwardInputs<T>(ReadOnlySpan<int> labels, ReadOnlySpan<T> targets, bool dense, T upstream, ReadOnlySpan<T> rowUpstream, bool perRow)
    {
        public ReadOnlySpan<int> Labels { get; } = labels;

        public ReadOnlySpan<T> Targets { get; } = targets;

        public bool Dense { get; } = dense;

        public T Upstream { get; } = upstream;

        public ReadOnlySpan<T> RowUpstream { get; } = rowUpstream;

        public bool PerRow { get; } = perRow;
    }

    /// <summary>
    /// The four tensor backwards from saved statistics, once their shapes are checked: with the classes last, the span
    /// overload over the flattened memory; on another axis, the span overload's checks on the tensors' memory, then its
    /// kernels on gathered chunks of positions, each chunk's gradient scattered back.
    /// </summary>
    private static void BackwardOnClassAxis<T>(ReadOnlySpan<T> logits, in BackwardInputs<T> inputs, ReadOnlySpan<T> logSumExp, Span<T> gradient, in ClassLayout layout,
        CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (layout.IsRowMajor)
        {
            BackwardRows(logits, inputs, inputs.Targets, logSumExp, gradient, layout.Classes, options, classWeights, rowWeights);
            return;
        }

        Validation.ElementType<T>();
        int classes = layout.Classes;
        double scale;
        if (inputs.Dense)
        {
            int rows = ValidateDense(logits, inputs.Targets, classes, options, classWeights, rowWeights);
            ValidateRowUpstream(inputs, rows);
            ValidateBackwardBuffers<T, T>(logits, inputs.Targets, logSumExp, inputs.RowUpstream, gradient, classWeights, rowWeights, rows, "targets");
            scale = inputs.PerRow ? 1 : double.CreateTruncating(inputs.Upstream) / Divisor(options, rows);
        }
        else
        {
            int rows = ValidateLabels(logits, inputs.Labels, classes, options, classWeights, rowWeights);
            ValidateRowUpstream(inputs, rows);
            ValidateBackwardBuffers<T, int>(logits, inputs.Labels, logSumExp, inputs.RowUpstream, gradient, classWeights, rowWeights, rows, "labels");
            LabelCounts counts = Validation.Labels(inputs.Labels, classes, options.IgnoreIndex, classWeights);
            scale = inputs.PerRow ? 1 : double.CreateTruncating(inputs.Upstream) / Divisor(options, counts.Denominator);
        }

        var settings = CallSettings.From(options, scale, argmax: false);
        fixed (T* y = logits)
        fixed (T* g = gradient)
        fixed (T* s = logSumExp)
        fixed (T* u = inputs.RowUpstream)
        fixed (T* t = inputs.Targets)
        fixed (int* lab = inputs.Labels)
        fixed (T* r = rowWeights)
        fixed (T* w = classWeights)
        {
            GatheredBuffers<T> b = default;
            b.Logits = y;
            b.Output = g;
            b.LogSumExp = s;
            b.RowUpstream = u;
            b.Targets = t;
            b.Labels = lab;
            b.RowWeights = r;
            if (inputs.Dense)
            {
                RunGathered<T, DenseBackwardBuilder<T>, DenseBackwardCall<T>>(b, layout, new DenseBackwardBuilder<T>(w, classes, settings), options.MaxDegreeOfParallelism);
            }
            else
            {
                var builder = new LabelBackwardBuilder<T>(w, classes, options.IgnoreIndex, settings, TermSum(classWeights, classes));
                RunGathered<T, LabelBackwardBuilder<T>, LabelBackwardCall<T>>(b, layout, builder, options.MaxDegreeOfParallelism);
            }
        }
    }

    /// <summary>The span overloads' check of the upstream values, one per row where there are any.</summary>
    private static void ValidateRowUpstream<T>(in BackwardInputs<T> inputs, int rows)
    {
        if (inputs.PerRow)
        {
            Validation.Length(inputs.RowUpstream.Length, rows, "rowUpstreamGradients", "one upstream gradient per row");
        }
    }

    /// <summary>The span overload of the backward from saved statistics that <paramref name="inputs"/> call for, on row-major rows.</summary>
    private static void BackwardRows<T>(ReadOnlySpan<T> logits, in BackwardInputs<T> inputs, ReadOnlySpan<T> targets, ReadOnlySpan<T> logSumExp, Span<T> gradient, int classes,
        CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (inputs.Dense, inputs.PerRow)
        {
            case (false, false):
                Backward(logits, inputs.Labels, logSumExp, inputs.Upstream, gradient, classes, options, classWeights, rowWeights);
                break;
            case (false, true):
                Backward(logits, inputs.Labels, logSumExp, inputs.RowUpstream, gradient, classes, options, classWeights, rowWeights);
                break;
            case (true, false):
                Backward(logits, targets, logSumExp, inputs.Upstream, gradient, classes, options, classWeights, rowWeights);
                break;
            default:
                Backward(logits, targets, logSumExp, inputs.RowUpstream, gradient, classes, options, classWeights, rowWeights);
                break;
        }
    }

    /// <summary>Runs a row-major call over the positions of an <c>[outer, C, inner]</c> tensor, a gathered chunk of positions at a time.</summary>
    private static RowTotals RunGathered<T, TBuilder, TCall>(in GatheredBuffers<T> buffers, in ClassLayout layout, TBuilder builder, int maxDegreeOfParallelism)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TBuilder : struct, IGatheredCallBuilder<T, TCall>
        where TCall : struct, IWidthCall<T>
    {
        var call = new GatheredCall<T, TBuilder, TCall>(buffers, layout.Positions, layout.Classes, layout.Inner, builder);
        return RowChunks.Run<T, GatheredCall<T, TBuilder, TCall>>(call, maxDegreeOfParallelism);
    }

    // The row-major calls of the span overloads (RunLabels, RunDense, RunLabelBackward, RunDenseBackward), over one gathered chunk.

    private readonly struct LabelForwardBuilder<T>(T* classWeights, int classes, int? ignoreIndex, CallSettings settings) : IGatheredCallBuilder<T, LabelCall<T, NoOutput>>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public LabelCall<T, NoOutput> Build(in GatheredChunk<T> chunk) => new(
            chunk.Logits, chunk.Output, new RowOutputs<T>(chunk.RowLosses, null, chunk.LogSumExp), chunk.Labels, classWeights, chunk.RowWeights, chunk.Rows, classes,
            ignoreIndex, settings);
    }

    private readonly struct DenseForwardBuilder<T>(T* classWeights, int classes, CallSettings settings) : IGatheredCallBuilder<T, DenseCall<T, NoOutput>>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public DenseCall<T, NoOutput> Build(in GatheredChunk<T> chunk) => new(
            chunk.Logits, chunk.Output, new RowOutputs<T>(chunk.RowLosses, null, chunk.LogSumExp), chunk.Targets, classWeights, chunk.RowWeights, chunk.Rows, classes, settings);
    }

    private readonly struct LabelBackwardBuilder<T>(T* classWeights, int classes, int? ignoreIndex, CallSettings settings, double termSum) : IGatheredCallBuilder<T, LabelBackwardCall<T>>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public LabelBackwardCall<T> Build(in GatheredChunk<T> chunk) => new(
            chunk.Logits, chunk.Output, chunk.LogSumExp, chunk.RowUpstream, chunk.Labels, classWeights, chunk.RowWeights, chunk.Rows, classes, ignoreIndex, settings, termSum);
    }

    private readonly struct DenseBackwardBuilder<T>(T* classWeights, int classes, CallSettings settings) : IGatheredCallBuilder<T, DenseBackwardCall<T>>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public DenseBackwardCall<T> Build(in GatheredChunk<T> chunk) => new(
            chunk.Logits, chunk.Output, chunk.LogSumExp, chunk.RowUpstream, chunk.Targets, classWeights, chunk.RowWeights, chunk.Rows, classes, settings);
    }

    // ---------------------------------------------------------------- shapes

    /// <summary>
    /// The checks particular to tensors (rank, shape, row-major layout) and the flattening to spans. The span overloads
    /// check everything else.
    /// </summary>
    private static class TensorShapes
    {
        /// <summary>
        /// The logits' layout around the class axis <paramref name="classAxis"/> (negative: counted from the end):
        /// <c>[outer, classes, inner]</c>.
        /// </summary>
        public static ClassLayout Layout(ReadOnlySpan<nint> lengths, int classAxis, string paramName)
        {
            if (lengths.IsEmpty)
            {
                ThrowHelper.RankZero(paramName);
            }

            int rank = lengths.Length;
            if (classAxis < -rank || classAxis >= rank)
            {
                ThrowHelper.ClassAxisOutOfRange(classAxis, rank);
            }

            int axis = classAxis < 0 ? classAxis + rank : classAxis;
            nint classes = lengths[axis];
            if (classes <= 0)
            {
                if (axis == rank - 1)
                {
                    ThrowHelper.NoClasses(paramName, lengths);
                }

                ThrowHelper.NoClassesOnAxis(paramName, lengths, axis);
            }

            // Products saturate instead of overflowing: a tensor that large is refused by Flatten anyway.
            long outer = 1, inner = 1;
            foreach (nint length in lengths[..axis])
            {
                outer = Math.Min(outer * length, (long)int.MaxValue + 1);
            }

            foreach (nint length in lengths[(axis + 1)..])
            {
                inner = Math.Min(inner * length, (long)int.MaxValue + 1);
            }

            // A last dimension longer than int.MaxValue makes the tensor too large too; Flatten reports that.
            return new ClassLayout(axis, (int)Math.Min(classes, int.MaxValue), outer, inner);
        }

        /// <summary>Checks that <paramref name="actual"/> is the shape of the logits.</summary>
        public static void SameShape(ReadOnlySpan<nint> actual, ReadOnlySpan<nint> logits, string paramName)
        {
            if (!actual.SequenceEqual(logits))
            {
                ThrowHelper.ShapeMismatch(paramName, actual, logits);
            }
        }

        /// <summary>
        /// Checks that <paramref name="actual"/> holds one element per position (row) of the logits: the logits' shape
        /// without the class axis, or one dimension of the number of positions.
        /// </summary>
        public static void RowShape(ReadOnlySpan<nint> actual, ReadOnlySpan<nint> logits, in ClassLayout layout, string paramName)
        {
            Debug.Assert(!logits.IsEmpty);
            int axis = layout.Axis;
            if (actual.Length == logits.Length - 1 && actual[..axis].SequenceEqual(logits[..axis]) && actual[axis..].SequenceEqual(logits[(axis + 1)..]))
            {
                return;
            }

            nint positions = (nint)Math.Min(layout.Positions, nint.MaxValue);
            if (actual.Length == 1 && actual[0] == positions)
            {
                return;
            }

            if (axis == logits.Length - 1)
            {
                ThrowHelper.RowShapeMismatch(paramName, actual, logits, positions);
            }

            ThrowHelper.PositionShapeMismatch(paramName, actual, logits, axis, positions);
        }

        /// <summary>An optional per-position tensor: empty when not given (rank 0), else checked and flattened.</summary>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
        public static ReadOnlySpan<T> OptionalRows<T>(in ReadOnlyTensorSpan<T> tensor, ReadOnlySpan<nint> logits, in ClassLayout layout, string paramName)
        {
            if (tensor.Lengths.IsEmpty)
            {
                return default;
            }

            RowShape(tensor.Lengths, logits, layout, paramName);
            return Flatten(tensor, paramName);
        }

        /// <inheritdoc cref="OptionalRows{T}(in ReadOnlyTensorSpan{T}, ReadOnlySpan{nint}, in ClassLayout, string)"/>
        public static Span<T> OptionalRows<T>(in TensorSpan<T> tensor, ReadOnlySpan<nint> logits, in ClassLayout layout, string paramName)
        {
            if (tensor.Lengths.IsEmpty)
            {
                return default;
            }

            RowShape(tensor.Lengths, logits, layout, paramName);
            return Flatten(tensor, paramName);
        }

        /// <summary>The elements of a row-major contiguous tensor span, as one span.</summary>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
        public static ReadOnlySpan<T> Flatten<T>(in ReadOnlyTensorSpan<T> tensor, string paramName)
        {
            int length = CheckRowMajor(tensor.Lengths, tensor.Strides, tensor.FlattenedLength, paramName);
            return length == 0 ? default : MemoryMarshal.CreateReadOnlySpan(in tensor.GetPinnableReference(), length);
        }

        /// <summary>The elements of a row-major contiguous tensor span, as one span.</summary>
    /// <remarks>Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
        public static Span<T> Flatten<T>(in TensorSpan<T> tensor, string paramName)
        {
            int length = CheckRowMajor(tensor.Lengths, tensor.Strides, tensor.FlattenedLength, paramName);
            return length == 0 ? default : MemoryMarshal.CreateSpan(ref tensor.GetPinnableReference(), length);
        }

        /// <summary>
        /// Checks that element <c>(i_0, ..., i_n)</c> is at offset <c>sum_k i_k * prod_{j &gt; k} length_j</c>: the
        /// row-major layout without gaps. A dimension of length 1 may have any stride, since it is never stepped over.
        /// </summary>
        private static int CheckRowMajor(ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides, nint flattenedLength, string paramName)
        {
            if (lengths.IsEmpty)
            {
                ThrowHelper.RankZero(paramName);
            }

            if (flattenedLength == 0)
            {
                return 0;
            }

            if (flattenedLength > int.MaxValue)
            {
                ThrowHelper.TooLarge(paramName, flattenedLength);
            }

            nint expected = 1;
            for (int i = lengths.Length - 1; i >= 0; i--)
            {
                if (lengths[i] != 1 && strides[i] != expected)
                {
                    ThrowHelper.NotRowMajor(paramName, lengths, strides);
                }

                expected *= lengths[i];
            }

            return (int)flattenedLength;
        }
    }

    /// <summary>The logits as <c>[outer, classes, inner]</c> around the class axis.</summary>
    private readonly struct ClassLayout(int axis, int classes, long outer, long inner)
    {
        public int Axis { get; } = axis;

        public int Classes { get; } = classes;

        public long Outer { get; } = outer;

        public long Inner { get; } = inner;

        /// <summary>Every position's classes are contiguous: the span overloads' row-major layout.</summary>
        public bool IsRowMajor => Inner == 1;

        /// <summary>The number of positions, <c>outer * inner</c>: the rows.</summary>
        public long Positions => Outer * Inner;

        public StridedShape Shape => new(Positions, Classes, Inner);
    }

    // The [outer, C, inner] paths, inner > 1 (or soft-capped softmax): the same checks as the span overloads, in the same
    // order, before anything is written; then the strided kernels.

    private static void StridedSoftmax<T, TMode>(ReadOnlySpan<T> logits, Span<T> output, in ClassLayout layout, in CrossEntropyOptions options, string outputName)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TMode : struct, IOutputMode
    {
        // Half runs through the row-major chunked layer only (SoftmaxCrossEntropy.Half.cs); the strided kernels are float and double.
        Validation.ElementType<T>();
        Validation.Rows(logits.Length, layout.Classes);
        Validation.NoOverlap<T, T>(output, logits, allowSame: true, outputName, nameof(logits));
        fixed (T* y = logits)
        fixed (T* p = output)
        {
            var call = new StridedSoftmaxCall<T, TMode>(y, p, layout.Shape, CallSettings.From(options, 1, argmax: false));
            RowChunks.Run<T, StridedSoftmaxCall<T, TMode>>(call, options.MaxDegreeOfParallelism);
        }
    }

    private static T StridedLabelLoss<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, in ClassLayout layout, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementType<T>();
        if (!rowWeights.IsEmpty)
        {
            return OnGatheredRows(logits, new GatheredInputs<T>(labels, default, false), default, GatheredOutput.Loss, layout, options, classWeights, rowWeights);
        }

        ValidateLabels(logits, labels, layout.Classes, options, classWeights, default);
        LabelCounts counts = Validation.Labels(labels, layout.Classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        RowTotals totals = RunStridedLabels<T, NoOutput>(logits, default, default, labels, layout, options, classWeights, 1);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    private static void StridedRowLosses<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> rowLosses, in ClassLayout layout, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementType<T>();
        if (!rowWeights.IsEmpty)
        {
            OnGatheredRows(logits, new GatheredInputs<T>(labels, default, false), rowLosses, GatheredOutput.RowLosses, layout, options, classWeights, rowWeights);
            return;
        }

        int rows = ValidateLabels(logits, labels, layout.Classes, options, classWeights, default);
        Validation.Length(rowLosses.Length, rows, nameof(rowLosses), "one loss per row");
        Validation.NoOverlap<T, T>(rowLosses, logits, allowSame: false, nameof(rowLosses), nameof(logits));
        Validation.NoOverlap<T, int>(rowLosses, labels, allowSame: false, nameof(rowLosses), nameof(labels));
        Validation.NoOverlap<T, T>(rowLosses, classWeights, allowSame: false, nameof(rowLosses), nameof(classWeights));
        Validation.Labels(labels, layout.Classes, options.IgnoreIndex, classWeights);
        RunStridedLabels<T, NoOutput>(logits, default, rowLosses, labels, layout, options, classWeights, 1);
    }

    private static T StridedLabelLossAndGradient<T>(
        ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> gradient, in ClassLayout layout, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementType<T>();
        if (!rowWeights.IsEmpty)
        {
            return OnGatheredRows(logits, new GatheredInputs<T>(labels, default, false), gradient, GatheredOutput.Gradient, layout, options, classWeights, rowWeights);
        }

        ValidateLabels(logits, labels, layout.Classes, options, classWeights, default);
        ValidateGradient<T>(logits, gradient, classWeights, default);
        Validation.NoOverlap<T, int>(gradient, labels, allowSame: false, nameof(gradient), nameof(labels));
        LabelCounts counts = Validation.Labels(labels, layout.Classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        RowTotals totals = RunStridedLabels<T, ScaledExpOutput>(logits, gradient, default, labels, layout, options, classWeights, 1 / divisor);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    private static T StridedDenseLoss<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, in ClassLayout layout, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementType<T>();
        if (!rowWeights.IsEmpty)
        {
            return OnGatheredRows(logits, new GatheredInputs<T>(default, targets, true), default, GatheredOutput.Loss, layout, options, classWeights, rowWeights);
        }

        int rows = ValidateDense(logits, targets, layout.Classes, options, classWeights, default);
        double divisor = Divisor(options, rows);
        RowTotals totals = RunStridedDense<T, NoOutput>(logits, default, targets, layout, options, classWeights, 1);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    private static T StridedDenseLossAndGradient<T>(
        ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, Span<T> gradient, in ClassLayout layout, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementType<T>();
        if (!rowWeights.IsEmpty)
        {
            return OnGatheredRows(logits, new GatheredInputs<T>(default, targets, true), gradient, GatheredOutput.Gradient, layout, options, classWeights, rowWeights);
        }

        int rows = ValidateDense(logits, targets, layout.Classes, options, classWeights, default);
        ValidateGradient<T>(logits, gradient, classWeights, default);
        Validation.NoOverlap<T, T>(gradient, targets, allowSame: false, nameof(gradient), nameof(targets));
        double divisor = Divisor(options, rows);
        RowTotals totals = RunStridedDense<T, ScaledExpOutput>(logits, gradient, targets, layout, options, classWeights, 1 / divisor);
        return T.CreateTruncating(totals.Loss / divisor);
    }

    /// <summary>What a call on gathered rows computes: the reduced loss, the row losses, or the loss and its gradient.</summary>
    private enum GatheredOutput
    {
        Loss,
        RowLosses,
        Gradient,
    }

    /// <summary>The targets of a call on gathered rows: class-index labels (in position order already) or dense targets.</summary>
    private readonly ref struct GatheredInputs<T>(ReadOnlySpan<int> labels, ReadOnlySpan<T> targets, bool dense)
    {
        public ReadOnlySpan<int> Labels { get; } = labels;

        public ReadOnlySpan<T> Targets { get; } = targets;

        public bool Dense { get; } = dense;
    }

    /// <summary>
    /// A row-major copy <c>[positions, C]</c> of an <c>[outer, C, inner]</c> tensor, for the one path that needs the whole
    /// tensor gathered (row weights with the classes on another axis). A fresh array: nothing of it is kept after the call.
    /// </summary>
    private static T[] Gathered<T>(ReadOnlySpan<T> x, in ClassLayout layout)
    {
        var rows = new T[x.Length];
        int classes = layout.Classes, inner = (int)layout.Inner;
        for (int n = 0; n < (int)layout.Outer; n++)
        {
            for (int k = 0; k < classes; k++)
            {
                ReadOnlySpan<T> run = x.Slice(((n * classes) + k) * inner, inner);
                int row = n * inner;
                for (int p = 0; p < inner; p++)
                {
                    rows[((row + p) * classes) + k] = run[p];
                }
            }
        }

        return rows;
    }

    /// <summary>Writes row-major <c>[positions, C]</c> rows into an <c>[outer, C, inner]</c> tensor.</summary>
    private static void Scatter<T>(ReadOnlySpan<T> rows, Span<T> x, in ClassLayout layout)
    {
        int classes = layout.Classes, inner = (int)layout.Inner;
        for (int n = 0; n < (int)layout.Outer; n++)
        {
            for (int k = 0; k < classes; k++)
            {
                Span<T> run = x.Slice(((n * classes) + k) * inner, inner);
                int row = n * inner;
                for (int p = 0; p < inner; p++)
                {
                    run[p] = rows[((row + p) * classes) + k];
                }
            }
        }
    }

    /// <summary>
    /// The classes on another axis with row weights, which the strided kernels do not read: the logits (and dense targets)
    /// are gathered into row-major copies made for the call, the span overload runs on those (and checks every argument before
    /// anything is written), and the gradient is scattered back. Returns the loss (0 for the row losses).
    /// </summary>
    private static T OnGatheredRows<T>(
        ReadOnlySpan<T> logits, in GatheredInputs<T> inputs, Span<T> output, GatheredOutput kind, in ClassLayout layout, in CrossEntropyOptions options,
        ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The span overload checks its outputs against the gathered copies: check them against the tensors here.
        if (kind == GatheredOutput.Gradient)
        {
            ValidateGradient<T>(logits, output, classWeights, rowWeights);
            if (inputs.Dense)
            {
                Validation.NoOverlap<T, T>(output, inputs.Targets, allowSame: false, "gradient", "targets");
            }
            else
            {
                Validation.NoOverlap<T, int>(output, inputs.Labels, allowSame: false, "gradient", "labels");
            }
        }
        else if (kind == GatheredOutput.RowLosses)
        {
            Validation.NoOverlap<T, T>(output, logits, allowSame: false, "rowLosses", nameof(logits));
        }

        if (inputs.Dense)
        {
            Validation.Length(inputs.Targets.Length, logits.Length, "targets", "one target per logit");
        }

        int n = logits.Length, classes = layout.Classes;
        T[] rows = Gathered(logits, layout);
        T[]? targetRows = inputs.Dense ? Gathered(inputs.Targets, layout) : null;
        T[]? gradientRows = kind == GatheredOutput.Gradient ? new T[n] : null;
        {
            ReadOnlySpan<T> y = rows.AsSpan(0, n);
            ReadOnlySpan<T> t = targetRows.AsSpan(0, targetRows is null ? 0 : n);
            Span<T> g = gradientRows.AsSpan(0, gradientRows is null ? 0 : n);
            T loss = T.Zero;
            switch (kind, inputs.Dense)
            {
                case (GatheredOutput.Loss, false):
                    loss = Loss(y, inputs.Labels, classes, options, classWeights, rowWeights);
                    break;
                case (GatheredOutput.Loss, true):
                    loss = Loss(y, t, classes, options, classWeights, rowWeights);
                    break;
                case (GatheredOutput.RowLosses, _):
                    RowLosses(y, inputs.Labels, output, classes, options, classWeights, rowWeights);
                    break;
                case (GatheredOutput.Gradient, false):
                    loss = LossAndGradient(y, inputs.Labels, g, classes, options, classWeights, rowWeights);
                    Scatter<T>(g, output, layout);
                    break;
                default:
                    loss = LossAndGradient(y, t, g, classes, options, classWeights, rowWeights);
                    Scatter<T>(g, output, layout);
                    break;
            }

            return loss;
        }
    }

    private static RowTotals RunStridedLabels<T, TMode>(ReadOnlySpan<T> logits, Span<T> output, Span<T> rowLosses, ReadOnlySpan<int> labels, in ClassLayout layout, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, double scale)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TMode : struct, IOutputMode
    {
        fixed (T* y = logits)
        fixed (T* o = output)
        fixed (T* l = rowLosses)
        fixed (int* lab = labels)
        fixed (T* w = classWeights)
        {
            var settings = CallSettings.From(options, scale, argmax: false);
            var call = new StridedLabelCall<T, TMode>(y, o, l, lab, w, layout.Shape, options.IgnoreIndex, settings);
            return RowChunks.Run<T, StridedLabelCall<T, TMode>>(call, options.MaxDegreeOfParallelism);
        }
    }

    private static RowTotals RunStridedDense<T, TMode>(ReadOnlySpan<T> logits, Span<T> output, ReadOnlySpan<T> targets, in ClassLayout layout, in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, double scale)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TMode : struct, IOutputMode
    {
        fixed (T* y = logits)
        fixed (T* o = output)
        fixed (T* t = targets)
        fixed (T* w = classWeights)
        {
            var settings = CallSettings.From(options, scale, argmax: false);
            var call = new StridedDenseCall<T, TMode>(y, o, t, w, layout.Shape, settings);
            return RowChunks.Run<T, StridedDenseCall<T, TMode>>(call, options.MaxDegreeOfParallelism);
        }
    }
}
