namespace SoftmaxCE.Kernels;

/// <summary>
/// The constants of the single-precision tanh of the soft-cap (<see cref="LogitMap{T}"/>):
/// <c>tanh(x) = x P(x^2) / Q(x^2)</c>, <c>P</c> and <c>Q</c> of degree 4, fitted on <c>|x| &lt;= 9.01</c>.
/// </summary>
/// <remarks>
/// The coefficients minimise the largest relative error of <c>P(t) / Q(t)</c> against <c>tanh(sqrt t) / sqrt t</c> for
/// <c>t</c> in <c>[0, 9.01^2]</c> (Lawson's iteration on the linearised problem, in 40-digit arithmetic, with <c>Q(0) = 1</c>):
/// 2.1e-8, 4e-8 with the coefficients rounded to float (<c>scripts/fit-tanh-single.py 4 4 9.01</c>). Beyond 9.01, tanh is 1
/// in float.
/// </remarks>
internal static class TanhSingle
{
    /// <summary>
    /// The clamp of <c>|x|</c>. Beyond 9.01 tanh rounds to 1 in float; at 10 the rational function is <c>1 + 1.8e-6</c>,
    /// far above its rounding errors, so that its value clamped to 1 is exactly 1 there (and so beyond), and tanh's
    /// derivative exactly 0. Between 9.1 and 10 it exceeds 1 too (clamped to 1: right), below 9.1 it is within 4e-8 of tanh.
    /// </summary>
    public const double Clamp = 10;

    public const double P0 = 0.99999997929275713071;
    public const double P1 = 0.13380378563693765307;
    public const double P2 = 0.0034948182542039917202;
    public const double P3 = 0.000020596352231795228326;
    public const double P4 = 1.3336887364123103893e-8;

    public const double Q1 = 0.46713694020539960689;
    public const double Q2 = 0.025874056914789667625;
    public const double Q3 = 0.00032843732297288177157;
    public const double Q4 = 7.7693134027523920577e-7;
}
