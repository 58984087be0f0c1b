using System.Globalization;
using System.Linq;
using System.Reflection;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Benchmarks;

/// <summary>
/// A per-row throughput column computed from the median time of a benchmark case and its <see cref="Shape"/>
/// parameter. Cases without a <see cref="Shape"/> or without results (a failed run) show "?".
/// </summary>
public abstract class ThroughputColumn : IColumn
{
    /// <inheritdoc/>
    public abstract string Id { get; }

    /// <inheritdoc/>
    public abstract string ColumnName { get; }

    /// <inheritdoc/>
    public abstract string Legend { get; }

    /// <inheritdoc/>
    public bool AlwaysShow => true;

    /// <inheritdoc/>
    public ColumnCategory Category => ColumnCategory.Custom;

    /// <inheritdoc/>
    public int PriorityInCategory => 0;

    /// <inheritdoc/>
    public bool IsNumeric => true;

    /// <inheritdoc/>
    public UnitType UnitType => UnitType.Dimensionless;

    /// <inheritdoc/>
    public bool IsAvailable(Summary summary) => true;

    /// <inheritdoc/>
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    /// <inheritdoc/>
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        double? median = summary[benchmarkCase]?.ResultStatistics?.Median;
        Shape? shape = FindShape(benchmarkCase);
        if (median is not > 0 || shape is null)
        {
            return "?";
        }

        double? value = Compute(benchmarkCase, shape.Value, median.Value);
        return value is null ? "?" : value.Value.ToString(Format, style?.CultureInfo ?? CultureInfo.InvariantCulture);
    }

    /// <inheritdoc/>
    public override string ToString() => ColumnName;

    /// <summary>The number format of a value.</summary>
    protected abstract string Format { get; }

    /// <summary>The value for one case, or null when it cannot be computed.</summary>
    /// <param name="benchmarkCase">The case.</param>
    /// <param name="shape">Its shape.</param>
    /// <param name="medianNanoseconds">Its median time per operation, in nanoseconds.</param>
    protected abstract double? Compute(BenchmarkCase benchmarkCase, Shape shape, double medianNanoseconds);

    /// <summary>The <see cref="Shape"/> parameter of a case, whatever its name.</summary>
    protected static Shape? FindShape(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<Shape>().Cast<Shape?>().FirstOrDefault();

    /// <summary>The traffic a case declares: on its method, else on its class.</summary>
    protected static MemoryTrafficAttribute? FindTraffic(BenchmarkCase benchmarkCase) =>
        benchmarkCase.Descriptor.WorkloadMethod.GetCustomAttribute<MemoryTrafficAttribute>()
        ?? benchmarkCase.Descriptor.Type.GetCustomAttribute<MemoryTrafficAttribute>(inherit: true);
}

/// <summary>"ns/elem": median time divided by M * C.</summary>
public sealed class NanosecondsPerElementColumn : ThroughputColumn
{
    /// <inheritdoc/>
    public override string Id => "SoftmaxCE.NsPerElement";

    /// <inheritdoc/>
    public override string ColumnName => "ns/elem";

    /// <inheritdoc/>
    public override string Legend => "Median time per logit (median / (M * C)), in nanoseconds";

    /// <inheritdoc/>
    protected override string Format => "0.0000";

    /// <inheritdoc/>
    protected override double? Compute(BenchmarkCase benchmarkCase, Shape shape, double medianNanoseconds) =>
        medianNanoseconds / shape.Elements;
}

/// <summary>"GB/s": the bytes the case declares with <see cref="MemoryTrafficAttribute"/> divided by the median time.</summary>
public sealed class GigabytesPerSecondColumn : ThroughputColumn
{
    /// <inheritdoc/>
    public override string Id => "SoftmaxCE.GBPerSecond";

    /// <inheritdoc/>
    public override string ColumnName => "GB/s";

    /// <inheritdoc/>
    public override string Legend => "Bytes that must cross the memory bus (see [MemoryTraffic]) / median time, in 10^9 bytes per second";

    /// <inheritdoc/>
    protected override string Format => "0.00";

    /// <inheritdoc/>
    protected override double? Compute(BenchmarkCase benchmarkCase, Shape shape, double medianNanoseconds) =>
        FindTraffic(benchmarkCase)?.BytesFor(shape) / medianNanoseconds; // bytes per ns == GB/s
}
