#!/usr/bin/env bash
# The package, consumed as a package: packs SoftmaxCE into OUTDIR/feed, checks what the .nupkg and .snupkg hold,
# then builds samples/QuickStart against the packed package (a PackageReference restored from that folder, with
# a NuGet cache of its own so that no stale SoftmaxCE of the same version is ever used), runs it, publishes it
# with Native AOT and runs the native binary. Each run must exit 0 and print a loss that fell.
#
#   usage: bash .ci/package.sh OUTDIR
#
# Exits non-zero, saying what failed, on the first failure. Needs only the .NET 10 SDK, plus a C toolchain
# (clang or gcc, and zlib) for the Native AOT step.
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: bash .ci/package.sh OUTDIR" >&2
  exit 2
fi
mkdir -p "$1" || exit 1
out=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

feed="$out/feed"
cache="$out/nuget-cache"
logs="$out/package-logs"
sample=samples/QuickStart
rm -rf "$feed" "$logs" "$out/quickstart" "$cache/softmaxce"
mkdir -p "$feed" "$logs"
total_start=$(date +%s)

fail() {
  echo "package check FAILED: $*"
  exit 1
}

# step NAME LOG COMMAND...: runs the command with its output in LOG, prints the seconds it took, shows the log's
# end and fails on a non-zero exit.
step() {
  local name=$1 log=$2
  shift 2
  local start=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  echo "  $name: $((SECONDS - start)) s"
  if [ $rc -ne 0 ]; then
    tail -n 40 "$log"
    fail "$name (exit $rc; log $log)"
  fi
}

# zip_list FILE: the entries of a zip archive, one per line.
zip_list() {
  if command -v unzip >/dev/null 2>&1; then
    unzip -Z1 "$1"
  else
    python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$1"
  fi
}

# zip_cat FILE ENTRY: one entry of a zip archive, to stdout.
zip_cat() {
  if command -v unzip >/dev/null 2>&1; then
    unzip -p "$1" "$2"
  else
    python3 -c 'import sys, zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode())' "$1" "$2"
  fi
}

# check_run NAME COMMAND...: runs the sample, echoes its output, and checks the exit code and the final line.
check_run() {
  local name=$1
  shift
  local start=$SECONDS
  local output rc
  output=$("$@" 2>&1)
  rc=$?
  echo "$output" | sed 's/^/    /'
  echo "  $name: $((SECONDS - start)) s"
  [ $rc -eq 0 ] || fail "$name exited $rc"
  local final
  final=$(grep '^final loss ' <<<"$output" | tail -n 1)
  [ -n "$final" ] || fail "$name printed no 'final loss' line"
  # "final loss X (start Y), accuracy Z%": X must be below Y.
  awk '{ x = $3; y = $5; gsub(/[(),]/, "", y); exit !(x + 0 < y + 0) }' <<<"$final" || fail "$name: the loss did not fall ($final)"
}

echo "== pack"
step "dotnet pack" "$logs/pack.log" dotnet pack src/SoftmaxCE/SoftmaxCE.csproj -c Release -o "$feed"

