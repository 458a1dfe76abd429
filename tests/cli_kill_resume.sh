#!/usr/bin/env bash
# cli_kill_resume.sh -- SIGKILL a `simnet train --checkpoint` run at random moments (at
# least 3 kills once the first checkpoint exists), `--resume` after each, and require the
# final model's tensors (parameters and BN buffers) and threshold to be byte-identical to
# an uninterrupted run with the same options. Tiny setup: MNIST classes 0-1, 10 % of
# train (about 1270 images), a 6.6k-parameter net, 30 epochs of about 0.05-0.2 s.
# Needs $SIMNET_DATA with mnist/; exits 77 (skip) without it.
# KILL_SEED=N reproduces the kill moments of an earlier run (it is printed).
# Usage: cli_kill_resume.sh path/to/simnet
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_kill_resume "${1:-}" mnist
KILL_SEED=${KILL_SEED:-$(( $$ ^ $(date +%s) ))}
RANDOM=$KILL_SEED
echo "kill moments: KILL_SEED=$KILL_SEED"
arch="conv 8 3 2 1; bn; relu; maxpool 2; flatten; linear 16; bn; relu; linear 8"
# one thread: OpenMP threads on a busy machine make epochs 10-100x slower and the timing
# of the kills meaningless (results are deterministic for either count)
opts=(--data "$SIMNET_DATA" --dataset mnist --classes 0-1 --val-fraction 0.9 --threads 1
      --quiet --arch "$arch" --batch-size 16 --epochs 30 --schedule cosine --ema 0.9)

# tensors SNM: the bytes from the parameter count to the CRC (docs/model-format.md); the
# header before them holds timings (meta.trained_at, meta.train_seconds) that may differ.
tensors() {
  local p q
  p=$(grep -a -m1 '^n_params=' "$1" | cut -d= -f2)
  q=$(grep -a -m1 '^n_bufs=' "$1" | cut -d= -f2)
  [ -n "$p" ] && [ -n "$q" ] || { echo "no n_params/n_bufs in $1"; return 1; }
  local n=$(( 8 + 4 * p + 8 + 4 * q + 4 ))
  tail -c "$n" "$1" | head -c $(( n - 4 ))
}

"$SIMNET" train "${opts[@]}" --out "$T/a.snm" >/dev/null 2>"$T/err" && ok \
  || bad "uninterrupted run: $(cat "$T/err")"

C=$T/b.ckpt
kills=0 runs=0 finished=0
while [ $runs -lt 20 ]; do
  runs=$((runs + 1))
  resume=(); [ -s "$C" ] && resume=(--resume "$C")
  "$SIMNET" train "${opts[@]}" --checkpoint "$C" "${resume[@]}" --out "$T/b.snm" \
    >"$T/out" 2>"$T/err" &
  pid=$!
  if [ ${#resume[@]} -eq 0 ]; then # first run: wait for the first checkpoint
    while [ ! -s "$C" ] && kill -0 $pid 2>/dev/null; do sleep 0.02; done
  fi
  if [ $kills -lt 3 ] || [ $((RANDOM % 2)) -eq 0 ]; then
    # 0.05 .. 0.45 s: during start-up, loading, an epoch, the checkpoint write or the save
    ms=$(( 50 + RANDOM % 400 ))
    sleep "$(( ms / 1000 )).$(printf '%03d' $(( ms % 1000 )))"
    if kill -9 $pid 2>/dev/null; then
      wait $pid 2>/dev/null
      kills=$((kills + 1))
      continue
    fi
  fi
  if wait $pid; then finished=1; break; fi
  bad "run $runs (${#resume[@]} resume args) failed: $(cat "$T/err")"
  break
done
echo "$kills kills, $runs runs"
[ $finished -eq 1 ] && ok || bad "the interrupted training never finished ($runs runs)"
[ $kills -ge 3 ] && ok || bad "only $kills kills landed before the run finished"
left=$(ls "$T" | grep -c '\.tmp\.' || true)
[ "$left" -gt 0 ] && echo "note: $left temporary file(s) of killed writes left beside the outputs"

if [ $finished -eq 1 ]; then
  tensors "$T/a.snm" >"$T/a.bin" && tensors "$T/b.snm" >"$T/b.bin" || bad "reading tensors"
  [ -s "$T/a.bin" ] && cmp -s "$T/a.bin" "$T/b.bin" && ok \
    || bad "killed and resumed run's weights differ from the uninterrupted run (KILL_SEED=$KILL_SEED)"
  [ "$(grep -a -m1 '^threshold=' "$T/a.snm")" = "$(grep -a -m1 '^threshold=' "$T/b.snm")" ] && ok \
    || bad "thresholds differ: $(grep -a -m1 '^threshold=' "$T/a.snm" "$T/b.snm")"
  # the last run ends with epoch 12, or only saves (killed after the last checkpoint)
  grep -q -e "^epoch  12 " -e "^saved .*(threshold .*, 0.0 s of training)" "$T/out" && ok \
    || bad "the last run neither trained to epoch 12 nor only saved: $(cat "$T/out")"
fi

echo "cli_kill_resume: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
