namespace SoftmaxCE;

/// <summary>How the per-row losses of a batch are combined into one number (PyTorch's <c>reduction</c>).</summary>
public enum Reduction
{
    /// <summary>
    /// The weighted mean: the sum of the row losses divided by the number of counted rows
    /// (or, with class weights and class-index labels, by the sum of the weights of the counted labels;
    /// with dense targets, by the number of rows). This is the default, as in PyTorch.
    /// </summary>
    Mean = 0,

    /// <summary>The plain sum of the row losses.</summary>
    Sum = 1,
}
