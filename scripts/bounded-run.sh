# Sourced by the scripts that start long or multi-process runs (the samples' and benchmarks' run.sh, .ci/run):
#
#   . "$repo/scripts/bounded-run.sh"
#   bounded_run SECONDS COMMAND...     # its exit code; 124 when it timed out; SECONDS 0 means no time limit
#
# bounded_run starts COMMAND under `timeout` (TERM after SECONDS, KILL 10 s later) as the leader of a new session and
# process group, and waits for it in the background, so that a signal to the script runs its trap at once instead of
# after the run. When the run ends, and when the script exits or gets INT or TERM (the traps set here; a script that
# sources this sets no traps of its own on those), the run's process group gets TERM and, a second later, every
# process that still carries the run's tag in its environment gets TERM, then KILL: MPICH's hydra_pmi_proxy and each
# rank call setsid, and a rank whose proxy died is reparented to init, so neither the process group nor the parent
# links reach every process of a run; the environment, which every child inherits (and mpiexec passes to the ranks),
# does. Tags nest: a bounded run inside a bounded run carries both, so either one's end reaches it.

bounded_run_tag="softmaxce-run-$$-$RANDOM"
bounded_run_group=

# The pids of the processes whose SOFTMAXCE_RUN_TAGS holds this script's tag.
bounded_run_pids() {
  grep -lszE "^SOFTMAXCE_RUN_TAGS=(.*,)?$bounded_run_tag(,.*)?\$" /proc/[0-9]*/environ | sed -n 's|^/proc/\([0-9]*\)/environ$|\1|p'
  return 0
}

# Ends what is left of the current run: its process group, then every process with the tag. Never fails (the callers
# may run under set -e).
bounded_run_end() {
  [ -n "$bounded_run_group" ] || return 0
  kill -TERM -- "-$bounded_run_group" 2>/dev/null && sleep 1
  local pids
  pids=$(bounded_run_pids)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086 # one pid per word
    kill -TERM $pids 2>/dev/null || true
    sleep 1
    pids=$(bounded_run_pids)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  fi
  bounded_run_group=
  return 0
}

bounded_run() {
  local seconds=$1 rc=0
  shift
  # 0<&0: the run keeps the script's standard input (a background command would get /dev/null).
  SOFTMAXCE_RUN_TAGS="${SOFTMAXCE_RUN_TAGS:+$SOFTMAXCE_RUN_TAGS,}$bounded_run_tag" setsid timeout --kill-after=10 "$seconds" "$@" 0<&0 &
  bounded_run_group=$!
  wait "$bounded_run_group" || rc=$?
  [ "$rc" -ne 124 ] || echo "$(basename "$0"): timed out after $seconds s: $*" >&2
  bounded_run_end
  return "$rc"
}

trap bounded_run_end EXIT
# An interrupted script ends its run, then dies of the same signal, so that its caller sees how it ended.
trap 'bounded_run_end; trap - INT; kill -INT $$' INT
trap 'bounded_run_end; trap - TERM; kill -TERM $$' TERM
