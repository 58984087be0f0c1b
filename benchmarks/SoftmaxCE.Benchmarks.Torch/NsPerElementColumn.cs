using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace SoftmaxCE.Benchmarks.Torch;

/// <summary>The median time divided by the number of logits (M * C), in nanoseconds.</summary>
public sealed class NsPerElementColumn : IColumn
{
    public string Id => nameof(NsPerElementColumn);
    public string ColumnName => "ns/elem";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Median time / number of logits (M * C, or N * C * H * W), in nanoseconds per logit";

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is not { } stats)
        {
            return "NA";
        }

        foreach (var parameter in benchmarkCase.Parameters.Items)
        {
            if (parameter.Value is Shape shape)
            {
                return (stats.Median / shape.Elements).ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture);
            }

            if (parameter.Value is ImageShape image)
            {
                return (stats.Median / image.Elements).ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return "?";
    }

    public override string ToString() => ColumnName;
}
