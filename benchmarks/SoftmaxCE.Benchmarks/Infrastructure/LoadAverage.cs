using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;

namespace Benchmarks;

/// <summary>
/// The machine's 1-minute load average before a run, written at the top of every GitHub-markdown results file the run
/// exports, so that each results file says whether the machine was quiet while it was measured. A benchmark on a busy
/// machine measures the other jobs too: <c>scripts/readme-tables.sh</c> refuses a results file that records no load
/// average, or one above 1 (the committed results come from a 2-core machine).
/// </summary>
/// <remarks>
/// This file is compiled into both benchmark programs (the libtorch one links it), so it uses nothing but the BCL.
/// </remarks>
internal static class LoadAverage
{
    /// <summary>The start of the line written into each results file, followed by the load average or "unknown".</summary>
    public const string Prefix = "Load average before the run: ";

    /// <summary>
    /// The first field of <c>/proc/loadavg</c> (the run queue averaged over the last minute), or "unknown" where the
    /// system has no such file (Windows, macOS).
    /// </summary>
    public static string Read()
    {
        try
        {
            string[] fields = File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields.Length > 0 && double.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _)
                ? fields[0]
                : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    /// <summary>Prints the load average read before the run, and what it means for the results.</summary>
    public static void Announce(string loadAverage)
    {
        Console.WriteLine($"{Prefix}{loadAverage} (recorded in each exported *-report-github.md).");
        if (!double.TryParse(loadAverage, NumberStyles.Float, CultureInfo.InvariantCulture, out double load) || load > 1)
        {
            Console.WriteLine(
                "scripts/readme-tables.sh refuses results files whose load average is unknown or above 1: the committed results " +
                "come from a 2-core machine, and other jobs on it distort every figure. Run on an idle machine to commit results.");
        }
    }

    /// <summary>
    /// Writes the load-average line at the top of every <c>*-report-github.md</c> in <paramref name="directories"/> that was
    /// written at or after <paramref name="sinceUtc"/> (this run's exports) and does not carry the line yet.
    /// </summary>
    public static void Record(string loadAverage, DateTime sinceUtc, IEnumerable<string> directories)
    {
        foreach (string directory in directories.Where(Directory.Exists).Distinct(StringComparer.Ordinal))
        {
            foreach (string file in Directory.EnumerateFiles(directory, "*-report-github.md"))
            {
                if (File.GetLastWriteTimeUtc(file) < sinceUtc)
                {
                    continue;
                }

                string text = File.ReadAllText(file);
                if (!text.StartsWith(Prefix, StringComparison.Ordinal))
                {
                    File.WriteAllText(file, $"{Prefix}{loadAverage}\n\n{text}");
                }
            }
        }
    }
}
