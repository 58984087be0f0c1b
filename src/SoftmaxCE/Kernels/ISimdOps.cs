using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The operations the row kernels need, for one vector width. The kernels are written once, generic
/// over an implementation of this interface (<see cref="Ops512{T}"/>, <see cref="Ops256{T}"/>,
/// <see cref="Ops128{T}"/>, <see cref="OpsScalar{T}"/>); the JIT specialises each one, so every call
/// below inlines to one or a few instructions.
/// </summary>
internal unsafe interface ISimdOps<TVec, T>
    where TVec : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    static abstract TVec Load(T* source);
    static abstract void Store(TVec value, T* destination);
    static abstract TVec Create(T value);
    static abstract TVec Zero { get; }
    static abstract TVec Add(TVec left, TVec right);
    static abstract TVec Subtract(TVec left, TVec right);
    static abstract TVec Multiply(TVec left, TVec right);
    static abstract TVec Divide(TVec left, TVec right);

    /// <summary>
    /// <c>left * right + addend</c>: one fused multiply-add where the hardware has FMA, a multiply and an add where it
    /// has not (an x64 core without AVX2, which emulates a fused operation in software lane by lane, tens of times slower).
    /// Nothing in the kernels depends on the single rounding.
    /// </summary>
    static abstract TVec MultiplyAdd(TVec left, TVec right, TVec addend);

    /// <summary>
    /// <c>addend - left * right</c>: one negated fused multiply-add (<c>vfnmadd</c>) where the hardware has FMA, rather
    /// than the negation and multiply-add that <see cref="MultiplyAdd"/> of a negated operand compiles to.
    /// </summary>
    static abstract TVec MultiplyAddNegated(TVec left, TVec right, TVec addend);

    /// <summary>The hardware max: which operand a NaN yields is unspecified. The kernels never rely on
    /// it for NaN propagation: a NaN logit always reaches the sum of exponentials instead.</summary>
    static abstract TVec Max(TVec left, TVec right);

    /// <summary>The hardware min: on x64 it returns its second operand when either is NaN.</summary>
    static abstract TVec Min(TVec left, TVec right);

    /// <summary>
    /// <c>exp(y - shift)</c> for <c>y &lt;= shift</c> (the only inputs the kernels pass): <see cref="ExpSingle"/> and
    /// <see cref="ExpDouble"/>. Negative infinity gives 0; NaN gives NaN.
    /// </summary>
    static abstract TVec ExpDifference(TVec y, TVec shift);

    static abstract TVec Equals(TVec left, TVec right);
    static abstract TVec GreaterThan(TVec left, TVec right);

    /// <summary>The first lane equal to <paramref name="value"/>, or -1.</summary>
    static abstract int IndexOf(TVec vector, T value);
    static abstract TVec Select(TVec mask, TVec ifTrue, TVec ifFalse);

    /// <summary>Lane <c>k</c> holds <c>k</c>.</summary>
    static abstract TVec Indices { get; }

    static abstract T Sum(TVec value);
    static abstract T MaxAcross(TVec value);
}

/// <summary>Masks and functions built from the <see cref="ISimdOps{TVec, T}"/> operations, shared by every width.</summary>
internal static class SimdMasks
{
    /// <summary>All bits set in the lanes <c>k &gt;= first</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec LanesFrom<TOps, TVec, T>(int first)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Indices >= first  <=>  NOT (Indices < first); built from Equals/Max to keep the interface small.
        TVec firstV = TOps.Create(T.CreateTruncating(first));
        return TOps.Equals(TOps.Max(TOps.Indices, firstV), TOps.Indices);
    }
}

