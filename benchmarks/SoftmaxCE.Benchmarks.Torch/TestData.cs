using System;
using TorchSharp;

namespace SoftmaxCE.Benchmarks.Torch;

/// <summary>Seeded benchmark data: logits uniform in [-5, 5], labels uniform in [0, C).</summary>
internal static class TestData
{
    public const int Seed = 20240611;

    public static (float[] Logits, int[] Labels) Create(Shape shape)
    {
        var random = new Random(Seed);
        var logits = new float[checked((int)shape.Elements)];
        for (int i = 0; i < logits.Length; i++)
        {
            logits[i] = (random.NextSingle() * 10f) - 5f;
        }

        var labels = new int[shape.Rows];
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = random.Next(shape.Classes);
        }

        return (logits, labels);
    }

    /// <summary>The same data as libtorch tensors: float32 [M, C] logits with requires_grad, int64 [M] labels.</summary>
    public static (torch.Tensor Logits, torch.Tensor Labels) ToTensors(float[] logits, int[] labels, Shape shape)
    {
        var logitsTensor = torch.tensor(logits, [shape.Rows, shape.Classes], requires_grad: true);
        var labels64 = Array.ConvertAll(labels, static l => (long)l);
        var labelsTensor = torch.tensor(labels64, [shape.Rows]);
        return (logitsTensor, labelsTensor);
    }
}
