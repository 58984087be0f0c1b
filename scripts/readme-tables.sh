#!/usr/bin/env bash
# Generates the speed tables of README.md and docs/*.md from the committed BenchmarkDotNet results, so that no figure in
# them is typed by hand. Each table sits between "<!-- table: NAME -->" and "<!-- /table -->", and each figure quoted in
# the prose between "<!-- value: NAME -->" and "<!-- /value -->" (table_NAME and value_NAME below); a table may appear in
# more than one page.
#
#   bash scripts/readme-tables.sh            rewrite README.md and docs/*.md in place
#   bash scripts/readme-tables.sh --check    exit 1, showing the diff, if a page differs from what would be written
#
# Results come from benchmarks/results/$RESULTS_CPU (default amd-epyc-zen4-2core): one file per benchmark class (and per
# configuration, e.g. AVX-512 off), written by scripts/run-benchmarks-for-docs.sh. Every results file must record the
# machine's 1-minute load average before its run, in a line "Load average before the run: 0.12" that the benchmark
# programs write. A file that records none, or a load average above 1, is refused and nothing is written: the results
# machine has 2 cores, so above 1 another job held a core for part of the run, and its figures measure that job too.
#
# Every figure is read from the "ns/elem" column (median time / elements) unless a table says otherwise, and every ratio
# is a ratio of two figures taken within one file (one run). Needs only bash, awk and diff.
set -euo pipefail
cd "$(dirname "$0")/.."

results="benchmarks/results/${RESULTS_CPU:-amd-epyc-zen4-2core}"
pages=(README.md)
for page in docs/*.md; do [ -f "$page" ] && pages+=("$page"); done
max_load=1
mode=write
case "${1:-}" in
  --check) mode=check ;;
  "") ;;
  *) echo "usage: bash scripts/readme-tables.sh [--check]" >&2; exit 2 ;;
esac

# refused: one line per results file that records no load average, or one above $max_load.
refused() {
  local f name load
  for f in "$results"/*.md; do
    name=$(basename "$f")
    [ "$name" = README.md ] && continue
    load=$(sed -n 's/^Load average before the run: *\([^ ]*\) *$/\1/p' "$f" | head -n 1)
    if [ -z "$load" ]; then
      echo "  $name: records no load average"
    elif ! [[ "$load" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
      echo "  $name: load average '$load' is not a number"
    elif awk -v l="$load" -v m="$max_load" 'BEGIN { exit !(l > m) }'; then
      echo "  $name: load average $load before the run, above $max_load"
    fi
  done
}

# cell FILE METHOD SHAPE COLUMN [PARAM=VALUE]: the COLUMN cell of that row of the file's markdown table, as a number (a
# parameter column such as Transposed=True tells rows apart where Method and Shape do not). A missing row is recorded
# and fails the run.
cell() {
  awk -F'|' -v method="$2" -v shape="$3" -v column="$4" -v param="${5:-}" -v file="$1" '
    function clean(s) { gsub(/\*/, "", s); gsub(/^ +| +$/, "", s); return s }
    /^\| *Method/ {
      split(param, kv, "=")
      for (i = 2; i < NF; i++) {
        if (clean($i) == column) col = i
        if (clean($i) == "Shape") scol = i
        if (param != "" && clean($i) == kv[1]) pcol = i
      }
      next
    }
    col && clean($2) == method && clean($scol) == shape && (param == "" || clean($pcol) == kv[2]) { v = clean($col); sub(/ .*$/, "", v); gsub(/,/, "", v); print v; found = 1; exit }
    END { if (!found) { print "readme-tables: no " method (param == "" ? "" : " " param) " at " shape " (" column ") in " file > "/dev/stderr"; print "0"; exit 1 } }
  ' "$results/$1" || echo "$1 $2 $3 $4 ${5:-}" >>"$failures"
}

# ns FILE METHOD SHAPE [PARAM=VALUE]: the ns/elem cell of that row.
ns() { cell "$1" "$2" "$3" ns/elem "${4:-}"; }

