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

echo "cli_presets: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
