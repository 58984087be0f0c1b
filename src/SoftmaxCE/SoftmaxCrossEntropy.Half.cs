using System;
using System.Runtime.InteropServices;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;

namespace SoftmaxCE;

// Half-precision storage: the generic methods route T = Half here (one type check in each runner). Each chunk of rows is
// widened to float scratch, the float kernels run on it, and every stored result is rounded once to Half
// (NarrowCall). The overloads below keep the saved log-sum-exp in float, as Liger-Kernel and Cut Cross-Entropy do.
public static unsafe partial class SoftmaxCrossEntropy
{
    /// <summary>
    /// The forward of the cross-entropy of <see cref="Half"/> logits against class-index labels, saving each row's
    /// log-sum-exp in <see cref="float"/> for
    /// <see cref="Backward(ReadOnlySpan{Half}, ReadOnlySpan{int}, ReadOnlySpan{float}, Half, Span{Half}, int, CrossEntropyOptions, ReadOnlySpan{Half}, ReadOnlySpan{Half})"/>.
    /// </summary>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">One class index in <c>[0, classes)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="logSumExp">Receives each counted row's log-sum-exp of its final (scaled, capped) logits, in float (not rounded
    /// to Half); one per row. An ignored row's value is unspecified. It may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option, as for the generic <c>Forward</c>.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss.</param>
    /// <param name="rowLosses">Empty, or one element per row: receives each row's loss, rounded once to Half. It may not
    /// overlap any other argument.</param>
    /// <returns>The reduced loss, computed in double from the float row losses and rounded once to Half.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>; <paramref name="labels"/>,
    /// <paramref name="logSumExp"/>, <paramref name="classWeights"/>, <paramref name="rowWeights"/> or <paramref name="rowLosses"/>
    /// has the wrong length; an output overlaps another argument.</exception>
    /// <remarks>
    /// Every computation is in float, as for float logits (the widening of a Half is exact); the results are those of the float
    /// method on the widened logits, each rounded once to Half. Keeping the log-sum-exp in float means the backward meets the
    /// same one-rounding accuracy as the fused call; the generic overload stores it as Half, and its rounding (2^-11 relative)
    /// then enters the gradient. For more digits of the loss than Half holds, sum the row losses of the float method on
    /// widened logits.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.
    /// </remarks>
    public static Half Forward(ReadOnlySpan<Half> logits, ReadOnlySpan<int> labels, Span<float> logSumExp, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<Half> classWeights = default, ReadOnlySpan<Half> rowWeights = default, Span<Half> rowLosses = default)
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        ValidateFloatStatistics<int>(logits, labels, logSumExp, rowLosses, default, default, classWeights, rowWeights, rows, nameof(labels));
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double divisor = Divisor(options, counts.Denominator);
        RowTotals totals = RunLabelsHalf<NoOutput>(logits, default, rowLosses, default, default, logSumExp, labels, classes, rows, options, classWeights, rowWeights, 1, argmax: false);
        return (Half)(totals.Loss / divisor);
    }

    /// <summary>
    /// The forward of the cross-entropy of <see cref="Half"/> logits against dense target rows, saving each row's
    /// log-sum-exp in <see cref="float"/> for
    /// <see cref="Backward(ReadOnlySpan{Half}, ReadOnlySpan{Half}, ReadOnlySpan{float}, Half, Span{Half}, int, CrossEntropyOptions, ReadOnlySpan{Half}, ReadOnlySpan{Half})"/>.
    /// </summary>
    /// <param name="logits">The logits, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="targets">The targets, the same shape as <paramref name="logits"/>.</param>
    /// <param name="logSumExp">Receives each row's log-sum-exp of its final (scaled, capped) logits, in float; one per row. It
    /// may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">Every option, as for the generic <c>Forward</c>.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite, non-negative weight per row that multiplies the row's loss.</param>
    /// <param name="rowLosses">Empty, or one element per row: receives each row's loss, rounded once to Half. It may not
    /// overlap any other argument.</param>
    /// <returns>The reduced loss, computed in double from the float row losses and rounded once to Half.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range; a
    /// row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">The logits length is not a multiple of <paramref name="classes"/>; <paramref name="targets"/>,
    /// <paramref name="logSumExp"/>, <paramref name="classWeights"/>, <paramref name="rowWeights"/> or <paramref name="rowLosses"/>
    /// has the wrong length; an output overlaps another argument.</exception>
    /// <remarks>As for the label overload: float computation, each stored result rounded once, the log-sum-exp kept in float.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static Half Forward(ReadOnlySpan<Half> logits, ReadOnlySpan<Half> targets, Span<float> logSumExp, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<Half> classWeights = default, ReadOnlySpan<Half> rowWeights = default, Span<Half> rowLosses = default)
    {
        int rows = ValidateDense(logits, targets, classes, options, classWeights, rowWeights);
        ValidateFloatStatistics<Half>(logits, targets, logSumExp, rowLosses, default, default, classWeights, rowWeights, rows, nameof(targets));
        double divisor = Divisor(options, rows);
        RowTotals totals = RunDenseHalf<NoOutput>(logits, default, rowLosses, default, logSumExp, targets, classes, rows, options, classWeights, rowWeights, scale: 1);
        return (Half)(totals.Loss / divisor);
    }

    /// <summary>
    /// The backward of the reduced cross-entropy of <see cref="Half"/> logits against class-index labels, from the float
    /// log-sum-exp that <see cref="Forward(ReadOnlySpan{Half}, ReadOnlySpan{int}, Span{float}, int, CrossEntropyOptions, ReadOnlySpan{Half}, ReadOnlySpan{Half}, Span{Half})"/>
    /// saved: <c>gradient = upstreamGradient * d(loss)/d(logits)</c>.
    /// </summary>
    /// <param name="logits">The logits of the forward, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">The labels of the forward.</param>
    /// <param name="logSumExp">The saved log-sum-exp, one float per row.</param>
    /// <param name="upstreamGradient">The gradient of the final objective with respect to the reduced loss.</param>
    /// <param name="gradient">Receives the gradient, rounded once to Half; the logits' length. It may be the very same memory as
    /// <paramref name="logits"/> (in place), but may not overlap it otherwise, nor any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">The options of the forward.</param>
    /// <param name="classWeights">The class weights of the forward.</param>
    /// <param name="rowWeights">The row weights of the forward.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length; <paramref name="gradient"/> overlaps an input other than as
    /// the very same memory as the logits.</exception>
    /// <remarks>The softmax is recomputed in float from the float log-sum-exp; each gradient element is rounded once to Half,
    /// so the pair gives what the fused <c>LossAndGradient</c> gives, times the upstream gradient.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward(ReadOnlySpan<Half> logits, ReadOnlySpan<int> labels, ReadOnlySpan<float> logSumExp, Half upstreamGradient, Span<Half> gradient, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<Half> classWeights = default, ReadOnlySpan<Half> rowWeights = default)
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        ValidateGradient<Half>(logits, gradient, classWeights, rowWeights);
        Validation.NoOverlap<Half, int>(gradient, labels, allowSame: false, nameof(gradient), nameof(labels));
        ValidateFloatStatistics<int>(logits, labels, default, default, logSumExp, gradient, classWeights, rowWeights, rows, nameof(labels));
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double scale = (double)upstreamGradient / Divisor(options, counts.Denominator);
        RunLabelBackwardHalf(logits, labels, default, logSumExp, default, gradient, classes, rows, options, classWeights, rowWeights, scale, TermSum(classWeights, classes));
    }

    /// <summary>
    /// The backward of the row losses of <see cref="Half"/> logits against class-index labels, from the float log-sum-exp:
    /// gradient row <c>i</c> = <c>rowUpstreamGradients[i] * d(rowLoss_i)/d(logits row i)</c>.
    /// </summary>
    /// <param name="logits">The logits of the forward, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="labels">The labels of the forward.</param>
    /// <param name="logSumExp">The saved log-sum-exp, one float per row.</param>
    /// <param name="rowUpstreamGradients">One upstream gradient per row.</param>
    /// <param name="gradient">Receives the gradient, rounded once to Half; it may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">The options of the forward (the reduction does not apply).</param>
    /// <param name="classWeights">The class weights of the forward.</param>
    /// <param name="rowWeights">The row weights of the forward.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; a label is outside
    /// <c>[0, classes)</c> and not the ignored value; an option is out of range; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length; <paramref name="gradient"/> overlaps an input other than as
    /// the very same memory as the logits.</exception>
    /// <remarks>Computed in float; each gradient element is rounded once to Half.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward(ReadOnlySpan<Half> logits, ReadOnlySpan<int> labels, ReadOnlySpan<float> logSumExp, ReadOnlySpan<Half> rowUpstreamGradients, Span<Half> gradient, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<Half> classWeights = default, ReadOnlySpan<Half> rowWeights = default)
    {
        int rows = ValidateLabels(logits, labels, classes, options, classWeights, rowWeights);
        Validation.Length(rowUpstreamGradients.Length, rows, nameof(rowUpstreamGradients), "one upstream gradient per row");
        ValidateGradient<Half>(logits, gradient, classWeights, rowWeights);
        Validation.NoOverlap<Half, int>(gradient, labels, allowSame: false, nameof(gradient), nameof(labels));
        Validation.NoOverlap<Half, Half>(gradient, rowUpstreamGradients, allowSame: false, nameof(gradient), nameof(rowUpstreamGradients));
        ValidateFloatStatistics<int>(logits, labels, default, default, logSumExp, gradient, classWeights, rowWeights, rows, nameof(labels));
        Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        RunLabelBackwardHalf(logits, labels, default, logSumExp, rowUpstreamGradients, gradient, classes, rows, options, classWeights, rowWeights, 1, TermSum(classWeights, classes));
    }

    /// <summary>
    /// The backward of the reduced cross-entropy of <see cref="Half"/> logits against dense target rows, from the float
    /// log-sum-exp that <see cref="Forward(ReadOnlySpan{Half}, ReadOnlySpan{Half}, Span{float}, int, CrossEntropyOptions, ReadOnlySpan{Half}, ReadOnlySpan{Half}, Span{Half})"/>
    /// saved.
    /// </summary>
    /// <param name="logits">The logits of the forward, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="targets">The targets of the forward.</param>
    /// <param name="logSumExp">The saved log-sum-exp, one float per row.</param>
    /// <param name="upstreamGradient">The gradient of the final objective with respect to the reduced loss.</param>
    /// <param name="gradient">Receives the gradient, rounded once to Half; it may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">The options of the forward.</param>
    /// <param name="classWeights">The class weights of the forward.</param>
    /// <param name="rowWeights">The row weights of the forward.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range; a row
    /// weight is negative, infinite or NaN; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length; <paramref name="gradient"/> overlaps an input other than as
    /// the very same memory as the logits.</exception>
    /// <remarks>Computed in float; each gradient element is rounded once to Half.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward(ReadOnlySpan<Half> logits, ReadOnlySpan<Half> targets, ReadOnlySpan<float> logSumExp, Half upstreamGradient, Span<Half> gradient, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<Half> classWeights = default, ReadOnlySpan<Half> rowWeights = default)
    {
        int rows = ValidateDense(logits, targets, classes, options, classWeights, rowWeights);
        ValidateGradient<Half>(logits, gradient, classWeights, rowWeights);
        Validation.NoOverlap<Half, Half>(gradient, targets, allowSame: false, nameof(gradient), nameof(targets));
        ValidateFloatStatistics<Half>(logits, targets, default, default, logSumExp, gradient, classWeights, rowWeights, rows, nameof(targets));
        double scale = (double)upstreamGradient / Divisor(options, rows);
        RunDenseBackwardHalf(logits, targets, default, logSumExp, default, gradient, classes, rows, options, classWeights, rowWeights, scale);
    }

    /// <summary>
    /// The backward of the row losses of <see cref="Half"/> logits against dense target rows, from the float log-sum-exp.
    /// </summary>
    /// <param name="logits">The logits of the forward, <c>rows * classes</c> elements, row-major.</param>
    /// <param name="targets">The targets of the forward.</param>
    /// <param name="logSumExp">The saved log-sum-exp, one float per row.</param>
    /// <param name="rowUpstreamGradients">One upstream gradient per row.</param>
    /// <param name="gradient">Receives the gradient, rounded once to Half; it may be the very same memory as <paramref name="logits"/>
    /// (in place), but may not overlap any other argument.</param>
    /// <param name="classes">The number of classes <c>C</c>, the length of a row.</param>
    /// <param name="options">The options of the forward (the reduction does not apply).</param>
    /// <param name="classWeights">The class weights of the forward.</param>
    /// <param name="rowWeights">The row weights of the forward.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is not positive; an option is out of range; a row
    /// weight is negative, infinite or NaN; a row weight is negative, infinite or NaN.</exception>
    /// <exception cref="ArgumentException">A span has the wrong length; <paramref name="gradient"/> overlaps an input other than as
    /// the very same memory as the logits.</exception>
    /// <remarks>Computed in float; each gradient element is rounded once to Half.
    /// Every argument is checked before anything is written: a call that throws leaves every output as it was.</remarks>
    public static void Backward(ReadOnlySpan<Half> logits, ReadOnlySpan<Half> targets, ReadOnlySpan<float> logSumExp, ReadOnlySpan<Half> rowUpstreamGradients, Span<Half> gradient, int classes,
        CrossEntropyOptions options = default, ReadOnlySpan<Half> classWeights = default, ReadOnlySpan<Half> rowWeights = default)
    {
        int rows = ValidateDense(logits, targets, classes, options, classWeights, rowWeights);
        Validation.Length(rowUpstreamGradients.Length, rows, nameof(rowUpstreamGradients), "one upstream gradient per row");
        ValidateGradient<Half>(logits, gradient, classWeights, rowWeights);
        Validation.NoOverlap<Half, Half>(gradient, targets, allowSame: false, nameof(gradient), nameof(targets));
        Validation.NoOverlap<Half, Half>(gradient, rowUpstreamGradients, allowSame: false, nameof(gradient), nameof(rowUpstreamGradients));
        ValidateFloatStatistics<Half>(logits, targets, default, default, logSumExp, gradient, classWeights, rowWeights, rows, nameof(targets));
        RunDenseBackwardHalf(logits, targets, default, logSumExp, rowUpstreamGradients, gradient, classes, rows, options, classWeights, rowWeights, 1);
    }

    /// <summary>The length and overlap checks of a float log-sum-exp (written by a forward, or read by a backward).</summary>
    private static void ValidateFloatStatistics<TTarget>(
        ReadOnlySpan<Half> logits, ReadOnlySpan<TTarget> targets, Span<float> written, Span<Half> rowLosses, ReadOnlySpan<float> read, Span<Half> gradient,
        ReadOnlySpan<Half> classWeights, ReadOnlySpan<Half> rowWeights, int rows, string targetsName)
        where TTarget : unmanaged
    {
        if (gradient.IsEmpty && read.IsEmpty)
        {
            // A forward: the float log-sum-exp and the row losses are outputs.
            Validation.Length(written.Length, rows, "logSumExp", "one log-sum-exp per row");
            Validation.NoOverlap<float, Half>(written, logits, allowSame: false, "logSumExp", nameof(logits));
            Validation.NoOverlap<float, TTarget>(written, targets, allowSame: false, "logSumExp", targetsName);
            Validation.NoOverlap<float, Half>(written, classWeights, allowSame: false, "logSumExp", nameof(classWeights));
            Validation.NoOverlap<float, Half>(written, rowWeights, allowSame: false, "logSumExp", nameof(rowWeights));
            if (!rowLosses.IsEmpty)
            {
                Validation.Length(rowLosses.Length, rows, nameof(rowLosses), "one loss per row, or none");
            }

            Validation.NoOverlap<Half, Half>(rowLosses, logits, allowSame: false, nameof(rowLosses), nameof(logits));
            Validation.NoOverlap<Half, TTarget>(rowLosses, targets, allowSame: false, nameof(rowLosses), targetsName);
            Validation.NoOverlap<Half, Half>(rowLosses, classWeights, allowSame: false, nameof(rowLosses), nameof(classWeights));
            Validation.NoOverlap<Half, Half>(rowLosses, rowWeights, allowSame: false, nameof(rowLosses), nameof(rowWeights));
            Validation.NoOverlap<Half, float>(rowLosses, written, allowSame: false, nameof(rowLosses), "logSumExp");
            return;
        }

        Validation.Length(read.Length, rows, "logSumExp", "one log-sum-exp per row");
        Validation.NoOverlap<Half, float>(gradient, read, allowSame: false, nameof(gradient), "logSumExp");
    }

    /// <summary><c>sum_k w_k</c> of the smoothing term (the number of classes without weights), added in double in class order.</summary>
    private static double TermSum<T>(ReadOnlySpan<T> classWeights, int classes)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        if (classWeights.IsEmpty)
        {
            return classes;
        }

        double sum = 0;
        foreach (T w in classWeights)
        {
            sum += double.CreateTruncating(w);
        }

        return sum;
    }

    private static ReadOnlySpan<Half> AsHalfIn<T>(ReadOnlySpan<T> span)
        where T : unmanaged => MemoryMarshal.Cast<T, Half>(span);

    private static Span<Half> AsHalfOut<T>(Span<T> span)
        where T : unmanaged => MemoryMarshal.Cast<T, Half>(span);

    private static RowTotals RunNarrow<TBuilder, TCall>(in NarrowBuffers<Half> buffers, int rows, int classes, TBuilder builder, int maxDegreeOfParallelism)
        where TBuilder : struct, IFloatCallBuilder<TCall>
        where TCall : struct, IWidthCall<float>
    {
        var call = new NarrowCall<Half, HalfConversion, TBuilder, TCall>(buffers, rows, classes, builder);
        return RowChunks.Run<float, NarrowCall<Half, HalfConversion, TBuilder, TCall>>(call, maxDegreeOfParallelism);
    }

    private static void SoftmaxHalf<TMode>(ReadOnlySpan<Half> logits, Span<Half> output, int rows, int classes, in CrossEntropyOptions options)
        where TMode : struct, IOutputMode
    {
        fixed (Half* y = logits)
        fixed (Half* o = output)
        {
            NarrowBuffers<Half> b = default;
            b.Logits = y;
            b.Output = o;
            if (typeof(TMode) == typeof(LogProbabilityOutput))
            {
                b.NeedsSpare = true;
                var builder = new LogSoftmaxBuilder(classes, options.LogitScale == 0 ? 1 : options.LogitScale, options.LogitSoftcap);
                RunNarrow<LogSoftmaxBuilder, AccurateLogSoftmaxCall>(b, rows, classes, builder, options.MaxDegreeOfParallelism);
                return;
            }

            RunNarrow<SoftmaxBuilder<TMode>, SoftmaxCall<float, TMode>>(b, rows, classes, new SoftmaxBuilder<TMode>(classes, MapOf<float>(options)), options.MaxDegreeOfParallelism);
        }
    }

    private static RowTotals RunLabelsHalf<TMode>(
        ReadOnlySpan<Half> logits, Span<Half> output, Span<Half> rowLosses, Span<int> predictions, Span<Half> logSumExp, Span<float> floatLogSumExp,
        ReadOnlySpan<int> labels, int classes, int rows, in CrossEntropyOptions options, ReadOnlySpan<Half> classWeights, ReadOnlySpan<Half> rowWeights,
        double scale, bool argmax)
        where TMode : struct, IOutputMode
    {
        fixed (Half* y = logits)
        fixed (Half* o = output)
        fixed (Half* l = rowLosses)
        fixed (int* p = predictions)
        fixed (Half* s = logSumExp)
        fixed (float* sf = floatLogSumExp)
        fixed (int* lab = labels)
        fixed (Half* r = rowWeights)
        {
            NarrowBuffers<Half> b = default;
            b.Logits = y;
            b.Output = o;
            b.RowLosses = l;
            b.Predictions = p;
            b.LogSumExp = s;
            b.FloatLogSumExp = sf;
            b.Labels = lab;
            b.RowWeights = r;
            b.ClassWeights = ChunkScratch.ClassWeights<Half, HalfConversion>(classWeights);
            var builder = new LabelBuilder<TMode>(classes, options.IgnoreIndex, CallSettings.From(options, scale, argmax));
            return RunNarrow<LabelBuilder<TMode>, LabelCall<float, TMode>>(b, rows, classes, builder, options.MaxDegreeOfParallelism);
        }
    }

    private static RowTotals RunDenseHalf<TMode>(
        ReadOnlySpan<Half> logits, Span<Half> output, Span<Half> rowLosses, Span<Half> logSumExp, Span<float> floatLogSumExp, ReadOnlySpan<Half> targets,
        int classes, int rows, in CrossEntropyOptions options, ReadOnlySpan<Half> classWeights, ReadOnlySpan<Half> rowWeights, double scale)
        where TMode : struct, IOutputMode
    {
        fixed (Half* y = logits)
        fixed (Half* o = output)
        fixed (Half* l = rowLosses)
        fixed (Half* s = logSumExp)
        fixed (float* sf = floatLogSumExp)
        fixed (Half* t = targets)
        fixed (Half* r = rowWeights)
        {
            NarrowBuffers<Half> b = default;
            b.Logits = y;
            b.Output = o;
            b.RowLosses = l;
            b.LogSumExp = s;
            b.FloatLogSumExp = sf;
            b.Targets = t;
            b.RowWeights = r;
            b.ClassWeights = ChunkScratch.ClassWeights<Half, HalfConversion>(classWeights);
            var builder = new DenseBuilder<TMode>(classes, CallSettings.From(options, scale, argmax: false));
            return RunNarrow<DenseBuilder<TMode>, DenseCall<float, TMode>>(b, rows, classes, builder, options.MaxDegreeOfParallelism);
        }
    }

    private static void RunLabelBackwardHalf(
        ReadOnlySpan<Half> logits, ReadOnlySpan<int> labels, ReadOnlySpan<Half> logSumExp, ReadOnlySpan<float> floatLogSumExp, ReadOnlySpan<Half> rowUpstreamGradients,
        Span<Half> gradient, int classes, int rows, in CrossEntropyOptions options, ReadOnlySpan<Half> classWeights, ReadOnlySpan<Half> rowWeights, double scale, double termSum)
    {
        fixed (Half* y = logits)
        fixed (Half* g = gradient)
        fixed (Half* s = logSumExp)
        fixed (float* sf = floatLogSumExp)
        fixed (Half* u = rowUpstreamGradients)
        fixed (int* lab = labels)
        fixed (Half* r = rowWeights)
        {
            NarrowBuffers<Half> b = default;
            b.Logits = y;
            b.Output = g;
            b.LogSumExp = s;
            b.FloatLogSumExp = sf;
            b.ReadsLogSumExp = true;
            b.RowUpstream = u;
            b.Labels = lab;
            b.RowWeights = r;
            b.ClassWeights = ChunkScratch.ClassWeights<Half, HalfConversion>(classWeights);
            var builder = new LabelBackwardBuilder(classes, options.IgnoreIndex, CallSettings.From(options, scale, argmax: false), termSum);
            RunNarrow<LabelBackwardBuilder, LabelBackwardCall<float>>(b, rows, classes, builder, options.MaxDegreeOfParallelism);
        }
    }

    private static void RunDenseBackwardHalf(
        ReadOnlySpan<Half> logits, ReadOnlySpan<Half> targets, ReadOnlySpan<Half> logSumExp, ReadOnlySpan<float> floatLogSumExp, ReadOnlySpan<Half> rowUpstreamGradients,
        Span<Half> gradient, int classes, int rows, in CrossEntropyOptions options, ReadOnlySpan<Half> classWeights, ReadOnlySpan<Half> rowWeights, double scale)
    {
        fixed (Half* y = logits)
        fixed (Half* g = gradient)
        fixed (Half* s = logSumExp)
        fixed (float* sf = floatLogSumExp)
        fixed (Half* u = rowUpstreamGradients)
        fixed (Half* t = targets)
        fixed (Half* r = rowWeights)
        {
            NarrowBuffers<Half> b = default;
            b.Logits = y;
            b.Output = g;
            b.LogSumExp = s;
            b.FloatLogSumExp = sf;
            b.ReadsLogSumExp = true;
            b.RowUpstream = u;
            b.Targets = t;
            b.RowWeights = r;
            b.ClassWeights = ChunkScratch.ClassWeights<Half, HalfConversion>(classWeights);
            var builder = new DenseBackwardBuilder(classes, CallSettings.From(options, scale, argmax: false));
            RunNarrow<DenseBackwardBuilder, DenseBackwardCall<float>>(b, rows, classes, builder, options.MaxDegreeOfParallelism);
        }
    }

    /// <remarks>
    /// The statistics are stored as Half, as the generic signature asks: the maximum is a logit (exact), the sum of exponentials
    /// is rounded once (2^-11 relative, which enters the gradient as the Half log-sum-exp does). A row's sum is at most its number
    /// of classes, so shards and merged sums over more than 65504 classes overflow Half to infinity.
    /// </remarks>
    private static void ShardStatisticsHalf(
        ReadOnlySpan<Half> logits, ReadOnlySpan<int> labels, Span<Half> rowMax, Span<Half> rowSumExp, Span<Half> labelLogits, int shardClasses, int classOffset, int rows,
        in CrossEntropyOptions options)
    {
        LogitMap<float> map = MapOf<float>(options);
        fixed (Half* y = logits)
        fixed (Half* m = rowMax)
        fixed (Half* s = rowSumExp)
        {
            NarrowBuffers<Half> b = default;
            b.Logits = y;
            b.RowLosses = m;
            b.LogSumExp = s;
            RunNarrow<ShardStatisticsBuilder, ShardStatisticsCall<float>>(b, rows, shardClasses, new ShardStatisticsBuilder(shardClasses, map), options.MaxDegreeOfParallelism);
        }

        bool hasIgnore = options.IgnoreIndex.HasValue;
        int ignore = options.IgnoreIndex.GetValueOrDefault();
        for (int i = 0; i < rows; i++)
        {
            int label = labels[i];
            int local = label - classOffset;
            bool inShard = !(hasIgnore && label == ignore) && (uint)local < (uint)shardClasses;
            labelLogits[i] = inShard ? (Half)MapScalar((float)logits[(i * shardClasses) + local], map) : Half.Zero;
        }
    }

    /// <summary>The shard's gradient from Half statistics, computed in float and rounded once; returns the shard's unreduced loss sum.</summary>
    private static double ShardLossAndGradientHalf(
        ReadOnlySpan<Half> logits, ReadOnlySpan<int> labels, ReadOnlySpan<Half> rowMax, ReadOnlySpan<Half> rowSumExp, Span<Half> gradient, int shardClasses,
        int classOffset, int classes, int rows, in CrossEntropyOptions options, ReadOnlySpan<Half> classWeights, ReadOnlySpan<Half> rowWeights, double denominator,
        double weightSum)
    {
        fixed (Half* y = logits)
        fixed (Half* g = gradient)
        fixed (Half* m = rowMax)
        fixed (Half* s = rowSumExp)
        fixed (int* lab = labels)
        fixed (Half* r = rowWeights)
        {
            NarrowBuffers<Half> b = default;
            b.Logits = y;
            b.Output = g;
            b.RowUpstream = m;
            b.LogSumExp = s;
            b.ReadsLogSumExp = true;
            b.RowWeights = r;
            b.Labels = lab;
            b.ClassWeights = ChunkScratch.ClassWeights<Half, HalfConversion>(classWeights);
            var settings = CallSettings.From(options, 1 / denominator, argmax: false);
            var builder = new ShardGradientBuilder(shardClasses, classOffset, classes, options.IgnoreIndex, settings, weightSum);
            return RunNarrow<ShardGradientBuilder, ShardGradientCall<float>>(b, rows, shardClasses, builder, options.MaxDegreeOfParallelism).Loss;
        }
    }

    /// <summary>The chunk's row-loss and log-sum-exp slots carry the row maximum and the sum of exponentials out.</summary>
    private readonly struct ShardStatisticsBuilder(int shardClasses, LogitMap<float> map) : IFloatCallBuilder<ShardStatisticsCall<float>>
    {
        public ShardStatisticsCall<float> Build(in FloatChunk chunk) => new(chunk.Logits, chunk.RowLosses, chunk.LogSumExp, chunk.Rows, shardClasses, map);
    }

    /// <summary>The chunk's upstream and log-sum-exp slots (both read) carry the row maximum and the sum of exponentials in.</summary>
    private readonly struct ShardGradientBuilder(int shardClasses, int classOffset, int classes, int? ignoreIndex, CallSettings settings, double weightSum)
        : IFloatCallBuilder<ShardGradientCall<float>>
    {
        public ShardGradientCall<float> Build(in FloatChunk chunk) => new(
            chunk.Logits, chunk.Output, chunk.RowUpstream, chunk.LogSumExp, chunk.Labels, chunk.ClassWeights, chunk.RowWeights, chunk.Rows, shardClasses,
            classOffset, classes, ignoreIndex, settings, weightSum);
    }

    private readonly struct SoftmaxBuilder<TMode>(int classes, LogitMap<float> map) : IFloatCallBuilder<SoftmaxCall<float, TMode>>
        where TMode : struct, IOutputMode
    {
        public SoftmaxCall<float, TMode> Build(in FloatChunk chunk) => new(chunk.Logits, chunk.Output, chunk.Rows, classes, map);
    }

    private readonly struct LogSoftmaxBuilder(int classes, double logitScale, double softcap) : IFloatCallBuilder<AccurateLogSoftmaxCall>
    {
        public AccurateLogSoftmaxCall Build(in FloatChunk chunk) => new(chunk.Logits, chunk.Targets, chunk.Rows, classes, logitScale, softcap);
    }

    private readonly struct LabelBuilder<TMode>(int classes, int? ignoreIndex, CallSettings settings) : IFloatCallBuilder<LabelCall<float, TMode>>
        where TMode : struct, IOutputMode
    {
        public LabelCall<float, TMode> Build(in FloatChunk chunk) => new(
            chunk.Logits, chunk.Output, new RowOutputs<float>(chunk.RowLosses, chunk.Predictions, chunk.LogSumExp), chunk.Labels, chunk.ClassWeights,
            chunk.RowWeights, chunk.Rows, classes, ignoreIndex, settings);
    }

    private readonly struct DenseBuilder<TMode>(int classes, CallSettings settings) : IFloatCallBuilder<DenseCall<float, TMode>>
        where TMode : struct, IOutputMode
    {
        public DenseCall<float, TMode> Build(in FloatChunk chunk) => new(
            chunk.Logits, chunk.Output, new RowOutputs<float>(chunk.RowLosses, null, chunk.LogSumExp), chunk.Targets, chunk.ClassWeights,
            chunk.RowWeights, chunk.Rows, classes, settings);
    }

    private readonly struct LabelBackwardBuilder(int classes, int? ignoreIndex, CallSettings settings, double termSum) : IFloatCallBuilder<LabelBackwardCall<float>>
    {
        public LabelBackwardCall<float> Build(in FloatChunk chunk) => new(
            chunk.Logits, chunk.Output, chunk.LogSumExp, chunk.RowUpstream, chunk.Labels, chunk.ClassWeights, chunk.RowWeights, chunk.Rows, classes,
            ignoreIndex, settings, termSum);
    }

    private readonly struct DenseBackwardBuilder(int classes, CallSettings settings) : IFloatCallBuilder<DenseBackwardCall<float>>
    {
        public DenseBackwardCall<float> Build(in FloatChunk chunk) => new(
            chunk.Logits, chunk.Output, chunk.LogSumExp, chunk.RowUpstream, chunk.Targets, chunk.ClassWeights, chunk.RowWeights, chunk.Rows, classes, settings);
    }
}
