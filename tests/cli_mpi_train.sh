#!/usr/bin/env bash
# simnet train on MPI ranks against one process (real MNIST, $SIMNET_DATA; mpirun
# --oversubscribe on this machine): 2 ranks x 64 and 3 ranks give the weights of
# 1 process x 128 (tolerance explained below), 2 ranks twice give the same bits, rank 0
# alone prints / logs / saves and reports the global train loss, a batch-mining loss
# (embeddings all-gathered), --resume on another number of ranks.
# Skips (77) without mpirun, a SIMNET_MPI build or the data.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_mpi_train "${1:-}" mnist
command -v mpirun >/dev/null 2>&1 || { echo "mpirun not found: skipping"; exit 77; }
# Sanitizer builds: Open MPI's own allocations outlive MPI_Finalize (LeakSanitizer would
# fail every rank); leaks of simnet's code are checked by the single-process tests.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
CHECK=${SIMNET_MPI_CHECK:-}
[ -n "$CHECK" ] && [ -x "$CHECK" ] || { echo "simnet built without SIMNET_MPI: skipping"; exit 77; }
MPIRUN=(mpirun -x ASAN_OPTIONS --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader,tcp)

# Without batch norm (per-rank BN statistics would make the ranks' runs genuinely
# different) and with SGD, the only difference between 1 process x batch 128 and 2 ranks
# x 64 is the float summation order of the gradient (kernels' reductions over each
# rank's rows, then the ranks' sum): measured ~2e-7 of max |w| after 20 steps, so 1e-5
# bounds it with room while any real error fails (half of each batch lost: 0.20; a
# doubled gradient: 0.49). Adam is not used here: it divides by sqrt(v) + 1e-8,
# so a gradient component that is ~0 up to rounding gets an update of up to lr whose
# sign depends on that rounding (docs/scaling.md).
# The net has no ReLU or max-pool on purpose: with kinks, a ~1e-7 rounding difference
# sends some activation across zero or flips a pool argmax within a few steps (over
# 20 steps x 128 pairs x ~10^5 activations a few land within 1e-7 of a kink), and the
# runs then drift apart for real: measured 1.9e-4 of max |w| at step 20 (2 ranks) and
# 5.7e-3 at step 40 (3 ranks) on a machine whose OpenBLAS picks its Haswell kernels,
# while the linear net stays at 2-4e-7 up to step 40 with 2 and 3 ranks.
ARCH="conv 8 3 1 1; avgpool 2; conv 16 3 1 1; avgpool 2; flatten; linear 32"
COMMON=(--data "$SIMNET_DATA" --dataset mnist --arch "$ARCH" --optimizer sgd --lr 0.01 --seed 5
        --batch-size 128 --max-steps 20 --val-size 1000 --threads 1)
train() { # train NP OUT [extra options]: NP = 0 -> one process without mpirun
  local np=$1 out=$2; shift 2
  if [ "$np" = 0 ]; then "$SIMNET" train "${COMMON[@]}" --out "$out" "$@"
  else timeout 300 "${MPIRUN[@]}" -np "$np" "$SIMNET" train "${COMMON[@]}" --out "$out" "$@"; fi
}
same() { # same A B TOL WHAT
  "$CHECK" --compare "$1" "$2" "$3" >"$T/cmp" 2>&1 && ok || bad "$4: $(cat "$T/cmp")"
  echo "cli_mpi_train: $4: $(cat "$T/cmp")"
}
train 0 "$T/p1.snm" >"$T/p1.out" 2>"$T/p1.err" && ok || bad "1 process: $(tail -5 "$T/p1.err")"
train 2 "$T/p2.snm" >"$T/p2.out" 2>"$T/p2.err" && ok || bad "2 ranks: $(tail -5 "$T/p2.err")"
train 2 "$T/p2b.snm" >/dev/null 2>"$T/p2b.err" && ok || bad "2 ranks again: $(tail -5 "$T/p2b.err")"
train 3 "$T/p3.snm" >/dev/null 2>"$T/p3.err" && ok || bad "3 ranks: $(tail -5 "$T/p3.err")"
same "$T/p2.snm" "$T/p1.snm" 1e-5 "2 ranks x 64 vs 1 x 128"
same "$T/p3.snm" "$T/p1.snm" 1e-5 "3 ranks (43+43+42) vs 1 x 128"
same "$T/p2.snm" "$T/p2b.snm" 0 "2 ranks, run twice (bit-identical)"
# rank 0 alone prints, logs and saves; the epoch's train loss is the global one
[ "$(grep -c '^epoch' "$T/p2.out")" = 1 ] && [ "$(grep -c '^saved' "$T/p2.out")" = 1 ] && ok \
  || bad "2 ranks: expected one epoch line and one saved line: $(cat "$T/p2.out")"
