// QuickStart: train a softmax regression classifier (logits = W x + b) with SoftmaxCE.
// The data are Gaussian blobs, one per class; the model learns to tell them apart.
// Exits with 1 if the loss did not fall, so CI can run it as a check.
using System;
using System.Globalization;
using SoftmaxCE;

const int Classes = 5, Features = 4, Samples = 1000, Epochs = 50;
const float LearningRate = 0.5f;

var (x, labels) = Blobs(Samples, Classes, Features, seed: 1);   // x: [Samples, Features], labels: [Samples]
var w = new float[Classes * Features];                          // W: [Classes, Features], row-major
var b = new float[Classes];
var logits = new float[Samples * Classes];                      // [Samples, Classes], row-major
var gradient = new float[Samples * Classes];                    // dLoss/dLogits

float startLoss = float.NaN, loss = float.NaN;
#region readme-quickstart-loop
for (int epoch = 1; epoch <= Epochs; epoch++)
{
    Linear(x, w, b, logits, Samples, Features, Classes);       // logits = x W^T + b

    // The mean cross-entropy over the batch, and its gradient with respect to the logits, in one pass.
    loss = SoftmaxCrossEntropy.LossAndGradient(logits, labels, gradient, Classes);

    StepLinear(x, gradient, w, b, Samples, Features, Classes, LearningRate);   // chain rule to W and b, then SGD
    if (epoch == 1) { startLoss = loss; }
    if (epoch == 1 || epoch % 10 == 0) { Console.WriteLine(Invariant($"epoch {epoch,3}: loss {loss:F4}")); }
}
#endregion

Linear(x, w, b, logits, Samples, Features, Classes);
double accuracy = Accuracy(logits, labels, Classes);
Console.WriteLine(Invariant($"final loss {loss:F4} (start {startLoss:F4}), accuracy {accuracy * 100:F1}%"));
return loss < startLoss ? 0 : 1;

// ---------------------------------------------------------------------------------------------- helpers

// logits[i, c] = b[c] + sum_d x[i, d] * w[c, d]
static void Linear(float[] x, float[] w, float[] b, float[] logits, int n, int d, int c)
{
    for (int i = 0; i < n; i++)
    {
        for (int k = 0; k < c; k++)
        {
            float sum = b[k];
            for (int j = 0; j < d; j++) { sum += x[(i * d) + j] * w[(k * d) + j]; }
            logits[(i * c) + k] = sum;
        }
    }
}

// dW = gradient^T x, db = column sums of gradient (the gradient already holds the 1/n of the mean); then W -= lr dW.
static void StepLinear(float[] x, float[] gradient, float[] w, float[] b, int n, int d, int c, float learningRate)
{
    var dw = new float[c * d];
    var db = new float[c];
    for (int i = 0; i < n; i++)
    {
        for (int k = 0; k < c; k++)
        {
            float g = gradient[(i * c) + k];
            db[k] += g;
            for (int j = 0; j < d; j++) { dw[(k * d) + j] += g * x[(i * d) + j]; }
        }
    }

    for (int k = 0; k < c * d; k++) { w[k] -= learningRate * dw[k]; }
    for (int k = 0; k < c; k++) { b[k] -= learningRate * db[k]; }
}

static double Accuracy(float[] logits, int[] labels, int c)
{
    int correct = 0;
    for (int i = 0; i < labels.Length; i++)
    {
        ReadOnlySpan<float> row = logits.AsSpan(i * c, c);
        int predicted = 0;
        for (int k = 1; k < c; k++) { if (row[k] > row[predicted]) { predicted = k; } }
        correct += predicted == labels[i] ? 1 : 0;
    }

    return (double)correct / labels.Length;
}

// n points in d dimensions around c random centres (unit Gaussian noise), with their class labels.
static (float[] X, int[] Labels) Blobs(int n, int c, int d, int seed)
{
    var random = new Random(seed);
    var centres = new float[c * d];
    for (int k = 0; k < centres.Length; k++) { centres[k] = (float)((random.NextDouble() * 6) - 3); }

    var x = new float[n * d];
    var labels = new int[n];
    for (int i = 0; i < n; i++)
    {
        labels[i] = random.Next(c);
        for (int j = 0; j < d; j++)
        {
            double gaussian = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            x[(i * d) + j] = centres[(labels[i] * d) + j] + (float)gaussian;
        }
    }

    return (x, labels);
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
