using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SoftmaxCE.Internals;
using SoftmaxCE.Kernels;

namespace SoftmaxCE.MatrixMultiply;

/// <summary>One fused linear cross-entropy call, validated: pointers (null for what is absent or not wanted), sizes and options.</summary>
internal unsafe struct HeadProblem<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public T* Hidden;
    public T* Weight;
    public T* Bias;
    public int* Labels;
    public T* ClassWeights;
    public T* RowWeights;
    public T* HiddenGradient;
    public T* WeightGradient;
    public T* BiasGradient;
    public int Rows;
    public int HiddenSize;
    public int Classes;
    public bool HasIgnore;
    public int Ignore;
    public double Smoothing;
    public double ZLoss;
    public double Softcap;
    public double LogitScale;

    /// <summary>The logit scale and soft-cap as the row kernels apply them (built once per call from the two above).</summary>
    public LogitMap<T> Map;

    /// <summary>What the summed row losses are divided by: the mean's denominator, or 1 for the sum.</summary>
    public double Divisor;

    /// <summary>The sum of the class weights (the number of classes without weights), for label smoothing.</summary>
    public double WeightSum;

    public int Degree;

    /// <summary>The vector width of the element-wise work (the calling thread's, so tests can force one).</summary>
    public SimdWidth Width;

    public readonly bool WantsGradient => HiddenGradient != null || WeightGradient != null || BiasGradient != null;
}

/// <summary>
/// The fused linear head: the logits <c>hidden * weight^T + bias</c> of a block of <see cref="BlockRows"/> rows, computed
/// <see cref="ChunkClasses"/> classes at a time and never stored whole.
/// </summary>
/// <remarks>
/// <para>
/// Per block of rows that are not ignored (gathered, so ignored rows cost no matrix work): a first walk over the class
/// chunks finds each row's maximum, sum of exponentials, label logit and smoothing sum (the shard statistics of the sharded
/// API, merged chunk after chunk in class order); a second walk recomputes each chunk, turns it into its gradient in place
/// and folds it at once into the hidden gradient (<c>+= G * W_chunk</c>), the weight gradient (<c>+= G^T * H</c>) and the
/// bias gradient (column sums of <c>G</c>). The logits are computed twice: one matrix product more than storing them, the
/// price of a working set that does not grow with the number of rows or classes.
/// </para>
/// <para>
/// Working set, on the calling thread: <c>BlockRows * (2 * hiddenSize + ChunkClasses)</c> elements and a few doubles a
/// row, and a packing slot for each thread of the matrix products (<see cref="Gemm.PackingBytes{T}"/>). For floats at
/// <c>hiddenSize = 4096</c> that is 10 MiB plus 1.1 MiB per thread, whatever the number of rows and classes. It lives for
/// the call: the thread keeps at most <see cref="ScratchBuffer.RetainedBytes"/> of each (the blocks, the packing) after it.
/// </para>
/// <para>
/// Deterministic: the blocks, chunks and every sum's order depend only on the shapes, never on the number of threads
/// (the matrix products split their outputs, the element-wise work splits rows).
/// </para>
/// </remarks>
internal static unsafe class LinearHead
{
    /// <summary>Rows per block (not counting ignored rows).</summary>
    public const int BlockRows = 256;

    /// <summary>Classes per chunk of logits.</summary>
    public const int ChunkClasses = 2048;

    /// <summary>Rows per element-wise task.</summary>
    internal const int TaskRows = 16;

    /// <summary>The bytes of scratch a call with these sizes needs on the calling thread.</summary>
    public static nuint ScratchBytes<T>(int rows, int hiddenSize, int classes)
        where T : unmanaged
    {
        int blockRows = Math.Min(BlockRows, Math.Max(rows, 1));
        int chunk = Math.Min(ChunkClasses, classes);
        long elements = (long)blockRows * ((2L * hiddenSize) + chunk);
        return (nuint)((elements * sizeof(T)) + (blockRows * ((RowState.Count * sizeof(double)) + (2 * sizeof(int)))) + 256);
    }

