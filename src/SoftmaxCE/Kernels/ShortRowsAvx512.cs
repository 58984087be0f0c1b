using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.Kernels;

/// <summary>
/// Float rows of at most 16 classes (C = 10 is the common case), sixteen rows at a time, with AVX-512.
/// </summary>
/// <remarks>
/// One row per vector wastes the vector on horizontal reductions: a max and a sum across lanes, then a scalar
/// logarithm, per row, which cost more than the row's arithmetic. Here a block of 16 rows is loaded (one vector
/// per row) and transposed in registers, so that vector <c>k</c> holds class <c>k</c> of all 16 rows; the max,
/// the exponentials, the sums, the logarithm and the gradient are then plain lane-wise operations, one vector
/// per class, and the result is transposed back and stored row by row through a mask.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class ShortRowsAvx512
{
    public const int BlockRows = 16;

    /// <summary>
    /// Off, rows of at most 16 floats take the one-row-per-vector path instead: for <c>ShortRowKernelBenchmarks</c>,
    /// which keeps both variants measured side by side.
    /// </summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>Whether this kernel serves a call of these types on this machine.</summary>
    public static bool Serves<T, TVec, TTerm, TFeatures>(int classes)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TFeatures : struct, IRowFeatures =>
        Enabled && typeof(T) == typeof(float) && typeof(TVec) == typeof(Vector512<float>) && Avx512F.IsSupported
        && TTerm.IsSameForEveryRow && !TFeatures.Softcap && classes >= 2 && classes <= BlockRows;

    /// <summary>
    /// Rows <c>firstRow .. firstRow + 16</c>; the 16 elements read from each row's start must be readable
    /// (the caller leaves the last rows to the padded path). Returns the sum of their losses.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static RowTotals Block<T, TTerm, TMode, TPlanner, TFeatures>(T* logits, T* output, T* rowLosses, int* predictions, int firstRow, int classes, TTerm term, TPlanner planner)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TTerm : struct, ITargetTerm<TTerm, T>
        where TMode : struct, IOutputMode
        where TPlanner : struct, IRowPlanner
        where TFeatures : struct, IRowFeatures
    {
        Unsafe.SkipInit(out Block16 v);
        planner.PlanBlock(firstRow, out Vector512<int> label, out Vector512<float> labelCoefficient, out Vector512<float> isCounted);
        RowPlan common = planner.Common;
        double termCoefficient = common.TermCoefficient, scale = common.Scale, zLoss = common.ZLoss;

        float* y = (float*)logits + ((nint)firstRow * classes);
        float* o = (float*)output + ((nint)firstRow * classes);
        if (TMode.WritesScaledExp || TMode.WritesLogProbabilities)
        {
            // Out of place, the 16 overlapping row stores below would each miss L1 and wait for the line: fetching
            // the block's output lines now, before the arithmetic, took the out-of-place call from 1.5 to 1 ns/element.
            for (int b = 0; b < (BlockRows * classes) + BlockRows; b += BlockRows)
            {
                Sse.Prefetch0(o + b);
            }
        }

        for (int r = 0; r < BlockRows; r++)
        {
            v[r] = Vector512.Load(y + (r * classes));
        }

        Vector512<float> lastRow = v[BlockRows - 1];
        Transpose(ref v);

        // Lane r of every vector below is row r of the block.
        Vector512<float> max = v[0];
        Vector512<int> argmax = Vector512<int>.Zero;
        for (int k = 1; k < classes; k++)
        {
            if (TFeatures.Argmax)
            {
                // Strictly greater: ties keep the lower class.
                Vector512<float> greater = Vector512.GreaterThan(v[k], max);
                max = Vector512.ConditionalSelect(greater, v[k], max);
                argmax = Vector512.ConditionalSelect(greater.AsInt32(), Vector512.Create(k), argmax);
            }
            else
            {
                max = Vector512.MaxNative(max, v[k]);
            }
        }

        Vector512<float> negativeInfinity = Vector512.Create(float.NegativeInfinity);
        Vector512<float> shift = Vector512.ConditionalSelect(Vector512.Equals(max, negativeInfinity), Vector512<float>.Zero, max);
        Vector512<float> labelLogit = Vector512<float>.Zero;
        Vector512<float> sum = Vector512<float>.Zero;
        Vector512<float> distance = Vector512<float>.Zero;
        float termSum = 0;
        for (int k = 0; k < classes; k++)
        {
            Vector512<float> yk = v[k];
            labelLogit = Vector512.ConditionalSelect(Vector512.Equals(label, Vector512.Create(k)).AsSingle(), yk, labelLogit);
            if (TTerm.IsActive)
            {
                float u = float.CreateTruncating(term.At((nuint)k));
                if (u != 0)
                {
                    distance = Vector512.FusedMultiplyAdd(Vector512.Create(u), shift - yk, distance);
                }

                termSum += u;
            }

            Vector512<float> e = ExpSingle.ExpDifference(yk, shift);
            sum += e;
            if (TMode.WritesScaledExp)
            {
                v[k] = e;
            }
        }

        Vector512<float> lse = max + Log(sum);
        Vector512<float> loss = labelCoefficient * (lse - labelLogit);
        if (TTerm.IsActive)
        {
            Vector512<float> termPart = distance;
            if (termSum != 0)
            {
                termPart += Vector512.Create(termSum) * (lse - shift);
            }

            loss += Vector512.Create((float)termCoefficient) * termPart;
        }

        Vector512<float> zPart = Vector512<float>.Zero;
        if (zLoss != 0)
        {
            zPart = Vector512.Create((float)zLoss) * lse * lse;
            loss += zPart;
        }

        Vector512<float> notCounted = Vector512.Equals(isCounted, Vector512<float>.Zero);
        loss = Vector512.ConditionalSelect(notCounted, Vector512<float>.Zero, loss);
        zPart = Vector512.ConditionalSelect(notCounted, Vector512<float>.Zero, zPart);
        if (rowLosses != null)
        {
            loss.Store((float*)rowLosses + firstRow);
        }

        RowTotals totals;
        totals.Loss = Vector512.Sum(Vector512.WidenLower(loss) + Vector512.WidenUpper(loss));
        totals.ZLoss = Vector512.Sum(Vector512.WidenLower(zPart) + Vector512.WidenUpper(zPart));
        totals.Correct = 0;
        if (TFeatures.Argmax)
        {
            Vector512<int> countedArgmax = Vector512.ConditionalSelect(notCounted.AsInt32(), Vector512.Create(-1), argmax);
            if (predictions != null)
            {
                countedArgmax.Store(predictions + firstRow);
            }

            totals.Correct = BitOperations.PopCount(Vector512.Equals(countedArgmax, label).ExtractMostSignificantBits() & ~notCounted.ExtractMostSignificantBits());
        }

        if (!TMode.WritesScaledExp && !TMode.WritesLogProbabilities)
        {
            return totals;
        }

        if (TMode.WritesScaledExp)
        {
            float g = (float)scale;
            Vector512<float> coefficient = (labelCoefficient + Vector512.Create((float)(termCoefficient * termSum)) + (Vector512.Create((float)(2 * zLoss)) * lse)) * g / sum;
            Vector512<float> labelStep = labelCoefficient * g;
            float termStep = (float)(termCoefficient * scale);
            Vector512<float> countedMask = ~Vector512.Equals(isCounted, Vector512<float>.Zero);
            for (int k = 0; k < classes; k++)
            {
                Vector512<float> r = v[k] * coefficient;
                if (TTerm.IsActive)
                {
                    r -= Vector512.Create(termStep * float.CreateTruncating(term.At((nuint)k)));
                }

                r = Vector512.ConditionalSelect(Vector512.Equals(label, Vector512.Create(k)).AsSingle(), r - labelStep, r);
                v[k] = r & countedMask; // ignored rows: zeros
            }
        }
        else
        {
            for (int k = 0; k < classes; k++)
            {
                v[k] -= lse;
            }
        }

        Transpose(ref v);

        // Plain (not masked) stores, in row order: the lanes past row r land on rows r + 1 .. of this block,
        // which their own stores overwrite next. Only the last row's spill reaches the next block, and gets
        // that block's logits back unchanged (they may be the same memory, in place).
        for (int r = 0; r < BlockRows - 1; r++)
        {
            v[r].Store(o + (r * classes));
        }

        Vector512<float> inRow = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(classes)).AsSingle();
        Vector512.ConditionalSelect(inRow, v[BlockRows - 1], lastRow).Store(o + ((BlockRows - 1) * classes));

        return totals;
    }

    /// <summary>
    /// <c>ln(x)</c> for the row sums (at least 1: the row maximum adds exactly 1). <c>Vector512.Log</c> cost a quarter
    /// of the whole call at C = 3; this is about 15 instructions: <c>x = 2^e m</c> by vgetexpps and vgetmantps,
    /// <c>m</c> folded into [0.707, 1.414), then <c>ln m = 2 atanh(r)</c> with <c>r = (m - 1) / (m + 1)</c>, <c>|r| &lt; 0.172</c>,
    /// by its series to <c>r^7</c> (truncation below 2e-8). NaN, infinity and 0 map to NaN, infinity and negative infinity.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Log(Vector512<float> x)
    {
        Vector512<float> e = Avx512F.GetExponent(x);
        Vector512<float> m = Avx512F.GetMantissa(x, 0); // [1, 2), sign of the source (x >= 0 here)
        Vector512<float> high = Vector512.GreaterThan(m, Vector512.Create(1.41421356f));
        m = Vector512.ConditionalSelect(high, m * 0.5f, m);
        e = Vector512.ConditionalSelect(high, e + Vector512<float>.One, e);
        Vector512<float> r = (m - Vector512<float>.One) / (m + Vector512<float>.One);
        Vector512<float> r2 = r * r;
        Vector512<float> p = Vector512.FusedMultiplyAdd(r2, Vector512.Create(2f / 7), Vector512.Create(2f / 5));
        p = Vector512.FusedMultiplyAdd(p, r2, Vector512.Create(2f / 3));
        p = Vector512.FusedMultiplyAdd(p, r2, Vector512.Create(2f));
        return Vector512.FusedMultiplyAdd(e, Vector512.Create(0.693147180559945f), p * r);
    }

    /// <summary>Transposes the 16 x 16 block in place: four rounds of 16 shuffles, in registers.</summary>
    /// <remarks>Written out in full: as loops over the block, the JIT kept every step in memory, with bounds checks.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Block16 block)
    {
        Vector512<float> r0 = block[0];
        Vector512<float> r1 = block[1];
        Vector512<float> r2 = block[2];
        Vector512<float> r3 = block[3];
        Vector512<float> r4 = block[4];
        Vector512<float> r5 = block[5];
        Vector512<float> r6 = block[6];
        Vector512<float> r7 = block[7];
        Vector512<float> r8 = block[8];
        Vector512<float> r9 = block[9];
        Vector512<float> r10 = block[10];
        Vector512<float> r11 = block[11];
        Vector512<float> r12 = block[12];
        Vector512<float> r13 = block[13];
        Vector512<float> r14 = block[14];
        Vector512<float> r15 = block[15];

        // Interleave 32-bit lanes of row pairs.
        Vector512<float> t0 = Avx512F.UnpackLow(r0, r1);
        Vector512<float> t1 = Avx512F.UnpackHigh(r0, r1);
        Vector512<float> t2 = Avx512F.UnpackLow(r2, r3);
        Vector512<float> t3 = Avx512F.UnpackHigh(r2, r3);
        Vector512<float> t4 = Avx512F.UnpackLow(r4, r5);
        Vector512<float> t5 = Avx512F.UnpackHigh(r4, r5);
        Vector512<float> t6 = Avx512F.UnpackLow(r6, r7);
        Vector512<float> t7 = Avx512F.UnpackHigh(r6, r7);
        Vector512<float> t8 = Avx512F.UnpackLow(r8, r9);
        Vector512<float> t9 = Avx512F.UnpackHigh(r8, r9);
        Vector512<float> t10 = Avx512F.UnpackLow(r10, r11);
        Vector512<float> t11 = Avx512F.UnpackHigh(r10, r11);
        Vector512<float> t12 = Avx512F.UnpackLow(r12, r13);
        Vector512<float> t13 = Avx512F.UnpackHigh(r12, r13);
        Vector512<float> t14 = Avx512F.UnpackLow(r14, r15);
        Vector512<float> t15 = Avx512F.UnpackHigh(r14, r15);

        // Interleave 64-bit lanes: u[4q + c] holds, in 128-bit lane j, class 4j + c of rows 4q .. 4q + 3.
        Vector512<float> u0 = Avx512F.UnpackLow(t0.AsDouble(), t2.AsDouble()).AsSingle();
        Vector512<float> u1 = Avx512F.UnpackHigh(t0.AsDouble(), t2.AsDouble()).AsSingle();
        Vector512<float> u2 = Avx512F.UnpackLow(t1.AsDouble(), t3.AsDouble()).AsSingle();
        Vector512<float> u3 = Avx512F.UnpackHigh(t1.AsDouble(), t3.AsDouble()).AsSingle();
        Vector512<float> u4 = Avx512F.UnpackLow(t4.AsDouble(), t6.AsDouble()).AsSingle();
        Vector512<float> u5 = Avx512F.UnpackHigh(t4.AsDouble(), t6.AsDouble()).AsSingle();
        Vector512<float> u6 = Avx512F.UnpackLow(t5.AsDouble(), t7.AsDouble()).AsSingle();
        Vector512<float> u7 = Avx512F.UnpackHigh(t5.AsDouble(), t7.AsDouble()).AsSingle();
        Vector512<float> u8 = Avx512F.UnpackLow(t8.AsDouble(), t10.AsDouble()).AsSingle();
        Vector512<float> u9 = Avx512F.UnpackHigh(t8.AsDouble(), t10.AsDouble()).AsSingle();
        Vector512<float> u10 = Avx512F.UnpackLow(t9.AsDouble(), t11.AsDouble()).AsSingle();
        Vector512<float> u11 = Avx512F.UnpackHigh(t9.AsDouble(), t11.AsDouble()).AsSingle();
        Vector512<float> u12 = Avx512F.UnpackLow(t12.AsDouble(), t14.AsDouble()).AsSingle();
        Vector512<float> u13 = Avx512F.UnpackHigh(t12.AsDouble(), t14.AsDouble()).AsSingle();
        Vector512<float> u14 = Avx512F.UnpackLow(t13.AsDouble(), t15.AsDouble()).AsSingle();
        Vector512<float> u15 = Avx512F.UnpackHigh(t13.AsDouble(), t15.AsDouble()).AsSingle();

        // Gather 128-bit lanes: 0x88 takes (a0, a2, b0, b2), 0xDD takes (a1, a3, b1, b3).
        t0 = Avx512F.Shuffle4x128(u0, u4, 0x88);
        t4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        t8 = Avx512F.Shuffle4x128(u8, u12, 0x88);
        t12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        t1 = Avx512F.Shuffle4x128(u1, u5, 0x88);
        t5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        t9 = Avx512F.Shuffle4x128(u9, u13, 0x88);
        t13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        t2 = Avx512F.Shuffle4x128(u2, u6, 0x88);
        t6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        t10 = Avx512F.Shuffle4x128(u10, u14, 0x88);
        t14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        t3 = Avx512F.Shuffle4x128(u3, u7, 0x88);
        t7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        t11 = Avx512F.Shuffle4x128(u11, u15, 0x88);
        t15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);

        block[0] = Avx512F.Shuffle4x128(t0, t8, 0x88);
        block[8] = Avx512F.Shuffle4x128(t0, t8, 0xDD);
        block[4] = Avx512F.Shuffle4x128(t4, t12, 0x88);
        block[12] = Avx512F.Shuffle4x128(t4, t12, 0xDD);
        block[1] = Avx512F.Shuffle4x128(t1, t9, 0x88);
        block[9] = Avx512F.Shuffle4x128(t1, t9, 0xDD);
        block[5] = Avx512F.Shuffle4x128(t5, t13, 0x88);
        block[13] = Avx512F.Shuffle4x128(t5, t13, 0xDD);
        block[2] = Avx512F.Shuffle4x128(t2, t10, 0x88);
        block[10] = Avx512F.Shuffle4x128(t2, t10, 0xDD);
        block[6] = Avx512F.Shuffle4x128(t6, t14, 0x88);
        block[14] = Avx512F.Shuffle4x128(t6, t14, 0xDD);
        block[3] = Avx512F.Shuffle4x128(t3, t11, 0x88);
        block[11] = Avx512F.Shuffle4x128(t3, t11, 0xDD);
        block[7] = Avx512F.Shuffle4x128(t7, t15, 0x88);
        block[15] = Avx512F.Shuffle4x128(t7, t15, 0xDD);
    }

    [InlineArray(16)]
    private struct Block16
    {
        private Vector512<float> _element;
    }
}
