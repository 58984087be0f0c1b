namespace SoftmaxCE.Kernels;

/// <summary>What one row needs besides its logits: the coefficients of its loss and gradient.</summary>
/// <remarks>
/// A row's loss is <c>LabelCoefficient * (LSE - y[Label]) + TermCoefficient * sum_k u_k (LSE - y_k)</c>
/// (see <see cref="ITargetTerm{TSelf, T}"/> for <c>u</c>), and its gradient is
/// <c>Scale * (P_k * (LabelCoefficient + TermCoefficient * sum_j u_j) - TermCoefficient * u_k - LabelCoefficient * [k == Label])</c>.
/// Softmax is the case <c>LabelCoefficient = 1</c>, no label, no term, <c>Scale = 1</c>.
/// </remarks>
internal readonly struct RowPlan(int label, double labelCoefficient, double termCoefficient, double scale, double zLoss = 0)
{
    /// <summary>The class index of the row's label, or -1.</summary>
    public int Label { get; } = label;

    /// <summary><c>(1 - eps) * w[label]</c> for labels; 1 for softmax; 0 for dense targets.</summary>
    public double LabelCoefficient { get; } = labelCoefficient;

    /// <summary><c>eps / C</c> for smoothed labels, 1 for dense targets, else 0.</summary>
    public double TermCoefficient { get; } = termCoefficient;

    /// <summary>The gradient's factor: 1 / denominator for the mean, 1 for the sum.</summary>
    public double Scale { get; } = scale;

    /// <summary>The z-loss weight: the row's loss gains <c>ZLoss * LSE^2</c>, its gradient <c>2 ZLoss LSE P</c>.</summary>
    public double ZLoss { get; } = zLoss;

    /// <summary>
    /// The plan of a row whose loss (z-loss included) and gradient are multiplied by <paramref name="rowWeight"/>: both
    /// are linear in the three coefficients together, so scaling those scales both.
    /// </summary>
    public RowPlan Weighted(double rowWeight) =>
        new(Label, LabelCoefficient * rowWeight, TermCoefficient * rowWeight, Scale, ZLoss * rowWeight);

    /// <summary>
    /// The row's z-loss term <c>ZLoss * LSE^2</c>: 0 without z-loss (whatever the row holds), and NaN for a row with no
    /// distribution (every logit -inf, LSE = -inf), whose loss is NaN too.
    /// </summary>
    public double ZLossOf(double lse) => ZLoss == 0 ? 0 : double.IsNegativeInfinity(lse) ? double.NaN : ZLoss * lse * lse;

    /// <summary>
    /// The plan of a row whose label is outside the classes when the kernel reads it (the caller's labels changed while
    /// the call ran): no label to index, and a NaN label coefficient, which makes the row's loss and gradient NaN.
    /// </summary>
    public static RowPlan Broken(double termCoefficient, double scale, double zLoss) => new(-1, double.NaN, termCoefficient, scale, zLoss);

    /// <summary>The same plan with its gradient factor multiplied by <paramref name="factor"/>.</summary>
    public RowPlan Scaled(double factor) => new(Label, LabelCoefficient, TermCoefficient, Scale * factor, ZLoss);
}
