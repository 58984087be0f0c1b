using System;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxCE.Kernels;

/// <summary>
/// The x64 F16C conversions <c>vcvtph2ps</c> (Half to float) and <c>vcvtps2ph</c> (float to Half, round to nearest even),
/// as two small machine-code loops placed in executable memory once per process, because .NET 10 exposes neither as an
/// intrinsic (dotnet/runtime#62416) and the same conversion in vector integer arithmetic costs about as much as the whole
/// float kernel.
/// </summary>
/// <remarks>
/// <para>
/// Used only where it is known to be right: a 64-bit x64 process (a 32-bit process on the same CPU also reports AVX2, but
/// would run 64-bit code with the wrong calling convention) on Linux or Windows, a CPU that reports F16C, and AVX2 enabled
/// in the runtime (so <c>DOTNET_EnableAVX2=0</c> also turns these off, and the tests run the vector-arithmetic conversions
/// then). The setup runs on first use and catches everything: anything that fails on the way (no executable memory under
/// a W^X policy, a missing system library, an unknown OS) leaves <see cref="IsAvailable"/> false and the library on
/// <see cref="HalfConversion"/>'s arithmetic path, never a type-initialisation failure on every later Half call; both give
/// the same bits for every number, and NaN stays NaN.
/// </para>
/// <para>
/// The memory is mapped writable, filled, then made read-and-execute: never writable and executable at once. The loops use
/// only registers that are volatile in both the System V and the Windows x64 calling conventions (rax, r9-r11, ymm0-ymm1),
/// each starts with three moves from its ABI's argument registers, and ends with <c>vzeroupper</c>. They are called through
/// unmanaged function pointers without a GC transition, which is allowed because they never call back, block or allocate,
/// and each call is kept short (<see cref="CallElements"/> values, well under a microsecond). The machine code reads and
/// writes whole steps of 16 values; <see cref="Routines"/> runs it only on counts of at least 16 (the last step overlapping
/// the one before) and shorter counts in arithmetic, so no count reaches outside the caller's buffers.
/// </para>
/// </remarks>
internal static unsafe partial class F16cRoutines
{
    /// <summary>Values per call: short enough that a GC never waits long for a call without a GC transition.</summary>
    public const int CallElements = 8192;

    /// <summary>Values per step of the machine-code loops.</summary>
    private const int Step = 16;

    /// <summary>Whether the F16C routines are in use in this process.</summary>
    public static bool IsAvailable => Installed.Routines.IsAvailable;

    /// <summary>Widens <paramref name="count"/> Half values (any count; below 16 in arithmetic).</summary>
    public static void Widen(ushort* source, float* destination, int count) => Installed.Routines.Widen(source, destination, count);

    /// <summary>Narrows <paramref name="count"/> floats, rounding to nearest even (any count; below 16 in arithmetic).</summary>
    public static void Narrow(float* source, ushort* destination, int count) => Installed.Routines.Narrow(source, destination, count);

    /// <summary>
    /// Places the routines in executable memory, or returns routines that convert in arithmetic where they cannot be used
    /// or anything fails (no exception leaves this method). <paramref name="fault"/> makes a step fail, for the tests.
    /// </summary>
    internal static Routines SetUp(SetupFault fault)
    {
        try
        {
            return IsSupported() && !(AppContext.TryGetSwitch("SoftmaxCE.DisableF16C", out bool disabled) && disabled)
                ? Install(fault)
                : default;
        }
        catch (Exception)
        {
            // Any failure of this optional speed-up leaves the arithmetic conversions, which give the same bits.
            return default;
        }
    }

    private static Routines Install(SetupFault fault)
    {
        ReadOnlySpan<byte> prologue = OperatingSystem.IsWindows() ? WindowsArguments : SystemVArguments;
        int narrowAt = prologue.Length + WidenLoop.Length;
        int size = narrowAt + prologue.Length + NarrowLoop.Length;
        byte* code = fault == SetupFault.Allocation ? null : ExecutableMemory.Allocate(size);
        if (code == null)
        {
            return default;
        }

        bool executable = false;
        try
        {
            // The injected exception is the one a wrong size would raise: a copy into too short a span.
            Span<byte> text = new(code, fault == SetupFault.Exception ? 1 : size);
            prologue.CopyTo(text);
            WidenLoop.CopyTo(text[prologue.Length..]);
            prologue.CopyTo(text[narrowAt..]);
            NarrowLoop.CopyTo(text[(narrowAt + prologue.Length)..]);
            executable = fault != SetupFault.Protection && ExecutableMemory.MakeExecutable(code, size);
            return executable ? new Routines(code, code + narrowAt) : default;
        }
        finally
        {
            if (!executable)
            {
                ExecutableMemory.Free(code, size);
            }
        }
    }

