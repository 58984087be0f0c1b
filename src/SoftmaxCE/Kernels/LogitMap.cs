using System;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// What the softmax sees of a raw logit <c>y</c>: <c>s y</c> with a logit scale <c>s</c>, then <c>c tanh(s y / c)</c>
/// with a soft-cap <c>c</c>. Which of the two applies is the <see cref="IRowFeatures"/> type argument; this holds the
/// constants.
/// </summary>
/// <remarks>
/// With a cap, the scale is folded into the tanh's argument (<see cref="Factor"/> is <c>s / c</c>), so scaling costs
/// nothing there. The gradient's chain-rule factor <c>s</c> is folded into each row's <see cref="RowPlan.Scale"/> by the
/// caller, so that the kernels only apply the cap's own derivative <c>1 - tanh^2</c>.
/// </remarks>
internal readonly struct LogitMap<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public LogitMap(double scale, double softcap)
    {
        ScaleValue = scale;
        CapValue = softcap;
        Cap = T.CreateTruncating(softcap);
        InverseCap = softcap == 0 ? T.One : T.CreateTruncating(1 / softcap);
        Factor = T.CreateTruncating(softcap == 0 ? scale : scale / softcap);
    }

    /// <summary>The soft-cap <c>c</c> (0: none).</summary>
    public T Cap { get; }

    /// <summary><c>1 / c</c>: the cap's derivative is <c>1 - (capped / c)^2</c>.</summary>
    public T InverseCap { get; }

    /// <summary>What a raw logit is multiplied by: <c>s / c</c> with a cap (the tanh's argument), else <c>s</c>.</summary>
    public T Factor { get; }

    /// <summary>The logit scale <c>s</c> (1 when none).</summary>
    public double ScaleValue { get; }

    /// <summary>The soft-cap <c>c</c> in double (0: none).</summary>
    public double CapValue { get; }

    /// <summary>The map of one vector of raw logits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Apply<TOps, TVec, TFeatures>(TVec y)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TFeatures : struct, IRowFeatures
    {
        if (TFeatures.Softcap)
        {
            return SimdMasks.Softcap<TOps, TVec, T>(y, TOps.Create(Cap), TOps.Create(Factor));
        }

        return TFeatures.Scale ? TOps.Multiply(y, TOps.Create(Factor)) : y;
    }

    /// <summary>The map of one raw logit, in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Apply<TFeatures>(T y)
        where TFeatures : struct, IRowFeatures
    {
        double v = double.CreateTruncating(y);
        if (TFeatures.Softcap)
        {
            return CapValue * Math.Tanh(v * (ScaleValue / CapValue));
        }

        return TFeatures.Scale ? v * ScaleValue : v;
    }

    /// <summary><c>d(c tanh(x / c))/dx = 1 - (capped / c)^2</c>, from the capped value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec CapDerivative<TOps, TVec>(TVec capped)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        TVec t = TOps.Multiply(capped, TOps.Create(InverseCap));
        return TOps.MultiplyAdd(TOps.Subtract(TOps.Zero, t), t, TOps.Create(T.One));
    }
}