    /// <summary>Runs the call and returns the sum of its row losses (before the division by <see cref="HeadProblem{T}.Divisor"/>).</summary>
    public static double Run<T>(in HeadProblem<T> p)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        try
        {
            return RunBlocks(p);
        }
        finally
        {
            // The blocks and the packing of a large call are the call's own: the thread keeps at most the cap of each.
            ThreadScratch.ReleaseMatrixBuffers();
        }
    }

    private static double RunBlocks<T>(in HeadProblem<T> p)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = p.HiddenSize;
        int blockRows = Math.Min(BlockRows, Math.Max(p.Rows, 1));
        int chunk = Math.Min(ChunkClasses, p.Classes);
        byte* scratch = (byte*)ThreadScratch.Head.Get(ScratchBytes<T>(p.Rows, h, p.Classes));
        var s = new BlockScratch<T>
        {
            Hidden = (T*)scratch,
        };
        s.HiddenGradient = s.Hidden + ((nint)blockRows * h);
        s.Logits = s.HiddenGradient + ((nint)blockRows * h);
        double* state = (double*)(((nint)(s.Logits + ((nint)blockRows * chunk)) + 63) & ~(nint)63);
        s.State = new RowState(state, blockRows);
        s.RowIndex = (int*)(state + (RowState.Count * blockRows));
        s.Label = s.RowIndex + blockRows;

        double total = 0;
        int r = 0;
        while (r < p.Rows)
        {
            int first = r;
            int count = 0;
            while (r < p.Rows && count < blockRows)
            {
                // Each label is read once, here: the caller's labels may change while the call runs (another thread), and a
                // label outside [0, classes) must never index anything. It becomes -1, which makes its row NaN.
                int label = p.Labels[r];
                if (!(p.HasIgnore && label == p.Ignore))
                {
                    s.RowIndex[count] = r;
                    s.Label[count++] = (uint)label < (uint)p.Classes ? label : -1;
                }

                r++;
            }

            if (count > 0)
            {
                for (int t = 0; t < count; t++)
                {
                    new ReadOnlySpan<T>(p.Hidden + ((nint)s.RowIndex[t] * h), h).CopyTo(new Span<T>(s.Hidden + ((nint)t * h), h));
                }

                total += Block(p, s, count, chunk);
            }

            if (p.HiddenGradient != null)
            {
                // The block's rows were gathered before anything was written, so in place (hiddenGradient == hidden) is safe:
                // only rows [first, r) are written, and later blocks read rows from r on.
                int next = 0;
                for (int row = first; row < r; row++)
                {
                    var destination = new Span<T>(p.HiddenGradient + ((nint)row * h), h);
                    if (next < count && s.RowIndex[next] == row)
                    {
                        new ReadOnlySpan<T>(s.HiddenGradient + ((nint)next * h), h).CopyTo(destination);
                        next++;
                    }
                    else
                    {
                        destination.Clear();
                    }
                }
            }
        }

        return total;
    }

    /// <summary>One block of <paramref name="count"/> gathered rows: statistics, losses, then (if wanted) the gradients.</summary>
    private static double Block<T>(in HeadProblem<T> p, in BlockScratch<T> s, int count, int chunk)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int h = p.HiddenSize;
        int classes = p.Classes;
        RowState st = s.State;
        for (int t = 0; t < count; t++)
        {
            st.Max[t] = double.NegativeInfinity;
            st.SumExp[t] = 0;
            st.LabelLogit[t] = 0;
            st.Smoothing[t] = 0;
            st.Shift[t] = double.NaN; // set by the first chunk
        }

        int tasks = (count + TaskRows - 1) / TaskRows;
        int elementDegree = (long)count * chunk >= 1 << 15 ? p.Degree : 1;
        for (int v0 = 0; v0 < classes; v0 += chunk)
        {
            int width = Math.Min(chunk, classes - v0);
            Gemm.MultiplyTransposedB(count, width, h, s.Hidden, h, p.Weight + ((nint)v0 * h), h, s.Logits, width, accumulate: false, p.Degree);
            var work = new StatisticsWork<T>(p, s, count, v0, width);
            ParallelRunner.Run(work, tasks, elementDegree);
        }

        // Row losses, added in row order.
        double eps = p.Smoothing;
        double total = 0;
        for (int t = 0; t < count; t++)
        {
            int row = s.RowIndex[t];
            int label = s.Label[t];
            double lse = st.Max[t] + Math.Log(st.SumExp[t]);
            double wl = label < 0 ? double.NaN : p.ClassWeights == null ? 1 : double.CreateTruncating(p.ClassWeights[label]);
            double loss = (1 - eps) * wl * (lse - st.LabelLogit[t]);
            if (eps != 0)
            {
                loss += eps / classes * ((p.WeightSum * (lse - st.Shift[t])) - st.Smoothing[t]);
            }

            if (p.ZLoss != 0)
            {
                loss += p.ZLoss * lse * lse;
            }

            double rowWeight = p.RowWeights == null ? 1 : double.CreateTruncating(p.RowWeights[row]);
            total += rowWeight * loss;
            st.Lse[t] = lse;
            st.Coefficient[t] = ((1 - eps) * wl) + (eps / classes * p.WeightSum) + (2 * p.ZLoss * lse);
            st.LabelTarget[t] = (1 - eps) * wl;
            st.Scale[t] = rowWeight / p.Divisor;
        }

        if (!p.WantsGradient)
        {
            return total;
        }

        for (int v0 = 0; v0 < classes; v0 += chunk)
        {
            int width = Math.Min(chunk, classes - v0);
            T* weightChunk = p.Weight + ((nint)v0 * h);
            Gemm.MultiplyTransposedB(count, width, h, s.Hidden, h, weightChunk, h, s.Logits, width, accumulate: false, p.Degree);
            var work = new GradientWork<T>(p, s, count, v0, width);
            ParallelRunner.Run(work, tasks, elementDegree);
            if (p.HiddenGradient != null)
            {
                Gemm.MultiplyPlain(count, h, width, s.Logits, width, weightChunk, h, s.HiddenGradient, h, accumulate: v0 > 0, p.Degree);
            }

            if (p.WeightGradient != null)
            {
                Gemm.MultiplyTransposedA(width, h, count, s.Logits, width, s.Hidden, h, p.WeightGradient + ((nint)v0 * h), h, accumulate: true, p.Degree);
            }

            if (p.BiasGradient != null)
            {
                var biasGradient = new Span<T>(p.BiasGradient + v0, width);
                for (int t = 0; t < count; t++)
                {
                    TensorPrimitives.Add(biasGradient, new ReadOnlySpan<T>(s.Logits + ((nint)t * width), width), biasGradient);
                }
            }
        }

        return total;
    }

    /// <summary><c>sum * exp(from - to)</c>, exact when <paramref name="from"/> equals <paramref name="to"/> (also for infinities).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static double Rescale(double sum, double from, double to) => from == to ? sum : sum * Math.Exp(from - to);
}