    /// <summary>
    /// A 64-bit x64 process on Linux or Windows, with AVX2 enabled in the runtime and F16C on the CPU: the only place the
    /// machine code's encoding, calling conventions and instructions are all right.
    /// </summary>
    private static bool IsSupported()
    {
        if (!Environment.Is64BitProcess
            || RuntimeInformation.ProcessArchitecture != Architecture.X64
            || !Avx2.IsSupported
            || !(OperatingSystem.IsLinux() || OperatingSystem.IsWindows()))
        {
            return false;
        }

        // CPUID leaf 1, ECX bit 29: F16C.
        (_, _, int ecx, _) = X86Base.CpuId(1, 0);
        return (ecx & (1 << 29)) != 0;
    }

    /// <summary>A step of <see cref="SetUp"/> made to fail, for the tests of the fallback.</summary>
    internal enum SetupFault
    {
        None,

        /// <summary>No memory (mmap or VirtualAlloc fails).</summary>
        Allocation,

        /// <summary>The memory cannot be made executable (mprotect or VirtualProtect fails, as under a W^X policy).</summary>
        Protection,

        /// <summary>An exception while the code is written.</summary>
        Exception,
    }

    /// <summary>The process's routines, set up on first use; <see cref="SetUp"/> throws nothing, so neither does this initialiser.</summary>
    private static class Installed
    {
        public static readonly Routines Routines = SetUp(SetupFault.None);
    }

    /// <summary>The two entry points, or none (the default): then every count converts in arithmetic.</summary>
    internal readonly struct Routines
    {
        private readonly delegate* unmanaged[SuppressGCTransition]<ushort*, float*, nint, void> _widen;
        private readonly delegate* unmanaged[SuppressGCTransition]<float*, ushort*, nint, void> _narrow;

        public Routines(byte* widen, byte* narrow)
        {
            _widen = (delegate* unmanaged[SuppressGCTransition]<ushort*, float*, nint, void>)widen;
            _narrow = (delegate* unmanaged[SuppressGCTransition]<float*, ushort*, nint, void>)narrow;
        }

        public bool IsAvailable => _widen != null;

        /// <summary>Widens <paramref name="count"/> Half values: by F16C from 16 on, the last step overlapping the one before.</summary>
        public void Widen(ushort* source, float* destination, int count)
        {
            Debug.Assert(count >= 0, "a negative count");
            if (_widen == null || count < Step)
            {
                if (count > 0)
                {
                    HalfConversion.WidenArithmetic(new ReadOnlySpan<Half>(source, count), new Span<float>(destination, count));
                }

                return;
            }

            Run(_widen, source, destination, count);
        }

        /// <summary>Narrows <paramref name="count"/> floats: by F16C from 16 on, the last step overlapping the one before.</summary>
        public void Narrow(float* source, ushort* destination, int count)
        {
            Debug.Assert(count >= 0, "a negative count");
            if (_narrow == null || count < Step)
            {
                if (count > 0)
                {
                    HalfConversion.NarrowArithmetic(new ReadOnlySpan<float>(source, count), new Span<Half>(destination, count));
                }

                return;
            }

            Run(_narrow, source, destination, count);
        }

        /// <summary>
        /// Runs a 16-values-a-step routine over <paramref name="count"/> (at least 16) values, in calls of at most
        /// <see cref="CallElements"/>; the tail is one more step ending at the last value.
        /// </summary>
        private static void Run<TFrom, TTo>(delegate* unmanaged[SuppressGCTransition]<TFrom*, TTo*, nint, void> routine, TFrom* source, TTo* destination, int count)
            where TFrom : unmanaged
            where TTo : unmanaged
        {
            Debug.Assert(count >= Step, "the tail step starts 16 values before the end");
            int whole = count & ~(Step - 1);
            for (int at = 0; at < whole; at += CallElements)
            {
                routine(source + at, destination + at, Math.Min(CallElements, whole - at));
            }

            if (whole != count)
            {
                routine(source + count - Step, destination + count - Step, Step);
            }
        }
    }

    // The arguments (source, destination, count) into r9, r10, r11.
    // System V: mov r9, rdi; mov r10, rsi; mov r11, rdx.
    private static ReadOnlySpan<byte> SystemVArguments => [0x49, 0x89, 0xF9, 0x49, 0x89, 0xF2, 0x49, 0x89, 0xD3];

    // Windows x64: mov r9, rcx; mov r10, rdx; mov r11, r8.
    private static ReadOnlySpan<byte> WindowsArguments => [0x49, 0x89, 0xC9, 0x49, 0x89, 0xD2, 0x4D, 0x89, 0xC3];

