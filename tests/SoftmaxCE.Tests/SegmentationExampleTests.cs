using System;
using System.Numerics.Tensors;
using Xunit;

namespace SoftmaxCE.Tests;

/// <summary>The "Segmentation and N-d inputs" example of docs/USAGE.md, compiled and run (#region readme-segmentation).</summary>
public class SegmentationExampleTests
{
    [Fact]
    public void ReadmeExample_ClassAxisOne_MatchesTheRowMajorReference()
    {
        const int N = 2, C = 5, H = 3, W = 4;
        var random = new Random(7);
        float[] data = new float[N * C * H * W];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = (float)(random.NextDouble() * 6 - 3);
        }

        int[] pixelLabels = new int[N * H * W];
        for (int i = 0; i < pixelLabels.Length; i++)
        {
            pixelLabels[i] = i % 7 == 3 ? 255 : random.Next(C); // 255: "void" pixels, ignored
        }

        #region readme-segmentation
        // PyTorch's layout: logits (N, C, H, W), labels (N, H, W); the classes are on axis 1.
        Tensor<float> logits = Tensor.Create(data, [N, C, H, W]);
        Tensor<int> labels = Tensor.Create(pixelLabels, [N, H, W]);
        Tensor<float> gradient = Tensor.Create(new float[data.Length], [N, C, H, W]);
        float loss = SoftmaxCrossEntropy.LossAndGradient<float>(logits, labels, gradient,
            new CrossEntropyOptions { IgnoreIndex = 255 }, classAxis: 1);
        #endregion

        // Reference: move the classes last by hand, in double, and take the mean over the counted pixels.
        int positions = N * H * W;
        var rows = new double[positions * C];
        for (int n = 0; n < N; n++)
        {
            for (int c = 0; c < C; c++)
            {
                for (int p = 0; p < H * W; p++)
                {
                    rows[((n * H * W) + p) * C + c] = data[((n * C) + c) * H * W + p];
                }
            }
        }

        double[] rowLosses = Reference.LabelRowLosses(rows, pixelLabels, C, 255, null, 0);
        int counted = 0;
        double sum = 0;
        for (int i = 0; i < positions; i++)
        {
            if (pixelLabels[i] != 255)
            {
                counted++;
                sum += rowLosses[i];
            }
        }

        Assert.Equal(sum / counted, loss, 5);
        double[] probabilities = Reference.Softmax(rows, C);
        float[] flat = new float[data.Length];
        gradient.FlattenTo(flat);
        for (int n = 0; n < N; n++)
        {
            for (int c = 0; c < C; c++)
            {
                for (int p = 0; p < H * W; p++)
                {
                    int row = (n * H * W) + p;
                    double expected = pixelLabels[row] == 255 ? 0 : (probabilities[(row * C) + c] - (pixelLabels[row] == c ? 1 : 0)) / counted;
                    Assert.Equal(expected, flat[((n * C) + c) * H * W + p], 6);
                }
            }
        }
    }
}