/// <summary>The calling thread's buffers for one block.</summary>
internal unsafe struct BlockScratch<T>
    where T : unmanaged
{
    /// <summary>The block's hidden rows, gathered: <c>[rows, hiddenSize]</c>.</summary>
    public T* Hidden;

    /// <summary>The block's hidden gradient: <c>[rows, hiddenSize]</c>.</summary>
    public T* HiddenGradient;

    /// <summary>One chunk of logits, then of their gradient: <c>[rows, chunk width]</c>.</summary>
    public T* Logits;

    public RowState State;

    /// <summary>The global row of each gathered row.</summary>
    public int* RowIndex;

    /// <summary>The label of each gathered row as read when it was gathered, or -1 where it was outside the classes.</summary>
    public int* Label;
}

/// <summary>Per-row numbers of a block, in double precision, one array each.</summary>
internal readonly unsafe struct RowState(double* memory, int rows)
{
    public const int Count = 9;

    public double* Max => memory;

    public double* SumExp => memory + rows;

    /// <summary>The (transformed) logit of the row's label.</summary>
    public double* LabelLogit => memory + (2 * rows);

    /// <summary><c>sum_k w_k (z_k - Shift)</c> over the classes seen so far.</summary>
    public double* Smoothing => memory + (3 * rows);

    /// <summary>The first chunk's maximum (0 if not finite): keeps the smoothing sum free of cancellation.</summary>
    public double* Shift => memory + (4 * rows);

    public double* Lse => memory + (5 * rows);

    /// <summary>What multiplies the probability in the gradient: <c>(1 - eps) w_l + (eps / C) sum w + 2 z LSE</c>.</summary>
    public double* Coefficient => memory + (6 * rows);

    /// <summary><c>(1 - eps) w_l</c>, subtracted at the label.</summary>
    public double* LabelTarget => memory + (7 * rows);

    /// <summary>The row's gradient factor: its row weight over the divisor.</summary>
    public double* Scale => memory + (8 * rows);
}

