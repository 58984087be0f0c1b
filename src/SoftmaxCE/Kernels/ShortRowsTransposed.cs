using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.Kernels;

/// <summary>
/// Row-major rows of at most <see cref="MaxClasses"/> elements (C = 10 is the common case), <c>W</c> rows at a time at
/// every vector width: the block is transposed in registers onto the stack, run through
/// <see cref="ShortRowsAcrossLanes{TOps, TVec, T}"/> with a class stride of <c>W</c>, and transposed back.
/// </summary>
/// <remarks>
/// One row per vector wastes the vector on horizontal reductions: a max and a sum across lanes, then a scalar
/// logarithm, per row, which cost more than the row's arithmetic; and at 128 or 256 bits a row of 10 floats does not
/// even fit one vector. Here the block's rows are loaded <c>ceil(C / W)</c> vectors each (reading on into the next
/// rows, which the caller guarantees are there), each <c>W x W</c> square transposed, and the result transposed back
/// and stored with plain (unmasked) vector stores: the lanes a store writes past its row land on the next row, whose own
/// store overwrites them afterwards, and the last row's spill writes back the next block's logits as they were read
/// (the caller keeps blocks inside one chunk of rows, so no other thread touches them meanwhile).
/// </remarks>
[SkipLocalsInit]
internal static unsafe class ShortRowsTransposed<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The longest row served.</summary>
    public const int MaxClasses = ShortRowsLanes.MaxClasses;

    /// <summary>The stack block: <c>ceil(C / W) * W * W</c> elements, at most <see cref="MaxClasses"/> * 16.</summary>
    private const int BlockElements = MaxClasses * 16;

    /// <summary>Whether this kernel serves a call of these types on this machine.</summary>
    public static bool Serves<TTerm, TFeatures>(int classes)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures =>
        ShortRowsLanes.Enabled && TOps.Count > 1 && LaneOps.CanTranspose<TVec, T>()
        && TTerm.IsSameForEveryRow && !TFeatures.Softcap && !TFeatures.Scale && classes >= 2 && classes <= MaxClasses;

    /// <summary>
    /// Runs whole blocks of <c>W</c> rows from row 0 on, as many as the buffers allow every vector load of, and adds
    /// their sums to <paramref name="totals"/>. Returns the number of rows done, a multiple of <c>W</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Run<TTerm, TMode, TPlanner, TFeatures>(
        ref RowTotals totals, T* logits, T* output, T* rowLosses, int* predictions, int rows, int classes, TTerm term, TPlanner planner, in LogitMap<T> map)
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
    {
        int w = TOps.Count;
        nuint lanes = (nuint)w;
        int squares = (classes + w - 1) / w;
        nuint c = (nuint)classes;
        long length = (long)rows * classes;
        Debug.Assert(
            classes >= 2 && classes <= MaxClasses && squares * w * w <= BlockElements,
            "a block's squares of W x W fit the stack block");
        T* block = stackalloc T[BlockElements];
        LaneLabels labels = planner.Lanes;
        RowPlan common = planner.Common;
        bool writes = TMode.WritesScaledExp || TMode.WritesLogProbabilities;
        int r0 = 0;

        // The last row of a block reads squares * W elements from its start.
        for (; ((long)(r0 + w - 1) * classes) + (squares * w) <= length; r0 += w)
        {
            Debug.Assert(r0 + w <= rows, "a block of W rows lies inside the call's rows (one chunk's: no other thread writes them)");
            T* y = logits + ((nuint)r0 * c);
            T* o = output + ((nuint)r0 * c);
            if (writes && Sse.IsSupported && o != y)
            {
                // Out of place, each row store would otherwise miss L1 and wait for its line: fetch the block's output
                // lines now, before the arithmetic. (In place, the loads below bring them.)
                for (byte* line = (byte*)o, end = (byte*)(o + (lanes * c) + lanes); line < end; line += 64)
                {
                    Sse.Prefetch0(line);
                }
            }

            // Square j holds classes j*W .. j*W + W - 1 of the block's rows, class-major: class k at block + k * W.
            for (int j = 0; j < squares; j++)
            {
                LaneOps.Transpose<TVec, T>(y + (j * w), c, block + (j * w * w), lanes);
            }

            ShortRowsAcrossLanes<TOps, TVec, T>.Plan(labels, r0, out LanePlan<TVec> plan);
            totals.Add(ShortRowsAcrossLanes<TOps, TVec, T>.Block<TTerm, TMode, TFeatures>(
                block, block, lanes, block, lanes, classes, term, plan, common, map, true, rowLosses == null ? null : rowLosses + r0, predictions == null ? null : predictions + r0));

            if (!writes)
            {
                continue;
            }

            // Square by square, the last first: only its stores reach past a row's end, into the first square of the
            // next row, whose store then overwrites them; the last row's spill writes the next block's logits back as read.
            for (int j = squares - 1; j >= 0; j--)
            {
                LaneOps.Transpose<TVec, T>(block + (j * w * w), lanes, o + (j * w), c);
            }
        }

        return r0;
    }
}

/// <summary>The switch for the rows-across-lanes path of short row-major rows.</summary>
internal static class ShortRowsLanes
{
    /// <summary>
    /// The longest row-major row the block kernel serves. Up to here a row's fixed cost (reductions across lanes, a
    /// logarithm, conversions to double) outweighs its arithmetic on the row path, and the block kernel shares those
    /// among <c>W</c> rows.
    /// </summary>
    public const int MaxClasses = 128;

    /// <summary>
    /// Off, rows of at most <see cref="MaxClasses"/> floats take the one-row-per-vector path (or, at 128 and 256 bits, the long-row path)
    /// instead: for <c>ShortRowKernelBenchmarks</c>, which keeps both variants measured side by side.
    /// </summary>
    internal static bool Enabled { get; set; } = true;
}
