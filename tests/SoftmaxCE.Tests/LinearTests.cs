using System;
using System.Linq;
using System.Numerics;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The option sets and shapes the linear-head tests sweep.</summary>
public static class LinearData
{
    internal static readonly (string Name, CrossEntropyOptions Options, bool Bias, bool ClassWeights, bool RowWeights)[] Configs =
    [
        ("default", default, false, false, false),
        ("sum+ignore+classWeights+bias", new() { Reduction = Reduction.Sum, IgnoreIndex = -100 }, true, true, false),
        ("mean+ignore+smoothing+zloss+scale+softcap+all weights+bias",
            new() { IgnoreIndex = -1, LabelSmoothing = 0.1, ZLoss = 1e-3, LogitScale = 0.7, LogitSoftcap = 5 }, true, true, true),
        ("denominator+smoothing+scale+rowWeights", new() { Denominator = 7.5, LabelSmoothing = 0.2, LogitScale = 1.5 }, false, false, true),
        ("sum+softcap+zloss", new() { Reduction = Reduction.Sum, LogitSoftcap = 2, ZLoss = 0.01 }, true, false, false),
    ];

    /// <summary>(rows, hidden size, classes): tiny, odd, more than one class chunk, more than one row block.</summary>
    internal static readonly (int Rows, int Hidden, int Classes)[] Shapes =
        [(1, 1, 2), (3, 5, 7), (17, 13, 33), (9, 7, 2100), (300, 6, 40)];

    public static TheoryData<int, int> ConfigsAndShapes()
    {
        var data = new TheoryData<int, int>();
        for (int c = 0; c < Configs.Length; c++)
        {
            for (int s = 0; s < Shapes.Length; s++)
            {
                data.Add(c, s);
            }
        }

        return data;
    }
}