/// <summary>The logit the softmax sees, from a vector of products: bias, logit scale, then soft-capping, in <typeparamref name="T"/>.</summary>
internal static unsafe class LogitTransform<TOps, TVec, T>
    where TOps : ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Apply(in HeadProblem<T> p, TVec product, T* bias)
    {
        TVec v = product;
        if (bias != null)
        {
            v = TOps.Add(v, TOps.Load(bias));
        }

        // The same map (and the same tanh) as the row kernels: c tanh(s v / c) with a cap, s v without.
        if (p.Softcap != 0)
        {
            return p.Map.Apply<TOps, TVec, SoftcapRows>(v);
        }

        return p.LogitScale != 1 ? p.Map.Apply<TOps, TVec, ScaledRows>(v) : v;
    }
}

/// <summary>Turns a chunk of products into logits (in place) and merges its statistics into each row's.</summary>
internal readonly unsafe struct StatisticsWork<T>(HeadProblem<T> p, BlockScratch<T> s, int count, int v0, int width) : IParallelWork
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Run(int task, int worker)
    {
        switch (p.Width)
        {
            case SimdWidth.Vector512:
                Rows<Ops512<T>, Vector512<T>>(task);
                break;
            case SimdWidth.Vector256:
                Rows<Ops256<T>, Vector256<T>>(task);
                break;
            case SimdWidth.Vector128:
                Rows<Ops128<T>, Vector128<T>>(task);
                break;
            default:
                Rows<OpsScalar<T>, T>(task);
                break;
        }
    }

    private void Rows<TOps, TVec>(int task)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        int lanes = TOps.Count;
        int vectorEnd = width - (width % lanes);
        T* bias = p.Bias == null ? null : p.Bias + v0;
        T* weights = p.ClassWeights == null ? null : p.ClassWeights + v0;
        int end = Math.Min(count, (task + 1) * LinearHead.TaskRows);
        RowState st = s.State;
        for (int t = task * LinearHead.TaskRows; t < end; t++)
        {
            T* z = s.Logits + ((nint)t * width);
            TVec maxV = TOps.Create(T.NegativeInfinity);
            for (int j = 0; j < vectorEnd; j += lanes)
            {
                TVec v = LogitTransform<TOps, TVec, T>.Apply(p, TOps.Load(z + j), bias == null ? null : bias + j);
                TOps.Store(v, z + j);
                maxV = TOps.Max(maxV, v);
            }

            T max = TOps.MaxAcross(maxV);
            for (int j = vectorEnd; j < width; j++)
            {
                T v = LogitTransform<OpsScalar<T>, T, T>.Apply(p, z[j], bias == null ? null : bias + j);
                z[j] = v;
                max = T.MaxNative(max, v);
            }

            // A NaN that the hardware max dropped still reaches the sum below, which makes the row NaN.
            double sum = 0;
            if (!T.IsNegativeInfinity(max))
            {
                TVec shift = TOps.Create(max);
                TVec acc = TOps.Zero;
                for (int j = 0; j < vectorEnd; j += lanes)
                {
                    acc = TOps.Add(acc, TOps.ExpDifference(TOps.Load(z + j), shift));
                }

                T total = TOps.Sum(acc);
                for (int j = vectorEnd; j < width; j++)
                {
                    total += OpsScalar<T>.ExpDifference(z[j], max);
                }

                sum = double.CreateTruncating(total);
            }

            double chunkMax = double.CreateTruncating(max);
            double merged = Math.Max(st.Max[t], chunkMax);
            st.SumExp[t] = LinearHead.Rescale(st.SumExp[t], st.Max[t], merged) + LinearHead.Rescale(sum, chunkMax, merged);
            st.Max[t] = merged;

            int label = s.Label[t];
            if ((uint)(label - v0) < (uint)width)
            {
                st.LabelLogit[t] = double.CreateTruncating(z[label - v0]);
            }

            if (p.Smoothing != 0)
            {
                if (double.IsNaN(st.Shift[t]))
                {
                    st.Shift[t] = double.IsFinite(chunkMax) ? chunkMax : 0;
                }

                T shiftT = T.CreateTruncating(st.Shift[t]);
                TVec shift = TOps.Create(shiftT);
                TVec acc = TOps.Zero;
                for (int j = 0; j < vectorEnd; j += lanes)
                {
                    TVec d = TOps.Subtract(TOps.Load(z + j), shift);
                    acc = weights == null ? TOps.Add(acc, d) : TOps.MultiplyAdd(TOps.Load(weights + j), d, acc);
                }

                T smooth = TOps.Sum(acc);
                for (int j = vectorEnd; j < width; j++)
                {
                    smooth += (weights == null ? T.One : weights[j]) * (z[j] - shiftT);
                }

                st.Smoothing[t] += double.CreateTruncating(smooth);
            }
        }
    }
}

