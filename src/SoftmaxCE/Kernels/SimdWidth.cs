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

/// <summary>
/// One public call, ready to run over any range of its rows with any vector width: the entry points build
/// one (<see cref="SoftmaxCall{T, TMode}"/>, <see cref="LabelCall{T, TMode}"/>, <see cref="DenseCall{T, TMode}"/>)
/// and hand it to <see cref="RowChunks"/>.
/// </summary>
internal interface IWidthCall<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    int Rows { get; }

    int Classes { get; }

    /// <summary>Runs rows <c>firstRow .. firstRow + rowCount</c> and returns the sums of their losses (in row order) and correct predictions.</summary>
    RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
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

    /// <summary>The width for a call starting on this thread (its worker threads get the same).</summary>
    public static SimdWidth Current => t_forced == default ? Best : t_forced;

    /// <summary>Whether <paramref name="width"/> runs on vector hardware here (a narrower width always can).</summary>
    public static bool IsSupported(SimdWidth width) => width <= Best;

    public static RowTotals Run<T, TCall>(in TCall call, SimdWidth width, int firstRow, int rowCount)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TCall : struct, IWidthCall<T>
    {
        return width switch
        {
            SimdWidth.Vector512 => call.Run<Ops512<T>, Vector512<T>>(firstRow, rowCount),
            SimdWidth.Vector256 => call.Run<Ops256<T>, Vector256<T>>(firstRow, rowCount),
            SimdWidth.Vector128 => call.Run<Ops128<T>, Vector128<T>>(firstRow, rowCount),
            _ => call.Run<OpsScalar<T>, T>(firstRow, rowCount),
        };
    }
}
