using System;
using System.Numerics;
using SoftmaxCE.Internals;
using SoftmaxCE.MatrixMultiply;

namespace SoftmaxCE;

// The fused linear head of a language model: logits = hidden * weight^T + bias, never stored whole.
public static unsafe partial class SoftmaxCrossEntropy
{
    /// <summary>
    /// The cross-entropy loss of the logits <c>hidden * weight^T + bias</c> against class-index labels, and its gradients with
    /// respect to the hidden states, the weight and the bias, without ever storing the logits or their gradient whole.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="hidden">The hidden states <c>[N, H]</c>, row-major (<c>N = hidden.Length / hiddenSize</c> rows).</param>
    /// <param name="weight">The classifier's weight <c>[V, H]</c>, row-major: one row of <paramref name="hiddenSize"/> per
    /// class (nn.Linear's layout, out_features x in_features; <c>V = weight.Length / hiddenSize</c>).</param>
    /// <param name="bias">The bias <c>[V]</c>, or empty for none.</param>
    /// <param name="labels">One class index in <c>[0, V)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="hiddenGradient">Receives <c>dLoss/dHidden</c> <c>[N, H]</c> (overwritten; an ignored row gets zeros), or
    /// empty if not wanted. It may be the very same memory as <paramref name="hidden"/> (in place), but may not overlap it
    /// otherwise, nor any other input or gradient.</param>
    /// <param name="weightGradient"><c>dLoss/dWeight</c> <c>[V, H]</c> is ADDED to it (as autograd's <c>.grad</c> accumulates
    /// over micro-batches), or empty if not wanted (a frozen head). It may not overlap any input or other gradient.</param>
    /// <param name="biasGradient"><c>dLoss/dBias</c> <c>[V]</c> is ADDED to it, or empty if not wanted; it must be empty when
    /// <paramref name="bias"/> is. It may not overlap any input or other gradient.</param>
    /// <param name="hiddenSize">The hidden size <c>H</c>, the length of a row of <paramref name="hidden"/> and of <paramref name="weight"/>.</param>
    /// <param name="options">Every option of the cross-entropy applies, with the meaning it has for
    /// <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// on the logits: reduction, ignored label, label smoothing, z-loss, <see cref="CrossEntropyOptions.LogitScale"/>, soft-capping, <see cref="CrossEntropyOptions.Denominator"/>
    /// and <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/>.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class (length <c>V</c>).</param>
    /// <param name="rowWeights">Empty, or one finite weight <c>r_i &gt;= 0</c> per row: row <c>i</c>'s loss (z-loss included)
    /// and gradient are multiplied by it; the mean's denominator does not change.</param>
    /// <returns>The reduced loss, the value
    /// <see cref="LossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// returns for the logits. When every row is ignored the mean is 0/0: NaN, as in PyTorch, and no gradient is added.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is not positive; a label is outside
    /// <c>[0, V)</c> and not the ignored value; a row weight is negative or not finite; an option is out of range.</exception>
    /// <exception cref="ArgumentException">The length of <paramref name="hidden"/> or <paramref name="weight"/> is not a
    /// multiple of <paramref name="hiddenSize"/>, or <paramref name="weight"/> is empty; <paramref name="bias"/>,
    /// <paramref name="labels"/>, a gradient, <paramref name="classWeights"/> or <paramref name="rowWeights"/> has the wrong
    /// length; <paramref name="biasGradient"/> is not empty while <paramref name="bias"/> is; a gradient overlaps an input
    /// (other than <paramref name="hiddenGradient"/> being exactly <paramref name="hidden"/>) or another gradient.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <remarks>
    /// <para>
    /// With <c>G = dLoss/dLogits</c> (the cross-entropy gradient, through the soft-cap): <c>dHidden = G * weight</c>,
    /// <c>dWeight = G^T * hidden</c>, <c>dBias</c> = the column sums of <c>G</c>. The logits are computed a block of 256 rows
    /// and 2048 classes at a time: a first walk over the classes gathers each row's statistics (maximum, sum of
    /// exponentials, label logit), a second recomputes each block of logits, turns it into its block of <c>G</c> and folds it
    /// into the three gradients at once. Ignored rows cost no matrix work.
    /// </para>
    /// <para>
    /// Memory: the extra working set does not grow with <c>N</c> or <c>V</c>: <c>256 * (2 H + 2048)</c> elements on the
    /// calling thread (10 MiB of floats at <c>H = 4096</c>) and a 1.1 MiB (floats) packing buffer per thread of the matrix
    /// products, each kept by its thread and reused, so nothing is allocated per call once warm. The matrix products are the
    /// library's own (packed, cache-blocked, fused multiply-add), not a BLAS.
    /// </para>
    /// <para>
    /// Deterministic: every sum has a fixed order that depends only on the shapes, so the loss and gradients are bitwise the
    /// same for any <see cref="CrossEntropyOptions.MaxDegreeOfParallelism"/>. Every argument is checked before anything is
    /// written: a call that throws leaves every gradient as it was. A NaN in the inputs gives NaN in the loss and gradients.
    /// </para>
    /// </remarks>
    public static T LinearLossAndGradient<T>(
        ReadOnlySpan<T> hidden,
        ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias,
        ReadOnlySpan<int> labels,
        Span<T> hiddenGradient,
        Span<T> weightGradient,
        Span<T> biasGradient,
        int hiddenSize,
        CrossEntropyOptions options = default,
        ReadOnlySpan<T> classWeights = default,
        ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        (int rows, int classes) = ValidateLinear(hidden, weight, bias, labels, hiddenSize, options, classWeights, rowWeights);
        Validation.NoOverlap<T, T>(hiddenGradient, hidden, allowSame: true, nameof(hiddenGradient), nameof(hidden));
        if (!hiddenGradient.IsEmpty)
        {
            Validation.Length(hiddenGradient.Length, hidden.Length, nameof(hiddenGradient), "empty, or one element per element of 'hidden'");
        }

        if (!weightGradient.IsEmpty)
        {
            Validation.Length(weightGradient.Length, weight.Length, nameof(weightGradient), "empty, or one element per element of 'weight'");
        }

        if (!biasGradient.IsEmpty)
        {
            if (bias.IsEmpty)
            {
                ThrowHelper.BiasGradientWithoutBias();
            }

            Validation.Length(biasGradient.Length, classes, nameof(biasGradient), "empty, or one element per class");
        }

        LinearNoOverlap(hiddenGradient, nameof(hiddenGradient), weight, bias, labels, classWeights, rowWeights);
        LinearNoOverlap(weightGradient, nameof(weightGradient), weight, bias, labels, classWeights, rowWeights);
        LinearNoOverlap(biasGradient, nameof(biasGradient), weight, bias, labels, classWeights, rowWeights);
        Validation.NoOverlap<T, T>(weightGradient, hidden, allowSame: false, nameof(weightGradient), nameof(hidden));
        Validation.NoOverlap<T, T>(biasGradient, hidden, allowSame: false, nameof(biasGradient), nameof(hidden));
        Validation.NoOverlap<T, T>(weightGradient, hiddenGradient, allowSame: false, nameof(weightGradient), nameof(hiddenGradient));
        Validation.NoOverlap<T, T>(biasGradient, hiddenGradient, allowSame: false, nameof(biasGradient), nameof(hiddenGradient));
        Validation.NoOverlap<T, T>(biasGradient, weightGradient, allowSame: false, nameof(biasGradient), nameof(weightGradient));
        return RunLinear(hidden, weight, bias, labels, hiddenGradient, weightGradient, biasGradient, rows, hiddenSize, classes, options, classWeights, rowWeights);
    }

