// VocabParallelMpi: the exact cross-entropy loss and gradient of logits split across MPI ranks, two ways at once.
//
//  - Vocabulary (tensor) parallelism, as Megatron-LM does it: the ranks of a tensor-parallel group hold the same rows
//    but different classes (uneven shards). Each computes ShardStatistics on its classes; an all-reduce takes the
//    rows' maxima, a second one adds the sums of exponentials rescaled to that maximum; then each rank computes
//    ShardLossAndGradient on its own classes. Only 2 numbers per row cross the network, never the logits.
//  - Data parallelism: the ranks of a data-parallel group hold different rows (uneven too). Each computes the
//    MeanDenominator of its labels; an all-reduce adds them up, and every call gets the sum as Denominator, so the
//    ranks' gradients are the rows of one big batch's gradient and their losses add up to its loss.
//
// Every factorisation ranks = tensorParallel * dataParallel is run, for two option sets, and checked against the
// unsharded LossAndGradient on the whole batch (which every rank computes): the loss within 1e-6 relative, every
// gradient element within 1e-6. Then the sharded step is timed next to the unsharded call.
// Run with run.sh beside this file, or by hand: mpiexec -n 3 dotnet bin/Release/net10.0/VocabParallelMpi.dll
// Options: --rows N --classes V --repeats R. Exit code 1 on any disagreement (on every rank).
using System;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using MPI;
using SoftmaxCE;

// MPI.NET 1.4.0 is compiled against Microsoft MPI: its [DllImport]s name "msmpi.dll". MPICH (Debian's `mpich`
// package) exports the same functions with the same ABI (MS-MPI descends from MPICH and keeps its integer handles
// and constants), so on Linux we answer that name with MPICH's shared library. This must run before the first MPI
// call. On Windows the resolver returns zero and the default search finds MS-MPI as usual.
NativeLibrary.SetDllImportResolver(typeof(Communicator).Assembly, ResolveMpi);

int rows = IntOption(args, "--rows", 256);
int classes = IntOption(args, "--classes", 32000);
int repeats = IntOption(args, "--repeats", 7);

using var environment = new MPI.Environment(ref args);
Intracommunicator world = Communicator.world;
int size = world.Size;
int rank = world.Rank;
bool root = rank == 0;
if (root)
{
    Console.WriteLine(Invariant($"{size} rank(s) on {System.Environment.ProcessorCount} core(s), MPI library: {MpiLibraryName()}; batch {rows} rows x {classes} classes, float"));
}

// The same batch on every rank (same seed), so each rank can check its part against the unsharded result.
var (logits, labels, labelsWithIgnored, classWeights) = MakeBatch(rows, classes, seed: 2026);
var plain = new CrossEntropyOptions { MaxDegreeOfParallelism = 1 };
var every = new CrossEntropyOptions
{
    IgnoreIndex = -100,
    LabelSmoothing = 0.1,
    ZLoss = 1e-4,
    LogitSoftcap = 30,
    MaxDegreeOfParallelism = 1,
};
var cases = new (string Name, CrossEntropyOptions Options, int[] Labels, float[] Weights)[]
{
    ("no options", plain, labels, []),
    ("every option", every, labelsWithIgnored, classWeights),
};

bool allAgree = true;
foreach (var (name, options, caseLabels, weights) in cases)
{
    // The unsharded reference: one call on the whole batch, on every rank.
    var referenceGradient = new float[rows * classes];
    float referenceLoss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, caseLabels, referenceGradient, classes, options, weights);

    for (int tensorParallel = 1; tensorParallel <= size; tensorParallel++)
    {
        if (size % tensorParallel != 0)
        {
            continue;
        }

        using var layout = new Layout(world, tensorParallel, rows, classes);
        var step = new ShardedStep(layout, logits, caseLabels, weights, options);
        float loss = step.Run();

        // Compare this rank's block of the gradient with the same block of the unsharded one.
        double worstGradient = 0;
        for (int i = 0; i < layout.RowCount; i++)
        {
            for (int k = 0; k < layout.ClassCount; k++)
            {
                double expected = referenceGradient[((layout.RowStart + i) * classes) + layout.ClassStart + k];
                double actual = step.Gradient[(i * layout.ClassCount) + k];
                double error = Math.Abs(actual - expected);
                worstGradient = double.IsNaN(error) ? double.PositiveInfinity : Math.Max(worstGradient, error);
            }
        }

        worstGradient = world.Allreduce(worstGradient, Operation<double>.Max);
        double lossError = Math.Abs(((double)loss - referenceLoss) / referenceLoss);
        bool agrees = lossError <= 1e-6 && worstGradient <= 1e-6; // false for NaN too
        allAgree &= agrees;
        if (root)
        {
            Console.WriteLine(Invariant(
                $"{name,-12} tensor-parallel {tensorParallel} x data-parallel {layout.DataParallel}: loss {loss:R} vs unsharded {referenceLoss:R} (relative error {lossError:E1}), max |gradient error| {worstGradient:E1}  {(agrees ? "ok" : "DISAGREES")}"));
        }
    }
}

