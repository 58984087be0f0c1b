using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The per-class target weight <c>u_k</c> of one row, where the row's cross-entropy has the form
/// <c>sum_k u_k (LSE - y_k)</c> plus, for class-index labels, a label term handled separately:
/// the smoothing part of a label (<c>u = 1</c> or <c>u = w</c>), or the whole dense target
/// (<c>u = w * ((1 - eps) T + eps / C)</c>). A struct per case, so the JIT drops what a call does not use.
/// </summary>
internal unsafe interface ITargetTerm<TSelf, T>
    where TSelf : struct, ITargetTerm<TSelf, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>False when the row has no such term (labels without smoothing).</summary>
    static abstract bool IsActive { get; }

    /// <summary>The same term for the row that starts <paramref name="offset"/> elements further on.</summary>
    TSelf AtRow(nuint offset);

    /// <summary>The same term reading its dense targets from <paramref name="rows"/> (a padded copy of rows).</summary>
    TSelf WithTargets(T* rows);

    /// <summary>The term's values at classes <c>index .. index + lanes</c> of this row.</summary>
    TVec Load<TOps, TVec>(nuint index)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged;

    /// <summary>Whether the term is the same for every row (true for the label terms).</summary>
    static abstract bool IsSameForEveryRow { get; }

    /// <summary>
    /// For rows across lanes (<see cref="ShortRowsAcrossLanes{TOps, TVec, T}"/>): the term at class <paramref name="index"/>
    /// of the rows in the lanes, whose classes lie <paramref name="classStride"/> elements apart.
    /// </summary>
    TVec LoadClass<TOps, TVec>(nuint index, nuint classStride)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged;

}

/// <summary>Labels without smoothing: no per-class term.</summary>
internal readonly unsafe struct NoTerm<T> : ITargetTerm<NoTerm<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool IsActive => false;

    public NoTerm<T> AtRow(nuint offset) => this;

    public static bool IsSameForEveryRow => true;

    public NoTerm<T> WithTargets(T* rows) => this;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec LoadClass<TOps, TVec>(nuint index, nuint classStride)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TVec>(nuint index)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.Zero;
}

/// <summary>Label smoothing without class weights: <c>u_k = 1</c>.</summary>
internal readonly unsafe struct OnesTerm<T> : ITargetTerm<OnesTerm<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool IsActive => true;

    public OnesTerm<T> AtRow(nuint offset) => this;

    public static bool IsSameForEveryRow => true;

    public OnesTerm<T> WithTargets(T* rows) => this;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec LoadClass<TOps, TVec>(nuint index, nuint classStride)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.Create(T.One);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TVec>(nuint index)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.Create(T.One);
}

/// <summary>Label smoothing with class weights: <c>u_k = w_k</c>.</summary>
internal readonly unsafe struct WeightsTerm<T>(T* weights) : ITargetTerm<WeightsTerm<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool IsActive => true;

    public WeightsTerm<T> AtRow(nuint offset) => this;

    public static bool IsSameForEveryRow => true;

    public WeightsTerm<T> WithTargets(T* rows) => this;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec LoadClass<TOps, TVec>(nuint index, nuint classStride)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.Create(weights[index]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TVec>(nuint index)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.Load(weights + index);
}

/// <summary>Dense targets, unweighted: <c>u_k = (1 - eps) T_k + eps / C</c>.</summary>
internal readonly unsafe struct DenseTerm<T>(T* targets, T keep, T spread) : ITargetTerm<DenseTerm<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool IsActive => true;

    public DenseTerm<T> AtRow(nuint offset) => new(targets + offset, keep, spread);

    public static bool IsSameForEveryRow => false;

    public DenseTerm<T> WithTargets(T* rows) => new(rows, keep, spread);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec LoadClass<TOps, TVec>(nuint index, nuint classStride)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.MultiplyAdd(TOps.Load(targets + (index * classStride)), TOps.Create(keep), TOps.Create(spread));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TVec>(nuint index)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged => TOps.MultiplyAdd(TOps.Load(targets + index), TOps.Create(keep), TOps.Create(spread));
}

/// <summary>Dense targets with class weights: <c>u_k = w_k ((1 - eps) T_k + eps / C)</c>.</summary>
internal readonly unsafe struct WeightedDenseTerm<T>(T* targets, T* weights, T keep, T spread) : ITargetTerm<WeightedDenseTerm<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static bool IsActive => true;

    public WeightedDenseTerm<T> AtRow(nuint offset) => new(targets + offset, weights, keep, spread);

    public static bool IsSameForEveryRow => false;

    public WeightedDenseTerm<T> WithTargets(T* rows) => new(rows, weights, keep, spread);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec LoadClass<TOps, TVec>(nuint index, nuint classStride)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged =>
        TOps.Multiply(TOps.Create(weights[index]), TOps.MultiplyAdd(TOps.Load(targets + (index * classStride)), TOps.Create(keep), TOps.Create(spread)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TVec Load<TOps, TVec>(nuint index)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged =>
        TOps.Multiply(TOps.Load(weights + index), TOps.MultiplyAdd(TOps.Load(targets + index), TOps.Create(keep), TOps.Create(spread)));
}

/// <summary>
/// The target term's distances <c>sum_k u_k (shift - y_k)</c>, summed in T's lanes scaled by <see cref="Scale"/> (a power
/// of two) so that neither a difference nor a lane's sum overflows T: with logits near T's largest value (1e37 in float
/// at C = 1000, say) a lane's sum of <c>shift - y</c> is far beyond T's range while the loss, <c>eps / C</c> times it, is
/// not. The scaled difference is one fused multiply-add in place of a subtraction, rounded as the subtraction is (a power
/// of two commutes with rounding), and the total is scaled back in double.
/// </summary>
internal static class TermDistance
{
    /// <summary>2^-32: a sum of up to 2^31 differences, each at most twice T's largest value, stays finite.</summary>
    public const double Scale = 1.0 / 4294967296.0;

    /// <summary>1 / <see cref="Scale"/>: what a lane sum, in double, is multiplied by.</summary>
    public const double Unscale = 4294967296.0;

    /// <summary><c>shift * Scale</c> in every lane, for <see cref="Accumulate"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec ScaledShift<TOps, TVec, T>(TVec shift)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T> =>
        TOps.Multiply(shift, TOps.Create(T.CreateTruncating(Scale)));

    /// <summary>
    /// Adds <c>u (shift - y) Scale</c>, with <c>0 * inf := 0</c> (a masked class with no target adds nothing), to
    /// <paramref name="distance"/>, and <c>u</c> to <paramref name="termSum"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate<TOps, TVec, T>(TVec u, TVec y, TVec scaledShift, ref TVec distance, ref TVec termSum)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        TVec product = TOps.Multiply(u, TOps.MultiplyAdd(y, TOps.Create(T.CreateTruncating(-Scale)), scaledShift));
        distance = TOps.Add(distance, TOps.Select(TOps.Equals(u, TOps.Zero), TOps.Zero, product));
        termSum = TOps.Add(termSum, u);
    }

    /// <summary>The sum of a lane vector of <see cref="Accumulate"/>'s distances, scaled back, in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Total<TOps, TVec, T>(TVec distance)
        where TOps : ISimdOps<TVec, T>
        where TVec : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T> =>
        double.CreateTruncating(TOps.Sum(distance)) * Unscale;
}