    // count is a positive multiple of 16:
    //       xor eax, eax
    //   L:  vcvtph2ps ymm0, [r9 + rax*2]
    //       vcvtph2ps ymm1, [r9 + rax*2 + 16]
    //       vmovups [r10 + rax*4], ymm0
    //       vmovups [r10 + rax*4 + 32], ymm1
    //       add rax, 16
    //       cmp rax, r11
    //       jb L
    //       vzeroupper
    //       ret
    private static ReadOnlySpan<byte> WidenLoop =>
    [
        0x31, 0xC0,
        0xC4, 0xC2, 0x7D, 0x13, 0x04, 0x41,
        0xC4, 0xC2, 0x7D, 0x13, 0x4C, 0x41, 0x10,
        0xC4, 0xC1, 0x7C, 0x11, 0x04, 0x82,
        0xC4, 0xC1, 0x7C, 0x11, 0x4C, 0x82, 0x20,
        0x48, 0x83, 0xC0, 0x10,
        0x4C, 0x39, 0xD8,
        0x72, 0xDD,
        0xC5, 0xF8, 0x77,
        0xC3,
    ];

    // count is a positive multiple of 16; rounding control 0 in the immediate is round to nearest even. The conversion
    // goes to a register and a plain store follows: the memory-destination form is several times slower on Zen 4.
    //       xor eax, eax
    //   L:  vmovups ymm0, [r9 + rax*4]
    //       vmovups ymm1, [r9 + rax*4 + 32]
    //       vcvtps2ph xmm0, ymm0, 0
    //       vcvtps2ph xmm1, ymm1, 0
    //       vmovdqu [r10 + rax*2], xmm0
    //       vmovdqu [r10 + rax*2 + 16], xmm1
    //       add rax, 16
    //       cmp rax, r11
    //       jb L
    //       vzeroupper
    //       ret
    private static ReadOnlySpan<byte> NarrowLoop =>
    [
        0x31, 0xC0,
        0xC4, 0xC1, 0x7C, 0x10, 0x04, 0x81,
        0xC4, 0xC1, 0x7C, 0x10, 0x4C, 0x81, 0x20,
        0xC4, 0xE3, 0x7D, 0x1D, 0xC0, 0x00,
        0xC4, 0xE3, 0x7D, 0x1D, 0xC9, 0x00,
        0xC4, 0xC1, 0x7A, 0x7F, 0x04, 0x42,
        0xC4, 0xC1, 0x7A, 0x7F, 0x4C, 0x42, 0x10,
        0x48, 0x83, 0xC0, 0x10,
        0x4C, 0x39, 0xD8,
        0x72, 0xD1,
        0xC5, 0xF8, 0x77,
        0xC3,
    ];

    /// <summary>A page or so of memory that is first written, then made executable and never written again.</summary>
    private static partial class ExecutableMemory
    {
        private const int ProtRead = 1;
        private const int ProtWrite = 2;
        private const int ProtExec = 4;
        private const int MapPrivate = 0x02;
        private const int MapAnonymous = 0x20;
        private const uint MemCommitReserve = 0x3000;
        private const uint PageReadWrite = 0x04;
        private const uint PageExecuteRead = 0x20;
        private const uint MemRelease = 0x8000;

        public static byte* Allocate(int size)
        {
            if (OperatingSystem.IsWindows())
            {
                return (byte*)VirtualAlloc(null, (nuint)size, MemCommitReserve, PageReadWrite);
            }

            void* p = Mmap(null, (nuint)size, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, 0);
            return p == (void*)-1 ? null : (byte*)p;
        }

        public static bool MakeExecutable(byte* code, int size)
        {
            if (OperatingSystem.IsWindows())
            {
                return VirtualProtect(code, (nuint)size, PageExecuteRead, out _) != 0;
            }

            return Mprotect(code, (nuint)size, ProtRead | ProtExec) == 0;
        }

        public static void Free(byte* code, int size)
        {
            if (OperatingSystem.IsWindows())
            {
                _ = VirtualFree(code, 0, MemRelease);
                return;
            }

            _ = Munmap(code, (nuint)size);
        }

        [LibraryImport("libc", EntryPoint = "mmap")]
        private static partial void* Mmap(void* address, nuint length, int protection, int flags, int fd, nint offset);

        [LibraryImport("libc", EntryPoint = "mprotect")]
        private static partial int Mprotect(void* address, nuint length, int protection);

        [LibraryImport("libc", EntryPoint = "munmap")]
        private static partial int Munmap(void* address, nuint length);

        [LibraryImport("kernel32.dll", EntryPoint = "VirtualAlloc")]
        private static partial void* VirtualAlloc(void* address, nuint size, uint allocationType, uint protection);

        [LibraryImport("kernel32.dll", EntryPoint = "VirtualProtect")]
        private static partial int VirtualProtect(void* address, nuint size, uint protection, out uint oldProtection);

        [LibraryImport("kernel32.dll", EntryPoint = "VirtualFree")]
        private static partial int VirtualFree(void* address, nuint size, uint freeType);
    }
}
