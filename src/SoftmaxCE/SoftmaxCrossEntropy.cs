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
/// The span methods take the logits as one contiguous span of <c>rows * classes</c> elements (row <c>i</c> is
/// <c>logits[(i * classes)..((i + 1) * classes)]</c>); the tensor overloads take any row-major shape with the classes on
/// <c>classAxis</c>. Every method works for <see cref="float"/> and <see cref="double"/>, and all but the linear head (and the
/// tensor overloads with the classes on another axis than the last) for <see cref="Half"/> storage: Half logits are widened to float (exactly), every computation is the float one, and each stored
/// result (probabilities, log-probabilities, gradients, row losses, log-sum-exp, shard statistics) is rounded once to Half;
/// the reduced loss is summed in double and rounded once. For more digits than Half holds, use the <c>Forward</c> and
/// <c>Backward</c> overloads whose log-sum-exp is float, or sum the row losses of the float method on widened logits.
/// Rows are normalised stably: with <c>m = max_k y_k</c>, <c>P_k = exp(y_k - m) / sum_j exp(y_j - m)</c>, so
/// logits as large as <c>±3e38</c> never overflow.
/// </para>
/// <para>
/// NaN and infinities: a logit of negative infinity masks its class (probability 0, gradient 0). A NaN in a row
/// makes that row's loss, probabilities and gradient NaN; it is never hidden. A row of only negative infinities
/// has no distribution: its outputs are NaN, as in PyTorch.
/// </para>
/// <para>
/// Calls allocate nothing once their thread has made one call of the same kind and size (the scratch buffers are kept per
/// thread); the tensor overloads that gather a row-major copy (the classes on another axis than the last, for <c>Forward</c>,
/// <c>Backward</c> from saved statistics, and with row weights) rent it from <c>ArrayPool&lt;T&gt;.Shared</c>. Every argument
/// is checked before anything is written, so a call that throws leaves every output buffer as it was. An output may be the
/// very same memory as an input only where its documentation says so (in place); no other overlap is allowed.
/// </para>
/// </remarks>
public static unsafe partial class SoftmaxCrossEntropy
{
    /// <summary>Computes the softmax of each row: <c>P_k = exp(y'_k - LSE(y'))</c>, with <c>y'</c> the scaled, soft-capped logits.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="probabilities">Receives the probabilities; the same length as <paramref name="logits"/>.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Its <see cref="CrossEntropyOptions.LogitScale"/>, <see cref="CrossEntropyOptions.LogitSoftcap"/> and
    /// <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/> apply (each logit <c>y</c> becomes <c>s y</c>, then
    /// <c>c tanh(s y / c)</c>); the other fields do not, though they are checked. The default: the plain softmax.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="probabilities"/> has the wrong length or partially overlaps <paramref name="logits"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>Each row sums to 1 within rounding. A row with a NaN gives NaN probabilities; a row whose logits are all
    /// negative infinity gives NaN. Unlike <c>TensorPrimitives.SoftMax</c>, the row maximum is subtracted first,
    /// so large logits do not overflow. The results are bitwise the same for any degree of parallelism.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Softmax<T>(ReadOnlySpan<T> logits, Span<T> probabilities, int classes, CrossEntropyOptions options = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        Validation.Options(options);
        int rows = Validation.Rows(logits.Length, classes);
        Validation.Length(probabilities.Length, logits.Length, nameof(probabilities), "one probability per logit");
        Validation.NoOverlap<T, T>(probabilities, logits, allowSame: true, nameof(probabilities), nameof(logits));
        if (typeof(T) == typeof(Half))
        {
            SoftmaxHalf<ProbabilityOutput>(AsHalfIn<T>(logits), AsHalfOut(probabilities), rows, classes, options);
            return;
        }

        fixed (T* y = logits)
        fixed (T* p = probabilities)
        {
            var call = new SoftmaxCall<T, ProbabilityOutput>(y, p, rows, classes, MapOf<T>(options));
            RowChunks.Run<T, SoftmaxCall<T, ProbabilityOutput>>(call, options.MaxDegreeOfParallelism);
        }
    }

    /// <summary>Computes the log-softmax of each row: <c>log P_k = y'_k - LSE(y')</c>, with <c>LSE(y') = m + ln sum_k exp(y'_k - m)</c>
    /// and <c>y'</c> the scaled, soft-capped logits.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="Half"/> (Half is computed in float, each stored result rounded once to Half).</typeparam>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="logProbabilities">Receives the log-probabilities; the same length as <paramref name="logits"/>.
    /// It may be the very same memory as <paramref name="logits"/> (in place), but may not overlap it otherwise.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Its <see cref="CrossEntropyOptions.LogitScale"/>, <see cref="CrossEntropyOptions.LogitSoftcap"/> and
    /// <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/> apply; the other fields do not, though they are checked.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>;
    /// <paramref name="logProbabilities"/> has the wrong length or partially overlaps <paramref name="logits"/>.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double or Half.</exception>
    /// <remarks>A logit of negative infinity gives negative infinity; a row with a NaN gives NaN. The results are bitwise the
    /// same for any degree of parallelism.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void LogSoftmax<T>(ReadOnlySpan<T> logits, Span<T> logProbabilities, int classes, CrossEntropyOptions options = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementTypeOrHalf<T>();
        Validation.Options(options);
        int rows = Validation.Rows(logits.Length, classes);
        Validation.Length(logProbabilities.Length, logits.Length, nameof(logProbabilities), "one log-probability per logit");
        Validation.NoOverlap<T, T>(logProbabilities, logits, allowSame: true, nameof(logProbabilities), nameof(logits));
        if (typeof(T) == typeof(Half))
        {
            SoftmaxHalf<LogProbabilityOutput>(AsHalfIn<T>(logits), AsHalfOut(logProbabilities), rows, classes, options);
            return;
        }

        fixed (T* y = logits)
        fixed (T* p = logProbabilities)
        {
            var call = new SoftmaxCall<T, LogProbabilityOutput>(y, p, rows, classes, MapOf<T>(options));
            RowChunks.Run<T, SoftmaxCall<T, LogProbabilityOutput>>(call, options.MaxDegreeOfParallelism);
        }
    }

    /// <summary>The logit map (scale and soft-cap) of validated options.</summary>
    private static LogitMap<T> MapOf<T>(in CrossEntropyOptions options)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        new(options.LogitScale == 0 ? 1 : options.LogitScale, options.LogitSoftcap);
}
