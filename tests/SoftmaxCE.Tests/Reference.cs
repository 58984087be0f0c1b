using System;
using System.Collections.Generic;

namespace SoftmaxCE.Tests;

/// <summary>
/// A naive, obviously correct double-precision oracle for every operation of the library, written from
/// MATH.md and PyTorch's definitions, independently of the library's kernels.
/// </summary>
/// <remarks>
/// <para>
/// Every function takes the logits as a flat row-major <c>[M, C]</c> array of doubles. The losses are computed
/// directly from their definitions (<c>-sum_k T'_k log P_k</c>, or the label formula of MATH.md); the gradient is
/// computed by a different route: each row's <em>effective weighted target</em> <c>q_i</c> (what labels, smoothing
/// and weights imply, or <c>w * T'</c> for dense targets) gives <c>dL/dy_ik = (P_ik * sum_j q_ij - q_ik) / D</c>.
/// <see cref="FiniteDifferenceGradient"/> checks that route against the loss itself.
/// </para>
/// <para>
/// Alongside a value, several functions return a <em>magnitude</em>: the size of the terms that are added or
/// subtracted to form it, so that a tolerance can be relative to the rounding that any implementation has to make
/// (a gradient entry <c>P - 1</c> near zero is only as accurate as 1 is).
/// </para>
/// </remarks>
internal static class Reference
{
    /// <summary>Neumaier's compensated sum: accurate to a few ulp however many terms, so the oracle's own rounding stays far below any tolerance.</summary>
    public static double AccurateSum(ReadOnlySpan<double> values)
    {
        double sum = 0, compensation = 0;
        foreach (double v in values)
        {
            double t = sum + v;
            compensation += Math.Abs(sum) >= Math.Abs(v) ? (sum - t) + v : (v - t) + sum;
            sum = t;
        }

        // Infinities and NaN: the compensation is meaningless (inf - inf), the plain sum is the answer.
        return double.IsFinite(sum) ? sum + compensation : sum;
    }

    /// <summary>The log-sum-exp of one row: <c>max + ln sum exp(y - max)</c>; NaN if the row has a NaN or is all -inf.</summary>
    public static double LogSumExp(ReadOnlySpan<double> row)
    {
        double max = double.NegativeInfinity;
        foreach (double v in row)
        {
            if (double.IsNaN(v))
            {
                return double.NaN;
            }

            max = Math.Max(max, v);
        }

        if (double.IsNegativeInfinity(max))
        {
            return double.NaN; // no distribution
        }

        if (double.IsPositiveInfinity(max))
        {
            return double.NaN; // +inf - +inf: undefined, as in PyTorch
        }

        var terms = new double[row.Length];
        for (int k = 0; k < row.Length; k++)
        {
            terms[k] = Math.Exp(row[k] - max);
        }

        return max + Math.Log(AccurateSum(terms));
    }

    public static double[] RowLogSumExps(double[] logits, int classes)
    {
        int rows = logits.Length / classes;
        var lse = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            lse[i] = LogSumExp(logits.AsSpan(i * classes, classes));
        }

