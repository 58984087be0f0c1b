using System;
using System.Numerics;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;

namespace SoftmaxCE;

/// <summary>
/// Softmax, log-softmax and the softmax cross-entropy loss with its gradient, over row-major
/// <c>[rows, classes]</c> logits, with the semantics of PyTorch's <c>torch.nn.functional.cross_entropy</c>.
/// </summary>
/// <remarks>
/// <para>
/// Every method takes the logits as one contiguous span of <c>rows * classes</c> elements (row <c>i</c> is
/// <c>logits[(i * classes)..((i + 1) * classes)]</c>) and works for <see cref="float"/> and <see cref="double"/>.
/// Rows are normalised stably: with <c>m = max_k y_k</c>, <c>P_k = exp(y_k - m) / sum_j exp(y_j - m)</c>, so
/// logits as large as <c>±3e38</c> never overflow.
/// </para>
/// <para>
/// NaN and infinities: a logit of negative infinity masks its class (probability 0, gradient 0). A NaN in a row
/// makes that row's loss, probabilities and gradient NaN; it is never hidden. A row of only negative infinities
/// has no distribution: its outputs are NaN, as in PyTorch.
/// </para>
/// <para>
/// No method allocates. Every argument is checked before anything is written, so a call that throws leaves
/// every output buffer as it was.
/// </para>
/// </remarks>
public static unsafe partial class SoftmaxCrossEntropy
{
    /// <summary>Computes the softmax of each row: <c>P_k = exp(y_k - LSE(y))</c>.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="probabilities">Receives the probabilities; the same length as <paramref name="logits"/>.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="probabilities"/> has the wrong length or partially overlaps <paramref name="logits"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <remarks>Each row sums to 1 within rounding. A row with a NaN gives NaN probabilities; a row whose logits are all
    /// negative infinity gives NaN. Unlike <c>TensorPrimitives.SoftMax</c>, the row maximum is subtracted first,
    /// so large logits do not overflow.</remarks>
    public static void Softmax<T>(ReadOnlySpan<T> logits, Span<T> probabilities, int classes)
        where T : unmanaged, IFloatingPointIeee754<T>
        => Softmax(logits, probabilities, classes, maxDegreeOfParallelism: 0);

    /// <inheritdoc cref="Softmax{T}(ReadOnlySpan{T}, Span{T}, int)"/>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="probabilities">Receives the probabilities; the same length as <paramref name="logits"/>.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="maxDegreeOfParallelism">The most threads the call may use: 0 for all cores, 1 for the calling thread only.
    /// The results are bitwise the same for any value.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive, or
    /// <paramref name="maxDegreeOfParallelism"/> is negative.</exception>
    public static void Softmax<T>(ReadOnlySpan<T> logits, Span<T> probabilities, int classes, int maxDegreeOfParallelism)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementType<T>();
        Validation.MaxDegreeOfParallelism(maxDegreeOfParallelism, nameof(maxDegreeOfParallelism));
        int rows = Validation.Rows(logits.Length, classes);
        Validation.Length(probabilities.Length, logits.Length, nameof(probabilities), "one probability per logit");
        Validation.NoOverlap<T, T>(probabilities, logits, allowSame: true, nameof(probabilities), nameof(logits));
        fixed (T* y = logits)
        fixed (T* p = probabilities)
        {
            var call = new SoftmaxCall<T, ScaledExpOutput>(y, p, rows, classes);
            RowChunks.Run<T, SoftmaxCall<T, ScaledExpOutput>>(call, maxDegreeOfParallelism);
        }
    }

    /// <summary>Computes the log-softmax of each row: <c>log P_k = y_k - LSE(y)</c>, with <c>LSE(y) = m + ln sum_k exp(y_k - m)</c>.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="logProbabilities">Receives the log-probabilities; the same length as <paramref name="logits"/>.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="logProbabilities"/> has the wrong length or partially overlaps <paramref name="logits"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <remarks>A logit of negative infinity gives negative infinity; a row with a NaN gives NaN.</remarks>
    public static void LogSoftmax<T>(ReadOnlySpan<T> logits, Span<T> logProbabilities, int classes)
        where T : unmanaged, IFloatingPointIeee754<T>
        => LogSoftmax(logits, logProbabilities, classes, maxDegreeOfParallelism: 0);

    /// <inheritdoc cref="LogSoftmax{T}(ReadOnlySpan{T}, Span{T}, int)"/>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="logProbabilities">Receives the log-probabilities; the same length as <paramref name="logits"/>.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="maxDegreeOfParallelism">The most threads the call may use: 0 for all cores, 1 for the calling thread only.
    /// The results are bitwise the same for any value.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive, or
    /// <paramref name="maxDegreeOfParallelism"/> is negative.</exception>
    public static void LogSoftmax<T>(ReadOnlySpan<T> logits, Span<T> logProbabilities, int classes, int maxDegreeOfParallelism)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementType<T>();
        Validation.MaxDegreeOfParallelism(maxDegreeOfParallelism, nameof(maxDegreeOfParallelism));
        int rows = Validation.Rows(logits.Length, classes);
        Validation.Length(logProbabilities.Length, logits.Length, nameof(logProbabilities), "one log-probability per logit");
        Validation.NoOverlap<T, T>(logProbabilities, logits, allowSame: true, nameof(logProbabilities), nameof(logits));
        fixed (T* y = logits)
        fixed (T* p = logProbabilities)
        {
            var call = new SoftmaxCall<T, LogProbabilityOutput>(y, p, rows, classes);
            RowChunks.Run<T, SoftmaxCall<T, LogProbabilityOutput>>(call, maxDegreeOfParallelism);
        }
    }
}