    /// <summary>
    /// The cross-entropy loss of the logits <c>hidden * weight^T + bias</c> against class-index labels (evaluation): no
    /// gradient, and the logits are never stored whole.
    /// </summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="hidden">The hidden states <c>[N, H]</c>, row-major.</param>
    /// <param name="weight">The classifier's weight <c>[V, H]</c>, row-major (nn.Linear's layout).</param>
    /// <param name="bias">The bias <c>[V]</c>, or empty for none.</param>
    /// <param name="labels">One class index in <c>[0, V)</c> per row, or <see cref="CrossEntropyOptions.IgnoreIndex"/>.</param>
    /// <param name="hiddenSize">The hidden size <c>H</c>.</param>
    /// <param name="options">Every option of the cross-entropy, as for
    /// <see cref="LinearLossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, Span{T}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>.</param>
    /// <param name="classWeights">Empty (unweighted), or one weight per class.</param>
    /// <param name="rowWeights">Empty, or one finite weight <c>r_i &gt;= 0</c> per row.</param>
    /// <returns>The reduced loss; NaN for the mean when every row is ignored.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hiddenSize"/> is not positive; a label is outside
    /// <c>[0, V)</c> and not the ignored value; a row weight is negative or not finite; an option is out of range.</exception>
    /// <exception cref="ArgumentException">The length of <paramref name="hidden"/> or <paramref name="weight"/> is not a
    /// multiple of <paramref name="hiddenSize"/>, or <paramref name="weight"/> is empty; <paramref name="bias"/>,
    /// <paramref name="labels"/>, <paramref name="classWeights"/> or <paramref name="rowWeights"/> has the wrong length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is neither float nor double.</exception>
    /// <remarks>One walk over the classes per block of rows: one matrix product's worth of work, with the working set of
    /// <see cref="LinearLossAndGradient{T}(ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{T}, ReadOnlySpan{int}, Span{T}, Span{T}, Span{T}, int, CrossEntropyOptions, ReadOnlySpan{T}, ReadOnlySpan{T})"/>
    /// and the same value, bitwise, as the loss it returns.</remarks>
    public static T LinearLoss<T>(
        ReadOnlySpan<T> hidden,
        ReadOnlySpan<T> weight,
        ReadOnlySpan<T> bias,
        ReadOnlySpan<int> labels,
        int hiddenSize,
        CrossEntropyOptions options = default,
        ReadOnlySpan<T> classWeights = default,
        ReadOnlySpan<T> rowWeights = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        (int rows, int classes) = ValidateLinear(hidden, weight, bias, labels, hiddenSize, options, classWeights, rowWeights);
        return RunLinear(hidden, weight, bias, labels, default, default, default, rows, hiddenSize, classes, options, classWeights, rowWeights);
    }

