using System;
using System.Numerics;
using SoftmaxCE.Kernels;
using SoftmaxCE.MatrixMultiply;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The three products of the fused linear head.</summary>
public enum MatrixProduct
{
    /// <summary>C = A * B^T (logits = hidden * weight^T).</summary>
    TransposedB,

    /// <summary>C += A * B (hidden gradient = G * weight).</summary>
    Plain,

    /// <summary>C += A^T * B (weight gradient += G^T * hidden).</summary>
    TransposedA,
}

/// <summary>
/// The internal matrix product against a double reference, on odd shapes that cut every register tile and cache block,
/// for the three products of the fused linear head, at every width this machine can run.
/// </summary>
public abstract unsafe class MatrixMultiplyTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Relative to the sum of the absolute values of an element's products.</summary>
    private static readonly double Tolerance = typeof(T) == typeof(float) ? 1e-5 : 1e-13;

    private static readonly int[] Sizes = [1, 7, 17, 63, 65, 129];

    [Theory]
    [MemberData(nameof(MatrixProducts.ProductsAndModes), MemberType = typeof(MatrixProducts))]
    public void Multiply_OddShapesEveryWidth_MatchesDoubleReference(MatrixProduct product, bool accumulate)
    {
        var random = new Random(11 + (int)product);
        foreach (int m in Sizes)
        {
            foreach (int n in Sizes)
            {
                foreach (int k in Sizes)
                {
                    T[] a = RandomArray(random, m * k);
                    T[] b = RandomArray(random, k * n);
                    T[] c0 = accumulate ? RandomArray(random, m * n) : new T[m * n];
                    (double[] expected, double[] magnitude) = Reference(product, m, n, k, a, b, c0, accumulate);
                    foreach (int width in TestData.WidthBits)
                    {
                        T[] c = (T[])c0.Clone();
                        using (ForcedWidth.Force(width))
                        {
                            Run(product, m, n, k, a, b, c, n, accumulate, degree: 1);
                        }

                        for (int e = 0; e < c.Length; e++)
                        {
                            double error = Math.Abs(double.CreateTruncating(c[e]) - expected[e]);
                            Assert.True(
                                error <= Tolerance * magnitude[e],
                                $"{product} m={m} n={n} k={k} width={width}: element {e} is {c[e]}, expected {expected[e]} (error {error:G3}, allowed {Tolerance * magnitude[e]:G3})");
                        }
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(MatrixProducts.ProductsAndModes), MemberType = typeof(MatrixProducts))]
    public void Multiply_AnyThreadCountAndWidth_IsBitwiseTheSame(MatrixProduct product, bool accumulate)
    {
        // Large enough to be split into tiles on several threads, with a padded row stride for C.
        const int m = 301, n = 1100, k = 283, ldc = n + 5;
        var random = new Random(5);
        T[] a = RandomArray(random, m * k);
        T[] b = RandomArray(random, k * n);
        T[] c0 = RandomArray(random, m * ldc);
        T[] expected = (T[])c0.Clone();
        Run(product, m, n, k, a, b, expected, ldc, accumulate, degree: 1);
        foreach (int width in TestData.WidthBits)
        {
            foreach (int degree in new[] { 1, 2, 3, 8 })
            {
                T[] c = (T[])c0.Clone();
                using (ForcedWidth.Force(width))
                {
                    Run(product, m, n, k, a, b, c, ldc, accumulate, degree);
                }

                Assert.True(expected.AsSpan().SequenceEqual(c), $"{product}: width {width}, {degree} threads differ from one thread");
            }
        }

        // The padding between C's rows is never written.
        for (int i = 0; i < m; i++)
        {
            Assert.True(expected.AsSpan((i * ldc) + n, ldc - n).SequenceEqual(c0.AsSpan((i * ldc) + n, ldc - n)));
        }
    }

    [Fact]
    public void Multiply_ZeroDepth_ClearsOrKeepsC()
    {
        T[] c = [T.One, T.One, T.One, T.One];
        fixed (T* pc = c)
        {
            Gemm.MultiplyPlain<T>(2, 2, 0, null, 0, null, 2, pc, 2, accumulate: true, degree: 1);
            Assert.All(c, x => Assert.Equal(T.One, x));
            Gemm.MultiplyPlain<T>(2, 2, 0, null, 0, null, 2, pc, 2, accumulate: false, degree: 1);
            Assert.All(c, x => Assert.Equal(T.Zero, x));
        }
    }

    private static void Run(MatrixProduct product, int m, int n, int k, T[] a, T[] b, T[] c, int ldc, bool accumulate, int degree)
    {
        fixed (T* pa = a)
        fixed (T* pb = b)
        fixed (T* pc = c)
        {
            switch (product)
            {
                case MatrixProduct.TransposedB: // a [m, k], b [n, k]
                    Gemm.MultiplyTransposedB(m, n, k, pa, k, pb, k, pc, ldc, accumulate, degree);
                    break;
                case MatrixProduct.Plain: // a [m, k], b [k, n]
                    Gemm.MultiplyPlain(m, n, k, pa, k, pb, n, pc, ldc, accumulate, degree);
                    break;
                default: // a [k, m], b [k, n]
                    Gemm.MultiplyTransposedA(m, n, k, pa, m, pb, n, pc, ldc, accumulate, degree);
                    break;
            }
        }
    }

    private static (double[] Value, double[] Magnitude) Reference(MatrixProduct product, int m, int n, int k, T[] a, T[] b, T[] c0, bool accumulate)
    {
        var value = new double[m * n];
        var magnitude = new double[m * n];
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? double.CreateTruncating(c0[(i * n) + j]) : 0;
                double size = Math.Abs(sum);
                for (int p = 0; p < k; p++)
                {
                    double x = double.CreateTruncating(product == MatrixProduct.TransposedA ? a[(p * m) + i] : a[(i * k) + p]);
                    double y = double.CreateTruncating(product == MatrixProduct.TransposedB ? b[(j * k) + p] : b[(p * n) + j]);
                    sum += x * y;
                    size += Math.Abs(x * y);
                }

                value[(i * n) + j] = sum;
                magnitude[(i * n) + j] = size + double.Epsilon;
            }
        }

        return (value, magnitude);
    }

    private static T[] RandomArray(Random random, int length)
    {
        var result = new T[length];
        for (int i = 0; i < length; i++)
        {
            result[i] = T.CreateTruncating((random.NextDouble() * 2) - 1);
        }

        return result;
    }
}

public static class MatrixProducts
{
    public static TheoryData<MatrixProduct, bool> ProductsAndModes()
    {
        var data = new TheoryData<MatrixProduct, bool>();
        foreach (MatrixProduct product in Enum.GetValues<MatrixProduct>())
        {
            data.Add(product, false);
            data.Add(product, true);
        }

        return data;
    }
}

public sealed class MatrixMultiplyTestsSingle : MatrixMultiplyTests<float>;

public sealed class MatrixMultiplyTestsDouble : MatrixMultiplyTests<double>;
