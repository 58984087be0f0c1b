namespace SoftmaxCE.Kernels;

/// <summary>What a row kernel writes, chosen at compile time through a struct type argument.</summary>
internal interface IOutputMode
{
    /// <summary>Writes <c>exp(y - shift)</c> in the first pass, then scales it into probabilities or the gradient.</summary>
    static abstract bool WritesScaledExp { get; }

    /// <summary>Writes <c>y - LSE</c> in a second pass.</summary>
    static abstract bool WritesLogProbabilities { get; }
}

/// <summary>Loss only: one pass, nothing written.</summary>
internal readonly struct NoOutput : IOutputMode
{
    public static bool WritesScaledExp => false;
    public static bool WritesLogProbabilities => false;
}

/// <summary>Softmax or the loss gradient.</summary>
internal readonly struct ScaledExpOutput : IOutputMode
{
    public static bool WritesScaledExp => true;
    public static bool WritesLogProbabilities => false;
}

/// <summary>Log-softmax.</summary>
internal readonly struct LogProbabilityOutput : IOutputMode
{
    public static bool WritesScaledExp => false;
    public static bool WritesLogProbabilities => true;
}
