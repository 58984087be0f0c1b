#!/usr/bin/env bash
# Re-measures every results file that the speed tables of README.md and docs/*.md are generated from, installs each in
# benchmarks/results/$RESULTS_CPU/ under the name scripts/readme-tables.sh reads, and then regenerates the tables.
#
#   bash scripts/run-benchmarks-for-docs.sh              every step, in order
#   bash scripts/run-benchmarks-for-docs.sh STEP...      only these steps (e.g. FusedLossAndGradientBenchmarks)
#   bash scripts/run-benchmarks-for-docs.sh --list       each step: the results file it writes and its command
#
# Run it on an otherwise idle machine. Each results file records the machine's 1-minute load average before its run,
# and readme-tables.sh refuses a file whose load average is above 1 (the results machine has 2 cores). So this script
# refuses to start when the load average is 1 or more; builds both benchmark programs once; and before each step waits
# until the load left by the previous step has decayed below $SETTLE_LOAD (default 0.5), for at most $SETTLE_TIMEOUT
# seconds (default 900), after which it stops. Each step is its own process with its own artifacts directory
# (BenchmarkDotNet.Artifacts/docs/STEP/), so each file records the load before its own run.
#
# The libtorch steps (Torch*, LinearHead*) run benchmarks/SoftmaxCE.Benchmarks.Torch/run.sh, which needs TorchSharp-cpu
# (about 1.4 GB to restore) and glibc 2.38+ (run.sh prepares a private runtime through scripts/torch-runtime.sh);
# SKIP_TORCH=1 leaves them out. On the 2-core results machine every step together takes about two and a half hours.
set -euo pipefail
cd "$(dirname "$0")/.."

results="benchmarks/results/${RESULTS_CPU:-amd-epyc-zen4-2core}"
settle_load=${SETTLE_LOAD:-0.5}
settle_timeout=${SETTLE_TIMEOUT:-900}
artifacts="$PWD/BenchmarkDotNet.Artifacts/docs"   # absolute: run.sh changes directory
main=(dotnet run -c Release --no-build --project benchmarks/SoftmaxCE.Benchmarks --)
torch=(bash benchmarks/SoftmaxCE.Benchmarks.Torch/run.sh --no-build)
short=(--job short)
# A linear-head step takes seconds per call: one warm-up and three measured calls, each a single invocation.
long=(--launchCount 1 --warmupCount 1 --iterationCount 3 --invocationCount 1 --unrollFactor 1)

# The steps, in order: "results file|program|BenchmarkDotNet filter|job|environment|more arguments". The program is main
# (the benchmark project in the solution) or torch (the libtorch one); the job is short or long (above).
steps=(
  "FusedLossAndGradientBenchmarks.md|main|Benchmarks.FusedLossAndGradientBenchmarks.*|short|"
  "ParallelScalingBenchmarks.md|main|Benchmarks.ParallelScalingBenchmarks.*|short|"
  "ParallelThresholdBenchmarks.md|main|Benchmarks.ParallelThresholdBenchmarks.*|short|"
  "ManagedArrayRooflineBenchmarks.md|main|Benchmarks.ManagedArrayRooflineBenchmarks.*|short|"
  "ShortRowBenchmarks.md|main|Benchmarks.ShortRowBenchmarks.*|short|"
  "ShortRowBenchmarks-avx512-off.md|main|Benchmarks.ShortRowBenchmarks.*|short|DOTNET_EnableAVX512=0"
  "MediumRowBenchmarks.md|main|Benchmarks.MediumRowBenchmarks.*|short|"
  "ShortRowKernelBenchmarks.md|main|Benchmarks.ShortRowKernelBenchmarks.*|short|"
  "ExpVariantBenchmarks.md|main|Benchmarks.ExpVariantBenchmarks.*|short|"
  "ExpDoubleVariantBenchmarks.md|main|Benchmarks.ExpDoubleVariantBenchmarks.*|short|"
  "SoftmaxBenchmarks.md|main|Benchmarks.SoftmaxBenchmarks.*|short|"
  "LogSoftmaxBenchmarks.md|main|Benchmarks.LogSoftmaxBenchmarks.*|short|"
  "LossBenchmarks.md|main|Benchmarks.LossBenchmarks.*|short|"
  "BackwardBenchmarks.md|main|Benchmarks.BackwardBenchmarks.*|short|"
  "DenseLossAndGradientBenchmarks.md|main|Benchmarks.DenseLossAndGradientBenchmarks.*|short|"
  "LossAndGradientDoubleBenchmarks.md|main|Benchmarks.LossAndGradientDoubleBenchmarks.*|short|"
  "LanguageModelFeatureBenchmarks.md|main|Benchmarks.LanguageModelFeatureBenchmarks.*|short|"
  "SoftcapCostBenchmarks.md|main|Benchmarks.SoftcapCostBenchmarks.*|short|"
  "AutogradForwardBenchmarks.md|main|Benchmarks.AutogradForwardBenchmarks.*|short|"
  "AutogradBackwardBenchmarks.md|main|Benchmarks.AutogradBackwardBenchmarks.*|short|"
  "ClassAxisBenchmarks.md|main|Benchmarks.ClassAxisBenchmarks.*|short|"
  "ShardedBenchmarks.md|main|Benchmarks.ShardedBenchmarks.*|short|"
  "HalfLossAndGradientBenchmarks.md|main|Benchmarks.HalfLossAndGradientBenchmarks.*|short|"
  "MatrixMultiplyBenchmarks.md|main|Benchmarks.MatrixMultiplyBenchmarks.*|short|"
  "TorchPeerBenchmarks.md|torch|SoftmaxCE.Benchmarks.Torch.TorchPeerBenchmarks.*|short||--anyCategories 1Thread"
  "TorchPeerBenchmarks-warm.md|torch|SoftmaxCE.Benchmarks.Torch.TorchPeerBenchmarks.*|short|TORCH_WARM=1|--anyCategories 1Thread"
  "TorchClassAxisBenchmarks.md|torch|SoftmaxCE.Benchmarks.Torch.TorchClassAxisBenchmarks.*|short|"
  "LinearHeadPeerBenchmarks.md|torch|SoftmaxCE.Benchmarks.Torch.LinearHeadPeerBenchmarks.*|long|"
  "LinearHeadPeerAllCoresBenchmarks.md|torch|SoftmaxCE.Benchmarks.Torch.LinearHeadPeerAllCoresBenchmarks.*|long|"
  "LinearHeadMemory.md|memory|||"
)

