using System;
using System.Runtime.InteropServices;
using FluentAssertions;
using SoftmaxCE.Kernels;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>
/// The F16C entry points on their own: every count (below one 16-value step too) converts like the arithmetic path and the
/// cast and writes nothing outside its destination.
/// </summary>
public sealed unsafe class F16cRoutineTests
{
    // Values before and after the destination (and the source): more than one 16-value step, so a store or load that
    // starts up to 16 values early lands in the guard and not in unrelated memory.
    private const int Guard = 32;

    // Quiet NaNs with payloads that no conversion produces from the test's inputs.
    private const uint FloatSentinel = 0x7FC5_5A5A;
    private const ushort HalfSentinel = 0x7D5A;

    public static TheoryData<int> Counts()
    {
        var data = new TheoryData<int>();
        for (int count = 0; count <= 17; count++)
        {
            data.Add(count);
        }

        data.Add(31);
        data.Add(33);
        return data;
    }

    [Theory]
    [MemberData(nameof(Counts))]
    public void Widen_AnyCount_MatchesTheArithmeticBits_AndWritesOnlyItsDestination(int count)
    {
        Half[] source = GuardedHalves(count, new Random(count + 101));
        float[] buffer = new float[Guard + count + Guard];
        MemoryMarshal.Cast<float, uint>(buffer.AsSpan()).Fill(FloatSentinel);

        fixed (Half* s = source)
        fixed (float* d = buffer)
        {
            F16cRoutines.Widen((ushort*)(s + Guard), d + Guard, count);
        }

        CheckWidened(source.AsSpan(Guard, count), buffer, count);
    }

    [Theory]
    [MemberData(nameof(Counts))]
    public void Narrow_AnyCount_MatchesTheArithmeticBits_AndWritesOnlyItsDestination(int count)
    {
        float[] source = GuardedFloats(count, new Random(count + 202));
        ushort[] buffer = new ushort[Guard + count + Guard];
        buffer.AsSpan().Fill(HalfSentinel);

        fixed (float* s = source)
        fixed (ushort* d = buffer)
        {
            F16cRoutines.Narrow(s + Guard, d + Guard, count);
        }

        CheckNarrowed(source.AsSpan(Guard, count), buffer, count);
    }

    /// <summary>The steps of the setup made to fail, by name (the enum is internal).</summary>
    public static TheoryData<string> Faults() =>
        new() { nameof(F16cRoutines.SetupFault.Allocation), nameof(F16cRoutines.SetupFault.Protection), nameof(F16cRoutines.SetupFault.Exception) };

    [Theory]
    [MemberData(nameof(Faults))]
    public void SetUp_AnyStepFails_FallsBackToTheArithmeticConversions(string fault)
    {
        // Where the memory cannot be had or made executable, or the setup throws, no exception leaves the setup and the
        // routines it returns convert every count in arithmetic, to the same bits.
        F16cRoutines.Routines routines = default;
        FluentActions.Invoking(() => routines = F16cRoutines.SetUp(Enum.Parse<F16cRoutines.SetupFault>(fault))).Should().NotThrow();
        routines.IsAvailable.Should().BeFalse();
        foreach (int count in new[] { 0, 1, 15, 16, 17, 100 })
        {
            Half[] halves = GuardedHalves(count, new Random(count + 303));
            float[] widened = new float[Guard + count + Guard];
            MemoryMarshal.Cast<float, uint>(widened.AsSpan()).Fill(FloatSentinel);
            float[] floats = GuardedFloats(count, new Random(count + 404));
            ushort[] narrowed = new ushort[Guard + count + Guard];
            narrowed.AsSpan().Fill(HalfSentinel);
            fixed (Half* h = halves)
            fixed (float* w = widened)
            fixed (float* f = floats)
            fixed (ushort* n = narrowed)
            {
                routines.Widen((ushort*)(h + Guard), w + Guard, count);
                routines.Narrow(f + Guard, n + Guard, count);
            }

            CheckWidened(halves.AsSpan(Guard, count), widened, count);
            CheckNarrowed(floats.AsSpan(Guard, count), narrowed, count);
        }
    }

