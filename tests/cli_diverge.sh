#!/usr/bin/env bash
# cli_diverge.sh -- training that diverges stops within two steps with exit status 1 and a
# message naming the step and what to change, and leaves no model file, checkpoint or
# temporary behind: a huge --lr (Adam), and a huge contrastive --margin with plain SGD
# (the gradient overflows to Inf at the first update). Needs $SIMNET_DATA with mnist/;
# exits 77 (skip) without it. Usage: cli_diverge.sh path/to/simnet
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_diverge "${1:-}" mnist
arch="conv 8 3 2 1; bn; relu; maxpool 2; flatten; linear 16; bn; relu; linear 8"
common=(--data "$SIMNET_DATA" --dataset mnist --classes 0-1 --val-fraction 0.9 --threads 1
        --quiet --arch "$arch" --batch-size 16 --epochs 2)

# diverges DESC EXPECT-IN-MESSAGE -- OPTIONS...
diverges() {
  local desc=$1 expect=$2; shift 3
  mkdir -p "$T/o"
  "$SIMNET" train "${common[@]}" "$@" --out "$T/o/m.snm" --checkpoint "$T/o/m.ckpt" \
    >"$T/out" 2>"$T/err"
  local rc=$? msg
  msg=$(grep '^simnet train: ' "$T/err")
  if [ $rc -ne 1 ]; then
    bad "$desc: exit status $rc (expected 1): $(head -c 300 "$T/err")"
  elif ! [[ "$msg" =~ diverged\ at\ step\ [12]\ \(epoch\ 1\) ]]; then
    bad "$desc: not stopped at step 1 or 2 with 'diverged at step N': $msg"
  elif [[ "$msg" != *"$expect"* ]] || [[ "$msg" != *"--clip-grad-norm"* ]]; then
    bad "$desc: the message does not say what to change ('$expect', --clip-grad-norm): $msg"
  elif [ -e "$T/o/m.snm" ] || [ -e "$T/o/m.ckpt" ] || ls "$T/o" | grep -q '\.tmp\.'; then
    bad "$desc: left a model, checkpoint or temporary behind: $(ls "$T/o" | tr '\n' ' ')"
  elif grep -q '^epoch ' "$T/out"; then
    bad "$desc: an epoch was reported: $(cat "$T/out")"
  else
    ok
  fi
  rm -rf "$T/o"
}
diverges "--lr 1e30" "Lower --lr (now 1e+30)" -- --lr 1e30
diverges "--lr 1e30 --optimizer sgd" "Lower --lr" -- --lr 1e30 --optimizer sgd
diverges "--margin 1e20 --optimizer sgd" "--margin / --scale" -- --margin 1e20 --optimizer sgd
diverges "--loss cosface --scale 1e38" "--margin / --scale" -- --loss cosface --scale 1e38
# the same options with a sane learning rate train normally (the check is not too eager)
"$SIMNET" train "${common[@]}" --max-steps 4 --optimizer sgd --lr 0.01 --out "$T/ok.snm" \
  >/dev/null 2>"$T/err" && [ -s "$T/ok.snm" ] && ok || bad "a sane run failed: $(cat "$T/err")"

echo "cli_diverge: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