# seconds FILE METHOD SHAPE: the Mean cell of a row of the linear head's runs, in seconds (BenchmarkDotNet writes the
# whole table in s or in ms, whichever suits its values).
seconds() {
  awk -F'|' -v method="$2" -v shape="$3" '
    function clean(s) { gsub(/\*/, "", s); gsub(/^ +| +$/, "", s); return s }
    /^\| *Method/ { for (i = 2; i < NF; i++) { if (clean($i) == "Mean") col = i; if (clean($i) == "Shape") scol = i } next }
    col && clean($2) == method && clean($scol) == shape {
      v = clean($col); gsub(/,/, "", v)
      if (v ~ / ms$/) { sub(/ ms$/, "", v); v = v / 1000 } else if (v ~ / s$/) { sub(/ s$/, "", v) } else exit 1
      print v; found = 1; exit
    }
    END { if (!found) exit 1 }
  ' "$results/$1" || { echo "$1 $2 $3 (seconds)" >>"$failures"; echo 0; }
}

# shapes FILE: the shapes of the file's table, in its order.
shapes() {
  awk -F'|' '
    function clean(s) { gsub(/\*/, "", s); gsub(/^ +| +$/, "", s); return s }
    /^\| *Method/ { for (i = 2; i < NF; i++) if (clean($i) == "Shape") scol = i; next }
    scol && /^\|/ { s = clean($scol); if (s ~ /^[0-9]+(x[0-9]+)+$/ && !(s in seen)) { seen[s] = 1; print s } }
  ' "$results/$1" >"$failures.shapes" 2>/dev/null || true
  if [ ! -s "$failures.shapes" ]; then
    echo "readme-tables: no shapes in $results/$1" >&2
    echo "$1 (no table)" >>"$failures"
  fi
  cat "$failures.shapes"
}

# calc FORMAT EXPRESSION: printf of an awk expression such as "a / b".
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# memory SHAPE COLUMN: a cell of LinearHeadMemory.md's table (2: SoftmaxCE's MiB, 3: libtorch's), by shape.
memory() {
  awk -F'|' -v shape="$1" -v col="$2" '
    function clean(s) { gsub(/^ +| +$/, "", s); return s }
    /^\| Shape \(N x H x V\)/ { on = 1; next }
    on && clean($2) == shape { print clean($(col + 1)); found = 1; exit }
    END { if (!found) exit 1 }
  ' "$results/LinearHeadMemory.md" || { echo "LinearHeadMemory.md $1 (memory)" >>"$failures"; echo 0; }
}

table_fused() {
  local f=FusedLossAndGradientBenchmarks.md warm=TorchPeerBenchmarks-warm.md cold=TorchPeerBenchmarks.md
  echo '| M x C (ns/element) | copy | SoftmaxCE | in place | SoftmaxCE / copy | TensorPrimitives chain | libtorch warm | libtorch default |'
  echo '|---|---:|---:|---:|---:|---:|---:|---:|'
  local s copy ours inplace chain w wOurs c cOurs
  for s in $(shapes $f); do
    copy=$(ns $f Copy "$s"); ours=$(ns $f SoftmaxCE "$s"); inplace=$(ns $f SoftmaxCEInPlace "$s")
    chain=$(ns $f TensorPrimitivesChain "$s")
    w=$(ns $warm Torch_ForwardBackward_1Thread "$s"); wOurs=$(ns $warm SoftmaxCE_LossAndGradient "$s")
    c=$(ns $cold Torch_ForwardBackward_1Thread "$s"); cOurs=$(ns $cold SoftmaxCE_LossAndGradient "$s")
    echo "| $s | $(calc %.3f "$copy") | $(calc %.3f "$ours") | $(calc %.3f "$inplace") | $(calc %.2fx "$ours / $copy")" \
      "| $(calc %.2f "$chain") ($(calc %.1fx "$chain / $ours")) | $(calc %.2f "$w") ($(calc %.1fx "$w / $wOurs"))" \
      "| $(calc %.2f "$c") ($(calc %.1fx "$c / $cOurs")) |"
  done
}