    private static (int Rows, int Classes) ValidateLinear<T>(
        ReadOnlySpan<T> hidden, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<int> labels, int hiddenSize,
        in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validation.ElementType<T>();
        if (hiddenSize <= 0)
        {
            ThrowHelper.HiddenSizeNotPositive(hiddenSize);
        }

        if (hidden.Length % hiddenSize != 0)
        {
            ThrowHelper.NotMultipleOfHiddenSize(nameof(hidden), hidden.Length, hiddenSize);
        }

        if (weight.Length % hiddenSize != 0)
        {
            ThrowHelper.NotMultipleOfHiddenSize(nameof(weight), weight.Length, hiddenSize);
        }

        if (weight.IsEmpty)
        {
            ThrowHelper.NoClassesInWeight(hiddenSize);
        }

        int rows = hidden.Length / hiddenSize;
        int classes = weight.Length / hiddenSize;
        Validation.Options(options);
        if (!bias.IsEmpty && bias.Length != classes)
        {
            ThrowHelper.EmptyOrLength(nameof(bias), bias.Length, classes, "one bias per class");
        }

        Validation.Length(labels.Length, rows, nameof(labels), "one label per row");
        Validation.ClassWeights(classWeights.Length, classes);
        Validation.RowWeights(rowWeights, rows);
        return (rows, classes);
    }

    /// <summary>Refuses any overlap of a gradient with the inputs other than <c>hidden</c> (checked by the caller).</summary>
    private static void LinearNoOverlap<T>(
        ReadOnlySpan<T> gradient, string name, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<int> labels,
        ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged
    {
        Validation.NoOverlap<T, T>(gradient, weight, allowSame: false, name, nameof(weight));
        Validation.NoOverlap<T, T>(gradient, bias, allowSame: false, name, nameof(bias));
        Validation.NoOverlap<T, int>(gradient, labels, allowSame: false, name, nameof(labels));
        Validation.NoOverlap<T, T>(gradient, classWeights, allowSame: false, name, nameof(classWeights));
        Validation.NoOverlap<T, T>(gradient, rowWeights, allowSame: false, name, nameof(rowWeights));
    }

    /// <summary>Checks the labels (the last check: it yields the mean's denominator) and runs the fused head.</summary>
    private static T RunLinear<T>(
        ReadOnlySpan<T> hidden, ReadOnlySpan<T> weight, ReadOnlySpan<T> bias, ReadOnlySpan<int> labels,
        Span<T> hiddenGradient, Span<T> weightGradient, Span<T> biasGradient, int rows, int hiddenSize, int classes,
        in CrossEntropyOptions options, ReadOnlySpan<T> classWeights, ReadOnlySpan<T> rowWeights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        LabelCounts counts = Validation.Labels(labels, classes, options.IgnoreIndex, classWeights);
        double weightSum = classes;
        if (!classWeights.IsEmpty)
        {
            weightSum = 0;
            foreach (T w in classWeights)
            {
                weightSum += double.CreateTruncating(w);
            }
        }

        fixed (T* h = hidden)
        fixed (T* w = weight)
        fixed (T* b = bias)
        fixed (int* l = labels)
        fixed (T* cw = classWeights)
        fixed (T* rw = rowWeights)
        fixed (T* dh = hiddenGradient)
        fixed (T* dw = weightGradient)
        fixed (T* db = biasGradient)
        {
            var problem = new HeadProblem<T>
            {
                Hidden = h,
                Weight = w,
                Bias = bias.IsEmpty ? null : b,
                Labels = l,
                ClassWeights = classWeights.IsEmpty ? null : cw,
                RowWeights = rowWeights.IsEmpty ? null : rw,
                HiddenGradient = hiddenGradient.IsEmpty ? null : dh,
                WeightGradient = weightGradient.IsEmpty ? null : dw,
                BiasGradient = biasGradient.IsEmpty ? null : db,
                Rows = rows,
                HiddenSize = hiddenSize,
                Classes = classes,
                HasIgnore = options.IgnoreIndex.HasValue,
                Ignore = options.IgnoreIndex.GetValueOrDefault(),
                Smoothing = options.LabelSmoothing,
                ZLoss = options.ZLoss,
                Softcap = options.LogitSoftcap,
                LogitScale = LinearLogitScale(options),
                Map = new Kernels.LogitMap<T>(LinearLogitScale(options), options.LogitSoftcap),
                Divisor = Divisor(options, counts.Denominator),
                WeightSum = weightSum,
                Degree = Kernels.ParallelRunner.Degree(options.MaxDegreeOfParallelism, int.MaxValue),
                Width = Kernels.WidthDispatch.Current,
            };
            double total = LinearHead.Run(problem);
            return T.CreateTruncating(total / problem.Divisor);
        }
    }

    /// <summary>The logit scale of the options: 0 means 1.</summary>
    private static double LinearLogitScale(in CrossEntropyOptions options) => options.LogitScale == 0 ? 1 : options.LogitScale;
}
