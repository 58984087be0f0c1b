namespace SoftmaxCE.Kernels;

/// <summary>Optional work of a row kernel, chosen at compile time so that a plain call pays nothing for it.</summary>
internal interface IRowFeatures
{
    /// <summary>Logits are soft-capped, <c>s tanh(y / s)</c>, before the softmax; the gradient goes through the cap.</summary>
    static abstract bool Softcap { get; }

    /// <summary>The row's argmax (lowest index on ties) is found during the max pass.</summary>
    static abstract bool Argmax { get; }

    /// <summary>
    /// Logits are multiplied by the logit scale before the softmax (without a softcap: with one, the scale is folded
    /// into the cap's argument, <c>s tanh(scale y / s)</c>, and this is false).
    /// </summary>
    static abstract bool Scale { get; }
}

internal readonly struct PlainRows : IRowFeatures
{
    public static bool Softcap => false;
    public static bool Argmax => false;
    public static bool Scale => false;
}

internal readonly struct ArgmaxRows : IRowFeatures
{
    public static bool Softcap => false;
    public static bool Argmax => true;
    public static bool Scale => false;
}

internal readonly struct SoftcapRows : IRowFeatures
{
    public static bool Softcap => true;
    public static bool Argmax => false;
    public static bool Scale => false;
}

internal readonly struct SoftcapArgmaxRows : IRowFeatures
{
    public static bool Softcap => true;
    public static bool Argmax => true;
    public static bool Scale => false;
}

internal readonly struct ScaledRows : IRowFeatures
{
    public static bool Softcap => false;
    public static bool Argmax => false;
    public static bool Scale => true;
}

internal readonly struct ScaledArgmaxRows : IRowFeatures
{
    public static bool Softcap => false;
    public static bool Argmax => true;
    public static bool Scale => true;
}

/// <summary>What a row kernel returns besides what it writes.</summary>
internal struct RowOutcome
{
    /// <summary>The row's loss before reduction, z-loss included.</summary>
    public double Loss;

    /// <summary>The z-loss part of <see cref="Loss"/>.</summary>
    public double ZLoss;

    /// <summary>The index of the row's largest (capped) logit, when the features ask for it; else -1.</summary>
    public int Argmax;

    /// <summary>The log-sum-exp of the row's final (scaled, capped) logits.</summary>
    public double LogSumExp;

    /// <summary>The row's largest final logit (a value of the element type), and the sum of exponentials relative to it.</summary>
    public double Max;

    /// <inheritdoc cref="Max"/>
    public double SumExp;
}

/// <summary>Sums over a range of rows, added chunk by chunk in order.</summary>
internal struct RowTotals
{
    public double Loss;
    public double ZLoss;
    public long Correct;

    public void Add(in RowTotals other)
    {
        Loss += other.Loss;
        ZLoss += other.ZLoss;
        Correct += other.Correct;
    }
}