table_parallel() {
  local f=ParallelScalingBenchmarks.md
  echo '| M x C (ns/element) | copy, 1 thread | copy, all cores | SoftmaxCE, 1 thread | SoftmaxCE, all cores | speed-up |'
  echo '|---|---:|---:|---:|---:|---:|'
  local s c1 call s1 sall
  for s in $(shapes $f); do
    c1=$(ns $f Copy1Thread "$s"); call=$(ns $f CopyAllCores "$s")
    s1=$(ns $f SoftmaxCE1Thread "$s"); sall=$(ns $f SoftmaxCEAllCores "$s")
    echo "| $s | $(calc %.3f "$c1") | $(calc %.3f "$call") | $(calc %.3f "$s1") | $(calc %.3f "$sall") | $(calc %.2fx "$s1 / $sall") |"
  done
}

table_parallel_threshold() {
  local f=ParallelThresholdBenchmarks.md
  echo '| M x C (ns/element) | calling thread only | all cores, no size threshold | speed-up |'
  echo '|---|---:|---:|---:|'
  local s one all
  for s in $(shapes $f); do
    one=$(ns $f CallingThread "$s"); all=$(ns $f AllCoresNoThreshold "$s")
    echo "| $s | $(calc %.3f "$one") | $(calc %.3f "$all") | $(calc %.2fx "$one / $all") |"
  done
}

table_language_model() {
  local f=LanguageModelFeatureBenchmarks.md
  echo '| M x C (time / plain call) | z-loss | soft-capping | accuracy + predictions |'
  echo '|---|---:|---:|---:|'
  local s plain
  for s in $(shapes $f); do
    plain=$(ns $f Plain_ "$s")
    echo "| $s | $(calc %.2f "$(ns $f WithZLoss "$s") / $plain") | $(calc %.2f "$(ns $f WithSoftcap "$s") / $plain") | $(calc %.2f "$(ns $f WithAccuracy "$s") / $plain") |"
  done
}

table_medium_rows() {
  local f=MediumRowBenchmarks.md
  echo '| M x C (ns/element) | copy | SoftmaxCE | vs copy | TensorPrimitives chain | chain / SoftmaxCE |'
  echo '|---|---:|---:|---:|---:|---:|'
  local s copy ours chain
  for s in $(shapes $f); do
    copy=$(ns $f Copy "$s"); ours=$(ns $f SoftmaxCE "$s"); chain=$(ns $f TensorPrimitivesChain "$s")
    echo "| $s | $(calc %.3f "$copy") | $(calc %.2f "$ours") | $(calc %.1fx "$ours / $copy") | $(calc %.2f "$chain") | $(calc %.1fx "$chain / $ours") |"
  done
}

table_short_rows() {
  local f=ShortRowKernelBenchmarks.md
  echo '| M x C (ns/element) | one row per vector | 16 rows across the lanes | speed-up |'
  echo '|---|---:|---:|---:|'
  local s one across
  for s in $(shapes $f); do
    one=$(ns $f SoftmaxCE "$s" Transposed=False); across=$(ns $f SoftmaxCE "$s" Transposed=True)
    echo "| $s | $(calc %.2f "$one") | $(calc %.2f "$across") | $(calc %.1fx "$one / $across") |"
  done
}

table_short_rows_widths() {
  local on=ShortRowBenchmarks.md off=ShortRowBenchmarks-avx512-off.md
  echo '| M x C (ns/element) | AVX-512: SoftmaxCE | chain | chain / SoftmaxCE | AVX-512 off (AVX2): SoftmaxCE | chain | chain / SoftmaxCE |'
  echo '|---|---:|---:|---:|---:|---:|---:|'
  local s a ac b bc
  for s in $(shapes $on); do
    a=$(ns $on SoftmaxCE "$s"); ac=$(ns $on TensorPrimitivesChain "$s")
    b=$(ns $off SoftmaxCE "$s"); bc=$(ns $off TensorPrimitivesChain "$s")
    echo "| $s | $(calc %.2f "$a") | $(calc %.2f "$ac") | $(calc %.1fx "$ac / $a") | $(calc %.2f "$b") | $(calc %.2f "$bc") | $(calc %.1fx "$bc / $b") |"
  done
}

