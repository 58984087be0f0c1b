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
        int* labels = stackalloc int[BlockRows];
        float* labelCoefficients = stackalloc float[BlockRows];
        float* counted = stackalloc float[BlockRows];
        double termCoefficient = 0, scale = 1, zLoss = 0;
        for (int r = 0; r < BlockRows; r++)
        {
            bool planned = planner.TryPlan(firstRow + r, out RowPlan plan);
            labels[r] = planned ? plan.Label : -1;
            labelCoefficients[r] = planned ? (float)plan.LabelCoefficient : 0;
            counted[r] = planned ? 1 : 0;
            if (planned)
            {
                // The same for every row of a call.
                termCoefficient = plan.TermCoefficient;
                scale = plan.Scale;
                zLoss = plan.ZLoss;
            }
        }

        float* y = (float*)logits + ((nint)firstRow * classes);
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
        Vector512<int> label = Vector512.Load(labels);
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

        Vector512<float> lse = max + Vector512.Log(sum);
        Vector512<float> isCounted = Vector512.Load(counted);
        Vector512<float> labelCoefficient = Vector512.Load(labelCoefficients);
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
        float* o = (float*)output + ((nint)firstRow * classes);
        for (int r = 0; r < BlockRows - 1; r++)
        {
            v[r].Store(o + (r * classes));
        }

        Vector512<float> inRow = Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(classes)).AsSingle();
        Vector512.ConditionalSelect(inRow, v[BlockRows - 1], lastRow).Store(o + ((BlockRows - 1) * classes));

        return totals;
    }

    /// <summary>Transposes the 16 x 16 block in place: four rounds of 16 shuffles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Block16 r)
    {
        Unsafe.SkipInit(out Block16 t);
        Unsafe.SkipInit(out Block16 u);
        for (int q = 0; q < 16; q += 4)
        {
            t[q] = Avx512F.UnpackLow(r[q], r[q + 1]);
            t[q + 1] = Avx512F.UnpackHigh(r[q], r[q + 1]);
            t[q + 2] = Avx512F.UnpackLow(r[q + 2], r[q + 3]);
            t[q + 3] = Avx512F.UnpackHigh(r[q + 2], r[q + 3]);
        }

        // u[4q + c] holds, in 128-bit lane j, class 4j + c of rows 4q .. 4q + 3.
        for (int q = 0; q < 16; q += 4)
        {
            u[q] = Avx512F.UnpackLow(t[q].AsDouble(), t[q + 2].AsDouble()).AsSingle();
            u[q + 1] = Avx512F.UnpackHigh(t[q].AsDouble(), t[q + 2].AsDouble()).AsSingle();
            u[q + 2] = Avx512F.UnpackLow(t[q + 1].AsDouble(), t[q + 3].AsDouble()).AsSingle();
            u[q + 3] = Avx512F.UnpackHigh(t[q + 1].AsDouble(), t[q + 3].AsDouble()).AsSingle();
        }

        // 0x88 takes 128-bit lanes (a0, a2, b0, b2); 0xDD takes (a1, a3, b1, b3).
        for (int c = 0; c < 4; c++)
        {
            t[c] = Avx512F.Shuffle4x128(u[c], u[c + 4], 0x88);
            t[c + 4] = Avx512F.Shuffle4x128(u[c], u[c + 4], 0xDD);
            t[c + 8] = Avx512F.Shuffle4x128(u[c + 8], u[c + 12], 0x88);
            t[c + 12] = Avx512F.Shuffle4x128(u[c + 8], u[c + 12], 0xDD);
        }

        for (int c = 0; c < 4; c++)
        {
            r[c] = Avx512F.Shuffle4x128(t[c], t[c + 8], 0x88);
            r[c + 8] = Avx512F.Shuffle4x128(t[c], t[c + 8], 0xDD);
            r[c + 4] = Avx512F.Shuffle4x128(t[c + 4], t[c + 12], 0x88);
            r[c + 12] = Avx512F.Shuffle4x128(t[c + 4], t[c + 12], 0xDD);
        }
    }

    [InlineArray(16)]
    private struct Block16
    {
        private Vector512<float> _element;
    }
}
