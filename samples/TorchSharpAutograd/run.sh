#!/usr/bin/env bash
# Builds samples/TorchSharpAutograd (Release) and runs it: SoftmaxCE as a TorchSharp autograd function, trained
# against TorchSharp's cross_entropy. Exit code: non-zero if the build fails or anything disagrees.
#
# TorchSharp 0.107's libtorch needs glibc 2.38+ (GLIBCXX_3.4.32). On an older system (Debian 12) the app runs on a
# private copy of Debian 13's libc prepared by scripts/torch-runtime.sh (nothing system-wide changes);
# TORCH_RUNTIME_SCRIPT names another script that prints the directory of such a runtime.
# The first restore downloads TorchSharp-cpu with libtorch, about 1.4 GB.
# The run (not the build) is bounded by RUN_TIMEOUT seconds (default 900), and nothing it
# starts outlives it or this script (scripts/bounded-run.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../scripts/bounded-run.sh"

dotnet build "$here/TorchSharpAutograd.csproj" -c Release --nologo -v quiet -clp:NoSummary
dll="$here/bin/Release/net10.0/TorchSharpAutograd.dll"

glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
if [ "$(printf '%s\n2.38\n' "$glibc" | sort -V | head -n 1)" = "2.38" ]; then
  bounded_run "${RUN_TIMEOUT:-900}" dotnet "$dll" "$@"
  exit
fi

echo "run.sh: glibc $glibc is older than libtorch needs; preparing a private runtime" >&2
rt=$(bash "${TORCH_RUNTIME_SCRIPT:-$here/../../scripts/torch-runtime.sh}")
[ -x "$rt/dotnet-root/dotnet" ] || { echo "run.sh: torch runtime not ready in '$rt'" >&2; exit 1; }
# setsid and timeout are system programs and start on the system's libc: env sets the private one for dotnet alone.
bounded_run "${RUN_TIMEOUT:-900}" env LD_LIBRARY_PATH="$rt/x/usr/lib/x86_64-linux-gnu" DOTNET_ROOT="$rt/dotnet-root" "$rt/dotnet-root/dotnet" "$dll" "$@"
