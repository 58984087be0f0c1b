// TorchSharpAutograd: SoftmaxCE inside TorchSharp's autograd, as a custom function (SoftmaxCrossEntropyFunction.cs).
// A small multilayer perceptron is trained twice from the same seed, once with TorchSharp's cross_entropy and once
// with the function, for each option set (mean; ignore index + class weights + label smoothing; sum; none with a
// different upstream gradient per row). The losses must agree at every step within 1e-5 relative and the final
// weights within 1e-4; the gradients of one batch are compared directly too; then both losses' forward + backward are
// timed. Run it with run.sh beside this file (libtorch needs a newer glibc than Debian 12's). Exit code 1 on any
// disagreement.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

const int Examples = 4096, Features = 20, Hidden = 64, Classes = 10, Batch = 128, Epochs = 3;
const double StepRelativeTolerance = 1e-5, WeightTolerance = 1e-4;

// One thread for libtorch (and MaxDegreeOfParallelism = 1 for SoftmaxCE): the runs are reproducible and the two
// losses are timed on equal terms.
set_num_threads(1);
bool allAgree = true;

// Gaussian blobs: one centre per class, unit noise. Labels with one in 10 set to the ignored label, for the options.
manual_seed(2026);
Tensor centres = (randn(Classes, Features) * 2).DetachFromDisposeScope();
Tensor labels = randint(Classes, [Examples], ScalarType.Int64).DetachFromDisposeScope();
Tensor inputs = (centres.index_select(0, labels) + randn(Examples, Features)).DetachFromDisposeScope();
Tensor labelsWithIgnored = labels.clone().DetachFromDisposeScope();
labelsWithIgnored[arange(0, Examples, 10)] = tensor(-100L);
float[] classWeights = Enumerable.Range(0, Classes).Select(k => 0.5f + (0.1f * k)).ToArray();
Tensor rowScale = (rand(Batch) + 0.5f).DetachFromDisposeScope(); // upstream gradients for reduction='none'

var configurations = new (string Name, LossSettings Settings, Tensor Labels, double LearningRate)[]
{
    ("mean", new LossSettings(), labels, 0.1),
    ("mean, ignore_index, weight, label_smoothing 0.1", new LossSettings(classWeights: classWeights, labelSmoothing: 0.1), labelsWithIgnored, 0.1),
    ("sum", new LossSettings(nn.Reduction.Sum), labels, 0.1 / Batch),
    ("none (upstream gradient varies by row), weight, label_smoothing 0.05", new LossSettings(nn.Reduction.None, classWeights, 0.05), labelsWithIgnored, 0.1),
};

Console.WriteLine(Invariant($"MLP {Features}-{Hidden}-{Classes}, {Examples} examples, batches of {Batch}, {Epochs} epochs, SGD; torch {__version__}, one thread"));
foreach (var (name, settings, trainLabels, learningRate) in configurations)
{
    var reference = Train(settings, trainLabels, learningRate, useSoftmaxCE: false);
    var ours = Train(settings, trainLabels, learningRate, useSoftmaxCE: true);

    double worstStep = 0;
    for (int s = 0; s < reference.Losses.Count; s++)
    {
        worstStep = Math.Max(worstStep, RelativeError(ours.Losses[s], reference.Losses[s]));
    }

    double worstWeight = 0;
    for (int p = 0; p < reference.Weights.Count; p++)
    {
        for (int i = 0; i < reference.Weights[p].Length; i++)
        {
            worstWeight = Math.Max(worstWeight, AbsoluteError(ours.Weights[p][i], reference.Weights[p][i]));
        }
    }

    bool agrees = worstStep <= StepRelativeTolerance && worstWeight <= WeightTolerance;
    allAgree &= agrees;
    Console.WriteLine();
    Console.WriteLine($"== {name}");
    Console.WriteLine("  step   torch cross_entropy   SoftmaxCE function   relative difference");
    for (int s = 0; s < reference.Losses.Count; s++)
    {
        if (s % 8 == 0 || s == reference.Losses.Count - 1)
        {
            Console.WriteLine(Invariant($"  {s + 1,4}   {reference.Losses[s],19:F7}   {ours.Losses[s],18:F7}   {RelativeError(ours.Losses[s], reference.Losses[s]),19:E1}"));
        }
    }

    Console.WriteLine(Invariant(
        $"  every one of {reference.Losses.Count} steps within {worstStep:E1} relative (limit {StepRelativeTolerance:E0}); final weights within {worstWeight:E1} (limit {WeightTolerance:E0})  {(agrees ? "ok" : "DISAGREES")}"));
    Console.WriteLine(Invariant(
        $"  loss op, forward + backward, median per training step: torch {reference.LossMicroseconds:F1} us, SoftmaxCE {ours.LossMicroseconds:F1} us"));
}

