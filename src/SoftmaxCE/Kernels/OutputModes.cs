namespace SoftmaxCE.Kernels;

/// <summary>What a row kernel writes, chosen at compile time through a struct type argument.</summary>
internal interface IOutputMode
{
    /// <summary>Writes <c>exp(y - shift)</c> in the first pass, then scales it into probabilities or the gradient.</summary>
    static abstract bool WritesScaledExp { get; }

    /// <summary>Writes <c>y - LSE</c> in a second pass.</summary>
    static abstract bool WritesLogProbabilities { get; }

    /// <summary>What is written is a gradient with respect to the raw logits: the soft-cap's derivative applies.</summary>
    static abstract bool IsGradient { get; }
}

/// <summary>Loss only: one pass, nothing written.</summary>
internal readonly struct NoOutput : IOutputMode
{
    public static bool WritesScaledExp => false;
    public static bool WritesLogProbabilities => false;
    public static bool IsGradient => false;
}

/// <summary>The loss gradient.</summary>
internal readonly struct ScaledExpOutput : IOutputMode
{
    public static bool WritesScaledExp => true;
    public static bool WritesLogProbabilities => false;
    public static bool IsGradient => true;
}

/// <summary>Softmax: the probabilities, written as the gradient is but without the soft-cap's derivative.</summary>
internal readonly struct ProbabilityOutput : IOutputMode
{
    public static bool WritesScaledExp => true;
    public static bool WritesLogProbabilities => false;
    public static bool IsGradient => false;
}

/// <summary>Log-softmax.</summary>
internal readonly struct LogProbabilityOutput : IOutputMode
{
    public static bool WritesScaledExp => false;
    public static bool WritesLogProbabilities => true;
    public static bool IsGradient => false;
}
