using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Numerics.Tensors;
using System.Reflection;
using System.Reflection.Emit;
using System.Text;
using System.Xml.Linq;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxCE.Tests;

/// <summary>
/// The generated XML documentation (SoftmaxCE.xml, next to SoftmaxCE.dll) says which element types each generic method
/// takes, and that is what the method does: every public generic method of <see cref="SoftmaxCrossEntropy"/> is called here
/// with <see cref="Half"/> on tiny valid inputs; one that runs must name Half in its <c>typeparam</c> and its
/// <c>NotSupportedException</c>, one that throws <see cref="NotSupportedException"/> must name it in neither.
/// </summary>
/// <remarks>
/// Which method a call reaches is read from the call's own IL (its one call into <see cref="SoftmaxCrossEntropy"/>), so
/// the list of calls cannot drift from the methods it claims to cover, and a public generic method with no call here fails
/// the test by name.
/// </remarks>
public sealed class XmlDocsTests
{
    private const int Classes = 3;
    private const int Rows = 2;

    private static readonly nint[] Shape = [Rows, Classes];
    private static readonly nint[] RowShape = [Rows];

    private static Half[] Logits() => [(Half)0.5f, (Half)(-1f), (Half)2f, (Half)0f, (Half)1.5f, (Half)(-0.25f)];

    private static Half[] Targets() => [.. Enumerable.Repeat((Half)(1f / Classes), Rows * Classes)];

    private static int[] Labels() => [0, 2];

    private static Half[] PerRow(float value) => [.. Enumerable.Repeat((Half)value, Rows)];

    private static Half[] PerLogit() => new Half[Rows * Classes];

    private static ReadOnlyTensorSpan<Half> LogitsTensor() => new(Logits(), Shape);

    private static ReadOnlyTensorSpan<Half> TargetsTensor() => new(Targets(), Shape);

    private static ReadOnlyTensorSpan<int> LabelsTensor() => new(Labels(), RowShape);

    private static ReadOnlyTensorSpan<Half> RowsTensor(float value) => new(PerRow(value), RowShape);

    private static TensorSpan<Half> OutputTensor() => new(PerLogit(), Shape);

    private static TensorSpan<Half> RowOutputTensor() => new(PerRow(0), RowShape);

    private static Tensor<Half> LogitsOwned() => Tensor.Create(Logits(), Shape);

