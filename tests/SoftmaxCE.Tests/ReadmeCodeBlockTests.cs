using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>
/// The C# code blocks of README.md and docs/*.md are the code the tests compile and run, so they cannot drift.
/// </summary>
/// <remarks>
/// <para>
/// Every C# block (<c>```csharp</c>, <c>```cs</c> or <c>```c#</c>) in README.md and in the pages under docs/ is preceded
/// by a line <c>&lt;!-- code: ID [ID ...] --&gt;</c>. Each ID names a <c>#region ID</c> ... <c>#endregion</c> in a C# file
/// under <c>tests/</c> or <c>samples/</c>; the block must equal those regions, in order, joined by one blank line, once
/// each is dedented (common leading whitespace removed, trailing whitespace dropped). Several IDs let a block skip the
/// test's own lines between the parts (the assertions between two calls, a <c>using</c> at the top of a file).
/// </para>
/// <para>
/// To add an example: write it inside <c>#region readme-something</c> in a test that runs it and checks its numbers
/// against the reference, then put <c>&lt;!-- code: readme-something --&gt;</c> above a <c>```csharp</c> block in the
/// page and paste the region's lines into it. This test prints the diff if they disagree.
/// </para>
/// </remarks>
public sealed partial class ReadmeCodeBlockTests
{
    [Fact]
    public void EveryCodeBlockOfTheReadmeAndTheDocs_IsTheRegionsTheTestsRun()
    {
        string root = RepositoryRoot();
        Dictionary<string, Region> regions = Region.FindAll(root);
        var failures = new StringBuilder();
        var shown = new HashSet<string>(StringComparer.Ordinal);
        int readmeBlocks = 0;
        foreach (string page in Pages(root))
        {
            string name = Path.GetRelativePath(root, page).Replace(Path.DirectorySeparatorChar, '/');
            IReadOnlyList<ReadmeBlock> blocks = ReadmeBlock.Parse(name, File.ReadAllLines(page));
            if (name == "README.md")
            {
                readmeBlocks = blocks.Count;
            }

            foreach (ReadmeBlock block in blocks)
            {
                Check(name, block, regions, failures);
                shown.UnionWith(block.Ids);
            }
        }

        // A region kept for a page that no longer shows it is dead weight that looks checked.
        foreach (string id in regions.Keys.Where(id => id.StartsWith("readme-", StringComparison.Ordinal) && !shown.Contains(id)).Order(StringComparer.Ordinal))
        {
            failures.AppendLine($"'#region {id}' ({regions[id].Where}) is shown by no C# block of README.md or docs/.");
        }

        Assert.True(readmeBlocks >= 2, $"expected the README's C# blocks (the example and the linear head); found {readmeBlocks}");
        if (failures.Length > 0)
        {
            throw new XunitException(failures.ToString());
        }
    }

    [Fact]
    public void ReadmeLinks_AreAbsolute_SoThatTheyWorkOnNuGet()
    {
        // nuget.org shows README.md as the package's page, where a relative link points nowhere.
        string root = RepositoryRoot();
        string[] relative = [.. MarkdownLink().Matches(File.ReadAllText(Path.Combine(root, "README.md")))
            .Select(m => m.Groups["target"].Value)
            .Where(target => !target.StartsWith("https://", StringComparison.Ordinal) && !target.StartsWith('#'))];
        Assert.True(relative.Length == 0, $"README.md links to {string.Join(", ", relative)}: link to https://github.com/<owner>/<repo>/blob/main/<path> instead.");
    }

    [Fact]
    public void Parse_FindsEveryKindOfCSharpBlock_AndTheMarkerAboveIt()
    {
        string[] page = ["<!-- code: a b -->", "```csharp", "x();", "```", "", "```cs", "y();", "```", "```c#", "z();", "```", "```sh", "ls", "```"];
        IReadOnlyList<ReadmeBlock> blocks = ReadmeBlock.Parse("page.md", page);
        Assert.Equal(3, blocks.Count);
        Assert.Equal(["a", "b"], blocks[0].Ids.ToArray());
        Assert.Empty(blocks[1].Ids);
        Assert.Equal(["z();"], blocks[2].Lines.ToArray());
    }

