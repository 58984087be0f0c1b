#!/usr/bin/env bash
# Builds samples/VocabParallelMpi and runs it on 1, 2, 3 and 4 MPI ranks (MPICH, on this machine). Each run checks
# every tensor-parallel x data-parallel layout of its ranks against the unsharded call (loss within 1e-6 relative,
# every gradient element within 1e-6) and prints the sharded step's time next to the unsharded one.
# Installs MPICH from the distribution's packages when mpiexec is missing (needs root, as in CI).
# Arguments go to the sample (e.g. --rows 512 --classes 50257 --repeats 11). RANKS="1 2" overrides the rank counts.
# Each mpiexec is bounded by RUN_TIMEOUT seconds (default 300; a run of the default sizes takes under 10 s), and its
# processes, ranks included, are ended when it ends and when this script exits or is interrupted (scripts/bounded-run.sh):
# an MPICH rank whose peer or proxy died, or that hangs, polls forever.
# Exit code: non-zero if the build fails, any run disagrees or times out (124).
# Each rank ends with "[WARNING] yaksa: 3 leaked handle pool objects" on stderr: MPICH's datatype engine counting the
# datatypes that MPI.NET creates on its first collective and never frees (any Allreduce does it). It is harmless.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

. "$here/../../scripts/bounded-run.sh"

# ldconfig's list goes through a variable: with pipefail, `ldconfig -p | grep -q` can fail when grep exits first.
if ! command -v mpiexec >/dev/null 2>&1 || ! grep -q 'libmpich\.so\.12' <<<"$(ldconfig -p)"; then
  echo "run.sh: installing MPICH (apt-get install -y mpich)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq mpich >/dev/null
fi

dotnet build "$here/VocabParallelMpi.csproj" -c Release --nologo -v quiet
dll="$here/bin/Release/net10.0/VocabParallelMpi.dll"

status=0
for n in ${RANKS:-1 2 3 4}; do
  echo "== mpiexec -n $n"
  # MPICH's Hydra refuses more ranks than cores unless the host is listed with enough slots.
  if ! bounded_run "${RUN_TIMEOUT:-300}" mpiexec -n "$n" -hosts "localhost:$n" dotnet "$dll" "$@"; then
    echo "run.sh: $n rank(s) FAILED"
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "run.sh: all rank counts agree with the unsharded call"
exit $status
