#!/usr/bin/env bash
# Synchronized batch norm (train --sync-bn) on MPI ranks against one process (real MNIST,
# $SIMNET_DATA; mpirun --oversubscribe on this machine), on a small net shaped like the
# seed model (conv-BN-pool twice, linear-BN-linear: 2-d and 1-d BN; the seed model
# itself costs ~10x more per run, mostly in the 10,000-pair test loss every run computes):
#   - 2 ranks x 32 pairs (and 3 ranks: 11 + 11 + 10) give the weights and running
#     statistics of 1 process x 64 pairs within rounding, while per-rank BN (the default)
#     differs by far more, so the comparison can fail;
#   - the same for a P x K loss (multi-similarity, embeddings all-gathered);
#   - 2 ranks run twice give the same bits; one all-reduce per BN layer per direction
#     shows in the comm statistics;
#   - --resume refuses to switch sync-BN on or off.
# Skips (77) without mpirun, a SIMNET_MPI build or the data.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_mpi_syncbn "${1:-}" mnist
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: skipping"; exit 77; }
# Sanitizer builds: Open MPI's own allocations outlive MPI_Finalize (see cli_mpi_train.sh).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
CHECK=${SIMNET_MPI_CHECK:-}
[ -n "$CHECK" ] && [ -x "$CHECK" ] || { echo "simnet built without SIMNET_MPI: skipping"; exit 77; }
MPIRUN=(mpirun -x ASAN_OPTIONS --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader,tcp)

# Tolerance: with --sync-bn the ranks' runs differ from one process only in float
# summation order (each rank's kernels sum over its own rows, then the ranks' partial
# sums are added in double): 1.2e-7 of max |w| after one step, growing with the steps
# as training amplifies rounding (docs/scaling.md), so 2e-5 bounds 6 steps with room.
# Per-rank BN moves the weights far more, and so would a BN reduction that is lost or
# mis-counted: the test asserts the per-rank difference is more than 10x the tolerance.
# SGD, not Adam (cli_mpi_train.sh).
TOL=2e-5
ARCH="conv 8 3 1 1; bn; relu; maxpool 2; conv 16 3 1 1; bn; relu; maxpool 2; flatten; linear 32; bn; relu; linear 16"
COMMON=(--data "$SIMNET_DATA" --dataset mnist --arch "$ARCH" --optimizer sgd --lr 0.01 --seed 3
        --batch-size 64 --max-steps 6 --val-size 1000 --threads 1)
train() { # train NP OUT [extra options]: NP = 0 -> one process without mpirun
  local np=$1 out=$2; shift 2
  if [ "$np" = 0 ]; then "$SIMNET" train "${COMMON[@]}" --out "$out" "$@"
  else timeout 300 "${MPIRUN[@]}" -np "$np" "$SIMNET" train "${COMMON[@]}" --out "$out" "$@"; fi
}
# rel A B: "parameters buffers" relative max differences (mpi_check --compare)
rel() {
  "$CHECK" --compare "$1" "$2" 1 >"$T/cmp" 2>&1 || { echo "nan nan"; return; }
  sed -n 's/.*relative to max |w| [^:]*: \([^)]*\)); buffers max |diff| \([^ ]*\) (max \([^)]*\)).*/\1 \2 \3/p' "$T/cmp" \
    | awk '{ b = $3 > 0 ? $2 / $3 : $2; printf "%s %.3g\n", $1, b }'
}
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a == a + 0 && a <= b) }'; }  # a <= b, numeric
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a == a + 0 && a > b) }'; }

# equiv WHAT NP SYNC_OUT PERRANK_OUT REF: sync within TOL (weights and running stats),
# per-rank more than 10x TOL away
equiv() {
  local what=$1 np=$2 s=$3 p=$4 ref=$5 rs rp
  rs=$(rel "$s" "$ref"); rp=$(rel "$p" "$ref")
  echo "cli_mpi_syncbn: $what: --sync-bn vs 1 process: weights ${rs% *}, BN running stats ${rs#* }; per-rank BN: weights ${rp% *}, running stats ${rp#* }"
  le "${rs% *}" $TOL && le "${rs#* }" $TOL && ok || bad "$what: --sync-bn differs from 1 process by ${rs% *} (weights) / ${rs#* } (running stats), tolerance $TOL: $(cat "$T/cmp")"
  gt "${rp% *}" "$(awk -v t=$TOL 'BEGIN { print 10 * t }')" && ok || bad "$what: per-rank BN differs only by ${rp% *}: the comparison could not fail"
}