// One batch's gradient compared directly, and the loss op timed alone, at a language-model shape.
Console.WriteLine();
Console.WriteLine("== one batch of 256 x 32000 logits (a language model's vocabulary), forward + backward of the loss alone");
{
    manual_seed(7);
    using Tensor logits = randn(256, 32000) * 3;
    using Tensor bigLabels = randint(32000, [256], ScalarType.Int64);
    bigLabels[arange(0, 256, 16)] = tensor(-100L);
    float[] bigWeights = Enumerable.Range(0, 32000).Select(k => 0.5f + (k % 7 * 0.1f)).ToArray();
    foreach (var (name, settings) in new[]
    {
        ("mean", new LossSettings()),
        ("mean, ignore_index, weight, label_smoothing 0.1", new LossSettings(classWeights: bigWeights, labelSmoothing: 0.1)),
    })
    {
        var (lossError, gradientError) = CompareOnce(logits, bigLabels, settings);
        bool agrees = lossError <= 1e-5 && gradientError <= 1e-6;
        allAgree &= agrees;
        double torchTime = TimeLossOp(logits, bigLabels, settings, useSoftmaxCE: false, repeats: 25);
        double oursTime = TimeLossOp(logits, bigLabels, settings, useSoftmaxCE: true, repeats: 25);
        Console.WriteLine(Invariant(
            $"  {name}: loss within {lossError:E1} relative, gradient within {gradientError:E1}  {(agrees ? "ok" : "DISAGREES")}; time torch {torchTime / 1e3:F2} ms, SoftmaxCE {oursTime / 1e3:F2} ms ({torchTime / oursTime:F1}x)"));
    }
}

// Inputs the function does not take go to TorchSharp's cross_entropy, with one log line for all of them.
Console.WriteLine();
Console.WriteLine("== fallback");
{
    var settings = new LossSettings();
    using Tensor logits = randn(Classes, 64).t(); // [64, 10], not contiguous
    using Tensor fallbackLabels = randint(Classes, [64], ScalarType.Int64);
    float viaFallback = CrossEntropy.Loss(logits, fallbackLabels, settings).item<float>();
    double viaDouble = CrossEntropy.Loss(logits.contiguous().to_type(ScalarType.Float64), fallbackLabels, settings).item<double>();
    float direct = CrossEntropy.Loss(logits.contiguous(), fallbackLabels, settings).item<float>();
    float expected = settings.TorchLoss(logits, fallbackLabels).item<float>();
    bool agrees = viaFallback == expected && RelativeError(viaDouble, expected) <= 1e-6 && RelativeError(direct, expected) <= 1e-6;
    allAgree &= agrees;
    Console.WriteLine(Invariant(
        $"  non-contiguous float32 {viaFallback:F7}, float64 {viaDouble:F7}, contiguous float32 through SoftmaxCE {direct:F7}, torch {expected:F7}  {(agrees ? "ok" : "DISAGREES")}"));
}

Console.WriteLine();
Console.WriteLine(allAgree ? "SoftmaxCE's autograd function agrees with torch.nn.functional.cross_entropy" : "DISAGREEMENT with torch.nn.functional.cross_entropy");
return allAgree ? 0 : 1;

// ---------------------------------------------------------------------------------------------- helpers

