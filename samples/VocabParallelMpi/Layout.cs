using System;
using MPI;

/// <summary>
/// Where this rank sits in a grid of <c>tensorParallel x dataParallel</c> ranks, which block of the global
/// <c>[rows, classes]</c> logits it holds, and its two communicators: the ranks holding the same rows (the
/// tensor-parallel group, which all-reduces the row statistics) and the ranks holding the same classes (the
/// data-parallel group, which all-reduces the denominator). World rank <c>r</c> is tensor-parallel rank
/// <c>r % tensorParallel</c> in data-parallel position <c>r / tensorParallel</c>.
/// </summary>
internal sealed class Layout : IDisposable
{
    public Layout(Intracommunicator world, int tensorParallel, int rows, int classes)
    {
        World = world;
        TensorParallel = tensorParallel;
        DataParallel = world.Size / tensorParallel;
        int tensorRank = world.Rank % tensorParallel;
        int dataRank = world.Rank / tensorParallel;
        (ClassStart, ClassCount) = UnevenPart(classes, tensorParallel, tensorRank);
        (RowStart, RowCount) = UnevenPart(rows, DataParallel, dataRank);
        Classes = classes;

        // Same color = same group; the key orders the ranks inside it.
        TensorGroup = (Intracommunicator)world.Split(dataRank, tensorRank);
        DataGroup = (Intracommunicator)world.Split(tensorRank, dataRank);
    }

    public Intracommunicator World { get; }

    /// <summary>The ranks that hold the same rows and different classes.</summary>
    public Intracommunicator TensorGroup { get; }

    /// <summary>The ranks that hold the same classes and different rows.</summary>
    public Intracommunicator DataGroup { get; }

    public int TensorParallel { get; }

    public int DataParallel { get; }

    public int Classes { get; }

    public int ClassStart { get; }

    public int ClassCount { get; }

    public int RowStart { get; }

    public int RowCount { get; }

    public void Dispose()
    {
        TensorGroup.Dispose();
        DataGroup.Dispose();
    }

    // Part j of n takes a share proportional to j + 1 (parts of 1/10, 2/10, 3/10, 4/10 for n = 4): deliberately
    // uneven, as when a vocabulary does not divide by the number of devices, or batches hold different token counts.
    private static (int Start, int Count) UnevenPart(int total, int parts, int part)
    {
        long units = (long)parts * (parts + 1) / 2;
        int start = (int)(total * ((long)part * (part + 1) / 2) / units);
        int end = (int)(total * ((long)(part + 1) * (part + 2) / 2) / units);
        return (start, end - start);
    }
}
