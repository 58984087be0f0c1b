#!/usr/bin/env bash
# Builds (Release) and runs the libtorch peer benchmark on the private glibc 2.38+ runtime that TorchSharp 0.107
# needs (prepared by scripts/torch-runtime.sh). Arguments go to the app / BenchmarkDotNet, e.g.
#
#   ./run.sh --filter '*' --job dry                 # everything, once
#   ./run.sh --warm --anyCategories 1Thread --job short
#   ./run.sh --verify-only                          # only the torch-vs-ours correctness check
#
# --warm (or TORCH_WARM=1) runs with
#   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296
# libtorch's "warm" state: glibc keeps freed memory, so libtorch's per-call buffers don't page-fault.
# Without it glibc's defaults apply (the default state; large buffers are mmap'd and unmapped per call).
# An inherited GLIBC_TUNABLES is dropped unless --warm is given, so the two states are always what they say.
# Results go to BenchmarkDotNet.Artifacts/ next to this script (override with --artifacts DIR).
# --no-build runs the last build as is (e.g. while the library's sources are mid-edit and don't compile).
# TORCH_RUNTIME_SCRIPT overrides the runtime script's path. Exit code: non-zero on any failure.
# RUN_TIMEOUT bounds the run in seconds (default none: a full run takes hours); whatever the run starts (BenchmarkDotNet
# runs each benchmark in a child process) ends with it, and when this script exits or is interrupted
# (scripts/bounded-run.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../scripts/bounded-run.sh"
warm=${TORCH_WARM:-0}
build=1
args=()
for a in "$@"; do
  case "$a" in
    --warm) warm=1 ;;
    --default) warm=0 ;;
    --no-build) build=0 ;;
    *) args+=("$a") ;;
  esac
done

if [ "$build" = 1 ]; then
  dotnet build "$here/SoftmaxCE.Benchmarks.Torch.csproj" -c Release --nologo -v quiet
fi
dll="$here/bin/Release/net10.0/SoftmaxCE.Benchmarks.Torch.dll"
[ -f "$dll" ] || { echo "run.sh: $dll not built" >&2; exit 1; }

rt=$("${TORCH_RUNTIME_SCRIPT:-$here/../../scripts/torch-runtime.sh}")
[ -x "$rt/dotnet-root/dotnet" ] || { echo "run.sh: torch runtime not ready in '$rt'" >&2; exit 1; }

has_artifacts=0
for a in "${args[@]}"; do [ "$a" = "--artifacts" ] && has_artifacts=1; done
[ "$has_artifacts" = 1 ] || args+=(--artifacts "$here/BenchmarkDotNet.Artifacts")

env_cmd=(env -u GLIBC_TUNABLES)
if [ "$warm" = 1 ]; then
  env_cmd=(env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296)
  echo "run.sh: warm allocator state (GLIBC_TUNABLES set)" >&2
else
  echo "run.sh: default allocator state (GLIBC_TUNABLES unset)" >&2
fi

cd "$here"
# SOFTMAXCE_TORCH_RUNTIME / SOFTMAXCE_CHILD_LD_LIBRARY_PATH let the app hand child processes the caller's
# LD_LIBRARY_PATH again (system tools fail to start against the private libc). setsid and timeout start before env
# sets it.
bounded_run "${RUN_TIMEOUT:-0}" "${env_cmd[@]}" SOFTMAXCE_TORCH_RUNTIME="$rt" SOFTMAXCE_CHILD_LD_LIBRARY_PATH="${LD_LIBRARY_PATH-}" \
  LD_LIBRARY_PATH="$rt/x/usr/lib/x86_64-linux-gnu" DOTNET_ROOT="$rt/dotnet-root" \
  "$rt/dotnet-root/dotnet" "$dll" "${args[@]}"