# pairs (contrastive) --------------------------------------------------------------
train 0 "$T/p1.snm" --sync-bn >/dev/null 2>"$T/p1.err" && ok || bad "1 process: $(tail -5 "$T/p1.err")"
train 2 "$T/s2.snm" --sync-bn >"$T/s2.out" 2>"$T/s2.err" && ok || bad "2 ranks --sync-bn: $(tail -5 "$T/s2.err")"
train 2 "$T/s2b.snm" --sync-bn >/dev/null 2>"$T/s2b.err" && ok || bad "2 ranks --sync-bn again: $(tail -5 "$T/s2b.err")"
train 3 "$T/s3.snm" --sync-bn >/dev/null 2>"$T/s3.err" && ok || bad "3 ranks --sync-bn: $(tail -5 "$T/s3.err")"
train 2 "$T/r2.snm" >/dev/null 2>"$T/r2.err" && ok || bad "2 ranks per-rank BN: $(tail -5 "$T/r2.err")"
equiv "contrastive, 2 ranks x 32 vs 1 x 64" 2 "$T/s2.snm" "$T/r2.snm" "$T/p1.snm"
r3=$(rel "$T/s3.snm" "$T/p1.snm")
echo "cli_mpi_syncbn: contrastive, 3 ranks (11+11+10 pairs) --sync-bn vs 1 process: weights ${r3% *}, running stats ${r3#* }"
le "${r3% *}" $TOL && le "${r3#* }" $TOL && ok || bad "3 ranks --sync-bn differs by $r3"
"$CHECK" --compare "$T/s2.snm" "$T/s2b.snm" 0 >"$T/cmp" 2>&1 && ok || bad "2 ranks --sync-bn twice: not bit-identical: $(cat "$T/cmp")"
# one all-reduce per BN layer per direction: 3 BN layers, 6 steps -> 36
grep -q "synchronized batch norm: 36 of the collectives" "$T/s2.err" && ok \
  || bad "2 ranks: expected 36 sync-BN all-reduces: $(grep -i 'collectives' "$T/s2.err")"
"$SIMNET" info "$T/s2.snm" | grep -q "batchnorm *synchronized" && ok || bad "model metadata lacks batchnorm synchronized"

# P x K (multi-similarity): embeddings all-gathered, each rank back-propagates its rows
PK=(--loss multisim --classes-per-batch 8 --per-class 4)
train 0 "$T/k1.snm" "${PK[@]}" --sync-bn >/dev/null 2>"$T/k1.err" && ok || bad "multisim, 1 process: $(tail -5 "$T/k1.err")"
train 2 "$T/k2.snm" "${PK[@]}" --sync-bn >/dev/null 2>"$T/k2.err" && ok || bad "multisim, 2 ranks --sync-bn: $(tail -5 "$T/k2.err")"
train 2 "$T/kr.snm" "${PK[@]}" >/dev/null 2>"$T/kr.err" && ok || bad "multisim, 2 ranks per-rank BN: $(tail -5 "$T/kr.err")"
equiv "multisim P 8 x K 4, 2 ranks x 16 rows vs 1 x 32" 2 "$T/k2.snm" "$T/kr.snm" "$T/k1.snm"

# --resume keeps the batch-norm mode (one process is enough: the configuration check)
# classes 0-1 with 12,000 of their 12,665 images held out: epochs of 10 steps
RES=(--max-steps 0 --classes 0-1 --val-size 12000 --epochs 2 --stop-after-epoch 1)
train 0 "$T/c1.snm" "${RES[@]}" --sync-bn --checkpoint "$T/ck1" >/dev/null 2>"$T/c1.err" && [ -s "$T/ck1" ] \
  && ok || bad "checkpoint with --sync-bn: $(tail -5 "$T/c1.err")"
train 0 "$T/c2.snm" "${RES[@]}" --checkpoint "$T/ck2" >/dev/null 2>"$T/c2.err" && [ -s "$T/ck2" ] \
  && ok || bad "checkpoint without --sync-bn: $(tail -5 "$T/c2.err")"
train 0 "$T/c3.snm" --max-steps 0 --classes 0-1 --val-size 12000 --epochs 2 --resume "$T/ck1" >/dev/null 2>"$T/c3.err" \
  && bad "resumed a --sync-bn checkpoint without --sync-bn" || ok
grep -q "sync_bn=1" "$T/c3.err" && ok || bad "resume without --sync-bn: message: $(tail -3 "$T/c3.err")"
train 0 "$T/c4.snm" --max-steps 0 --classes 0-1 --val-size 12000 --epochs 2 --resume "$T/ck2" --sync-bn >/dev/null 2>"$T/c4.err" \
  && bad "resumed a per-rank checkpoint with --sync-bn" || ok
grep -q "sync_bn" "$T/c4.err" && ok || bad "resume with --sync-bn: message: $(tail -3 "$T/c4.err")"
train 0 "$T/c5.snm" --max-steps 0 --classes 0-1 --val-size 12000 --epochs 2 --resume "$T/ck1" --sync-bn >/dev/null 2>"$T/c5.err" \
  && ok || bad "resume with --sync-bn: $(tail -3 "$T/c5.err")"

echo "cli_mpi_syncbn: $pass passed, $fail failed"
[ $fail -eq 0 ]