    /// <summary>One call of every public generic method with T = Half, on valid inputs.</summary>
    private static readonly Action[] HalfCalls =
    [
        // SoftmaxCrossEntropy.cs
        () => SoftmaxCrossEntropy.Softmax<Half>(Logits(), PerLogit(), Classes),
        () => SoftmaxCrossEntropy.LogSoftmax<Half>(Logits(), PerLogit(), Classes),

        // .Labels.cs, .Dense.cs
        () => SoftmaxCrossEntropy.Loss<Half>(Logits(), Labels(), Classes),
        () => SoftmaxCrossEntropy.Loss<Half>(Logits(), Targets(), Classes),
        () => SoftmaxCrossEntropy.RowLosses<Half>(Logits(), Labels(), PerRow(0), Classes),
        () => SoftmaxCrossEntropy.Backward<Half>(Logits(), Labels(), PerLogit(), Classes),
        () => SoftmaxCrossEntropy.Backward<Half>(Logits(), Targets(), PerLogit(), Classes),
        () => SoftmaxCrossEntropy.LossAndGradient<Half>(Logits(), Labels(), PerLogit(), Classes),
        () => SoftmaxCrossEntropy.LossAndGradient<Half>(Logits(), Targets(), PerLogit(), Classes),
        () => SoftmaxCrossEntropy.MeanDenominator<Half>(Labels(), Classes),
        () => SoftmaxCrossEntropy.LossAndGradientWithMetrics<Half>(Logits(), Labels(), PerLogit(), Classes),
        () => SoftmaxCrossEntropy.LossWithMetrics<Half>(Logits(), Labels(), Classes),

        // .Autograd.cs
        () => SoftmaxCrossEntropy.Forward<Half>(Logits(), Labels(), PerRow(0), Classes),
        () => SoftmaxCrossEntropy.Forward<Half>(Logits(), Targets(), PerRow(0), Classes),
        () => SoftmaxCrossEntropy.Backward<Half>(Logits(), Labels(), PerRow(2), Half.One, PerLogit(), Classes),
        () => SoftmaxCrossEntropy.Backward<Half>(Logits(), Labels(), PerRow(2), PerRow(1), PerLogit(), Classes),
        () => SoftmaxCrossEntropy.Backward<Half>(Logits(), Targets(), PerRow(2), Half.One, PerLogit(), Classes),
        () => SoftmaxCrossEntropy.Backward<Half>(Logits(), Targets(), PerRow(2), PerRow(1), PerLogit(), Classes),

        // .Sharded.cs
        () => SoftmaxCrossEntropy.ShardStatistics<Half>(Logits(), Labels(), PerRow(0), PerRow(0), PerRow(0), Classes, 0, Classes),
        () => SoftmaxCrossEntropy.MergeShardStatistics<Half>(PerRow(1), PerRow(1), PerRow(1), PerRow(1)),
        () => SoftmaxCrossEntropy.ShardLossAndGradient<Half>(Logits(), Labels(), PerRow(2), PerRow(3), PerLogit(), Classes, 0, Classes),

        // .Linear.cs: hidden [2, 2], weight [3, 2], bias [3]
        () => SoftmaxCrossEntropy.LinearLossAndGradient<Half>(PerLogit().AsSpan(0, 4), PerLogit(), new Half[Classes], Labels(), new Half[4], new Half[6], default, 2),
        () => SoftmaxCrossEntropy.LinearLoss<Half>(PerLogit().AsSpan(0, 4), PerLogit(), default, Labels(), 2),

        // .Tensors.cs: Softmax, LogSoftmax
        () => SoftmaxCrossEntropy.Softmax(LogitsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.Softmax(LogitsOwned(), OutputTensor()),
        () => SoftmaxCrossEntropy.LogSoftmax(LogitsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.LogSoftmax(LogitsOwned(), OutputTensor()),

        // Loss
        () => SoftmaxCrossEntropy.Loss(LogitsTensor(), LabelsTensor()),
        () => SoftmaxCrossEntropy.Loss(LogitsTensor(), Labels().AsSpan()),
        () => SoftmaxCrossEntropy.Loss(LogitsTensor(), TargetsTensor()),
        () => SoftmaxCrossEntropy.Loss(LogitsOwned(), LabelsTensor()),
        () => SoftmaxCrossEntropy.Loss(LogitsOwned(), Labels().AsSpan()),
        () => SoftmaxCrossEntropy.Loss(LogitsOwned(), TargetsTensor()),

        // RowLosses
        () => SoftmaxCrossEntropy.RowLosses(LogitsTensor(), LabelsTensor(), RowOutputTensor()),
        () => SoftmaxCrossEntropy.RowLosses(LogitsTensor(), Labels().AsSpan(), PerRow(0).AsSpan()),
        () => SoftmaxCrossEntropy.RowLosses(LogitsOwned(), LabelsTensor(), RowOutputTensor()),
        () => SoftmaxCrossEntropy.RowLosses(LogitsOwned(), Labels().AsSpan(), PerRow(0).AsSpan()),

        // Backward, LossAndGradient
        () => SoftmaxCrossEntropy.Backward(LogitsTensor(), LabelsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsTensor(), Labels().AsSpan(), OutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsTensor(), TargetsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsOwned(), LabelsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsOwned(), Labels().AsSpan(), OutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsOwned(), TargetsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.LossAndGradient(LogitsTensor(), LabelsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.LossAndGradient(LogitsTensor(), Labels().AsSpan(), OutputTensor()),
        () => SoftmaxCrossEntropy.LossAndGradient(LogitsTensor(), TargetsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.LossAndGradient(LogitsOwned(), LabelsTensor(), OutputTensor()),
        () => SoftmaxCrossEntropy.LossAndGradient(LogitsOwned(), Labels().AsSpan(), OutputTensor()),
        () => SoftmaxCrossEntropy.LossAndGradient(LogitsOwned(), TargetsTensor(), OutputTensor()),

        // Forward and Backward from saved statistics
        () => SoftmaxCrossEntropy.Forward(LogitsTensor(), LabelsTensor(), RowOutputTensor()),
        () => SoftmaxCrossEntropy.Forward(LogitsTensor(), TargetsTensor(), RowOutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsTensor(), LabelsTensor(), RowsTensor(2), Half.One, OutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsTensor(), LabelsTensor(), RowsTensor(2), RowsTensor(1), OutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsTensor(), TargetsTensor(), RowsTensor(2), Half.One, OutputTensor()),
        () => SoftmaxCrossEntropy.Backward(LogitsTensor(), TargetsTensor(), RowsTensor(2), RowsTensor(1), OutputTensor()),
    ];

    [Fact]
    public void EveryGenericMethod_DocumentsHalfExactlyWhenItAcceptsHalf()
    {
        Dictionary<string, XElement> members = LoadMembers();
        var covered = new Dictionary<MethodInfo, bool>();
        var failures = new StringBuilder();
        foreach (Action call in HalfCalls)
        {
            MethodInfo method = CalledMethod(call.Method);
            bool acceptsHalf = AcceptsHalf(call, method);
            Assert.True(covered.TryAdd(method, acceptsHalf), $"{DocId(method)} is called twice in the list.");
            string id = DocId(method);
            if (!members.TryGetValue(id, out XElement? member))
            {
                failures.AppendLine($"{id}: no documentation in SoftmaxCE.xml.");
                continue;
            }

            CheckMentionsHalf(members, member, "typeparam", acceptsHalf, id, failures);
            CheckMentionsHalf(members, member, "exception", acceptsHalf, id, failures);
        }

        IEnumerable<MethodInfo> missing = typeof(SoftmaxCrossEntropy)
            .GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Where(m => m.IsGenericMethodDefinition && !covered.ContainsKey(m));
        foreach (MethodInfo method in missing)
        {
            failures.AppendLine($"{DocId(method)}: no call with T = Half in {nameof(XmlDocsTests)}; add one.");
        }

        // CrossEntropyMetrics<T> is what the metrics methods return: its T is theirs.
        bool metricsTakeHalf = covered.Single(m => m.Key.Name == nameof(SoftmaxCrossEntropy.LossWithMetrics)).Value;
        CheckMentionsHalf(members, members["T:SoftmaxCE.CrossEntropyMetrics`1"], "typeparam", metricsTakeHalf, "CrossEntropyMetrics<T>", failures);

        if (failures.Length > 0)
        {
            throw new XunitException("The XML docs disagree with what the methods do:" + Environment.NewLine + failures);
        }
    }

    [Fact]
    public void HalfCalls_CoverBothOutcomes()
    {
        // The check above would pass vacuously if every call ran or every call threw.
        var outcomes = HalfCalls.Select(call => AcceptsHalf(call, CalledMethod(call.Method))).Distinct().ToArray();
        Assert.Equal(2, outcomes.Length);
    }

    /// <summary>Whether the call runs with Half (true) or refuses it with <see cref="NotSupportedException"/> (false).</summary>
    private static bool AcceptsHalf(Action call, MethodInfo method)
    {
        try
        {
            call();
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
        catch (Exception e)
        {
            throw new XunitException($"{DocId(method)} with T = Half threw {e.GetType().Name} on inputs meant to be valid: {e.Message}");
        }
    }

    /// <summary>
    /// Requires the member's <paramref name="element"/> (for exceptions, the <see cref="NotSupportedException"/> one) to name
    /// <see cref="Half"/> exactly when the method accepts it; follows <c>inheritdoc</c> for an element the member does not have.
    /// </summary>
    private static void CheckMentionsHalf(Dictionary<string, XElement> members, XElement member, string element, bool acceptsHalf, string id, StringBuilder failures)
    {
        XElement? text = Find(members, member, element);
        if (text is null)
        {
            failures.AppendLine($"{id}: no <{element}{(element == "exception" ? " cref=NotSupportedException" : "")}> documentation.");
            return;
        }

        bool mentionsHalf = text.ToString(SaveOptions.DisableFormatting).Contains("Half", StringComparison.Ordinal);
        if (mentionsHalf != acceptsHalf)
        {
            string does = acceptsHalf ? "accepts Half, but its" : "refuses Half (NotSupportedException), but its";
            string says = mentionsHalf ? "names Half" : "does not name Half";
            failures.AppendLine($"{id}: {does} <{element}> {says}: {string.Concat(text.Nodes()).Trim()}");
        }
    }

    private static XElement? Find(Dictionary<string, XElement> members, XElement member, string element)
    {
        for (int depth = 0; depth < 8; depth++)
        {
            XElement? found = element == "exception"
                ? member.Elements("exception").FirstOrDefault(e => (string?)e.Attribute("cref") == "T:System.NotSupportedException")
                : member.Elements(element).FirstOrDefault();
            if (found is not null)
            {
                return found;
            }

            string? inherited = (string?)member.Element("inheritdoc")?.Attribute("cref");
            if (inherited is null || !members.TryGetValue(inherited, out XElement? next))
            {
                return null;
            }

            member = next;
        }

        return null;
    }

    private static Dictionary<string, XElement> LoadMembers()
    {
        string path = Path.ChangeExtension(typeof(SoftmaxCrossEntropy).Assembly.Location, ".xml");
        Assert.True(File.Exists(path), $"{path} is missing: the library must build with GenerateDocumentationFile.");
        return XDocument.Load(path).Descendants("member").ToDictionary(m => (string)m.Attribute("name")!, m => m);
    }

    /// <summary>The one public method of <see cref="SoftmaxCrossEntropy"/> that <paramref name="lambda"/> calls, as its generic definition.</summary>
    private static MethodInfo CalledMethod(MethodInfo lambda)
    {
        byte[] il = lambda.GetMethodBody()!.GetILAsByteArray()!;
        Type[] typeArguments = lambda.DeclaringType!.IsGenericType ? lambda.DeclaringType.GetGenericArguments() : [];
        var called = new HashSet<MethodInfo>();
        for (int at = 0; at < il.Length;)
        {
            OpCode op = il[at] == 0xFE ? TwoByte[il[at + 1]] : OneByte[il[at]];
            at += op.Size;
            if (op.OperandType == OperandType.InlineMethod
                && lambda.Module.ResolveMethod(BitConverter.ToInt32(il, at), typeArguments, []) is MethodInfo m
                && m.DeclaringType == typeof(SoftmaxCrossEntropy) && m.IsPublic)
            {
                called.Add(m.IsGenericMethod ? m.GetGenericMethodDefinition() : m);
            }

            at += OperandSize(op, il, at);
        }

        Assert.True(called.Count == 1, $"A call in the list reaches {called.Count} public methods of SoftmaxCrossEntropy; it must reach exactly one.");
        return called.Single();
    }

    private static readonly OpCode[] OneByte = OpCodeTable(twoByte: false);
    private static readonly OpCode[] TwoByte = OpCodeTable(twoByte: true);

    private static OpCode[] OpCodeTable(bool twoByte)
    {
        var table = new OpCode[256];
        foreach (FieldInfo field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)field.GetValue(null)!;
            if ((op.Size == 2) == twoByte)
            {
                table[(ushort)op.Value & 0xFF] = op;
            }
        }

        return table;
    }

    private static int OperandSize(OpCode op, byte[] il, int at) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + (4 * BitConverter.ToInt32(il, at)),
        _ => 4,
    };

    /// <summary>The documentation ID of a method, as the compiler writes it into the XML file.</summary>
    private static string DocId(MethodInfo method)
    {
        string arity = method.IsGenericMethodDefinition ? $"``{method.GetGenericArguments().Length}" : "";
        string parameters = string.Join(",", method.GetParameters().Select(p => TypeId(p.ParameterType)));
        return $"M:{method.DeclaringType!.FullName}.{method.Name}{arity}({parameters})";
    }

    private static string TypeId(Type type)
    {
        if (type.IsByRef)
        {
            return TypeId(type.GetElementType()!) + "@";
        }

        if (type.IsGenericMethodParameter)
        {
            return $"``{type.GenericParameterPosition}";
        }

        if (type.IsArray)
        {
            return TypeId(type.GetElementType()!) + "[]";
        }

        if (type.IsGenericType)
        {
            string name = type.GetGenericTypeDefinition().FullName!;
            return $"{name[..name.IndexOf('`', StringComparison.Ordinal)]}{{{string.Join(",", type.GetGenericArguments().Select(TypeId))}}}";
        }

        return type.FullName!.Replace('+', '.');
    }
}
