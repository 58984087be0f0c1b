using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Running;
using Benchmarks;

// The command line decides the job (--job short, --job dry, ...) and which classes run (--filter '*Fused*').
// Every table gets the median and the throughput columns, which read the median too; the GitHub markdown lands
// in BenchmarkDotNet.Artifacts/results/*-report-github.md under the current directory.
ManualConfig config = DefaultConfig.Instance
    .AddColumn(StatisticColumn.Median, new NanosecondsPerElementColumn(), new GigabytesPerSecondColumn());

// DefaultConfig already exports GitHub markdown today; adding it twice only earns a warning, so add it if missing.
if (!config.GetExporters().Any(exporter => exporter.Name == MarkdownExporter.GitHub.Name))
{
    config = config.AddExporter(MarkdownExporter.GitHub);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
