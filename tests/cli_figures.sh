#!/usr/bin/env bash
# simnet figures: train a tiny MNIST model, draw its figures, check the five PNG files
# (PNG magic, non-trivial size, no temporary files left), the training-curves figure
# from the default log, the note when the log is missing, and the usage errors.
# Exits 77 (skip) without $SIMNET_DATA/mnist.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_figures "${1:-}" mnist
png_ok() { # FILE MIN_BYTES: PNG magic and at least MIN_BYTES
  [ -f "$1" ] || { bad "$1 missing"; return; }
  [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || { bad "$1: not a PNG"; return; }
  [ "$(stat -c %s "$1")" -ge "$2" ] && ok || bad "$1: only $(stat -c %s "$1") bytes"
}

"$SIMNET" train --data "$D" --max-steps 10 --batch-size 32 --val-size 200 --threads 2 --quiet \
  --out "$T/m.snm" >"$T/train.log" 2>&1 && ok || { bad "train: $(tail -3 "$T/train.log")"; echo "cli_figures: $pass passed, $fail failed"; exit 1; }

"$SIMNET" figures --model "$T/m.snm" --data "$D" --out "$T/fig" --threads 2 >"$T/out" 2>"$T/err" \
  && ok || bad "figures: $(cat "$T/err")"
for f in pairs_grid embedding_map training_curves roc distance_hist retrieval_sheet; do
  png_ok "$T/fig/$f.png" 5000
  grep -q "$T/fig/$f.png" "$T/out" && ok || bad "$f.png not printed: $(cat "$T/out")"
done
ls "$T/fig" | grep -q '\.tmp\.' && bad "temporary files left: $(ls "$T/fig")" || ok

# no log: training_curves.png is skipped with a note, the rest is drawn
"$SIMNET" figures --model "$T/m.snm" --data "$D" --log "$T/nosuch.jsonl" --out "$T/fig2" --threads 2 \
  >"$T/out" 2>"$T/err" && ok || bad "figures without log: $(cat "$T/err")"
grep -q "nosuch.jsonl" "$T/err" && ok || bad "no note about the missing log: $(cat "$T/err")"
[ -e "$T/fig2/training_curves.png" ] && bad "training_curves.png drawn without a log" || ok
png_ok "$T/fig2/roc.png" 5000

# errors: usage (exit 2), a missing model names it (exit 1), an unwritable directory (exit 1)
"$SIMNET" figures --model "$T/m.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--out" "$T/err" && ok || bad "no --out: rc $rc $(cat "$T/err")"
"$SIMNET" figures --model "$T/nosuch.snm" --data "$D" --out "$T/fig3" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nosuch.snm" "$T/err" && ok || bad "missing model: rc $rc $(cat "$T/err")"
: >"$T/plainfile"
"$SIMNET" figures --model "$T/m.snm" --data "$D" --out "$T/plainfile/fig" --threads 2 >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "plainfile" "$T/err" && ok || bad "unwritable --out: rc $rc $(cat "$T/err")"

echo "cli_figures: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