        return lse;
    }

    /// <summary>Softmax row by row: <c>exp(y_k - max) / sum_j exp(y_j - max)</c>.</summary>
    public static double[] Softmax(double[] logits, int classes)
    {
        var p = new double[logits.Length];
        int rows = logits.Length / classes;
        for (int i = 0; i < rows; i++)
        {
            ReadOnlySpan<double> y = logits.AsSpan(i * classes, classes);
            double lse = LogSumExp(y);
            double max = double.NegativeInfinity;
            foreach (double v in y)
            {
                max = Math.Max(max, v);
            }

            var terms = new double[classes];
            for (int k = 0; k < classes; k++)
            {
                terms[k] = Math.Exp(y[k] - max);
            }

            double sum = AccurateSum(terms);

            for (int k = 0; k < classes; k++)
            {
                p[(i * classes) + k] = double.IsNaN(lse) ? double.NaN : Math.Exp(y[k] - max) / sum;
            }
        }

        return p;
    }

    /// <summary>Log-softmax row by row: <c>y_k - LSE(y)</c>.</summary>
    public static double[] LogSoftmax(double[] logits, int classes)
    {
        var result = new double[logits.Length];
        int rows = logits.Length / classes;
        for (int i = 0; i < rows; i++)
        {
            double lse = LogSumExp(logits.AsSpan(i * classes, classes));
            for (int k = 0; k < classes; k++)
            {
                result[(i * classes) + k] = logits[(i * classes) + k] - lse;
            }
        }

        return result;
    }

    /// <summary>The rounding scale of each log-softmax value: <c>1 + |y_k| + |LSE|</c>.</summary>
    public static double[] LogSoftmaxMagnitude(double[] logits, int classes)
    {
        var result = new double[logits.Length];
        double[] lse = RowLogSumExps(logits, classes);
        for (int j = 0; j < logits.Length; j++)
        {
            result[j] = 1 + Math.Abs(logits[j]) + Math.Abs(lse[j / classes]);
        }

        return result;
    }

    private static bool IsIgnored(int label, int? ignoreIndex) => ignoreIndex.HasValue && label == ignoreIndex.Value;

    private static double Weight(double[]? weights, int k) => weights is null || weights.Length == 0 ? 1 : weights[k];

    /// <summary>
    /// Row losses for class-index labels, straight from MATH.md:
    /// <c>(1 - eps) w_l (LSE - y_l) + (eps / C) sum_k w_k (LSE - y_k)</c>, 0 for an ignored row.
    /// </summary>
    public static double[] LabelRowLosses(double[] logits, int[] labels, int classes, int? ignoreIndex, double[]? weights, double smoothing)
    {
        int rows = labels.Length;
        var losses = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            int label = labels[i];
            if (IsIgnored(label, ignoreIndex))
            {
                continue;
            }

            ReadOnlySpan<double> y = logits.AsSpan(i * classes, classes);
            double lse = LogSumExp(y);
            double loss = (1 - smoothing) * Weight(weights, label) * (lse - y[label]);
            if (smoothing != 0)
            {
                var terms = new double[classes];
                for (int k = 0; k < classes; k++)
                {
                    terms[k] = Weight(weights, k) * (lse - y[k]);
                }

                loss += smoothing / classes * AccurateSum(terms);
            }

            losses[i] = loss;
        }

        return losses;
    }

    /// <summary>The mean's denominator for labels: the sum of <c>w[label]</c> over the rows not ignored.</summary>
    public static double LabelDenominator(int[] labels, int? ignoreIndex, double[]? weights)
    {
        var terms = new double[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            terms[i] = IsIgnored(labels[i], ignoreIndex) ? 0 : Weight(weights, labels[i]);
        }

        return AccurateSum(terms);
    }

    public static double LabelLoss(double[] logits, int[] labels, int classes, CrossEntropyOptions options, double[]? weights)
    {
        double sum = AccurateSum(LabelRowLosses(logits, labels, classes, options.IgnoreIndex, weights, options.LabelSmoothing));

        return options.Reduction == Reduction.Mean ? sum / LabelDenominator(labels, options.IgnoreIndex, weights) : sum;
    }

    /// <summary>
    /// The effective weighted target rows that labels imply: <c>q_ik = (1 - eps) w_l [k == l] + (eps / C) w_k</c>,
    /// and a zero row for an ignored label. <c>row loss = sum_k q_ik (LSE_i - y_ik)</c>.
    /// </summary>
    public static double[] LabelEffectiveTargets(int[] labels, int classes, int? ignoreIndex, double[]? weights, double smoothing)
    {
        var q = new double[labels.Length * classes];
        for (int i = 0; i < labels.Length; i++)
        {
            if (IsIgnored(labels[i], ignoreIndex))
            {
                continue;
            }

            for (int k = 0; k < classes; k++)
            {
                q[(i * classes) + k] = smoothing / classes * Weight(weights, k);
            }

            q[(i * classes) + labels[i]] += (1 - smoothing) * Weight(weights, labels[i]);
        }

        return q;
    }

    /// <summary>The smoothed targets <c>T' = (1 - eps) T + eps / C</c>.</summary>
    public static double[] SmoothedTargets(double[] targets, int classes, double smoothing)
    {
        var t = new double[targets.Length];
        for (int j = 0; j < targets.Length; j++)
        {
            t[j] = smoothing == 0 ? targets[j] : ((1 - smoothing) * targets[j]) + (smoothing / classes);
        }

        return t;
    }

    /// <summary>
    /// Dense-target row losses from the definition: <c>-sum_k w_k T'_ik log P_ik</c>, where a term with
    /// <c>T'_ik = 0</c> is exactly 0 (<c>0 * log 0 := 0</c>).
    /// </summary>
    public static double[] DenseRowLosses(double[] logits, double[] targets, int classes, double[]? weights, double smoothing)
    {
        int rows = logits.Length / classes;
        double[] t = SmoothedTargets(targets, classes, smoothing);
        double[] logP = LogSoftmax(logits, classes);
        var losses = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            var terms = new double[classes];
            for (int k = 0; k < classes; k++)
            {
                int j = (i * classes) + k;
                terms[k] = t[j] == 0 ? 0 : -Weight(weights, k) * t[j] * logP[j];
            }

            losses[i] = AccurateSum(terms);
        }

        return losses;
    }

    public static double DenseLoss(double[] logits, double[] targets, int classes, CrossEntropyOptions options, double[]? weights)
    {
        double sum = AccurateSum(DenseRowLosses(logits, targets, classes, weights, options.LabelSmoothing));

        return options.Reduction == Reduction.Mean ? sum / (logits.Length / classes) : sum;
    }

    /// <summary>The effective weighted targets of dense rows: <c>q_ik = w_k T'_ik</c>.</summary>
    public static double[] DenseEffectiveTargets(double[] targets, int classes, double[]? weights, double smoothing)
    {
        double[] t = SmoothedTargets(targets, classes, smoothing);
        for (int j = 0; j < t.Length; j++)
        {
            t[j] *= Weight(weights, j % classes);
        }

        return t;
    }

    /// <summary>
    /// The rounding scale of each row loss: <c>sum_k |q_ik| (1 + |LSE_i| + |y_ik|)</c> (finite terms only).
    /// </summary>
    public static double[] RowLossMagnitudes(double[] logits, double[] q, int classes)
    {
        int rows = logits.Length / classes;
        double[] lse = RowLogSumExps(logits, classes);
        var m = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            for (int k = 0; k < classes; k++)
            {
                int j = (i * classes) + k;
                double term = Math.Abs(q[j]) * (1 + Math.Abs(lse[i]) + Math.Abs(logits[j]));
                if (double.IsFinite(term))
                {
                    m[i] += term;
                }
            }
        }

        return m;
    }

    public static double Sum(double[] values) => AccurateSum(values);

    /// <summary>
    /// The analytic gradient from effective targets: <c>(P_ik * sum_j q_ij - q_ik) / D</c>, and the magnitude of its
    /// two terms, <c>(P_ik |sum_j q_ij| + |q_ik|) / D</c>.
    /// </summary>
    public static (double[] Gradient, double[] Magnitude) Gradient(double[] logits, double[] q, int classes, double denominator)
    {
        double[] p = Softmax(logits, classes);
        var g = new double[logits.Length];
        var magnitude = new double[logits.Length];
        int rows = logits.Length / classes;
        for (int i = 0; i < rows; i++)
        {
            double total = AccurateSum(q.AsSpan(i * classes, classes));

            for (int k = 0; k < classes; k++)
            {
                int j = (i * classes) + k;
                if (total == 0 && q[j] == 0)
                {
                    continue; // an ignored row: exactly zero, whatever its logits
                }

                g[j] = ((p[j] * total) - q[j]) / denominator;
                magnitude[j] = ((p[j] * Math.Abs(total)) + Math.Abs(q[j])) / Math.Abs(denominator);
            }
        }

        return (g, magnitude);
    }

    /// <summary>The denominator of a reduction: the labels' (weighted) count or the number of rows for Mean, 1 for Sum.</summary>
    public static double Denominator(Reduction reduction, double meanDenominator) => reduction == Reduction.Mean ? meanDenominator : 1;

    /// <summary>
    /// The central finite-difference gradient of <paramref name="loss"/> at <paramref name="x"/>, with a step of
    /// <c>1e-6 * max(1, |x_j|)</c>.
    /// </summary>
    public static double[] FiniteDifferenceGradient(Func<double[], double> loss, double[] x)
    {
        var g = new double[x.Length];
        var probe = (double[])x.Clone();
        for (int j = 0; j < x.Length; j++)
        {
            double h = 1e-6 * Math.Max(1, Math.Abs(x[j]));
            probe[j] = x[j] + h;
            double up = loss(probe);
            probe[j] = x[j] - h;
            double down = loss(probe);
            probe[j] = x[j];
            g[j] = (up - down) / ((x[j] + h) - (x[j] - h));
        }

        return g;
    }

    /// <summary>Expands labels to one-hot dense rows (for cross-checks).</summary>
    public static double[] OneHot(IReadOnlyList<int> labels, int classes)
    {
        var t = new double[labels.Count * classes];
        for (int i = 0; i < labels.Count; i++)
        {
            t[(i * classes) + labels[i]] = 1;
        }

        return t;
    }

    // ---------------------------------------------------------------- Logit scale, soft-cap, z-loss, row weights
    // Straight from MATH.md ("Logit scale, soft-capping, row weights"), on top of the functions above: the logits are
    // mapped first, each counted row's loss gains z * LSE^2 and is multiplied by its row weight; the gradient is the
    // effective-target route with the z-loss term, times the row's factor and the map's derivative.

    /// <summary>The scale of the options: 0 means 1.</summary>
    public static double LogitScaleOf(CrossEntropyOptions options) => options.LogitScale == 0 ? 1 : options.LogitScale;

    /// <summary>What the softmax sees of <paramref name="y"/>: <c>s y</c>, then <c>c tanh(s y / c)</c> with a cap.</summary>
    public static double MapLogit(double y, double scale, double cap)
    {
        double z = scale * y;
        return cap == 0 ? z : cap * Math.Tanh(z / cap);
    }

    /// <summary><c>d MapLogit / dy</c>: <c>s</c>, or <c>s (1 - tanh^2(s y / c))</c>.</summary>
    public static double MapDerivative(double y, double scale, double cap)
    {
        if (cap == 0)
        {
            return scale;
        }

        double t = Math.Tanh(scale * y / cap);
        return scale * (1 - (t * t));
    }

    public static double[] MapLogits(double[] logits, CrossEntropyOptions options)
    {
        var z = new double[logits.Length];
        for (int j = 0; j < z.Length; j++)
        {
            z[j] = MapLogit(logits[j], LogitScaleOf(options), options.LogitSoftcap);
        }

        return z;
    }

    private static double RowWeight(double[]? rowWeights, int row) => rowWeights is null || rowWeights.Length == 0 ? 1 : rowWeights[row];

    /// <summary>Row losses with every option: labels.</summary>
    public static double[] FullLabelRowLosses(double[] logits, int[] labels, int classes, CrossEntropyOptions options, double[]? weights, double[]? rowWeights)
    {
        double[] z = MapLogits(logits, options);
        double[] losses = LabelRowLosses(z, labels, classes, options.IgnoreIndex, weights, options.LabelSmoothing);
        double[] lse = RowLogSumExps(z, classes);
        for (int i = 0; i < losses.Length; i++)
        {
            if (!IsIgnored(labels[i], options.IgnoreIndex))
            {
                losses[i] = (losses[i] + (options.ZLoss * lse[i] * lse[i])) * RowWeight(rowWeights, i);
            }
        }

        return losses;
    }

    /// <summary>Row losses with every option: dense targets.</summary>
    public static double[] FullDenseRowLosses(double[] logits, double[] targets, int classes, CrossEntropyOptions options, double[]? weights, double[]? rowWeights)
    {
        double[] z = MapLogits(logits, options);
        double[] losses = DenseRowLosses(z, targets, classes, weights, options.LabelSmoothing);
        double[] lse = RowLogSumExps(z, classes);
        for (int i = 0; i < losses.Length; i++)
        {
            losses[i] = (losses[i] + (options.ZLoss * lse[i] * lse[i])) * RowWeight(rowWeights, i);
        }

        return losses;
    }

    /// <summary>The denominator a reduced loss divides by: the caller's, the labels' (weighted) count, or 1 for the sum.</summary>
    public static double FullLabelDenominator(int[] labels, CrossEntropyOptions options, double[]? weights) =>
        options.Reduction == Reduction.Sum ? 1 : options.Denominator ?? LabelDenominator(labels, options.IgnoreIndex, weights);

    public static double FullDenseDenominator(int rows, CrossEntropyOptions options) =>
        options.Reduction == Reduction.Sum ? 1 : options.Denominator ?? rows;

    public static double FullLabelLoss(double[] logits, int[] labels, int classes, CrossEntropyOptions options, double[]? weights, double[]? rowWeights) =>
        AccurateSum(FullLabelRowLosses(logits, labels, classes, options, weights, rowWeights)) / FullLabelDenominator(labels, options, weights);

    public static double FullDenseLoss(double[] logits, double[] targets, int classes, CrossEntropyOptions options, double[]? weights, double[]? rowWeights) =>
        AccurateSum(FullDenseRowLosses(logits, targets, classes, options, weights, rowWeights)) / FullDenseDenominator(logits.Length / classes, options);

    /// <summary>
    /// The gradient with every option, from effective targets <paramref name="q"/>:
    /// <c>f_i (P_ik (sum_j q_ij + 2 z LSE_i) - q_ik) map'(y_ik)</c> on counted rows (0 elsewhere), with <c>P</c> the softmax of
    /// the mapped logits and <c>f_i</c> the row's factor (row weight times upstream over the denominator, or times its own
    /// upstream gradient). Also the magnitude of its terms.
    /// </summary>
    public static (double[] Gradient, double[] Magnitude) FullGradient(double[] logits, double[] q, bool[] counted, int classes, CrossEntropyOptions options, double[] rowFactors)
    {
        double[] z = MapLogits(logits, options);
        double[] p = Softmax(z, classes);
        double[] lse = RowLogSumExps(z, classes);
        double scale = LogitScaleOf(options);
        var g = new double[logits.Length];
        var magnitude = new double[logits.Length];
        for (int i = 0; i < counted.Length; i++)
        {
            if (!counted[i])
            {
                continue;
            }

            double total = AccurateSum(q.AsSpan(i * classes, classes));
            double zTerm = 2 * options.ZLoss * lse[i];
            for (int k = 0; k < classes; k++)
            {
                int j = (i * classes) + k;
                double chain = MapDerivative(logits[j], scale, options.LogitSoftcap);
                g[j] = rowFactors[i] * ((p[j] * (total + zTerm)) - q[j]) * chain;
                magnitude[j] = Math.Abs(rowFactors[i]) * ((p[j] * (Math.Abs(total) + Math.Abs(zTerm))) + Math.Abs(q[j])) * Math.Abs(chain);
            }
        }

        return (g, magnitude);
    }

    /// <summary>Which rows count: those whose label is not ignored.</summary>
    public static bool[] Counted(int[] labels, int? ignoreIndex)
    {
        var counted = new bool[labels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            counted[i] = !IsIgnored(labels[i], ignoreIndex);
        }

        return counted;
    }

    /// <summary>Each row's factor: <c>r_i * perRow_i</c>, or <c>r_i * upstream / denominator</c> when <paramref name="perRow"/> is null.</summary>
    public static double[] RowFactors(int rows, double[]? rowWeights, double upstream, double denominator, double[]? perRow)
    {
        var f = new double[rows];
        for (int i = 0; i < rows; i++)
        {
            f[i] = RowWeight(rowWeights, i) * (perRow is null ? upstream / denominator : perRow[i]);
        }

        return f;
    }
}
