using System;
using System.Runtime.Intrinsics;
using SoftmaxCE.Kernels;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>
/// The float soft-cap <c>c tanh(y / c)</c> of <see cref="LogitMap{T}"/> itself, at every width, against <c>Math.Tanh</c> in
/// double over a dense sweep of floats: the calls' tests see it only through the softmax.
/// </summary>
public sealed class SoftcapTanhTests
{
    /// <summary>The error a capped logit may carry: 8 ulps of the cap, what the property tests allow it.</summary>
    private const double UlpsOfTheCap = 8;

    private static readonly double FloatUlp = MathF.BitIncrement(1f) - 1f;

    public static TheoryData<int, double> WidthsAndCaps()
    {
        var data = new TheoryData<int, double>();
        foreach (int width in TestData.WidthBits)
        {
            foreach (double cap in new[] { 1, 2.5, 30, 1e-3, 5e4 })
            {
                data.Add(width, cap);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(WidthsAndCaps))]
    public void Softcap_OverADenseSweepOfFloats_IsWithinEightUlpsOfTheCap(int width, double cap)
    {
        var map = new LogitMap<float>(1, cap);
        double worst = 0;
        float at = 0;

        // Every 613th float from 0 to 12 c (about 1.8 million of them), and each one's negative.
        uint last = BitConverter.SingleToUInt32Bits((float)(12 * cap));
        for (uint bits = 0; bits <= last; bits += 613)
        {
            float y = BitConverter.UInt32BitsToSingle(bits);
            foreach (float v in new[] { y, -y })
            {
                double error = Math.Abs(Apply(width, map, v) - (cap * Math.Tanh(v / cap)));
                if (error > worst)
                {
                    worst = error;
                    at = v;
                }
            }
        }

        Assert.True(worst <= UlpsOfTheCap * cap * FloatUlp, $"width {width}, cap {cap}: error {worst / (cap * FloatUlp):F2} ulps of the cap at y = {at:R}");
    }

    [Theory]
    [MemberData(nameof(WidthsAndCaps))]
    public void Softcap_IsOdd_ExactlyTheCapFarOut_AndKeepsNaN(int width, double cap)
    {
        var map = new LogitMap<float>(1, cap);
        float c = (float)cap;
        foreach (float y in new[] { 0.3f * c, 1.7f * c, 4f * c, 8.5f * c })
        {
            Assert.Equal(-Apply(width, map, y), Apply(width, map, -y));
        }

        // Beyond |y| = 10 c, tanh is within 5e-9 of 1: the capped logit is the cap, and the cap's derivative exactly 0.
        foreach (float y in new[] { 10.5f * c, 1e3f * c, float.MaxValue, float.PositiveInfinity })
        {
            Assert.Equal(c, Apply(width, map, y));
            Assert.Equal(-c, Apply(width, map, -y));
        }

        Assert.True(float.IsNaN(Apply(width, map, float.NaN)), $"width {width}: NaN");
        Assert.Equal(0f, Apply(width, map, 0f));
    }

    private static float Apply(int width, in LogitMap<float> map, float y) => width switch
    {
        512 => map.Apply<Ops512<float>, Vector512<float>, SoftcapRows>(Vector512.Create(y)).ToScalar(),
        256 => map.Apply<Ops256<float>, Vector256<float>, SoftcapRows>(Vector256.Create(y)).ToScalar(),
        128 => map.Apply<Ops128<float>, Vector128<float>, SoftcapRows>(Vector128.Create(y)).ToScalar(),
        _ => map.Apply<OpsScalar<float>, float, SoftcapRows>(y),
    };
}