/// <summary>
/// <see cref="SoftmaxCrossEntropy.LinearLossAndGradient{T}"/> and <see cref="SoftmaxCrossEntropy.LinearLoss{T}"/> against
/// the double reference (the whole logits, the loss and the chain rule computed the obvious way), with every option.
/// </summary>
public abstract class LinearTests<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly Tolerances Tol = Tolerances.For<T>();

    [Theory]
    [MemberData(nameof(LinearData.ConfigsAndShapes), MemberType = typeof(LinearData))]
    public void LinearLossAndGradient_EveryOption_MatchesDoubleReference(int config, int shape)
    {
        var (name, options, bias, classWeights, rowWeights) = LinearData.Configs[config];
        var (rows, hidden, classes) = LinearData.Shapes[shape];
        LinearProblem p = Rounded(LinearReference.Random(
            (config * 31) + shape, rows, hidden, classes, options, bias, classWeights, rowWeights, options.IgnoreIndex.HasValue ? 3 : 0));
        LinearExpected expected = LinearReference.Compute(p);
        Buffers b = Buffers.For(p);
        T loss = b.Run(p);
        string what = $"{name} [{rows} x {hidden}] x [{classes}]";
        AssertClose(expected.Loss, expected.LossMagnitude, loss, Tol.Loss, what + " loss");
        AssertAllClose(expected.HiddenGradient, expected.HiddenMagnitude, b.HiddenGradient, what + " hidden gradient");
        AssertAllClose(expected.WeightGradient, expected.WeightMagnitude, b.WeightGradient, what + " weight gradient");
        if (bias)
        {
            AssertAllClose(expected.BiasGradient, expected.BiasMagnitude, b.BiasGradient, what + " bias gradient");
        }

        T lossOnly = SoftmaxCrossEntropy.LinearLoss<T>(b.Hidden, b.Weight, b.Bias, p.Labels, hidden, options, b.ClassWeights, b.RowWeights);
        Assert.Equal(loss, lossOnly);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void LinearLossAndGradient_MatchesLossAndGradientOnTheLogits(int config)
    {
        // The library's own cross-entropy on materialised logits (computed in double, rounded once), with the same options:
        // the same loss and logits gradient, so the fused head and the plain call cannot drift apart in their semantics.
        var (name, options, bias, classWeights, rowWeights) = LinearData.Configs[config];
        LinearProblem p = Rounded(LinearReference.Random(70 + config, 23, 9, 300, options, bias, classWeights, rowWeights, options.IgnoreIndex.HasValue ? 4 : 0));
        var logits = new T[p.Rows * p.Classes];
        for (int i = 0; i < p.Rows; i++)
        {
            for (int k = 0; k < p.Classes; k++)
            {
                double y = p.Bias?[k] ?? 0;
                for (int j = 0; j < p.HiddenSize; j++)
                {
                    y += p.Hidden[(i * p.HiddenSize) + j] * p.Weight[(k * p.HiddenSize) + j];
                }

                logits[(i * p.Classes) + k] = T.CreateTruncating(y);
            }
        }

        Buffers b = Buffers.For(p);
        var gradient = new T[logits.Length];
        T expected = SoftmaxCrossEntropy.LossAndGradient<T>(logits, p.Labels, gradient, p.Classes, options, b.ClassWeights, b.RowWeights);
        T loss = b.Run(p);
        LinearExpected reference = LinearReference.Compute(p);
        AssertClose(double.CreateTruncating(expected), reference.LossMagnitude, loss, Tol.Loss, name + ": loss against LossAndGradient");

        // The bias gradient is the column sums of the logits gradient.
        if (bias)
        {
            for (int k = 0; k < p.Classes; k++)
            {
                double sum = 0;
                for (int i = 0; i < p.Rows; i++)
                {
                    sum += double.CreateTruncating(gradient[(i * p.Classes) + k]);
                }

                AssertClose(sum, reference.BiasMagnitude[k], b.BiasGradient[k], Tol.Gradient, $"{name}: bias gradient {k} against LossAndGradient");
            }
        }
    }

    [Fact]
    public void LinearLossAndGradient_EveryWidth_MatchesDoubleReference()
    {
        var (_, options, _, _, _) = LinearData.Configs[2];
        LinearProblem p = Rounded(LinearReference.Random(3, 19, 21, 2100, options, true, true, true, 3));
        LinearExpected expected = LinearReference.Compute(p);
        foreach (int width in TestData.WidthBits)
        {
            Buffers b = Buffers.For(p);
            T loss;
            using (ForcedWidth.Force(width))
            {
                loss = b.Run(p);
            }

            AssertClose(expected.Loss, expected.LossMagnitude, loss, Tol.Loss, $"width {width} loss");
            AssertAllClose(expected.HiddenGradient, expected.HiddenMagnitude, b.HiddenGradient, $"width {width} hidden gradient");
            AssertAllClose(expected.WeightGradient, expected.WeightMagnitude, b.WeightGradient, $"width {width} weight gradient");
            AssertAllClose(expected.BiasGradient, expected.BiasMagnitude, b.BiasGradient, $"width {width} bias gradient");
        }
    }

    [Fact]
    public void LinearLossAndGradient_AnyThreadCount_IsBitwiseTheSame()
    {
        // Two row blocks and two class chunks, large enough for the products and the element-wise work to go parallel.
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LabelSmoothing = 0.1, ZLoss = 1e-4 };
        LinearProblem p = Rounded(LinearReference.Random(8, 300, 64, 2500, options, true, true, false, 5));
        Buffers one = Buffers.For(p);
        T lossOne = one.Run(p with { Options = options with { MaxDegreeOfParallelism = 1 } });
        foreach (int degree in new[] { 0, 2, 3 })
        {
            Buffers many = Buffers.For(p);
            T loss = many.Run(p with { Options = options with { MaxDegreeOfParallelism = degree } });
            Assert.Equal(lossOne, loss);
            Assert.True(one.HiddenGradient.AsSpan().SequenceEqual(many.HiddenGradient), $"hidden gradient, degree {degree}");
            Assert.True(one.WeightGradient.AsSpan().SequenceEqual(many.WeightGradient), $"weight gradient, degree {degree}");
            Assert.True(one.BiasGradient.AsSpan().SequenceEqual(many.BiasGradient), $"bias gradient, degree {degree}");
        }
    }

    [Fact]
    public void LinearLossAndGradient_OnceWarm_AllocatesNothing()
    {
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LabelSmoothing = 0.1, LogitSoftcap = 4, MaxDegreeOfParallelism = 1 };
        LinearProblem p = Rounded(LinearReference.Random(12, 270, 16, 2100, options, true, true, true, 5));
        Buffers b = Buffers.For(p);
        b.Run(p);
        SoftmaxCrossEntropy.LinearLoss<T>(b.Hidden, b.Weight, b.Bias, p.Labels, p.HiddenSize, options, b.ClassWeights, b.RowWeights);
        long before = GC.GetAllocatedBytesForCurrentThread();
        b.Run(p);
        SoftmaxCrossEntropy.LinearLoss<T>(b.Hidden, b.Weight, b.Bias, p.Labels, p.HiddenSize, options, b.ClassWeights, b.RowWeights);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void LinearLossAndGradient_WeightAndBiasGradients_AreAddedTo()
    {
        LinearProblem p = Rounded(LinearReference.Random(4, 7, 5, 33, default, true, false, false, 0));
        Buffers fresh = Buffers.For(p);
        fresh.Run(p);
        Buffers accumulated = Buffers.For(p);
        var random = new Random(1);
        T[] initialWeight = [.. accumulated.WeightGradient.Select(_ => T.CreateTruncating(random.NextDouble()))];
        T[] initialBias = [.. accumulated.BiasGradient.Select(_ => T.CreateTruncating(random.NextDouble()))];
        initialWeight.CopyTo(accumulated.WeightGradient, 0);
        initialBias.CopyTo(accumulated.BiasGradient, 0);
        accumulated.HiddenGradient.AsSpan().Fill(T.CreateTruncating(123)); // overwritten, not added to
        accumulated.Run(p);
        Assert.Equal(fresh.HiddenGradient, accumulated.HiddenGradient);
        for (int i = 0; i < initialWeight.Length; i++)
        {
            AssertClose(double.CreateTruncating(initialWeight[i] + fresh.WeightGradient[i]), 2, accumulated.WeightGradient[i], Tol.Gradient, $"weight gradient {i}");
        }

        for (int i = 0; i < initialBias.Length; i++)
        {
            AssertClose(double.CreateTruncating(initialBias[i] + fresh.BiasGradient[i]), 2, accumulated.BiasGradient[i], Tol.Gradient, $"bias gradient {i}");
        }
    }

    [Fact]
    public void LinearLossAndGradient_EmptyGradients_AreNotComputedAndTheOthersAgree()
    {
        var options = new CrossEntropyOptions { IgnoreIndex = -100, LogitSoftcap = 3 };
        LinearProblem p = Rounded(LinearReference.Random(5, 11, 6, 40, options, true, false, false, 4));
        Buffers all = Buffers.For(p);
        T lossAll = all.Run(p);
        for (int wanted = 0; wanted < 3; wanted++)
        {
            Buffers b = Buffers.For(p);
            T loss = SoftmaxCrossEntropy.LinearLossAndGradient<T>(
                b.Hidden, b.Weight, b.Bias, p.Labels,
                wanted == 0 ? b.HiddenGradient : default,
                wanted == 1 ? b.WeightGradient : default,
                wanted == 2 ? b.BiasGradient : default,
                p.HiddenSize, options);
            Assert.Equal(lossAll, loss);
            Assert.Equal(wanted == 0 ? all.HiddenGradient : new T[all.HiddenGradient.Length], b.HiddenGradient);
            Assert.Equal(wanted == 1 ? all.WeightGradient : new T[all.WeightGradient.Length], b.WeightGradient);
            Assert.Equal(wanted == 2 ? all.BiasGradient : new T[all.BiasGradient.Length], b.BiasGradient);
        }

        Buffers none = Buffers.For(p);
        Assert.Equal(lossAll, SoftmaxCrossEntropy.LinearLossAndGradient<T>(none.Hidden, none.Weight, none.Bias, p.Labels, default, default, default, p.HiddenSize, options));
    }

    [Fact]
    public void LinearLossAndGradient_InPlace_MatchesOutOfPlace()
    {
        var options = new CrossEntropyOptions { IgnoreIndex = -100 };
        LinearProblem p = Rounded(LinearReference.Random(6, 600, 9, 50, options, false, false, false, 3));
        Buffers outOfPlace = Buffers.For(p);
        T expected = outOfPlace.Run(p);
        Buffers b = Buffers.For(p);
        T loss = SoftmaxCrossEntropy.LinearLossAndGradient<T>(b.Hidden, b.Weight, default, p.Labels, b.Hidden, b.WeightGradient, default, p.HiddenSize, options);
        Assert.Equal(expected, loss);
        Assert.Equal(outOfPlace.HiddenGradient, b.Hidden);
        Assert.Equal(outOfPlace.WeightGradient, b.WeightGradient);
    }

    [Fact]
    public void LinearLossAndGradient_EveryRowIgnored_MeanIsNaNAndNothingIsAdded()
    {
        var options = new CrossEntropyOptions { IgnoreIndex = -100 };
        LinearProblem p = Rounded(LinearReference.Random(7, 4, 3, 5, options, true, false, false, 0));
        p = p with { Labels = [-100, -100, -100, -100] };
        Buffers b = Buffers.For(p);
        b.HiddenGradient.AsSpan().Fill(T.One);
        b.WeightGradient.AsSpan().Fill(T.One);
        T loss = b.Run(p);
        Assert.True(T.IsNaN(loss));
        Assert.All(b.HiddenGradient, x => Assert.Equal(T.Zero, x));
        Assert.All(b.WeightGradient, x => Assert.Equal(T.One, x));
        Assert.All(b.BiasGradient, x => Assert.Equal(T.Zero, x));
        Assert.Equal(T.Zero, b.Run(p with { Options = options with { Reduction = Reduction.Sum } }));
    }

    [Fact]
    public void LinearLossAndGradient_BadInput_ThrowsNamingTheArgumentAndLeavesBuffersUntouched()
    {
        LinearProblem p = Rounded(LinearReference.Random(9, 4, 3, 5, new() { IgnoreIndex = -100 }, true, true, true, 0));
        Expect("hiddenSize", b => b.Call(hiddenSize: 0));
        Expect("hidden", b => b.Call(hidden: b.Hidden[1..]));
        Expect("weight", b => b.Call(weight: b.Weight[1..]));
        Expect("weight", b => b.Call(weight: Array.Empty<T>()));
        Expect("bias", b => b.Call(bias: b.Bias[1..]));
        Expect("labels", b => b.Call(labels: [0, 1, 2]));
        Expect("labels", b => b.Call(labels: [0, 1, 5, 2]));
        Expect("labels", b => b.Call(labels: [0, -1, 2, 2]));
        Expect("hiddenGradient", b => b.Call(hiddenGradient: b.HiddenGradient[1..]));
        Expect("weightGradient", b => b.Call(weightGradient: b.WeightGradient[1..]));
        Expect("biasGradient", b => b.Call(biasGradient: b.BiasGradient[1..]));
        Expect("biasGradient", b => b.Call(bias: Array.Empty<T>(), biasGradient: b.BiasGradient));
        Expect("classWeights", b => b.Call(classWeights: new T[] { T.One }));
        Expect("rowWeights", b => b.Call(rowWeights: new T[] { T.One }));
        Expect("rowWeights", b => b.Call(rowWeights: new T[] { T.One, -T.One, T.One, T.One }));
        Expect("rowWeights", b => b.Call(rowWeights: new T[] { T.One, T.NaN, T.One, T.One }));
        Expect("options", b => b.Call(options: new() { LabelSmoothing = 2 }));
        Expect("options", b => b.Call(options: new() { MaxDegreeOfParallelism = -1 }));
        Expect("options", b => b.Call(options: new() { LogitScale = -2 }));
        Expect("hiddenGradient", b => b.Call(hidden: Seg(b.Scratch, 0, 12), hiddenGradient: Seg(b.Scratch, 3, 12)));
        Expect("weightGradient", b => b.Call(weightGradient: b.Weight));
        Expect("weightGradient", b => b.Call(hiddenGradient: Seg(b.Scratch, 0, 12), weightGradient: Seg(b.Scratch, 10, 15)));
        Expect("biasGradient", b => b.Call(biasGradient: b.Bias));
        Expect("biasGradient", b => b.Call(weightGradient: Seg(b.Scratch, 0, 15), biasGradient: Seg(b.Scratch, 10, 5)));
        Expect("hiddenGradient", b => b.Call(hiddenGradient: Seg(b.ClassWeightsAndGradient, 0, 12), classWeights: Seg(b.ClassWeightsAndGradient, 10, 5)));

        void Expect(string parameter, Action<BadCall> call)
        {
            var bad = new BadCall(p);
            T[][] before = bad.Outputs.Select(o => (T[])o.Clone()).ToArray();
            ArgumentException e = Assert.ThrowsAny<ArgumentException>(() => call(bad));
            Assert.Equal(parameter, e.ParamName);
            for (int i = 0; i < before.Length; i++)
            {
                Assert.Equal(before[i], bad.Outputs[i]);
            }
        }
    }

    private static ArraySegment<T> Seg(T[] array, int offset, int count) => new(array, offset, count);

    private sealed class BadCall(LinearProblem p)
    {
        public readonly T[] Hidden = Convert(p.Hidden);
        public readonly T[] Weight = Convert(p.Weight);
        public readonly T[] Bias = Convert(p.Bias!);
        public readonly T[] HiddenGradient = Filled(p.Hidden.Length, 7);
        public readonly T[] WeightGradient = Filled(p.Weight.Length, 8);
        public readonly T[] BiasGradient = Filled(p.Classes, 9);
        public readonly T[] Scratch = Filled(64, 10);
        public readonly T[] ClassWeightsAndGradient = Filled(64, 1);

        public T[][] Outputs => [HiddenGradient, WeightGradient, BiasGradient, Scratch, ClassWeightsAndGradient, Hidden, Weight, Bias];

        public void Call(
            int hiddenSize = 3, ArraySegment<T>? hidden = null, ArraySegment<T>? weight = null, ArraySegment<T>? bias = null, int[]? labels = null,
            ArraySegment<T>? hiddenGradient = null, ArraySegment<T>? weightGradient = null, ArraySegment<T>? biasGradient = null,
            CrossEntropyOptions? options = null, ArraySegment<T>? classWeights = null, ArraySegment<T>? rowWeights = null)
        {
            SoftmaxCrossEntropy.LinearLossAndGradient<T>(
                hidden ?? Hidden, weight ?? Weight, bias ?? Bias, labels ?? p.Labels,
                hiddenGradient ?? HiddenGradient, weightGradient ?? WeightGradient, biasGradient ?? BiasGradient,
                hiddenSize, options ?? p.Options, classWeights ?? Convert(p.ClassWeights!), rowWeights ?? Convert(p.RowWeights!));
        }

        private static T[] Filled(int length, int value) => Enumerable.Repeat(T.CreateTruncating(value), length).ToArray();
    }

    /// <summary>The problem with its inputs rounded to <typeparamref name="T"/>, so the reference sees what the library sees.</summary>
    internal static LinearProblem Rounded(LinearProblem p) => p with
    {
        Hidden = Round(p.Hidden)!,
        Weight = Round(p.Weight)!,
        Bias = Round(p.Bias),
        ClassWeights = Round(p.ClassWeights),
        RowWeights = Round(p.RowWeights),
    };

    private static double[]? Round(double[]? values) => values?.Select(x => double.CreateTruncating(T.CreateTruncating(x))).ToArray();

    internal static T[] Convert(double[] values) => [.. values.Select(T.CreateTruncating)];

    private static void AssertClose(double expected, double magnitude, T actual, double tolerance, string what)
    {
        double a = double.CreateTruncating(actual);
        double error = Math.Abs(a - expected);
        Assert.True(
            error <= (tolerance * magnitude) + Tol.Floor,
            $"{what}: {a} but expected {expected} (error {error:G3}, allowed {tolerance * magnitude:G3})");
    }

    private static void AssertAllClose(double[] expected, double[] magnitude, T[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            AssertClose(expected[i], magnitude[i], actual[i], Tol.Gradient, $"{what}[{i}]");
        }
    }

    /// <summary>Inputs and gradient buffers of one problem, in <typeparamref name="T"/>.</summary>
    internal sealed class Buffers
    {
        public T[] Hidden = [];
        public T[] Weight = [];
        public T[] Bias = [];
        public T[] ClassWeights = [];
        public T[] RowWeights = [];
        public T[] HiddenGradient = [];
        public T[] WeightGradient = [];
        public T[] BiasGradient = [];

        public static Buffers For(LinearProblem p) => new()
        {
            Hidden = Convert(p.Hidden),
            Weight = Convert(p.Weight),
            Bias = p.Bias is null ? [] : Convert(p.Bias),
            ClassWeights = p.ClassWeights is null ? [] : Convert(p.ClassWeights),
            RowWeights = p.RowWeights is null ? [] : Convert(p.RowWeights),
            HiddenGradient = new T[p.Hidden.Length],
            WeightGradient = new T[p.Weight.Length],
            BiasGradient = new T[p.Classes],
        };

        public T Run(LinearProblem p) => SoftmaxCrossEntropy.LinearLossAndGradient<T>(
            Hidden, Weight, Bias, p.Labels, HiddenGradient, WeightGradient, Bias.Length == 0 ? default : BiasGradient,
            p.HiddenSize, p.Options, ClassWeights, RowWeights);
    }
}

public sealed class LinearTestsSingle : LinearTests<float>;

public sealed class LinearTestsDouble : LinearTests<double>;