# The linear head's memory: one process per figure (N H V).
memory_shapes=("1024 1024 32000" "1024 2048 32000" "1024 1024 128256" "4096 1024 32000")

load() { cut -d' ' -f1 /proc/loadavg; }
below() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

# command STEP: the command line of a step, as the lead would type it (the artifacts directory added by run_step).
command_of() {
  local file program filter job env more
  IFS='|' read -r file program filter job env more <<<"$1"
  local -a cmd
  case "$program" in
    main) cmd=("${main[@]}" --filter "$filter") ;;
    torch) cmd=("${torch[@]}" --filter "$filter") ;;
    memory) echo "${torch[*]} --linear-memory ours|torch N H V, for each N H V in: $(printf '(%s) ' "${memory_shapes[@]}")"; return ;;
  esac
  if [ "$job" = long ]; then cmd+=("${long[@]}"); else cmd+=("${short[@]}"); fi
  # shellcheck disable=SC2206 # the extra arguments are words
  cmd+=($more)
  printf '%s' "${env:+$env }"
  printf "%q " "${cmd[@]}"
  echo
}

list() {
  local step
  for step in "${steps[@]}"; do
    printf '%s\n    %s\n' "${step%%|*}" "$(command_of "$step")"
  done
}

wait_for_quiet() {
  local waited=0 now
  now=$(load)
  while ! below "$now" "$settle_load"; do
    if [ "$waited" -ge "$settle_timeout" ]; then
      echo "run-benchmarks-for-docs: the load average is still $now after ${waited} s (waiting for < $settle_load): is another job running?" >&2
      return 1
    fi
    echo "  load average $now, waiting for < $settle_load ..."
    sleep 15
    waited=$((waited + 15))
    now=$(load)
  done
}

memory_step() {
  local out=$1 shape ours theirs line rows="" n h v
  local before
  before=$(load)
  for shape in "${memory_shapes[@]}"; do
    read -r n h v <<<"$shape"
    # "linear-memory LIB NxHxV: loss L, peak extra X MiB (...)": the X.
    ours=$("${torch[@]}" --linear-memory ours "$n" "$h" "$v" | sed -n 's/^linear-memory ours .* peak extra \([0-9.]*\) MiB.*/\1/p')
    theirs=$("${torch[@]}" --linear-memory torch "$n" "$h" "$v" | sed -n 's/^linear-memory torch .* peak extra \([0-9.]*\) MiB.*/\1/p')
    [ -n "$ours" ] && [ -n "$theirs" ] || { echo "run-benchmarks-for-docs: no figure for $shape" >&2; return 1; }
    line="| ${n}x${h}x${v} | $ours | $theirs | $(awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "%.0f", a / b }') |"
    rows+="$line"$'\n'
  done
  {
    echo "# Fused linear head: peak extra memory of one forward + backward step"
    echo
    echo '`LinearLossAndGradient<float>` (one thread) against libtorch (TorchSharp-cpu, one thread) `F.linear` +'
    echo '`F.cross_entropy` + `backward()`, float32, no bias, mean reduction. Each figure comes from its own process'
    echo '(`benchmarks/SoftmaxCE.Benchmarks.Torch/run.sh --no-build --linear-memory ours|torch N H V`): the inputs (and, for'
    echo "SoftmaxCE, the gradient buffers) are created first, the peak resident size is reset through \`/proc/self/clear_refs\`,"
    echo 'one step runs (the first call: SoftmaxCE'"'"'s includes its pooled scratch and JIT-compiled code), and the new peak minus'
    echo "the resident size before the step is reported. libtorch's \`backward()\` allocates the gradients (\`(N + V) * H\` floats);"
    echo 'they are subtracted from its figure, so both columns count memory beyond inputs and gradients. glibc defaults.'
    echo
    echo "Load average before the run: $before"
    echo
    echo '| Shape (N x H x V) | SoftmaxCE extra (MiB) | libtorch extra (MiB) | libtorch / SoftmaxCE |'
    echo '|---|---:|---:|---:|'
    printf '%s' "$rows"
  } >"$out"
}

