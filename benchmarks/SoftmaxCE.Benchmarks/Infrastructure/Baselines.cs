using System;
using System.Numerics;
using System.Numerics.Tensors;

namespace Benchmarks;

/// <summary>
/// What a user would write without SoftmaxCE: the obvious row-by-row composition of TensorPrimitives calls
/// (each call one pass over the row), and plain scalar loops. They compute the same values as the library
/// with mean reduction, no weights, no label smoothing, so each table compares like with like.
/// </summary>
internal static class Baselines
{
    /// <summary>
    /// Loss and gradient, class-index labels: per row Max, Subtract, Exp, Sum, Multiply, then the label.
    /// The 1/M of the mean is folded into the Multiply (1/(M*sum)) rather than spent on a sixth pass, which only
    /// makes this baseline faster.
    /// </summary>
    public static T LossAndGradientChain<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> gradient, int classes)
        where T : IFloatingPointIeee754<T>
    {
        int rows = labels.Length;
        T inverseRows = T.One / T.CreateTruncating(rows);
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> row = logits.Slice(r * classes, classes);
            Span<T> output = gradient.Slice(r * classes, classes);
            T max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, output);
            TensorPrimitives.Exp(output, output);
            T sum = TensorPrimitives.Sum<T>(output);
            TensorPrimitives.Multiply(output, inverseRows / sum, output);
            int label = labels[r];
            output[label] -= inverseRows;
            total += double.CreateTruncating(T.Log(sum) + max - row[label]);
        }

        return T.CreateTruncating(total / rows);
    }

    /// <summary>Loss only, class-index labels: per row Max, Subtract and Exp into a scratch row, Sum.</summary>
    public static T LossChain<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> labels, Span<T> scratchRow, int classes)
        where T : IFloatingPointIeee754<T>
    {
        int rows = labels.Length;
        Span<T> scratch = scratchRow[..classes];
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> row = logits.Slice(r * classes, classes);
            T max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, scratch);
            TensorPrimitives.Exp(scratch, scratch);
            T sum = TensorPrimitives.Sum<T>(scratch);
            total += double.CreateTruncating(T.Log(sum) + max - row[labels[r]]);
        }

        return T.CreateTruncating(total / rows);
    }

    /// <summary>
    /// Loss and gradient, dense targets that are probability rows (sum to 1): per row Max, Subtract, Exp, Sum,
    /// Multiply, Subtract the targets, and Dot for the loss: max + log(sum) - dot(t, y).
    /// </summary>
    public static T DenseLossAndGradientChain<T>(ReadOnlySpan<T> logits, ReadOnlySpan<T> targets, Span<T> gradient, int classes)
        where T : IFloatingPointIeee754<T>
    {
        int rows = logits.Length / classes;
        T inverseRows = T.One / T.CreateTruncating(rows);
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> row = logits.Slice(r * classes, classes);
            ReadOnlySpan<T> target = targets.Slice(r * classes, classes);
            Span<T> output = gradient.Slice(r * classes, classes);
            T max = TensorPrimitives.Max(row);
            T dot = TensorPrimitives.Dot(target, row); // before the output is written: in place it overwrites the row
            TensorPrimitives.Subtract(row, max, output);
            TensorPrimitives.Exp(output, output);
            T sum = TensorPrimitives.Sum<T>(output);
            TensorPrimitives.Multiply(output, T.One / sum, output);
            TensorPrimitives.Subtract(output, target, output);
            TensorPrimitives.Multiply(output, inverseRows, output);
            total += double.CreateTruncating(T.Log(sum) + max - dot);
        }

        return T.CreateTruncating(total / rows);
    }

    /// <summary>Softmax: per row Max, Subtract, Exp, Sum, Multiply.</summary>
    public static void SoftmaxChain<T>(ReadOnlySpan<T> logits, Span<T> probabilities, int classes)
        where T : IFloatingPointIeee754<T>
    {
        for (int start = 0; start < logits.Length; start += classes)
        {
            ReadOnlySpan<T> row = logits.Slice(start, classes);
            Span<T> output = probabilities.Slice(start, classes);
            T max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, output);
            TensorPrimitives.Exp(output, output);
            T sum = TensorPrimitives.Sum<T>(output);
            TensorPrimitives.Multiply(output, T.One / sum, output);
        }
    }

    /// <summary>
    /// Softmax with TensorPrimitives.SoftMax per row. It does not subtract the row maximum, so it is valid only
    /// because the benchmarks' logits lie in [-5, 5]; never use it on real logits.
    /// </summary>
    public static void SoftmaxTensorPrimitives<T>(ReadOnlySpan<T> logits, Span<T> probabilities, int classes)
        where T : IFloatingPointIeee754<T>
    {
        for (int start = 0; start < logits.Length; start += classes)
        {
            TensorPrimitives.SoftMax(logits.Slice(start, classes), probabilities.Slice(start, classes));
        }
    }

    /// <summary>Log-softmax: per row Max, Subtract, Exp into a scratch row, Sum, Subtract log(sum).</summary>
    public static void LogSoftmaxChain<T>(ReadOnlySpan<T> logits, Span<T> logProbabilities, Span<T> scratchRow, int classes)
        where T : IFloatingPointIeee754<T>
    {
        Span<T> scratch = scratchRow[..classes];
        for (int start = 0; start < logits.Length; start += classes)
        {
            ReadOnlySpan<T> row = logits.Slice(start, classes);
            Span<T> output = logProbabilities.Slice(start, classes);
            T max = TensorPrimitives.Max(row);
            TensorPrimitives.Subtract(row, max, output);
            TensorPrimitives.Exp(output, scratch);
            T sum = TensorPrimitives.Sum<T>(scratch);
            TensorPrimitives.Subtract(output, T.Log(sum), output);
        }
    }

    /// <summary>
    /// Loss and gradient with plain scalar loops and <see cref="MathF.Exp(float)"/>: two passes over the logits
    /// (the maximum; then exp(y - max) into the gradient while summing), and one pass normalising the gradient.
    /// </summary>
    public static float LossAndGradientScalar(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> gradient, int classes)
    {
        int rows = labels.Length;
        float inverseRows = 1f / rows;
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = logits.Slice(r * classes, classes);
            Span<float> output = gradient.Slice(r * classes, classes);
            float max = float.NegativeInfinity;
            for (int c = 0; c < row.Length; c++)
            {
                max = MathF.Max(max, row[c]);
            }

            float sum = 0;
            for (int c = 0; c < row.Length; c++)
            {
                float e = MathF.Exp(row[c] - max);
                output[c] = e;
                sum += e;
            }

            float factor = inverseRows / sum;
            for (int c = 0; c < output.Length; c++)
            {
                output[c] *= factor;
            }

            int label = labels[r];
            output[label] -= inverseRows;
            total += MathF.Log(sum) + max - row[label];
        }

        return (float)(total / rows);
    }
}
