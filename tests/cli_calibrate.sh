#!/usr/bin/env bash
# calibrate -> eval/compare on real MNIST: the far=0.05 operating point, chosen on the
# validation split, gives a test FAR within tolerance; operating points survive in the
# model file; compare --op decides with them; bad targets are clear errors.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_calibrate "${1:-}" mnist
"$SIMNET" train --data "$D" --max-steps 60 --batch-size 64 --val-size 2000 --threads 2 --quiet \
  --out "$T/m.snm" >/dev/null 2>"$T/err" && ok || bad "train: $(cat "$T/err")"
"$SIMNET" calibrate --model "$T/m.snm" --data "$D" --target far=0.05,f1 --threads 2 >"$T/cal" 2>&1 \
  && ok || bad "calibrate: $(cat "$T/cal")"
"$SIMNET" info "$T/m.snm" | grep -q "^  far=0.05 " && ok || bad "info lacks the far=0.05 operating point"
"$SIMNET" eval --model "$T/m.snm" --data "$D" --threads 2 >"$T/eval" 2>&1 && ok || bad "eval: $(cat "$T/eval")"
far=$(awk '$1 == "far=0.05" {print $3}' "$T/eval")
# 5,000 negative test pairs: binomial sd ~ 0.003 at 0.05; allow for val/test shift
awk -v f="$far" 'BEGIN { exit !(f >= 0.025 && f <= 0.08) }' && ok || bad "test FAR $far not within [0.025, 0.08] of target 0.05"
img() { { printf 'P5\n28 28\n255\n'; gzip -dcf "$D"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + $1 * 784)) | head -c 784; } > "$2"; }
img 0 "$T/a.pgm"; img 17 "$T/b.pgm"
"$SIMNET" compare --model "$T/m.snm" --op far=0.05 "$T/a.pgm" "$T/b.pgm" >"$T/cmp" 2>&1 \
  && grep -q "operating point far=0.05" "$T/cmp" && ok || bad "compare --op: $(cat "$T/cmp")"
"$SIMNET" compare --model "$T/m.snm" --op far=0.5 "$T/a.pgm" "$T/b.pgm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "no such operating point" "$T/err" && ok || bad "unknown --op: rc $rc"
cp "$T/m.snm" "$T/before.snm"
"$SIMNET" calibrate --model "$T/m.snm" --data "$D" --target recall=0.9 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "recall=0.9" "$T/err" && ok || bad "bad target: rc $rc $(cat "$T/err")"
cmp -s "$T/m.snm" "$T/before.snm" && ok || bad "a failed calibrate changed the model file"
"$SIMNET" calibrate --model "$T/m.snm" --data "$D" --target f1 --default f1 >/dev/null 2>&1 && \
  "$SIMNET" info "$T/m.snm" | grep -q "threshold_source   f1" && ok || bad "--default f1"
echo "cli_calibrate: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