run_step() {
  local step=$1 file program filter job env more dir report
  IFS='|' read -r file program filter job env more <<<"$step"
  dir="$artifacts/${file%.md}"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "== $file: $(command_of "$step")"
  wait_for_quiet || return 1
  if [ "$program" = memory ]; then
    memory_step "$dir/$file" || return 1
    cp "$dir/$file" "$results/$file"
    return
  fi
  local -a cmd
  if [ "$program" = main ]; then cmd=("${main[@]}"); else cmd=("${torch[@]}"); fi
  cmd+=(--filter "$filter" --artifacts "$dir")
  if [ "$job" = long ]; then cmd+=("${long[@]}"); else cmd+=("${short[@]}"); fi
  # shellcheck disable=SC2206 # the extra arguments are words
  cmd+=($more)
  env ${env:+"$env"} "${cmd[@]}" || return 1
  report=$(find "$dir" -name '*-report-github.md' | head -n 2)
  if [ "$(wc -l <<<"$report")" -ne 1 ] || [ -z "$report" ]; then
    echo "run-benchmarks-for-docs: expected one *-report-github.md in $dir, found: ${report:-none}" >&2
    return 1
  fi
  if [ "$env" = DOTNET_EnableAVX512=0 ] && ! grep -q 'x86-64-v3' "$report"; then
    echo "run-benchmarks-for-docs: $file should come from a run without AVX-512 (x86-64-v3), but its header says otherwise" >&2
    return 1
  fi
  cp "$report" "$results/$file"
  grep -m 1 '^Load average before the run:' "$results/$file" | sed "s/^/  $file: /"
}

selected=()
case "${1:-}" in
  --list) list; exit 0 ;;
  -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
esac
for arg in "$@"; do
  found=""
  for step in "${steps[@]}"; do
    [ "${step%%|*}" = "$arg" ] || [ "${step%%|*}" = "$arg.md" ] && found=$step
  done
  [ -n "$found" ] || { echo "run-benchmarks-for-docs: no step '$arg' (see --list)" >&2; exit 2; }
  selected+=("$found")
done
[ "${#selected[@]}" -gt 0 ] || selected=("${steps[@]}")
if [ "${SKIP_TORCH:-0}" = 1 ]; then
  kept=()
  for step in "${selected[@]}"; do
    IFS='|' read -r _ program _ <<<"$step"
    [ "$program" = main ] && kept+=("$step")
  done
  selected=("${kept[@]}")
fi

now=$(load)
if ! below "$now" 1; then
  echo "run-benchmarks-for-docs: the machine is busy (load average $now): results measured now would be refused." >&2
  echo "Stop the other jobs, or wait until 'uptime' shows a 1-minute load average below 1, then run this again." >&2
  exit 1
fi

needs_torch=0
for step in "${selected[@]}"; do
  IFS='|' read -r _ program _ <<<"$step"
  [ "$program" != main ] && needs_torch=1
done
echo "Building the benchmark programs (once; each step then runs with --no-build)."
dotnet build -c Release benchmarks/SoftmaxCE.Benchmarks --nologo -v quiet
if [ "$needs_torch" = 1 ]; then
  # Builds the libtorch benchmark and checks that both libraries compute the same loss and gradients.
  bash benchmarks/SoftmaxCE.Benchmarks.Torch/run.sh --verify-only
fi

failed=()
start=$(date +%s)
for step in "${selected[@]}"; do
  run_step "$step" || failed+=("${step%%|*}")
done
echo "Measured in $(( ($(date +%s) - start) / 60 )) min."
if [ "${#failed[@]}" -gt 0 ]; then
  echo "run-benchmarks-for-docs: these steps failed: ${failed[*]}" >&2
  exit 1
fi
bash scripts/readme-tables.sh
echo "Tables regenerated: review 'git diff', then commit $results with README.md and docs/."
