using System;
using System.Linq;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Benchmarks;

// With no arguments: the headline table only (the fused call against a copy of the same bytes and the TensorPrimitives
// chain, at the five shapes), with a short job, so that a first run answers "how fast is it here?" in minutes: 15 cases
// of about 10 s each plus one build of BenchmarkDotNet's runner.
// --all runs every class with the default job (about an hour); any other arguments go to BenchmarkDotNet as they are
// (--filter '*Fused*', --job short, --list flat, ...).
// Every table gets the median and the throughput columns, which read the median too; the GitHub markdown lands
// in BenchmarkDotNet.Artifacts/results/*-report-github.md under the current directory, headed by the machine's load
// average before the run (LoadAverage), read first so that nothing this program does counts in it.
string loadAverage = LoadAverage.Read();
DateTime start = DateTime.UtcNow;
LoadAverage.Announce(loadAverage);
ManualConfig config = DefaultConfig.Instance
    .AddColumn(StatisticColumn.Median, new NanosecondsPerElementColumn(), new GigabytesPerSecondColumn());

// DefaultConfig already exports GitHub markdown today; adding it twice only earns a warning, so add it if missing.
if (!config.GetExporters().Any(exporter => exporter.Name == MarkdownExporter.GitHub.Name))
{
    config = config.AddExporter(MarkdownExporter.GitHub);
}

if (args.Length == 0)
{
    Console.WriteLine(
        "SoftmaxCE headline benchmark: the fused loss and gradient against a copy and the TensorPrimitives chain, " +
        "short job (a few minutes).\nFor every benchmark: --all (about an hour); for a part: --filter '*Name*' " +
        "(see benchmarks/SoftmaxCE.Benchmarks/README.md).");
    string[] headline =
    [
        nameof(FusedLossAndGradientBenchmarks.Copy),
        nameof(FusedLossAndGradientBenchmarks.SoftmaxCE),
        nameof(FusedLossAndGradientBenchmarks.TensorPrimitivesChain),
    ];
    config = config
        .AddJob(Job.ShortRun)
        .AddFilter(new SimpleFilter(b => headline.Contains(b.Descriptor.WorkloadMethod.Name, StringComparer.Ordinal)));
    Summary headlineSummary = BenchmarkRunner.Run<FusedLossAndGradientBenchmarks>(config);
    LoadAverage.Record(loadAverage, start, [headlineSummary.ResultsDirectoryPath]);
    return;
}

string[] switcherArgs = [.. args.SelectMany(arg => arg == "--all" ? ["--filter", "*"] : new[] { arg })];
Summary[] summaries = [.. BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(switcherArgs, config)];
LoadAverage.Record(loadAverage, start, summaries.Select(summary => summary.ResultsDirectoryPath));