[ "$(grep -c '"event":"epoch"' "$T/p2.snm.log.jsonl")" = 1 ] && ok || bad "2 ranks: log holds $(grep -c epoch "$T/p2.snm.log.jsonl") epoch lines"
l1=$(grep -o 'train_loss [0-9.]*' "$T/p1.out"); l2=$(grep -o 'train_loss [0-9.]*' "$T/p2.out")
[ -n "$l1" ] && [ "$l1" = "$l2" ] && ok || bad "train loss: 1 process '$l1', 2 ranks '$l2'"
grep -q "2 ranks (mpi) x 1 threads, global batch 128" "$T/p2.err" && ok || bad "2 ranks: no ranks line: $(head -3 "$T/p2.err")"
"$SIMNET" info "$T/p2.snm" | grep -q "ranks *2" && ok || bad "2 ranks: model metadata lacks ranks"

# a batch-mining loss: embeddings all-gathered, the whole batch's loss on every rank
PK=(--loss triplet --miner hard --classes-per-batch 8 --per-class 4)
train 0 "$T/k1.snm" "${PK[@]}" >/dev/null 2>"$T/k1.err" && ok || bad "triplet, 1 process: $(tail -5 "$T/k1.err")"
train 2 "$T/k2.snm" "${PK[@]}" >/dev/null 2>"$T/k2.err" && ok || bad "triplet, 2 ranks: $(tail -5 "$T/k2.err")"
same "$T/k2.snm" "$T/k1.snm" 1e-5 "triplet (hard mining) 2 ranks vs 1"

# --resume with another number of ranks: 2 ranks stop after epoch 1, 1 process and 3
# ranks finish; both match an uninterrupted single-process run. Epochs of 10 steps
# (classes 0-1, most of them held out): the rounding differences stay at the 20-step
# level (they grow with the steps: ReLU / max-pool / hinge switches flipped by rounding
# are amplified by the dynamics, ~1e-4 after 45 steps; docs/scaling.md).
RES=(--classes 0-1 --val-size 10000 --epochs 2 --max-steps 0 --batch-size 256)
train 0 "$T/r1.snm" "${RES[@]}" >/dev/null 2>"$T/r1.err" && ok || bad "resume reference: $(tail -5 "$T/r1.err")"
train 2 "$T/r2.snm" "${RES[@]}" --stop-after-epoch 1 --checkpoint "$T/ck" >/dev/null 2>"$T/r2.err" \
  && [ -s "$T/ck" ] && ok || bad "2 ranks, first epoch + checkpoint: $(tail -5 "$T/r2.err")"
train 0 "$T/r3.snm" "${RES[@]}" --resume "$T/ck" >/dev/null 2>"$T/r3.err" && ok || bad "resume on 1 process: $(tail -5 "$T/r3.err")"
train 3 "$T/r4.snm" "${RES[@]}" --resume "$T/ck" >/dev/null 2>"$T/r4.err" && ok || bad "resume on 3 ranks: $(tail -5 "$T/r4.err")"
same "$T/r3.snm" "$T/r1.snm" 1e-5 "2 ranks then resumed on 1 vs uninterrupted"
same "$T/r4.snm" "$T/r1.snm" 1e-5 "2 ranks then resumed on 3 vs uninterrupted"

echo "cli_mpi_train: $pass passed, $fail failed"
[ $fail -eq 0 ]
