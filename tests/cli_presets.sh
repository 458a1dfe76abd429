#!/usr/bin/env bash
# simnet train --preset: the list, unknown names, and that a preset is exactly its options
# with the user's options winning (a 3-step run of --preset mnist records the preset's
# architecture and loss, and takes --epochs/--max-steps from the command line).
# Needs $SIMNET_DATA with mnist/; exits 77 (skip) without it.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_presets "${1:-}" mnist

"$SIMNET" train --preset list >"$T/list" 2>&1 && ok || bad "--preset list failed"
for p in mnist mnist-open fashion-mnist cifar10; do
  grep -q "^  $p " "$T/list" && ok || bad "--preset list lacks $p"
done
"$SIMNET" train --preset nope --out "$T/x.snm" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown preset" "$T/err" && ok || bad "unknown preset: exit $rc, $(cat "$T/err")"
"$SIMNET" train --out "$T/x.snm" --preset >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "needs a name" "$T/err" && ok || bad "--preset without a name: exit $rc"
[ -e "$T/x.snm" ] && bad "a model was written by a failed preset run" || ok

"$SIMNET" train --preset mnist --data "$SIMNET_DATA" --epochs 1 --max-steps 3 --val-size 500 \
  --threads 2 --quiet --out "$T/p.snm" >"$T/train.out" 2>"$T/train.err" && ok || bad "preset run: $(cat "$T/train.err")"
"$SIMNET" info "$T/p.snm" >"$T/info" 2>&1 && ok || bad "info failed"
grep -q "l2norm" "$T/info" && ok || bad "preset architecture not applied: $(head -5 "$T/info")"
grep -q "arcface" "$T/info" && ok || bad "preset loss not recorded: $(grep -i loss "$T/info")"
grep -c "^epoch" "$T/train.out" | grep -qx 1 && ok || bad "--epochs 1 did not override the preset's 6"

# --label-augment: rot4 on digits 0-4 trains 20 classes and records it; a bad kind is a usage error
"$SIMNET" train --data "$SIMNET_DATA" --dataset mnist --classes 0-4 --label-augment rot4 --loss multisim \
  --classes-per-batch 10 --per-class 4 --max-steps 2 --val-size 200 --threads 2 --out "$T/la.snm" \
  >"$T/la.out" 2>"$T/la.err" && ok || bad "label-augment run: $(cat "$T/la.err")"
grep -q "label-augment rot4: training on 121584 images of 20 classes" "$T/la.err" && ok || bad "label-augment: $(grep label "$T/la.err")"
"$SIMNET" info "$T/la.snm" 2>&1 | grep -q "label_augment.*rot4" && ok || bad "label_augment not in the model's metadata"
"$SIMNET" train --data "$SIMNET_DATA" --classes 0-4 --label-augment rot5 --out "$T/lb.snm" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && grep -q -- "--label-augment rot5: expected rot2, rot4, rot8, flip, d4 or d8" "$T/err" && [ ! -e "$T/lb.snm" ] && ok || bad "bad --label-augment: exit $rc, $(cat "$T/err")"

echo "cli_presets: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
