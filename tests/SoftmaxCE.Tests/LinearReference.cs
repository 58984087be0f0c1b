using System;

namespace SoftmaxCE.Tests;

/// <summary>A linear head's inputs, in double, with the options of one call.</summary>
internal sealed record LinearProblem(
    int Rows, int HiddenSize, int Classes, double[] Hidden, double[] Weight, double[]? Bias, int[] Labels,
    CrossEntropyOptions Options, double[]? ClassWeights, double[]? RowWeights);

/// <summary>What the reference computes: values, and the size of the terms each is made of (for tolerances).</summary>
internal sealed record LinearExpected(
    double Loss, double LossMagnitude, double[] HiddenGradient, double[] HiddenMagnitude, double[] WeightGradient,
    double[] WeightMagnitude, double[] BiasGradient, double[] BiasMagnitude);

/// <summary>
/// The fused linear head the obvious way, in double: the whole logits <c>h W^T + b</c>, the loss and <c>G = dLoss/dLogits</c>
/// straight from MATH.md, then the two products of the chain rule and the column sums.
/// </summary>
internal static class LinearReference
{
    public static LinearExpected Compute(LinearProblem p)
    {
        int n = p.Rows, hs = p.HiddenSize, v = p.Classes;
        CrossEntropyOptions o = p.Options;
        double eps = o.LabelSmoothing, zl = o.ZLoss, cap = o.LogitSoftcap, s = o.LogitScale == 0 ? 1 : o.LogitScale;
        double w(int k) => p.ClassWeights?[k] ?? 1;
        double weightSum = 0;
        for (int k = 0; k < v; k++)
        {
            weightSum += w(k);
        }

        double meanDenominator = 0;
        for (int i = 0; i < n; i++)
        {
            if (p.Labels[i] != o.IgnoreIndex)
            {
                meanDenominator += w(p.Labels[i]);
            }
        }

        double d = o.Reduction == Reduction.Mean ? o.Denominator ?? meanDenominator : 1;
        var g = new double[n * v];
        var gMagnitude = new double[n * v];
        var rowLosses = new double[n];
        var rowMagnitudes = new double[n];
        var z = new double[v];
        var chain = new double[v];
        for (int i = 0; i < n; i++)
        {
            int label = p.Labels[i];
            if (label == o.IgnoreIndex)
            {
                continue;
            }

            for (int k = 0; k < v; k++)
            {
                double y = p.Bias?[k] ?? 0;
                for (int j = 0; j < hs; j++)
                {
                    y += p.Hidden[(i * hs) + j] * p.Weight[(k * hs) + j];
                }

                double u = s * y;
                z[k] = cap == 0 ? u : cap * Math.Tanh(u / cap);
                chain[k] = cap == 0 ? s : s * (1 - (Math.Tanh(u / cap) * Math.Tanh(u / cap)));
            }

            double lse = Reference.LogSumExp(z);
            double r = p.RowWeights?[i] ?? 1;
            var terms = new double[v];
            double magnitude = 0;
            for (int k = 0; k < v; k++)
            {
                terms[k] = eps / v * w(k) * (lse - z[k]);
                magnitude += eps / v * Math.Abs(w(k)) * (Math.Abs(lse) + Math.Abs(z[k]));
            }

            rowLosses[i] = r * (((1 - eps) * w(label) * (lse - z[label])) + Reference.AccurateSum(terms) + (zl * lse * lse));
            rowMagnitudes[i] = r * (((1 - eps) * Math.Abs(w(label)) * (Math.Abs(lse) + Math.Abs(z[label]))) + magnitude + (zl * lse * lse));
            for (int k = 0; k < v; k++)
            {
                // d(row loss)/dz_k = (1-eps) w_l (P_k - [k = l]) + (eps/C) (sum w) P_k - (eps/C) w_k + 2 z LSE P_k.
                double pk = Math.Exp(z[k] - lse);
                double coefficient = ((1 - eps) * w(label)) + (eps / v * weightSum) + (2 * zl * lse);
                double target = (eps / v * w(k)) + (k == label ? (1 - eps) * w(label) : 0);
                g[(i * v) + k] = r * ((pk * coefficient) - target) * chain[k] / d;
                gMagnitude[(i * v) + k] = r * ((pk * Math.Abs(coefficient)) + Math.Abs(target)) * Math.Abs(chain[k]) / d;
            }
        }

        var dh = new double[n * hs];
        var dhm = new double[n * hs];
        var dw = new double[v * hs];
        var dwm = new double[v * hs];
        var db = new double[v];
        var dbm = new double[v];
        for (int i = 0; i < n; i++)
        {
            for (int k = 0; k < v; k++)
            {
                double gik = g[(i * v) + k];
                double mik = gMagnitude[(i * v) + k];
                db[k] += gik;
                dbm[k] += mik;
                for (int j = 0; j < hs; j++)
                {
                    dh[(i * hs) + j] += gik * p.Weight[(k * hs) + j];
                    dhm[(i * hs) + j] += mik * Math.Abs(p.Weight[(k * hs) + j]);
                    dw[(k * hs) + j] += gik * p.Hidden[(i * hs) + j];
                    dwm[(k * hs) + j] += mik * Math.Abs(p.Hidden[(i * hs) + j]);
                }
            }
        }

        return new LinearExpected(
            Reference.AccurateSum(rowLosses) / d, Reference.AccurateSum(rowMagnitudes) / d, dh, dhm, dw, dwm, db, dbm);
    }

    /// <summary>A random problem: hidden and weight entries of about unit logits, labels with every <paramref name="ignoreEvery"/>th row ignored.</summary>
    public static LinearProblem Random(
        int seed, int rows, int hiddenSize, int classes, CrossEntropyOptions options, bool bias, bool classWeights, bool rowWeights, int ignoreEvery)
    {
        var random = new Random(seed);
        double Next(double scale) => ((random.NextDouble() * 2) - 1) * scale;
        double spread = 2 / Math.Sqrt(hiddenSize);
        var hidden = new double[rows * hiddenSize];
        var weight = new double[classes * hiddenSize];
        for (int i = 0; i < hidden.Length; i++)
        {
            hidden[i] = Next(1);
        }

        for (int i = 0; i < weight.Length; i++)
        {
            weight[i] = Next(spread);
        }

        var labels = new int[rows];
        for (int i = 0; i < rows; i++)
        {
            labels[i] = ignoreEvery > 0 && i % ignoreEvery == 1 ? options.IgnoreIndex!.Value : random.Next(classes);
        }

        double[]? b = bias ? Array(classes, () => Next(1)) : null;
        double[]? cw = classWeights ? Array(classes, () => 0.25 + random.NextDouble()) : null;
        double[]? rw = rowWeights ? Array(rows, () => random.Next(4) == 0 ? 0 : 2 * random.NextDouble()) : null;
        return new LinearProblem(rows, hiddenSize, classes, hidden, weight, b, labels, options, cw, rw);

        static double[] Array(int length, Func<double> next)
        {
            var a = new double[length];
            for (int i = 0; i < length; i++)
            {
                a[i] = next();
            }

            return a;
        }
    }
}
