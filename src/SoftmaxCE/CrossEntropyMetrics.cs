namespace SoftmaxCE;

/// <summary>
/// What <see cref="SoftmaxCrossEntropy.LossAndGradientWithMetrics{T}"/> and <see cref="SoftmaxCrossEntropy.LossWithMetrics{T}"/>
/// return: the loss and what a training loop logs next to it, all from the same fused pass.
/// </summary>
/// <typeparam name="T"><see cref="float"/>, <see cref="double"/> or <see cref="System.Half"/>: the element type of the call.</typeparam>
/// <param name="Loss">The reduced loss, z-loss included (as <c>Loss</c> and <c>LossAndGradient</c> return it).</param>
/// <param name="ZLoss">The z-loss part of <paramref name="Loss"/>, reduced the same way (0 without z-loss): log it apart.</param>
/// <param name="CorrectCount">How many counted (not ignored) rows have their label as their argmax.</param>
/// <param name="CountedRows">How many rows are not ignored; the accuracy is <c>CorrectCount / (double)CountedRows</c>.</param>
public readonly record struct CrossEntropyMetrics<T>(T Loss, T ZLoss, int CorrectCount, int CountedRows);