/// <summary>Turns a chunk of products into the gradient of the loss with respect to them (in place).</summary>
internal readonly unsafe struct GradientWork<T>(HeadProblem<T> p, BlockScratch<T> s, int count, int v0, int width) : IParallelWork
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Run(int task, int worker)
    {
        switch (p.Width)
        {
            case SimdWidth.Vector512:
                Rows<Ops512<T>, Vector512<T>>(task);
                break;
            case SimdWidth.Vector256:
                Rows<Ops256<T>, Vector256<T>>(task);
                break;
            case SimdWidth.Vector128:
                Rows<Ops128<T>, Vector128<T>>(task);
                break;
            default:
                Rows<OpsScalar<T>, T>(task);
                break;
        }
    }

    private void Rows<TOps, TVec>(int task)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
    {
        int end = Math.Min(count, (task + 1) * LinearHead.TaskRows);
        RowState st = s.State;
        for (int t = task * LinearHead.TaskRows; t < end; t++)
        {
            double rowScale = st.Scale[t] * p.LogitScale;

            // The row's coefficient and its scale as one factor; beyond T's range (logits near T's largest value with
            // z-loss) it is applied as finite factors, so that exponentials that underflowed to 0 give 0, not 0 * inf.
            double coefficient = st.Coefficient[t];
            if (SplitFactor.IsNeeded(T.CreateTruncating(coefficient * rowScale), coefficient, rowScale))
            {
                Row<TOps, TVec, ThreeFactors>(t, SplitFactor.Of<T>(coefficient, rowScale));
            }
            else
            {
                Row<TOps, TVec, OneFactor>(t, new SplitFactor(1, 1, coefficient * rowScale));
            }

            // The label's own target, subtracted where it sits: (1 - eps) w_l, through the chain rule at the label logit.
            int local = s.Label[t] - v0;
            if ((uint)local < (uint)width)
            {
                double labelChain = rowScale;
                if (p.Softcap != 0)
                {
                    double tanh = st.LabelLogit[t] / p.Softcap;
                    labelChain *= 1 - (tanh * tanh);
                }

                s.Logits[((nint)t * width) + local] -= T.CreateTruncating(st.LabelTarget[t] * labelChain);
            }
        }
    }

    /// <summary>
    /// One row of the chunk: <c>(e_k d_k) c - (eps / C) s w_k d_k</c>, with <c>e_k = exp(z_k - LSE)</c>, <c>d_k</c> the cap's
    /// derivative (1 without a cap, applied before the large factor) and <c>c</c> the row's coefficient times its scale.
    /// </summary>
    private void Row<TOps, TVec, TSplit>(int t, SplitFactor factor)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where TSplit : struct, IFactorSplit
    {
        int lanes = TOps.Count;
        int vectorEnd = width - (width % lanes);
        T* bias = p.Bias == null ? null : p.Bias + v0;
        T* weights = p.ClassWeights == null ? null : p.ClassWeights + v0;
        double cap = p.Softcap;
        T inverseCap = cap == 0 ? T.Zero : T.CreateTruncating(1 / cap);
        T* g = s.Logits + ((nint)t * width);
        RowState st = s.State;
        bool smoothing = p.Smoothing != 0;
        T spread = T.CreateTruncating(p.Smoothing / p.Classes * st.Scale[t] * p.LogitScale);
        T lse = T.CreateTruncating(st.Lse[t]);
        TVec last = factor.Vectors<TOps, TVec, T>(out TVec first, out TVec second);
        for (int j = 0; j < vectorEnd; j += lanes)
        {
            TVec z = LogitTransform<TOps, TVec, T>.Apply(p, TOps.Load(g + j), bias == null ? null : bias + j);
            TVec e = TOps.ExpDifference(z, TOps.Create(lse));
            TVec derivative = TOps.Create(T.One);
            if (cap != 0)
            {
                TVec tanh = TOps.Multiply(z, TOps.Create(inverseCap));
                derivative = TOps.Subtract(derivative, TOps.Multiply(tanh, tanh));
                e = TOps.Multiply(e, derivative);
            }

            TVec r = SplitFactor.Times<TOps, TVec, T, TSplit>(e, first, second, last);
            if (smoothing)
            {
                TVec spreadHere = weights == null ? TOps.Create(spread) : TOps.Multiply(TOps.Create(spread), TOps.Load(weights + j));
                r = TOps.Subtract(r, cap != 0 ? TOps.Multiply(spreadHere, derivative) : spreadHere);
            }

            TOps.Store(r, g + j);
        }

        for (int j = vectorEnd; j < width; j++)
        {
            T z = LogitTransform<OpsScalar<T>, T, T>.Apply(p, g[j], bias == null ? null : bias + j);
            T e = OpsScalar<T>.ExpDifference(z, lse);
            T derivative = T.One;
            if (cap != 0)
            {
                T tanh = z * inverseCap;
                derivative -= tanh * tanh;
                e *= derivative;
            }

            T r = SplitFactor.Times<OpsScalar<T>, T, T, TSplit>(
                e, T.CreateTruncating(factor.First), T.CreateTruncating(factor.Second), T.CreateTruncating(factor.Last));
            if (smoothing)
            {
                r -= (weights == null ? spread : spread * weights[j]) * derivative;
            }

            g[j] = r;
        }
    }
}
