using System;
using System.Numerics;
using System.Runtime.Intrinsics;

namespace SoftmaxCE.Kernels;

/// <summary>The vector widths the kernels are compiled for.</summary>
internal enum SimdWidth
{
    Scalar = 1,
    Vector128 = 128,
    Vector256 = 256,
    Vector512 = 512,
}

/// <summary>A call to run with one vector width: the kernels' entry points implement it.</summary>
internal interface IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    double Run<TOps, TVec>()
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged;
}

/// <summary>Picks the widest width the machine accelerates, once; tests may force a narrower one.</summary>
internal static class WidthDispatch
{
    /// <summary>The width every call uses unless <see cref="Forced"/> is set.</summary>
    public static readonly SimdWidth Best =
        Vector512.IsHardwareAccelerated ? SimdWidth.Vector512 :
        Vector256.IsHardwareAccelerated ? SimdWidth.Vector256 :
        Vector128.IsHardwareAccelerated ? SimdWidth.Vector128 :
        SimdWidth.Scalar;

    [ThreadStatic]
    private static SimdWidth t_forced;

    /// <summary>A width for the calls made on this thread (tests only); <c>default</c> means <see cref="Best"/>.</summary>
    public static SimdWidth Forced
    {
        get => t_forced;
        set => t_forced = value;
    }

    /// <summary>Whether <paramref name="width"/> runs on vector hardware here (a narrower width always can).</summary>
    public static bool IsSupported(SimdWidth width) => width <= Best;

    public static double Run<T, TCall>(ref TCall call)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TCall : struct, IWidthCall<T>
    {
        SimdWidth width = t_forced == default ? Best : t_forced;
        return width switch
        {
            SimdWidth.Vector512 => call.Run<Ops512<T>, Vector512<T>>(),
            SimdWidth.Vector256 => call.Run<Ops256<T>, Vector256<T>>(),
            SimdWidth.Vector128 => call.Run<Ops128<T>, Vector128<T>>(),
            _ => call.Run<OpsScalar<T>, T>(),
        };
    }
}
