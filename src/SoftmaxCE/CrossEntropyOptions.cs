namespace SoftmaxCE;

/// <summary>
/// Options of the cross-entropy loss, with the semantics of PyTorch's <c>torch.nn.functional.cross_entropy</c>.
/// The default value (<c>default(CrossEntropyOptions)</c>) is PyTorch's default: mean reduction,
/// no ignored label and no label smoothing.
/// </summary>
public readonly record struct CrossEntropyOptions
{
    /// <summary>How row losses are combined. Default <see cref="Reduction.Mean"/>.</summary>
    public Reduction Reduction { get; init; }

    /// <summary>
    /// A label value whose rows contribute nothing: zero loss, a zero gradient row, and no weight in the
    /// mean's denominator. Default <see langword="null"/>: every label must be a class index.
    /// PyTorch's default is -100; pass <c>IgnoreIndex = -100</c> to get it. Only class-index labels are
    /// affected; dense targets have no ignored rows.
    /// </summary>
    public int? IgnoreIndex { get; init; }

    /// <summary>
    /// Label smoothing <c>eps</c> in [0, 1]. With class-index labels the target becomes
    /// <c>(1 - eps) * onehot + eps / C</c>; with dense targets <c>T' = (1 - eps) * T + eps / C</c>. Default 0.
    /// </summary>
    public double LabelSmoothing { get; init; }

    /// <summary>
    /// The most threads a call may use: 0 (the default) for all cores, 1 for the calling thread only; negative
    /// values are refused. Large calls split their rows into fixed chunks on the thread pool; small ones stay on
    /// the calling thread. The results (loss, gradient, row losses) are bitwise the same for any value.
    /// </summary>
    public int MaxDegreeOfParallelism { get; init; }

    /// <summary>
    /// The z-loss weight <c>z</c> (PaLM; Liger-Kernel's <c>lse_square_scale</c>), finite and &gt;= 0; default 0 (off).
    /// Each counted row's loss gains <c>z * LSE_i^2</c> (not multiplied by a class weight) and its gradient
    /// <c>2 z LSE_i P_ik</c>; ignored rows add nothing, and the mean divides it by the same denominator as the rest.
    /// </summary>
    public double ZLoss { get; init; }

    /// <summary>
    /// Logit soft-capping <c>s</c> (Gemma 2): 0 (the default) is off; otherwise finite and &gt; 0, and each logit
    /// <c>y</c> is replaced by <c>s * tanh(y / s)</c> before the softmax, with the gradient taken through it
    /// (a factor <c>1 - tanh^2(y / s)</c>).
    /// </summary>
    public double LogitSoftcap { get; init; }

    /// <summary>
    /// With <see cref="Reduction.Mean"/>, divide the loss and the gradient by this instead of the call's own count
    /// (or weight sum): the global denominator of a batch split into micro-batches or data-parallel shards, so that
    /// their summed results equal the whole batch's (see <see cref="SoftmaxCrossEntropy.MeanDenominator{T}"/>).
    /// Default <see langword="null"/>: the call's own. Must be finite and positive when set; ignored with <see cref="Reduction.Sum"/>.
    /// </summary>
    public double? Denominator { get; init; }

    /// <summary>
    /// The logit scale <c>s</c>: each logit <c>y</c> becomes <c>s * y</c> before soft-capping and the softmax (a temperature
    /// <c>t</c> is <c>s = 1 / t</c>), and every gradient gains the chain-rule factor <c>s</c>. With
    /// <see cref="LogitSoftcap"/> <c>c</c> the softmax sees <c>c * tanh(s * y / c)</c>. 0 (the default) means 1; otherwise
    /// finite and &gt; 0. It applies wherever a logit is read: the losses, gradients, log-sum-exps, argmax, softmax and
    /// log-softmax, and the sharded functions.
    /// </summary>
    public double LogitScale { get; init; }
}
