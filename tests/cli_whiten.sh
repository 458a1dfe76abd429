#!/usr/bin/env bash
# simnet whiten and train --embed-whiten on real MNIST: the whitened model loads, records
# how it was fitted (label augmentation included), gets a recalibrated threshold, and
# evaluates; the input model is left byte for byte as it was; a model without an
# L2-normalised embedding is normalised first; --out onto --model, a bad shrinkage and an
# already whitened model are clear errors that write nothing.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_whiten "${1:-}" mnist
common=(--data "$D" --dataset mnist --classes 0-4 --arch seed-relu --embed-dim 16 --threads 2 --quiet)
"$SIMNET" train "${common[@]}" --l2-normalize --label-augment rot2 --loss multisim --classes-per-batch 10 \
  --per-class 8 --max-steps 20 --val-size 500 --out "$T/m.snm" >/dev/null 2>"$T/err" \
  && ok || bad "train: $(cat "$T/err")"
cp "$T/m.snm" "$T/orig.snm"
"$SIMNET" whiten --model "$T/m.snm" --data "$D" --out "$T/w.snm" --threads 2 >"$T/out" 2>&1 \
  && grep -q "within-class, shrinkage 0.1, [0-9]* images of 10 classes of mnist" "$T/out" \
  && ok || bad "whiten: $(cat "$T/out")"
cmp -s "$T/m.snm" "$T/orig.snm" && ok || bad "whiten changed its input model"
"$SIMNET" info "$T/w.snm" >"$T/info" 2>&1 && grep -Eq "^ *19 linear +16 " "$T/info" && grep -Eq "^ *20 l2norm" "$T/info" \
  && grep -q "embed_whiten" "$T/info" && grep -q "label_augment.*rot2" "$T/info" \
  && ok || bad "info of the whitened model: $(cat "$T/info")"
t0=$("$SIMNET" info "$T/m.snm" | awk '$1 == "threshold" {print $2}')
t1=$("$SIMNET" info "$T/w.snm" | awk '$1 == "threshold" {print $2}')
[ -n "$t1" ] && [ "$t1" != "$t0" ] && ok || bad "threshold not recalibrated ($t0 -> $t1)"
"$SIMNET" eval --model "$T/w.snm" --data "$D" --classes 5-9 --threads 2 >"$T/eval" 2>&1 \
  && grep -q "mean_average_precision_at_r" "$T/eval" && ok || bad "eval of the whitened model: $(tail -3 "$T/eval")"
# errors
"$SIMNET" whiten --model "$T/m.snm" --data "$D" --out "$T/m.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "is the input model" "$T/err" && cmp -s "$T/m.snm" "$T/orig.snm" && ok \
  || bad "--out = --model: rc $rc $(cat "$T/err")"
ln -s "$T/m.snm" "$T/link.snm"
"$SIMNET" whiten --model "$T/m.snm" --data "$D" --out "$T/link.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && cmp -s "$T/m.snm" "$T/orig.snm" && ok || bad "--out a link to --model: rc $rc $(cat "$T/err")"
"$SIMNET" whiten --model "$T/m.snm" --data "$D" --out "$T/x.snm" --shrink 2 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--shrink 2 must be in \[0, 1\]" "$T/err" && [ ! -e "$T/x.snm" ] && ok \
  || bad "--shrink 2: rc $rc $(cat "$T/err")"
"$SIMNET" whiten --model "$T/w.snm" --data "$D" --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && grep -q "already whitened" "$T/err" && [ ! -e "$T/x.snm" ] && ok || bad "whiten twice: rc $rc $(cat "$T/err")"
"$SIMNET" train "${common[@]}" --max-steps 5 --batch-size 32 --val-size 200 --out "$T/u.snm" >/dev/null 2>&1
"$SIMNET" whiten --model "$T/u.snm" --data "$D" --out "$T/x.snm" >"$T/out" 2>&1 \
  && grep -q "L2-normalised first" "$T/out" && "$SIMNET" info "$T/x.snm" | grep -Eq "^ *18 l2norm" \
  && ok || bad "whiten a model without l2norm: $(cat "$T/out")"
# train --embed-whiten: the same step inside training
"$SIMNET" train "${common[@]}" --l2-normalize --loss multisim --classes-per-batch 5 --per-class 8 \
  --max-steps 10 --val-size 500 --embed-whiten 0.2 --out "$T/tw.snm" >/dev/null 2>"$T/err" \
  && "$SIMNET" info "$T/tw.snm" | grep -q "embed_whiten.*shrinkage 0.2, [0-9]* images of 5 classes" \
  && ok || bad "train --embed-whiten: $(cat "$T/err")"
echo "cli_whiten: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