// Trains the MLP from seed 1 (same initial weights, same batches for both losses) and returns the objective at every
// step, the final weights, and the median time of the loss op's forward + backward within a step.
(List<float> Losses, List<float[]> Weights, double LossMicroseconds) Train(LossSettings settings, Tensor trainLabels, double learningRate, bool useSoftmaxCE)
{
    manual_seed(1);
    var model = nn.Sequential(("fc1", nn.Linear(Features, Hidden)), ("relu", nn.ReLU()), ("fc2", nn.Linear(Hidden, Classes)));
    var optimizer = optim.SGD(model.parameters(), learningRate);
    var losses = new List<float>();
    var lossTimes = new List<double>();
    for (int epoch = 0; epoch < Epochs; epoch++)
    {
        for (int start = 0; start < Examples; start += Batch)
        {
            using var scope = NewDisposeScope();
            Tensor x = inputs.narrow(0, start, Batch);
            Tensor y = trainLabels.narrow(0, start, Batch);
            optimizer.zero_grad();
            Tensor hidden = model.forward(x);

            // The loss op alone: a leaf cut from the model's output, so its forward and backward can be timed by
            // themselves; its gradient then flows into the model's backward.
            Tensor logits = hidden.detach().requires_grad_(true);
            long begin = Stopwatch.GetTimestamp();
            Tensor loss = useSoftmaxCE ? CrossEntropy.Loss(logits, y, settings) : settings.TorchLoss(logits, y);
            Tensor objective = settings.Reduction == nn.Reduction.None ? (loss * rowScale).sum() / Batch : loss;
            objective.backward();
            lossTimes.Add(Stopwatch.GetElapsedTime(begin).TotalMicroseconds);

            hidden.backward([logits.grad!]);
            optimizer.step();
            losses.Add(objective.item<float>());
        }
    }

    var weights = model.parameters().Select(p => p.detach().data<float>().ToArray()).ToList();
    lossTimes.Sort();
    return (losses, weights, lossTimes[lossTimes.Count / 2]);
}

// The loss and the logits' gradient of one batch through both losses: (relative loss error, max absolute gradient error).
static (double Loss, double Gradient) CompareOnce(Tensor logits, Tensor labels, LossSettings settings)
{
    using var scope = NewDisposeScope();
    Tensor a = logits.detach().requires_grad_(true);
    Tensor b = logits.detach().requires_grad_(true);
    Tensor lossA = settings.TorchLoss(a, labels);
    Tensor lossB = CrossEntropy.Loss(b, labels, settings);
    lossA.backward();
    lossB.backward();
    double lossError = RelativeError(lossB.item<float>(), lossA.item<float>());
    double gradientError = (a.grad! - b.grad!).abs().max().item<float>();
    return (lossError, gradientError);
}

// Median microseconds of the loss's forward + backward on a fresh leaf, after a warm-up.
static double TimeLossOp(Tensor logits, Tensor labels, LossSettings settings, bool useSoftmaxCE, int repeats)
{
    var times = new double[repeats];
    for (int r = -2; r < repeats; r++)
    {
        using var scope = NewDisposeScope();
        Tensor leaf = logits.detach().requires_grad_(true);
        long begin = Stopwatch.GetTimestamp();
        Tensor loss = useSoftmaxCE ? CrossEntropy.Loss(leaf, labels, settings) : settings.TorchLoss(leaf, labels);
        loss.backward();
        double elapsed = Stopwatch.GetElapsedTime(begin).TotalMicroseconds;
        if (r >= 0)
        {
            times[r] = elapsed;
        }
    }

    Array.Sort(times);
    return times[repeats / 2];
}

static double RelativeError(double actual, double expected) =>
    double.IsNaN(actual) || double.IsNaN(expected) ? double.PositiveInfinity : Math.Abs(actual - expected) / Math.Abs(expected);

static double AbsoluteError(double actual, double expected) =>
    double.IsNaN(actual) || double.IsNaN(expected) ? double.PositiveInfinity : Math.Abs(actual - expected);

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