nupkg=$(find "$feed" -maxdepth 1 -name 'SoftmaxCE.*.nupkg' ! -name '*.snupkg' | head -n 1)
[ -n "$nupkg" ] || fail "no SoftmaxCE.*.nupkg in $feed"
version=$(basename "$nupkg" .nupkg)
version=${version#SoftmaxCE.}
snupkg="$feed/SoftmaxCE.$version.snupkg"
echo "  package: $(basename "$nupkg") ($(du -k "$nupkg" | cut -f1) KiB), version $version"

entries=$(zip_list "$nupkg") || fail "cannot read $nupkg"
for entry in lib/net10.0/SoftmaxCE.dll lib/net10.0/SoftmaxCE.xml README.md LICENSE SoftmaxCE.nuspec; do
  grep -qx "$entry" <<<"$entries" || fail "$(basename "$nupkg") lacks $entry"
done
nuspec=$(zip_cat "$nupkg" SoftmaxCE.nuspec)
for needle in '<license type="expression">MIT</license>' '<readme>README.md</readme>' '<repository type="git"' '<description>' '<tags>'; do
  grep -qF "$needle" <<<"$nuspec" || fail "the nuspec lacks $needle"
done
grep -q 'System.Numerics.Tensors' <<<"$nuspec" || fail "the nuspec lacks its System.Numerics.Tensors dependency"
[ -f "$snupkg" ] || fail "no symbols package $(basename "$snupkg")"
# Listed into a variable first: with pipefail, `zip_list | grep -q` fails at random when grep exits early and
# unzip then dies of SIGPIPE (seen on a loaded machine).
symbols=$(zip_list "$snupkg") || fail "cannot read $snupkg"
grep -qx 'lib/net10.0/SoftmaxCE.pdb' <<<"$symbols" || fail "$(basename "$snupkg") lacks lib/net10.0/SoftmaxCE.pdb"
echo "  contents: dll, xml docs, README.md, LICENSE, license, readme and repository metadata, symbols package: ok"

# The sample restores SoftmaxCE from the folder feed (plus the machine's usual sources for everything else) into
# a cache of its own, from which any earlier SoftmaxCE was removed above.
restore_props=(-p:SoftmaxCEVersion="$version" -p:RestoreAdditionalProjectSources="$feed")
export NUGET_PACKAGES="$cache"

echo "== QuickStart on the JIT, against the package"
step "restore" "$logs/restore.log" dotnet restore "$sample" "${restore_props[@]}"
step "build" "$logs/build.log" dotnet build "$sample" -c Release --no-restore "${restore_props[@]}" -o "$out/quickstart/jit"
[ -f "$cache/softmaxce/$version/softmaxce.$version.nupkg" ] || fail "the sample did not restore SoftmaxCE $version from the package"
cmp -s "$cache/softmaxce/$version/softmaxce.$version.nupkg" "$nupkg" || fail "the sample restored a SoftmaxCE $version other than the one just packed"
check_run "run" dotnet "$out/quickstart/jit/QuickStart.dll"

echo "== QuickStart with Native AOT"
# The AOT compiler links with clang by default; use a versioned clang or gcc when no plain clang is on PATH.
aot_props=()
if ! command -v clang >/dev/null 2>&1; then
  versioned=$(compgen -c clang- | grep -E '^clang-[0-9]+$' | sort -t- -k2 -n | tail -n 1)
  if [ -n "$versioned" ]; then
    aot_props=(-p:CppCompilerAndLinker="$versioned")
  elif command -v gcc >/dev/null 2>&1; then
    aot_props=(-p:CppCompilerAndLinker=gcc)
  fi
fi
step "publish (PublishAot, linux-x64${aot_props:+, ${aot_props[*]}})" "$logs/publish-aot.log" \
  dotnet publish "$sample" -c Release -r linux-x64 -p:PublishAot=true "${aot_props[@]}" "${restore_props[@]}" -o "$out/quickstart/aot"
# No trim or AOT warnings: the sample treats warnings as errors, and this says so when one appears anyway.
if grep -qE 'warning IL[0-9]{4}' "$logs/publish-aot.log"; then
  grep -E 'warning IL[0-9]{4}' "$logs/publish-aot.log" | sort -u | head -n 20
  fail "trim or AOT warnings in the Native AOT publish"
fi
[ -x "$out/quickstart/aot/QuickStart" ] || fail "no native binary at $out/quickstart/aot/QuickStart"
echo "  native binary: $(du -k "$out/quickstart/aot/QuickStart" | cut -f1) KiB"
check_run "run (native)" "$out/quickstart/aot/QuickStart"

echo "package check passed in $(( $(date +%s) - total_start )) s"
