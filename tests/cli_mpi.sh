#!/usr/bin/env bash
# Data-parallel training on MPI, on this machine (mpirun --oversubscribe -np 2):
#   1. the communicator (tests/mpi_check.c): collectives against values every rank can
#      compute alone, with 2 and 3 ranks;
#   2. failure: a rank that is killed, one that exits, one that hangs -> the job ends
#      non-zero within a bounded time, with a message naming the failure;
#   3. simnet train (real MNIST, $SIMNET_DATA): ranks started with different options are
#      refused by every rank; a rank killed mid-training fails the job in bounded time.
# (tests/cli_mpi_train.sh: 2 and 3 ranks against one process.)
# Skips (77) when mpirun is absent or simnet was built without SIMNET_MPI.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_mpi "${1:-}"
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: skipping"; exit 77; }
# Sanitizer builds: Open MPI's own allocations outlive MPI_Finalize (LeakSanitizer would
# fail every rank); leaks of simnet's code are checked by the single-process tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
CHECK=${SIMNET_MPI_CHECK:-}
[ -n "$CHECK" ] && [ -x "$CHECK" ] || { echo "simnet built without SIMNET_MPI: skipping"; exit 77; }
# --bind-to none: two ranks on a 2-core machine shared with other jobs;
# btl self,vader,tcp: shared memory between local ranks.
MPIRUN=(mpirun -x ASAN_OPTIONS --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader,tcp)

# 1. collectives ---------------------------------------------------------------
for np in 2 3; do
  timeout 120 "${MPIRUN[@]}" -np $np "$CHECK" >"$T/check$np.out" 2>&1 && ok || bad "mpi_check -np $np: $(tail -20 "$T/check$np.out")"
  [ "$(grep -c ': ok$' "$T/check$np.out")" = $np ] && ok || bad "mpi_check -np $np: not every rank ok: $(cat "$T/check$np.out")"
done

# 2. a rank dies / exits / hangs: non-zero exit within the bound, clear message -------
# fails MODE PATTERN BOUND_S [env]: run mpi_check MODE 1 under a hard timeout of 3x the bound
fails() {
  local mode=$1 pat=$2 bound=$3 t0 rc el; shift 3
  t0=$(date +%s)
  env "$@" timeout $((3 * bound)) "${MPIRUN[@]}" -np 2 "$CHECK" "$mode" 1 >"$T/f.out" 2>&1; rc=$?
  el=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then bad "mpi_check $mode: job exited 0"; return; fi
  if [ $rc -eq 124 ]; then bad "mpi_check $mode: job still running after $((3 * bound)) s (hang)"; return; fi
  [ $el -le $bound ] && ok || bad "mpi_check $mode: took $el s (bound $bound s)"
  grep -q -- "$pat" "$T/f.out" && ok || bad "mpi_check $mode: output lacks '$pat': $(tail -20 "$T/f.out")"
}
fails --die "signal 9\|killed\|Killed" 30
fails --exit "exited\|non-zero status" 30
fails --hang "waited more than 3 s for the other ranks" 30 SIMNET_COMM_TIMEOUT=3

# 3. simnet train: mismatched ranks, a rank killed (needs $SIMNET_DATA with mnist/) ------
if [ -z "${SIMNET_DATA:-}" ] || ! ls "$SIMNET_DATA"/mnist/t10k-images-idx3-ubyte* >/dev/null 2>&1; then
  echo "SIMNET_DATA with mnist not set: skipping the training checks"
  echo "cli_mpi: $pass passed, $fail failed"
  [ $fail -eq 0 ]; exit
fi
# (tests/cli_mpi_train.sh: the equivalence checks)
ARCH="conv 8 3 1 1; relu; maxpool 2; conv 16 3 1 1; relu; maxpool 2; flatten; linear 32"
COMMON=(--data "$SIMNET_DATA" --dataset mnist --arch "$ARCH" --optimizer sgd --lr 0.01 --seed 5
        --batch-size 128 --max-steps 20 --val-size 1000 --threads 1)

# ranks that disagree (another --lr on rank 1) are refused by every rank, not trained
timeout 120 "${MPIRUN[@]}" -np 1 "$SIMNET" train "${COMMON[@]}" --out "$T/x.snm" : \
  -np 1 "$SIMNET" train "${COMMON[@]}" --out "$T/x.snm" --lr 0.02 >"$T/x.out" 2>&1
rc=$?; [ $rc -ne 0 ] && [ $rc -ne 124 ] && ok || bad "mismatched ranks: exit $rc"
grep -q "rank 1 of 2 runs another training configuration" "$T/x.out" && ok || bad "mismatched ranks: $(tail -5 "$T/x.out")"
[ -e "$T/x.snm" ] && bad "mismatched ranks: a model was written" || ok

# a rank killed mid-training: the job fails within the bound, nothing is saved
timeout 120 "${MPIRUN[@]}" -np 2 "$SIMNET" train "${COMMON[@]}" --max-steps 0 --epochs 50 --out "$T/k.snm" \
  >"$T/kill.out" 2>&1 &
job=$!; victim=""
desc() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$c"; desc "$c"; done; }
for i in $(seq 100); do # rank 1: the process under mpirun whose environment says so
  for c in $(desc $job); do
    tr '\0' '\n' </proc/$c/environ 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$c
  done
  [ -n "$victim" ] && break; sleep 0.1
done
sleep 3; t0=$(date +%s)
[ -n "$victim" ] && kill -9 "$victim"
wait $job; rc=$?; el=$(( $(date +%s) - t0 ))
[ -n "$victim" ] && [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $el -le 30 ] && ok \
  || bad "rank 1 (pid '$victim') killed during training: exit $rc after $el s"
grep -q "signal 9\|Killed" "$T/kill.out" && ok || bad "killed rank: no message: $(tail -5 "$T/kill.out")"
[ -e "$T/k.snm" ] && bad "killed rank: a model was written" || ok

echo "cli_mpi: $pass passed, $fail failed"
[ $fail -eq 0 ]
