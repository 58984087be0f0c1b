using System;
using System.Collections.Concurrent;
using System.Runtime.Intrinsics;
using SoftmaxCE.Kernels;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>
/// The width the tests force is the width the kernels run: every chunk of a call, on the calling thread and on the
/// workers, runs at it; and disposing a forced width restores the one forced before.
/// </summary>
public sealed class ForcedWidthTests
{
    /// <summary>A call that records the vector type each of its chunks runs with, whichever thread runs it.</summary>
    private readonly struct RecordingCall(ConcurrentBag<Type> seen) : IWidthCall<float>
    {
        public int Rows => 64;

        public int Classes => 16384;

        public RowTotals Run<TOps, TVec>(int firstRow, int rowCount)
            where TOps : ISimdOps<TVec, float>
            where TVec : unmanaged
        {
            seen.Add(typeof(TVec));
            return default;
        }
    }

    private static Type VectorOf(int bits) => bits switch
    {
        512 => typeof(Vector512<float>),
        256 => typeof(Vector256<float>),
        128 => typeof(Vector128<float>),
        _ => typeof(float),
    };

    [Theory]
    [MemberData(nameof(TestData.Widths), MemberType = typeof(TestData))]
    public void ForcedWidth_ReachesEveryChunk_OnEveryThread(int bits)
    {
        var seen = new ConcurrentBag<Type>();
        using (ForcedWidth.Force(bits))
        {
            RowChunks.Run<float, RecordingCall>(new RecordingCall(seen), maxDegreeOfParallelism: 4);
        }

        Assert.NotEmpty(seen);
        Assert.All(seen, vector => Assert.Equal(VectorOf(bits), vector));
    }

    [Fact]
    public void ForcedWidth_Dispose_RestoresTheWidthForcedBefore()
    {
        Assert.Equal(default, WidthDispatch.Forced);
        using (ForcedWidth.Force(1))
        {
            using (ForcedWidth.Force(128))
            {
                Assert.Equal(SimdWidth.Vector128, WidthDispatch.Current);
            }

            Assert.Equal(SimdWidth.Scalar, WidthDispatch.Current);
        }

        Assert.Equal(default, WidthDispatch.Forced);
        Assert.Equal(WidthDispatch.Best, WidthDispatch.Current);
    }
}
