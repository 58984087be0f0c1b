#!/usr/bin/env bash
# TorchSharp 0.107's native code needs GLIBCXX_3.4.32 (GCC 13+), newer than Debian 12 ships.
# This prepares, once, a private copy of Debian 13's libc6 + libstdc++6 and a dotnet host patched
# to use them, and prints the directory. Nothing system-wide is changed.
#
# (The repository's copy of the team's ../shared/tools/torch-runtime.sh: the TorchSharp sample and the torch benchmarks use it.)
# Use: rt=$(scripts/torch-runtime.sh)
#      LD_LIBRARY_PATH=$rt/x/usr/lib/x86_64-linux-gnu $rt/dotnet-root/dotnet path/to/App.dll [args]
# i.e. build as usual, then run the built .dll with that dotnet. Only programs that load
# TorchSharp need this; on a distribution with glibc 2.38+ (Ubuntu 24.04, Debian 13) plain
# `dotnet run` works.
set -euo pipefail
root=${TORCH_RUNTIME_ROOT:-/tmp/softmaxce-torch-runtime}
if [ -x "$root/dotnet-root/dotnet" ]; then echo "$root"; exit 0; fi
mkdir -p "$root/lists" "$root/debs" "$root/x" "$root/dotnet-root"
uri=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" >"$root/trixie.sources"
o=(-o "Dir::Etc::sourcelist=$root/trixie.sources" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$root/lists")
apt-get "${o[@]}" update >/dev/null 2>&1
(cd "$root/debs" && apt-get "${o[@]}" download libc6 libstdc++6 libgcc-s1 >/dev/null 2>&1)
for d in "$root"/debs/*.deb; do dpkg -x "$d" "$root/x"; done
command -v patchelf >/dev/null || { apt-get install -y -qq patchelf >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1; apt-get install -y -qq patchelf >/dev/null 2>&1; }; }
dn=$(dirname "$(readlink -f "$(command -v dotnet)")")
for d in host shared; do ln -sfn "$dn/$d" "$root/dotnet-root/$d"; done
cp "$dn/dotnet" "$root/dotnet-root/dotnet"
patchelf --set-interpreter "$root/x/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$root/dotnet-root/dotnet"
echo "$root"