table_exp() {
  echo '| exponential over values already in cache (ns/element) | BCL `Vector512.Exp` | SoftmaxCE | speed-up |'
  echo '|---|---:|---:|---:|'
  local s bcl ours
  s=$(shapes ExpVariantBenchmarks.md)
  bcl=$(ns ExpVariantBenchmarks.md Vector512Exp "$s"); ours=$(ns ExpVariantBenchmarks.md ExpSingle2t "$s")
  echo "| float (\`ExpVariantBenchmarks\`) | $(calc %.3f "$bcl") | $(calc %.3f "$ours") | $(calc %.1fx "$bcl / $ours") |"
  s=$(shapes ExpDoubleVariantBenchmarks.md)
  bcl=$(ns ExpDoubleVariantBenchmarks.md Vector512Exp "$s"); ours=$(ns ExpDoubleVariantBenchmarks.md ExpDouble2t "$s")
  echo "| double (\`ExpDoubleVariantBenchmarks\`) | $(calc %.3f "$bcl") | $(calc %.3f "$ours") | $(calc %.1fx "$bcl / $ours") |"
}

# Every operation against a copy of the same bytes and the row-by-row TensorPrimitives composition of the same result.
table_operations() {
  echo '| operation (one thread) | M x C | copy (ns/element) | SoftmaxCE | vs copy | TensorPrimitives chain | chain / SoftmaxCE |'
  echo '|---|---|---:|---:|---:|---:|---:|'
  local row f name s copy ours chain
  for row in 'SoftmaxBenchmarks.md|`Softmax`, float' 'LogSoftmaxBenchmarks.md|`LogSoftmax`, float' \
    'LossBenchmarks.md|`Loss`, float, labels' 'BackwardBenchmarks.md|`Backward`, float, labels' \
    'DenseLossAndGradientBenchmarks.md|`LossAndGradient`, float, dense targets' \
    'LossAndGradientDoubleBenchmarks.md|`LossAndGradient`, double, labels'; do
    f=${row%%|*}; name=${row#*|}
    for s in $(shapes "$f"); do
      copy=$(ns "$f" Copy "$s"); ours=$(ns "$f" SoftmaxCE "$s"); chain=$(ns "$f" TensorPrimitivesChain "$s")
      echo "| $name | $s | $(calc %.3f "$copy") | $(calc %.3f "$ours") | $(calc %.2fx "$ours / $copy") | $(calc %.2f "$chain") | $(calc %.1fx "$chain / $ours") |"
    done
  done
}

table_autograd() {
  local ff=AutogradForwardBenchmarks.md fb=AutogradBackwardBenchmarks.md
  echo '| M x C (ns/element) | read-only pass | `Forward` | vs read | copy | `Backward` from statistics | vs copy | fused `LossAndGradient` | `Backward` / fused |'
  echo '|---|---:|---:|---:|---:|---:|---:|---:|---:|'
  local s read fwd copy bwd fused
  for s in $(shapes $ff); do
    read=$(ns $ff ReadOnlyPass "$s"); fwd=$(ns $ff Forward "$s")
    copy=$(ns $fb Copy "$s"); bwd=$(ns $fb BackwardFromStatistics "$s"); fused=$(ns $fb FusedLossAndGradient "$s")
    echo "| $s | $(calc %.3f "$read") | $(calc %.3f "$fwd") | $(calc %.2fx "$fwd / $read") | $(calc %.3f "$copy") | $(calc %.3f "$bwd")" \
      "| $(calc %.2fx "$bwd / $copy") | $(calc %.3f "$fused") | $(calc %.2f "$bwd / $fused") |"
  done
}

table_sharded() {
  local f=ShardedBenchmarks.md
  echo '| M x C (ns/element) | fused `LossAndGradient` | one shard (statistics + loss and gradient) | vs fused | 8 shards + merges | vs fused |'
  echo '|---|---:|---:|---:|---:|---:|'
  local s fused one eight
  for s in $(shapes $f); do
    fused=$(ns $f Fused "$s"); one=$(ns $f OneShard "$s"); eight=$(ns $f EightShards "$s")
    echo "| $s | $(calc %.3f "$fused") | $(calc %.3f "$one") | $(calc %.2fx "$one / $fused") | $(calc %.3f "$eight") | $(calc %.2fx "$eight / $fused") |"
  done
}

table_class_axis() {
  local f=ClassAxisBenchmarks.md
  echo '| positions x classes (ns/element) | copy | SoftmaxCE, `classAxis: 1` | vs copy | in place | vs copy |'
  echo '|---|---:|---:|---:|---:|---:|'
  local s copy ours inplace
  for s in $(shapes $f); do
    copy=$(ns $f Copy "$s"); ours=$(ns $f SoftmaxCE "$s"); inplace=$(ns $f SoftmaxCEInPlace "$s")
    echo "| $s | $(calc %.3f "$copy") | $(calc %.3f "$ours") | $(calc %.2fx "$ours / $copy") | $(calc %.3f "$inplace") | $(calc %.2fx "$inplace / $copy") |"
  done
}

table_class_axis_torch() {
  local f=TorchClassAxisBenchmarks.md
  echo '| N x C x H x W (ns/element) | SoftmaxCE `LossAndGradient`, `classAxis: 1` | libtorch forward + backward | libtorch / SoftmaxCE | libtorch forward only | libtorch / SoftmaxCE |'
  echo '|---|---:|---:|---:|---:|---:|'
  local s ours fb fwd
  for s in $(shapes $f); do
    ours=$(ns $f SoftmaxCE_LossAndGradient_ClassAxis1 "$s"); fb=$(ns $f Torch_ForwardBackward_1Thread "$s"); fwd=$(ns $f Torch_Forward_1Thread "$s")
    echo "| $s | $(calc %.3f "$ours") | $(calc %.3f "$fb") | $(calc %.1fx "$fb / $ours") | $(calc %.3f "$fwd") | $(calc %.1fx "$fwd / $ours") |"
  done
}

table_half() {
  local f=HalfLossAndGradientBenchmarks.md
  echo '| M x C (ns/element) | float | float in place | Half | Half / float | Half in place | vs float in place | copy of the float bytes | copy of the Half bytes | conversions alone, F16C | conversions alone, arithmetic |'
  echo '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
  local s fl fli h hi fc hc conv arith
  for s in $(shapes $f); do
    fl=$(ns $f FloatFused "$s"); fli=$(ns $f FloatFusedInPlace "$s"); h=$(ns $f HalfFused "$s"); hi=$(ns $f HalfFusedInPlace "$s")
    fc=$(ns $f FloatCopy "$s"); hc=$(ns $f HalfCopy "$s"); conv=$(ns $f HalfConvertOnly "$s"); arith=$(ns $f HalfConvertOnlyArithmetic "$s")
    echo "| $s | $(calc %.3f "$fl") | $(calc %.3f "$fli") | $(calc %.3f "$h") | $(calc %.2fx "$h / $fl") | $(calc %.3f "$hi") | $(calc %.2fx "$hi / $fli")" \
      "| $(calc %.3f "$fc") | $(calc %.3f "$hc") | $(calc %.3f "$conv") | $(calc %.3f "$arith") |"
  done
}

table_roofline() {
  local f=ManagedArrayRooflineBenchmarks.md
  echo '| M x C (ns/element) | buffers | `Span.CopyTo` | streaming-store copy | read-only pass | fused, out of place | vs `CopyTo` | fused, in place | vs `CopyTo` |'
  echo '|---|---|---:|---:|---:|---:|---:|---:|---:|'
  local s m copy stream read fused inplace
  for s in $(shapes $f); do
    for m in Managed Aligned; do
      copy=$(ns $f CopyTo "$s" Memory=$m); stream=$(ns $f StreamingCopy "$s" Memory=$m); read=$(ns $f ReadOnly "$s" Memory=$m)
      fused=$(ns $f Fused "$s" Memory=$m); inplace=$(ns $f FusedInPlace "$s" Memory=$m)
      echo "| $s | $([ $m = Managed ] && echo '`new float[n]`' || echo 'aligned native') | $(calc %.3f "$copy") | $(calc %.3f "$stream") | $(calc %.3f "$read")" \
        "| $(calc %.3f "$fused") | $(calc %.2fx "$fused / $copy") | $(calc %.3f "$inplace") | $(calc %.2fx "$inplace / $copy") |"
    done
  done
}

table_softcap() {
  local f=SoftcapCostBenchmarks.md
  echo '| M x C (ns/element) | plain | soft-cap 30 | cost | plain, in place | soft-cap 30, in place | cost |'
  echo '|---|---:|---:|---:|---:|---:|---:|'
  local s plain cap plainIn capIn
  for s in $(shapes $f); do
    plain=$(ns $f Plain "$s"); cap=$(ns $f WithSoftcap "$s"); plainIn=$(ns $f PlainInPlace "$s"); capIn=$(ns $f WithSoftcapInPlace "$s")
    echo "| $s | $(calc %.3f "$plain") | $(calc %.3f "$cap") | $(calc %.2fx "$cap / $plain") | $(calc %.3f "$plainIn") | $(calc %.3f "$capIn") | $(calc %.2fx "$capIn / $plainIn") |"
  done
}

# linear_shapes FILE METHOD: the shapes of a linear-head results file, in its order.
linear_shapes() {
  awk -F'|' -v method="$2" '{ m = $2; gsub(/[* ]/, "", m) } m == method { v = $3; gsub(/[* ]/, "", v); print v }' "$results/$1"
}

# The fused linear head on one thread: time against libtorch, and peak extra memory against libtorch (README.md).
table_linear_head() {
  local f=LinearHeadPeerBenchmarks.md
  echo '| N x H x V | SoftmaxCE forward + backward | libtorch | SoftmaxCE / libtorch | SoftmaxCE extra memory | libtorch extra memory | libtorch / SoftmaxCE |'
  echo '|---|---:|---:|---:|---:|---:|---:|'
  local s ours torch mo mt
  for s in $(linear_shapes $f SoftmaxCE_LinearLossAndGradient_1Thread); do
    ours=$(seconds $f SoftmaxCE_LinearLossAndGradient_1Thread "$s"); torch=$(seconds $f Torch_LinearCrossEntropy_ForwardBackward_1Thread "$s")
    mo=$(memory "$s" 2); mt=$(memory "$s" 3)
    echo "| $s | $(calc %.2f "$ours") s | $(calc %.2f "$torch") s | $(calc %.2fx "$ours / $torch") | $(calc %.1f "$mo") MiB | $(calc %.1f "$mt") MiB | $(calc %.0f "$mt / $mo") |"
  done
}

table_linear_time() {
  local f=LinearHeadPeerBenchmarks.md
  echo '| N x H x V (mean of 3 iterations, one thread) | SoftmaxCE forward + backward | libtorch | SoftmaxCE / libtorch | SoftmaxCE forward | libtorch forward | SoftmaxCE / libtorch |'
  echo '|---|---:|---:|---:|---:|---:|---:|'
  local s ours torch fo ft
  for s in $(linear_shapes $f SoftmaxCE_LinearLossAndGradient_1Thread); do
    ours=$(seconds $f SoftmaxCE_LinearLossAndGradient_1Thread "$s"); torch=$(seconds $f Torch_LinearCrossEntropy_ForwardBackward_1Thread "$s")
    fo=$(seconds $f SoftmaxCE_LinearLoss_1Thread "$s"); ft=$(seconds $f Torch_LinearCrossEntropy_Forward_1Thread "$s")
    echo "| $s | $(calc %.2f "$ours") s | $(calc %.2f "$torch") s | $(calc %.2fx "$ours / $torch")" \
      "| $(calc %.2f "$fo") s | $(calc %.2f "$ft") s | $(calc %.2fx "$fo / $ft") |"
  done
}

table_linear_time_all_cores() {
  local f=LinearHeadPeerAllCoresBenchmarks.md
  echo '| N x H x V (mean of 3 iterations, all cores) | SoftmaxCE forward + backward | libtorch | SoftmaxCE / libtorch |'
  echo '|---|---:|---:|---:|'
  local s ours torch
  for s in $(linear_shapes $f SoftmaxCE_LinearLossAndGradient_AllCores); do
    ours=$(seconds $f SoftmaxCE_LinearLossAndGradient_AllCores "$s"); torch=$(seconds $f Torch_LinearCrossEntropy_ForwardBackward_AllThreads "$s")
    echo "| $s | $(calc %.2f "$ours") s | $(calc %.2f "$torch") s | $(calc %.2fx "$ours / $torch") |"
  done
}

# The linear head's memory table is its own markdown table in LinearHeadMemory.md (one process per figure): copied as it is.
table_linear_memory() {
  local f="$results/LinearHeadMemory.md"
  if ! grep -q '^| Shape (N x H x V)' "$f"; then
    echo "LinearHeadMemory.md (no table)" >>"$failures"
    return
  fi
  awk '/^\| Shape \(N x H x V\)/ { on = 1 } on && /^\|/ { print; next } on { exit }' "$f"
}

table_matrix_multiply() {
  local f=MatrixMultiplyBenchmarks.md
  echo '| rows x H x V (GFLOP/s) | FMA-only loop, one core | FMA-only loop, all cores | logits, one core | logits, all cores | hidden gradient, one core | weight gradient, one core |'
  echo '|---|---:|---:|---:|---:|---:|---:|'
  local s m line
  for s in $(shapes $f); do
    line="| $s"
    for m in FmaPeak_OneCore FmaPeak_AllCores Logits_OneCore Logits_AllCores HiddenGradient_OneCore WeightGradient_OneCore; do
      line+=" | $(calc %.1f "$(cell $f $m "$s" GFLOP/s)")"
    done
    echo "$line |"
  done
}

# range LIST FORMAT: "min to max" of the numbers in LIST (one per line), each printed with FORMAT.
range() { awk -v f="$2" 'NR == 1 || $1 < lo { lo = $1 } NR == 1 || $1 > hi { hi = $1 } END { printf f " to " f, lo, hi }' <<<"$1"; }

# The figures quoted in the prose, from the same files as the tables.
value_copy_ratio() {       # the fused call over a copy, at the vocabulary-sized shapes (C >= 32000)
  local f=FusedLossAndGradientBenchmarks.md s list=""
  for s in $(shapes $f); do
    [ "${s#*x}" -ge 32000 ] && list+="$(calc %.6f "$(ns $f SoftmaxCE "$s") / $(ns $f Copy "$s")")"$'\n'
  done
  range "${list%$'\n'}" %.2f
}
value_copy_ratio_in_place() {
  local f=FusedLossAndGradientBenchmarks.md s list=""
  for s in $(shapes $f); do
    [ "${s#*x}" -ge 32000 ] && list+="$(calc %.6f "$(ns $f SoftmaxCEInPlace "$s") / $(ns $f Copy "$s")")"$'\n'
  done
  range "${list%$'\n'}" %.2f
}
value_libtorch_speedup() {  # libtorch (warm, one thread) over SoftmaxCE measured in the same run
  local f=TorchPeerBenchmarks-warm.md s list=""
  for s in $(shapes $f); do
    list+="$(calc %.6f "$(ns $f Torch_ForwardBackward_1Thread "$s") / $(ns $f SoftmaxCE_LossAndGradient "$s")")"$'\n'
  done
  range "${list%$'\n'}" %.1f
}
value_chain_speedup() {     # the TensorPrimitives chain over the fused call
  local f=FusedLossAndGradientBenchmarks.md s list=""
  for s in $(shapes $f); do
    list+="$(calc %.6f "$(ns $f TensorPrimitivesChain "$s") / $(ns $f SoftmaxCE "$s")")"$'\n'
  done
  range "${list%$'\n'}" %.1f
}
# LINE with every "<!-- value: NAME -->...<!-- /value -->" holding what value_NAME prints.
fill_values() {
  local line=$1 page=$2 out="" name
  while [[ "$line" =~ ^(.*)\<!--\ value:\ ([a-z-]+)\ --\>[^\<]*\<!--\ /value\ --\>(.*)$ ]]; do
    name=${BASH_REMATCH[2]}
    if ! declare -F "value_${name//-/_}" >/dev/null; then
      echo "readme-tables: unknown value '$name' in $page" >&2
      echo "$name (unknown value in $page)" >>"$failures"
      break
    fi
    out="<!-- value: $name -->$("value_${name//-/_}")<!-- /value -->${BASH_REMATCH[3]}$out"
    line=${BASH_REMATCH[1]}
  done
  echo "$line$out"
}

# generate PAGE: the page with every marked table replaced by its generated text, and every marked value by its figure.
generate() {
  local page=$1 name="" line
  while IFS= read -r line || [ -n "$line" ]; do
    if [ -n "$name" ]; then
      if [ "$line" = "<!-- /table -->" ]; then
        "table_${name//-/_}"
        echo "$line"
        name=""
      fi
      continue
    fi
    fill_values "$line" "$page"
    if [[ "$line" =~ ^\<!--\ table:\ ([a-z-]+)\ --\>$ ]]; then
      name=${BASH_REMATCH[1]}
      if ! declare -F "table_${name//-/_}" >/dev/null; then
        echo "readme-tables: unknown table '$name' in $page" >&2
        return 1
      fi
    fi
  done <"$page"
  if [ -n "$name" ]; then
    echo "readme-tables: table '$name' in $page has no <!-- /table --> line" >&2
    return 1
  fi
}

loaded=$(refused)
if [ -n "$loaded" ]; then
  echo "readme-tables: refusing results in $results that were not measured on an idle machine:" >&2
  echo "$loaded" >&2
  echo "Each results file must carry 'Load average before the run: X' with X at most $max_load. Re-measure these on an idle" >&2
  echo "machine with 'bash scripts/run-benchmarks-for-docs.sh' (see its --list), then run 'bash scripts/readme-tables.sh'." >&2
  exit 1
fi

work=$(mktemp -d)
failures="$work/failures"
: >"$failures"
trap 'rm -rf "$work"' EXIT
for page in "${pages[@]}"; do
  mkdir -p "$work/new/$(dirname "$page")"
  generate "$page" >"$work/new/$page"
done
if [ -s "$failures" ]; then
  echo "readme-tables: rows missing from $results (file, method, shape):" >&2
  sort -u "$failures" >&2
  exit 1
fi

status=0
for page in "${pages[@]}"; do
  if [ "$mode" = check ]; then
    diff -u "$page" "$work/new/$page" || status=1
  else
    cmp -s "$page" "$work/new/$page" || cp "$work/new/$page" "$page"
  fi
done
if [ "$mode" = check ]; then
  if [ "$status" -ne 0 ]; then
    echo "The speed tables of README.md and docs/*.md differ from $results: run 'bash scripts/readme-tables.sh' and commit the result." >&2
    exit 1
  fi
  echo "The speed tables of README.md and docs/*.md match $results."
fi