    [Fact]
    public void SetUp_WithoutFault_FindsTheRoutinesWhereTheProcessHasThem()
    {
        // The hook runs the same setup as the process: with nothing made to fail it finds the routines exactly where the
        // process has them (the page it maps stays mapped: one page for the test run).
        F16cRoutines.SetUp(F16cRoutines.SetupFault.None).IsAvailable.Should().Be(F16cRoutines.IsAvailable);
    }

    /// <summary>Half bits of every kind (normal, subnormal, zero, infinity, NaN), in a source with guard values around it.</summary>
    private static Half[] GuardedHalves(int count, Random rng)
    {
        ushort[] special = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFFFF, 0x3C00];
        var source = new Half[Guard + count + Guard];
        for (int i = 0; i < source.Length; i++)
        {
            int j = i - Guard;
            ushort bits = j >= 0 && j < special.Length ? special[j] : (ushort)rng.Next(0x10000);
            source[i] = BitConverter.UInt16BitsToHalf(bits);
        }

        return source;
    }

    /// <summary>Floats that round every way to Half (ties, overflow, subnormal results, NaN), with guard values around them.</summary>
    private static float[] GuardedFloats(int count, Random rng)
    {
        float[] special = [0f, -0f, 1f, 65504f, 65519.996f, 65520f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 5.9604645e-8f, 2.9802322e-8f, 1.0004883f, -2.9802326e-8f];
        var source = new float[Guard + count + Guard];
        for (int i = 0; i < source.Length; i++)
        {
            int j = i - Guard;
            source[i] = j >= 0 && j < special.Length ? special[j] : (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-30, 20)));
        }

        return source;
    }

    private static void CheckWidened(ReadOnlySpan<Half> source, float[] buffer, int count)
    {
        var arithmetic = new float[count];
        HalfConversion.WidenArithmetic(source, arithmetic);
        for (int i = 0; i < count; i++)
        {
            float actual = buffer[Guard + i];
            float cast = (float)source[i];
            // Every value bit for bit, NaNs included: a signalling NaN comes out quiet from vcvtph2ps, the cast and the
            // arithmetic path alike.
            BitConverter.SingleToUInt32Bits(actual).Should().Be(BitConverter.SingleToUInt32Bits(cast), "element {0} of {1} against the cast", i, count);
            BitConverter.SingleToUInt32Bits(actual).Should().Be(BitConverter.SingleToUInt32Bits(arithmetic[i]), "element {0} of {1} against the arithmetic path", i, count);
        }

        for (int i = 0; i < Guard; i++)
        {
            BitConverter.SingleToUInt32Bits(buffer[i]).Should().Be(FloatSentinel, "guard value {0} before {1} values", Guard - i, count);
            BitConverter.SingleToUInt32Bits(buffer[Guard + count + i]).Should().Be(FloatSentinel, "guard value {0} after {1} values", i, count);
        }
    }

    private static void CheckNarrowed(ReadOnlySpan<float> source, ushort[] buffer, int count)
    {
        var arithmetic = new Half[count];
        HalfConversion.NarrowArithmetic(source, arithmetic);
        for (int i = 0; i < count; i++)
        {
            ushort actual = buffer[Guard + i];
            Half cast = (Half)source[i];
            actual.Should().Be(BitConverter.HalfToUInt16Bits(arithmetic[i]), "element {0} of {1} against the arithmetic path", i, count);
            if (!Half.IsNaN(cast))
            {
                actual.Should().Be(BitConverter.HalfToUInt16Bits(cast), "element {0} of {1} against the cast", i, count);
            }
        }

        for (int i = 0; i < Guard; i++)
        {
            buffer[i].Should().Be(HalfSentinel, "guard value {0} before {1} values", Guard - i, count);
            buffer[Guard + count + i].Should().Be(HalfSentinel, "guard value {0} after {1} values", i, count);
        }
    }
}
