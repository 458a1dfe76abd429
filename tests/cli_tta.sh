#!/usr/bin/env bash
# simnet tta and train --tta / eval --tta on real MNIST: the new model records its views
# (info, eval), gets a recalibrated threshold, and `eval --tta none` on it gives exactly
# the metrics of the original; the input model is left byte for byte as it was; compare
# and explain work with it (the same distance); --out onto --model, a bad view set, flip on a mirror-label-augmented
# model (checked before training) are clear errors that write nothing.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_tta "${1:-}" mnist
common=(--data "$D" --dataset mnist --classes 0-4 --arch seed-relu --embed-dim 16 --threads 2 --quiet)
"$SIMNET" train "${common[@]}" --l2-normalize --loss multisim --classes-per-batch 5 --per-class 8 \
  --max-steps 20 --val-size 500 --out "$T/m.snm" >/dev/null 2>"$T/err" && ok || bad "train: $(cat "$T/err")"
cp "$T/m.snm" "$T/orig.snm"
"$SIMNET" tta --model "$T/m.snm" --views shift1+flip --data "$D" --out "$T/t.snm" --threads 2 >"$T/out" 2>&1 \
  && grep -q "test-time augmentation flip+shift1, 10 views" "$T/out" && ok || bad "tta: $(cat "$T/out")"
cmp -s "$T/m.snm" "$T/orig.snm" && ok || bad "tta changed its input model"
"$SIMNET" info "$T/t.snm" 2>&1 | grep -q "^test-time    flip+shift1 (each embedding the mean of 10 views)" \
  && ok || bad "info: $("$SIMNET" info "$T/t.snm" 2>&1 | head -8)"
t0=$("$SIMNET" info "$T/m.snm" | awk '$1 == "threshold" {print $2}')
t1=$("$SIMNET" info "$T/t.snm" | awk '$1 == "threshold" {print $2}')
[ -n "$t1" ] && [ "$t1" != "$t0" ] && ok || bad "threshold not recalibrated ($t0 -> $t1)"
ev=(--data "$D" --classes 5-9 --threads 2 --episodes 0 --no-baselines)
"$SIMNET" eval --model "$T/t.snm" "${ev[@]}" --json "$T/t.json" >"$T/eval" 2>&1 \
  && grep -q "test-time augmentation flip+shift1: each embedding the mean of 10 views" "$T/eval" \
  && ok || bad "eval of the tta model: $(tail -3 "$T/eval")"
"$SIMNET" eval --model "$T/m.snm" "${ev[@]}" --json "$T/m.json" >/dev/null 2>&1 \
  && "$SIMNET" eval --model "$T/t.snm" "${ev[@]}" --tta none --json "$T/n.json" >"$T/eval2" 2>&1 \
  && ! grep -q "test-time" "$T/eval2" && ok || bad "eval --tta none: $(tail -3 "$T/eval2")"
mapr() { grep -o '"mean_average_precision_at_r": [^,}]*' "$1"; }
[ -n "$(mapr "$T/m.json")" ] && [ "$(mapr "$T/m.json")" = "$(mapr "$T/n.json")" ] \
  && [ "$(mapr "$T/m.json")" != "$(mapr "$T/t.json")" ] && ok \
  || bad "MAP@R: model $(mapr "$T/m.json"), tta $(mapr "$T/t.json"), tta none $(mapr "$T/n.json")"
{ printf 'P5\n28 28\n255\n'; gzip -dcf "$D"/mnist/t10k-images-idx3-ubyte* | tail -c +17 | head -c 784; } >"$T/a.pgm"
"$SIMNET" compare --model "$T/t.snm" "$T/a.pgm" "$T/a.pgm" >"$T/cmp" 2>&1 \
  && grep -Eq "^distance +0(\.0+)?$" "$T/cmp" && ok || bad "compare: $(cat "$T/cmp")"
{ printf 'P5\n28 28\n255\n'; gzip -dcf "$D"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + 784)) | head -c 784; } >"$T/b.pgm"
dc=$("$SIMNET" compare --model "$T/t.snm" "$T/a.pgm" "$T/b.pgm" 2>&1 | awk '$1 == "distance" {print $2}')
"$SIMNET" explain --model "$T/t.snm" "$T/a.pgm" "$T/b.pgm" --out "$T/s.png" >"$T/ex" 2>&1 \
  && grep -q "^note .*test-time augmentation (flip+shift1, 10 views)" "$T/ex" \
  && [ -n "$dc" ] && grep -q "^distance   $dc$" "$T/ex" && ok || bad "explain (compare: $dc): $(cat "$T/ex")"
# errors
"$SIMNET" tta --model "$T/m.snm" --views flip --data "$D" --out "$T/m.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "is the input model" "$T/err" && cmp -s "$T/m.snm" "$T/orig.snm" && ok \
  || bad "--out = --model: rc $rc $(cat "$T/err")"
"$SIMNET" tta --model "$T/m.snm" --views shift9 --data "$D" --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "'shift9' is not a view set" "$T/err" && [ ! -e "$T/x.snm" ] && ok \
  || bad "--views shift9: rc $rc $(cat "$T/err")"
"$SIMNET" tta --model "$T/m.snm" --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--views and --out are required" "$T/err" && ok || bad "no --views: rc $rc $(cat "$T/err")"
"$SIMNET" eval --model "$T/m.snm" "${ev[@]}" --tta flop 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "'flop' is not a view set" "$T/err" && ok || bad "eval --tta flop: rc $rc $(cat "$T/err")"
# train --tta: refused before training for a mirror-label-augmented model; applied otherwise
SECONDS=0
"$SIMNET" train "${common[@]}" --label-augment d4 --loss multisim --classes-per-batch 5 --per-class 8 \
  --max-steps 2000 --tta flip --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "label-augment d4" "$T/err" && [ ! -e "$T/x.snm" ] && [ $SECONDS -lt 60 ] && ok \
  || bad "train --label-augment d4 --tta flip: rc $rc in ${SECONDS}s $(cat "$T/err")"
"$SIMNET" train "${common[@]}" --l2-normalize --loss multisim --classes-per-batch 5 --per-class 8 \
  --max-steps 5 --val-size 300 --tta shift2 --out "$T/tt.snm" >/dev/null 2>"$T/err" \
  && "$SIMNET" info "$T/tt.snm" | grep -q "^test-time    shift2 " && ok || bad "train --tta shift2: $(cat "$T/err")"
echo "cli_tta: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
