namespace SoftmaxCE.Kernels;

/// <summary>
/// Where a range of a call's rows lies: the logits, the output (null when nothing is written; it may be the logits, in
/// place), the dense target rows (null for labels), and the shape. One value instead of five parameters.
/// </summary>
internal readonly unsafe struct RowBuffers<T>(T* logits, T* output, T* targets, int rows, int classes)
    where T : unmanaged
{
    public T* Logits { get; } = logits;

    public T* Output { get; } = output;

    public T* Targets { get; } = targets;

    public int Rows { get; } = rows;

    public int Classes { get; } = classes;

    /// <summary>Rows <paramref name="firstRow"/> to <paramref name="firstRow"/> + <paramref name="rowCount"/> of these.</summary>
    public RowBuffers<T> Range(int firstRow, int rowCount)
    {
        nint offset = (nint)firstRow * Classes;
        return new(Logits + offset, Output == null ? null : Output + offset, Targets == null ? null : Targets + offset, rowCount, Classes);
    }
}