[SkipLocalsInit]
internal readonly unsafe struct Ops512<T> : ISimdOps<Vector512<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Load(T* source) => Vector512.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<T> value, T* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Create(T value) => Vector512.Create(value);
    public static Vector512<T> Zero => Vector512<T>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Add(Vector512<T> left, Vector512<T> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Subtract(Vector512<T> left, Vector512<T> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Multiply(Vector512<T> left, Vector512<T> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Divide(Vector512<T> left, Vector512<T> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd(Vector512<T> left, Vector512<T> right, Vector512<T> addend)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector512.MultiplyAddEstimate(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>();
        }

        return Vector512.MultiplyAddEstimate(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Max(Vector512<T> left, Vector512<T> right) => Vector512.MaxNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Min(Vector512<T> left, Vector512<T> right) => Vector512.MinNative(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAddNegated(Vector512<T> left, Vector512<T> right, Vector512<T> addend)
    {
        if (Avx512F.IsSupported)
        {
            return typeof(T) == typeof(float)
                ? Avx512F.FusedMultiplyAddNegated(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>()
                : Avx512F.FusedMultiplyAddNegated(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
        }

        return MultiplyAdd(-left, right, addend);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ExpDifference(Vector512<T> y, Vector512<T> shift)
    {
        if (typeof(T) == typeof(float))
        {
            return ExpSingle.ExpDifference(y.AsSingle(), shift.AsSingle()).As<float, T>();
        }

        return ExpDouble.ExpDifference(y.AsDouble(), shift.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Equals(Vector512<T> left, Vector512<T> right) => Vector512.Equals(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> GreaterThan(Vector512<T> left, Vector512<T> right) => Vector512.GreaterThan(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int IndexOf(Vector512<T> vector, T value) => Vector512.IndexOf(vector, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Select(Vector512<T> mask, Vector512<T> ifTrue, Vector512<T> ifFalse) => Vector512.ConditionalSelect(mask, ifTrue, ifFalse);
    public static Vector512<T> Indices => Vector512<T>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector512<T> value) => Vector512.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MaxAcross(Vector512<T> value) => Ops256<T>.MaxAcross(Vector256.MaxNative(value.GetLower(), value.GetUpper()));
}

[SkipLocalsInit]
internal readonly unsafe struct Ops256<T> : ISimdOps<Vector256<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector256<T>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Load(T* source) => Vector256.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<T> value, T* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Create(T value) => Vector256.Create(value);
    public static Vector256<T> Zero => Vector256<T>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Add(Vector256<T> left, Vector256<T> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Subtract(Vector256<T> left, Vector256<T> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Multiply(Vector256<T> left, Vector256<T> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Divide(Vector256<T> left, Vector256<T> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAdd(Vector256<T> left, Vector256<T> right, Vector256<T> addend)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector256.MultiplyAddEstimate(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>();
        }

        return Vector256.MultiplyAddEstimate(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Max(Vector256<T> left, Vector256<T> right) => Vector256.MaxNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Min(Vector256<T> left, Vector256<T> right) => Vector256.MinNative(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> MultiplyAddNegated(Vector256<T> left, Vector256<T> right, Vector256<T> addend)
    {
        if (Fma.IsSupported)
        {
            return typeof(T) == typeof(float)
                ? Fma.MultiplyAddNegated(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>()
                : Fma.MultiplyAddNegated(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
        }

        return MultiplyAdd(-left, right, addend);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> ExpDifference(Vector256<T> y, Vector256<T> shift)
    {
        if (typeof(T) == typeof(float))
        {
            return ExpSingle.ExpDifference(y.AsSingle(), shift.AsSingle()).As<float, T>();
        }

        return ExpDouble.ExpDifference(y.AsDouble(), shift.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Equals(Vector256<T> left, Vector256<T> right) => Vector256.Equals(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> GreaterThan(Vector256<T> left, Vector256<T> right) => Vector256.GreaterThan(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int IndexOf(Vector256<T> vector, T value) => Vector256.IndexOf(vector, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Select(Vector256<T> mask, Vector256<T> ifTrue, Vector256<T> ifFalse) => Vector256.ConditionalSelect(mask, ifTrue, ifFalse);
    public static Vector256<T> Indices => Vector256<T>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector256<T> value) => Vector256.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MaxAcross(Vector256<T> value) => Ops128<T>.MaxAcross(Vector128.MaxNative(value.GetLower(), value.GetUpper()));
}

[SkipLocalsInit]
internal readonly unsafe struct Ops128<T> : ISimdOps<Vector128<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector128<T>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Load(T* source) => Vector128.Load(source);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector128<T> value, T* destination) => value.Store(destination);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Create(T value) => Vector128.Create(value);
    public static Vector128<T> Zero => Vector128<T>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Add(Vector128<T> left, Vector128<T> right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Subtract(Vector128<T> left, Vector128<T> right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Multiply(Vector128<T> left, Vector128<T> right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Divide(Vector128<T> left, Vector128<T> right) => left / right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MultiplyAdd(Vector128<T> left, Vector128<T> right, Vector128<T> addend)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector128.MultiplyAddEstimate(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>();
        }

        return Vector128.MultiplyAddEstimate(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Max(Vector128<T> left, Vector128<T> right) => Vector128.MaxNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Min(Vector128<T> left, Vector128<T> right) => Vector128.MinNative(left, right);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> MultiplyAddNegated(Vector128<T> left, Vector128<T> right, Vector128<T> addend)
    {
        if (Fma.IsSupported)
        {
            return typeof(T) == typeof(float)
                ? Fma.MultiplyAddNegated(left.AsSingle(), right.AsSingle(), addend.AsSingle()).As<float, T>()
                : Fma.MultiplyAddNegated(left.AsDouble(), right.AsDouble(), addend.AsDouble()).As<double, T>();
        }

        return MultiplyAdd(-left, right, addend);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<T> ExpDifference(Vector128<T> y, Vector128<T> shift)
    {
        if (typeof(T) == typeof(float))
        {
            return ExpSingle.ExpDifference(y.AsSingle(), shift.AsSingle()).As<float, T>();
        }

        return ExpDouble.ExpDifference(y.AsDouble(), shift.AsDouble()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Equals(Vector128<T> left, Vector128<T> right) => Vector128.Equals(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> GreaterThan(Vector128<T> left, Vector128<T> right) => Vector128.GreaterThan(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static int IndexOf(Vector128<T> vector, T value) => Vector128.IndexOf(vector, value);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector128<T> Select(Vector128<T> mask, Vector128<T> ifTrue, Vector128<T> ifFalse) => Vector128.ConditionalSelect(mask, ifTrue, ifFalse);
    public static Vector128<T> Indices => Vector128<T>.Indices;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector128<T> value) => Vector128.Sum(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T MaxAcross(Vector128<T> value)
    {
        T max = value.GetElement(0);
        for (int i = 1; i < Vector128<T>.Count; i++)
        {
            max = T.MaxNative(max, value.GetElement(i));
        }

        return max;
    }
}

/// <summary>One lane: the portable fallback, and the reference the vector widths are tested against.</summary>
[SkipLocalsInit]
internal readonly unsafe struct OpsScalar<T> : ISimdOps<T, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => 1;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Load(T* source) => *source;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(T value, T* destination) => *destination = value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Create(T value) => value;
    public static T Zero => T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Add(T left, T right) => left + right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Subtract(T left, T right) => left - right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Multiply(T left, T right) => left * right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Divide(T left, T right) => left / right;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T MultiplyAdd(T left, T right, T addend) => T.MultiplyAddEstimate(left, right, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Max(T left, T right) => T.MaxNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Min(T left, T right) => T.MinNative(left, right);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T MultiplyAddNegated(T left, T right, T addend) => T.MultiplyAddEstimate(-left, right, addend);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T ExpDifference(T y, T shift) => T.Exp(y - shift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Equals(T left, T right) => left == right ? AllBitsSet : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T GreaterThan(T left, T right) => left > right ? AllBitsSet : T.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int IndexOf(T vector, T value) => vector == value ? 0 : -1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Select(T mask, T ifTrue, T ifFalse) => T.IsNaN(mask) ? ifTrue : ifFalse;

    public static T Indices => T.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(T value) => value;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T MaxAcross(T value) => value;

    // All bits set is a NaN in both float and double; Select tests for it.
    private static T AllBitsSet => T.CreateTruncating(double.NaN);
}