    /// <summary>README.md and every page under docs/.</summary>
    private static IEnumerable<string> Pages(string root)
    {
        yield return Path.Combine(root, "README.md");
        string docs = Path.Combine(root, "docs");
        if (Directory.Exists(docs))
        {
            foreach (string page in Directory.EnumerateFiles(docs, "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                yield return page;
            }
        }
    }

    private static void Check(string page, ReadmeBlock block, Dictionary<string, Region> regions, StringBuilder failures)
    {
        if (block.Ids.Count == 0)
        {
            failures.AppendLine($"{page} line {block.Line}: a C# block without a <!-- code: ID --> line above it naming the #region it shows.");
            return;
        }

        var parts = new List<string[]>();
        foreach (string id in block.Ids)
        {
            if (!regions.TryGetValue(id, out Region? region))
            {
                failures.AppendLine($"{page} line {block.Line}: no '#region {id}' in any C# file under tests/ or samples/.");
                continue;
            }

            parts.Add(Normalise(region.Lines));
        }

        if (parts.Count != block.Ids.Count)
        {
            return;
        }

        string[] expected = [.. parts.SelectMany((part, index) => index == 0 ? part : ["", .. part])];
        string[] actual = Normalise(block.Lines);
        if (!expected.SequenceEqual(actual, StringComparer.Ordinal))
        {
            string sources = string.Join(", ", block.Ids.Select(id => $"{id} ({regions[id].Where})"));
            failures.AppendLine($"{page} line {block.Line}: the block differs from {sources}. '-' page, '+' code:");
            failures.AppendLine(Diff(actual, expected));
        }
    }

    [Fact]
    public void BenchmarkReadme_ListsEveryBenchmarkClass()
    {
        string root = RepositoryRoot();
        string project = Path.Combine(root, "benchmarks", "SoftmaxCE.Benchmarks");
        string readme = File.ReadAllText(Path.Combine(project, "README.md"));
        string[] classes = [.. Directory.EnumerateFiles(project, "*.cs")
            .SelectMany(file => BenchmarkClass().Matches(File.ReadAllText(file)).Select(m => m.Groups["name"].Value))
            .Order(StringComparer.Ordinal)];
        Assert.NotEmpty(classes);
        string[] missing = [.. classes.Where(name => !readme.Contains($"`{name}`", StringComparison.Ordinal))];
        Assert.True(missing.Length == 0, $"benchmarks/SoftmaxCE.Benchmarks/README.md does not list {string.Join(", ", missing)}.");
    }

    [Fact]
    public void Normalise_RemovesCommonIndentationAndTrailingSpace()
    {
        string[] lines = ["", "        if (x)  ", "        {", "            y();", "        }", "   "];
        Assert.Equal(["if (x)", "{", "    y();", "}"], Normalise(lines));
    }

    [Fact]
    public void Diff_MarksTheChangedLines()
    {
        string diff = Diff(["a", "b", "c"], ["a", "B", "c"]);
        Assert.Equal("  a\n- b\n+ B\n  c", diff.Replace("\r", "", StringComparison.Ordinal));
    }

    /// <summary>Dedents the lines by their common leading whitespace, drops trailing whitespace and blank lines at both ends.</summary>
    internal static string[] Normalise(IEnumerable<string> lines)
    {
        string[] trimmed = [.. lines.Select(line => line.TrimEnd())];
        int first = Array.FindIndex(trimmed, line => line.Length > 0);
        if (first < 0)
        {
            return [];
        }

        int last = Array.FindLastIndex(trimmed, line => line.Length > 0);
        string[] body = trimmed[first..(last + 1)];
        int indent = body.Where(line => line.Length > 0).Min(line => line.Length - line.TrimStart().Length);
        return [.. body.Select(line => line.Length == 0 ? line : line[indent..])];
    }

    /// <summary>A line diff (longest common subsequence): "  " same, "- " only in <paramref name="from"/>, "+ " only in <paramref name="to"/>.</summary>
    internal static string Diff(string[] from, string[] to)
    {
        var common = new int[from.Length + 1, to.Length + 1];
        for (int i = from.Length - 1; i >= 0; i--)
        {
            for (int j = to.Length - 1; j >= 0; j--)
            {
                common[i, j] = from[i] == to[j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);
            }
        }

        var lines = new List<string>();
        int a = 0, b = 0;
        while (a < from.Length || b < to.Length)
        {
            if (a < from.Length && b < to.Length && from[a] == to[b])
            {
                lines.Add("  " + from[a++]);
                b++;
            }
            else if (b < to.Length && (a == from.Length || common[a, b + 1] >= common[a + 1, b]))
            {
                lines.Add("+ " + to[b++]);
            }
            else
            {
                lines.Add("- " + from[a++]);
            }
        }

        // Removals before additions within a change reads better; the order above puts additions first on ties.
        for (int k = 0; k + 1 < lines.Count; k++)
        {
            if (lines[k].StartsWith("+ ", StringComparison.Ordinal) && lines[k + 1].StartsWith("- ", StringComparison.Ordinal))
            {
                (lines[k], lines[k + 1]) = (lines[k + 1], lines[k]);
                k = Math.Max(-1, k - 2);
            }
        }

        return string.Join("\n", lines);
    }

    /// <summary>The directory holding README.md and SoftmaxCE.sln, found upwards from the test binaries.</summary>
    internal static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "README.md")) && File.Exists(Path.Combine(dir.FullName, "SoftmaxCE.sln")))
            {
                return dir.FullName;
            }
        }

        throw new XunitException($"No README.md next to SoftmaxCE.sln above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"^\s*<!--\s*code:\s*(?<ids>[^>]*?)\s*-->\s*$")]
    private static partial Regex CodeMarker();

    [GeneratedRegex(@"^\s*```\s*(csharp|cs|c#)\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex CSharpFence();

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)(\s+""[^""]*"")?\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"^public (?:sealed |abstract )?(?:unsafe )?class (?<name>\w+Benchmarks)\b", RegexOptions.Multiline)]
    private static partial Regex BenchmarkClass();

    [GeneratedRegex(@"^\s*#region\s+(?<id>\S+)\s*$")]
    private static partial Regex RegionStart();

    [GeneratedRegex(@"^\s*#(region|endregion)\b")]
    private static partial Regex RegionDirective();

    /// <summary>A C# block of a page, with the IDs of the marker line above it (none if there is none).</summary>
    private sealed record ReadmeBlock(int Line, IReadOnlyList<string> Ids, IReadOnlyList<string> Lines)
    {
        public static List<ReadmeBlock> Parse(string page, string[] lines)
        {
            var blocks = new List<ReadmeBlock>();
            for (int i = 0; i < lines.Length; i++)
            {
                if (!CSharpFence().IsMatch(lines[i]))
                {
                    continue;
                }

                int previous = i - 1;
                while (previous >= 0 && lines[previous].Trim().Length == 0)
                {
                    previous--;
                }

                Match marker = previous >= 0 ? CodeMarker().Match(lines[previous]) : Match.Empty;
                IReadOnlyList<string> ids = marker.Success
                    ? marker.Groups["ids"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    : [];
                int end = Array.FindIndex(lines, i + 1, line => line.Trim() == "```");
                if (end < 0)
                {
                    throw new XunitException($"{page} line {i + 1}: a C# block that is never closed.");
                }

                blocks.Add(new ReadmeBlock(i + 1, ids, lines[(i + 1)..end]));
                i = end;
            }

            return blocks;
        }
    }

    /// <summary>The lines between <c>#region ID</c> and its <c>#endregion</c> (nested regions are not expected), and where they are.</summary>
    private sealed record Region(string Where, IReadOnlyList<string> Lines)
    {
        public static Dictionary<string, Region> FindAll(string root)
        {
            var regions = new Dictionary<string, Region>(StringComparer.Ordinal);
            IEnumerable<string> files = new[] { "tests", "samples" }
                .Select(dir => Path.Combine(root, dir))
                .Where(Directory.Exists)
                .SelectMany(dir => Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories))
                .Where(file => !file.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"));
            foreach (string file in files)
            {
                string[] lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                {
                    Match start = RegionStart().Match(lines[i]);
                    if (!start.Success)
                    {
                        continue;
                    }

                    int end = Array.FindIndex(lines, i + 1, line => RegionDirective().IsMatch(line));
                    if (end < 0 || !lines[end].TrimStart().StartsWith("#endregion", StringComparison.Ordinal))
                    {
                        throw new XunitException($"{file} line {i + 1}: '#region {start.Groups["id"].Value}' has no #endregion before the next #region.");
                    }

                    string id = start.Groups["id"].Value;
                    string where = $"{Path.GetRelativePath(root, file)} line {i + 1}";
                    if (!regions.TryAdd(id, new Region(where, lines[(i + 1)..end])))
                    {
                        throw new XunitException($"'#region {id}' appears twice: {regions[id].Where} and {where}.");
                    }

                    i = end;
                }
            }

            return regions;
        }
    }
}