// Timing: the sharded step (statistics, two all-reduces, shard loss and gradient, the denominator's and the loss's
// all-reduces) against the unsharded call on the whole batch, both on one thread per rank and run by every rank at
// once (so both see the same contention when ranks outnumber cores). Medians of the slowest rank's times.
{
    using var layout = new Layout(world, size, rows, classes);
    var step = new ShardedStep(layout, logits, labels, [], plain);
    var gradient = new float[rows * classes];
    var (sharded, communication) = MedianSlowest(world, repeats, () =>
    {
        step.Run();
        return step.CommunicationSeconds;
    });
    var (unsharded, _) = MedianSlowest(world, repeats, () =>
    {
        SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, gradient, classes, plain);
        return 0;
    });
    int smallest = world.Allreduce(layout.ClassCount, Operation<int>.Min);
    int largest = world.Allreduce(layout.ClassCount, Operation<int>.Max);
    if (root)
    {
        Console.WriteLine(Invariant(
            $"time, no options, tensor-parallel {size}: sharded step {sharded * 1e3:F2} ms, of which all-reduces {communication * 1e3:F2} ms (shards of {smallest} to {largest} of the {classes} classes) vs unsharded {unsharded * 1e3:F2} ms (all classes), one thread per rank, median of {repeats}"));
    }
}

if (root)
{
    Console.WriteLine(allAgree ? "every layout agrees with the unsharded call" : "SOME LAYOUT DISAGREES with the unsharded call");
}

return allAgree ? 0 : 1;

// ---------------------------------------------------------------------------------------------- helpers

static IntPtr ResolveMpi(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
{
    if (libraryName == "msmpi.dll" && !OperatingSystem.IsWindows())
    {
        string mpich = System.Environment.GetEnvironmentVariable("MPICH_LIBRARY") ?? "libmpich.so.12";
        return NativeLibrary.Load(mpich);
    }

    return IntPtr.Zero; // the default search
}

static string MpiLibraryName() => OperatingSystem.IsWindows() ? "msmpi.dll" : System.Environment.GetEnvironmentVariable("MPICH_LIBRARY") ?? "libmpich.so.12";

// Each rank's time for one call, and the part of it that the call reports (its all-reduces). The call's time is the
// slowest rank's (a collective step is as slow as its slowest rank); the reported part is the smallest over the ranks
// (a faster rank's all-reduce also waits for the slowest one; the slowest rank's waits least). Medians over repeats,
// after one untimed warm-up.
static (double Seconds, double ReportedSeconds) MedianSlowest(Intracommunicator world, int repeats, Func<double> action)
{
    action();
    var times = new double[repeats];
    var reported = new double[repeats];
    for (int r = 0; r < repeats; r++)
    {
        world.Barrier();
        long start = Stopwatch.GetTimestamp();
        double part = action();
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        times[r] = world.Allreduce(seconds, Operation<double>.Max);
        reported[r] = world.Allreduce(part, Operation<double>.Min);
    }

    Array.Sort(times);
    Array.Sort(reported);
    return (times[repeats / 2], reported[repeats / 2]);
}

// Standard-normal logits times 3, labels uniform over the classes (a second copy with one row in 16 ignored), and
// class weights in [0.5, 1.5).
static (float[] Logits, int[] Labels, int[] LabelsWithIgnored, float[] ClassWeights) MakeBatch(int rows, int classes, int seed)
{
    var random = new Random(seed);
    var logits = new float[rows * classes];
    for (int i = 0; i < logits.Length; i++)
    {
        double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        logits[i] = (float)(3 * gaussian);
    }

    var labels = new int[rows];
    var labelsWithIgnored = new int[rows];
    for (int i = 0; i < rows; i++)
    {
        labels[i] = random.Next(classes);
        labelsWithIgnored[i] = i % 16 == 5 ? -100 : labels[i];
    }

    var weights = new float[classes];
    for (int k = 0; k < classes; k++)
    {
        weights[k] = 0.5f + random.NextSingle();
    }

    return (logits, labels, labelsWithIgnored, weights);
}

static int IntOption(string[] args, string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
