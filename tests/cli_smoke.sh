#!/usr/bin/env bash
# CLI smoke test on real MNIST: train a few steps, eval --json, compare, info, and the
# error paths (clear message naming the file, exit status 1/2, never a signal).
# Needs $SIMNET_DATA with mnist/; exits 77 (skip) without it.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_smoke "${1:-}" mnist
# expect STATUS PATTERN cmd... : exit status and a stderr line matching PATTERN
expect() {
  local want=$1 pat=$2; shift 2
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  if [ "$rc" -ne "$want" ]; then bad "$* -> exit $rc, want $want: $(cat "$T/err")"; return; fi
  if [ -n "$pat" ] && ! grep -q -- "$pat" "$T/err"; then bad "$* -> stderr lacks '$pat': $(cat "$T/err")"; return; fi
  ok
}

# train (short) ------------------------------------------------------------
"$SIMNET" train --data "$SIMNET_DATA" --dataset mnist --arch seed --loss contrastive --epochs 1 \
  --max-steps 25 --batch-size 64 --lr 1e-3 --seed 3 --threads 2 --val-size 1000 --out "$T/m.snm" \
  >"$T/train.out" 2>"$T/train.err" && ok || bad "train: $(cat "$T/train.err")"
grep -q "^epoch   1  train_loss" "$T/train.out" && ok || bad "train prints no epoch line"
[ -s "$T/m.snm.log.jsonl" ] && grep -q '"event":"epoch"' "$T/m.snm.log.jsonl" && ok || bad "no JSON-lines log"
ls "$T"/m.snm.tmp.* >/dev/null 2>&1 && bad "temporary model file left behind" || ok

# info ---------------------------------------------------------------------
"$SIMNET" info "$T/m.snm" >"$T/info" 2>&1 && ok || bad "info failed"
grep -q "parameters   101634" "$T/info" && ok || bad "info: wrong parameter count: $(cat "$T/info")"
grep -q "dataset            mnist" "$T/info" && ok || bad "info: no dataset metadata"

# eval --json: every metric key, values in range; baselines beside the model ---------
"$SIMNET" eval --model "$T/m.snm" --data "$SIMNET_DATA" --json "$T/e.json" --threads 2 --episodes 200 \
  >"$T/eval.out" 2>&1 && ok || bad "eval: $(cat "$T/eval.out")"
for k in roc_auc eer tar_at_far_1e-2 tar_at_far_1e-3 verification_accuracy precision_at_1 recall_at_1 \
         recall_at_5 recall_at_10 r_precision mean_average_precision_at_r nmi ami knn_accuracy \
         fewshot_1shot fewshot_1shot_ci95 fewshot_5shot fewshot_5shot_ci95 raw_pixels untrained; do
  grep -q "\"$k\":" "$T/e.json" && ok || bad "eval json lacks $k"
done
auc=$(grep -o '"roc_auc": [0-9.]*' "$T/e.json" | head -1 | awk '{print $2}')
awk -v a="$auc" 'BEGIN{exit !(a > 0.6 && a <= 1)}' && ok || bad "roc_auc $auc after 25 steps not > 0.6"
grep -q "raw pixels    untrained" "$T/eval.out" && ok || bad "no baseline columns: $(head -3 "$T/eval.out")"

# eval --dba: retrieval on database-side augmented embeddings, said in the output and the JSON
"$SIMNET" eval --model "$T/m.snm" --data "$SIMNET_DATA" --json "$T/d.json" --threads 2 --episodes 0 \
  --no-baselines --dba 5 >"$T/dba.out" 2>&1 && ok || bad "eval --dba: $(cat "$T/dba.out")"
grep -q "rank DBA embeddings, k = 5" "$T/dba.out" && grep -q '"dba_k": 5,' "$T/d.json" && ok || bad "eval --dba not reported"
expect 2 "dba >= 0" "$SIMNET" eval --model "$T/m.snm" --dba -1

# compare: two test images as PGM (one 7, one 2, one other 7) --------------------
img() { # img INDEX OUT : MNIST test image INDEX as binary PGM
  { printf 'P5\n28 28\n255\n'; gzip -dcf "$SIMNET_DATA"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + $1 * 784)) | head -c 784; } > "$2"
}
img 0 "$T/a.pgm"; img 1 "$T/b.pgm"; img 17 "$T/c.pgm"   # labels 7, 2, 7
"$SIMNET" compare --model "$T/m.snm" "$T/a.pgm" "$T/b.pgm" >"$T/cmp" 2>&1 && ok || bad "compare: $(cat "$T/cmp")"
grep -q "^distance" "$T/cmp" && grep -q "^similarity" "$T/cmp" && grep -q "^decision   \(same\|different\)" "$T/cmp" \
  && ok || bad "compare output: $(cat "$T/cmp")"

# errors -------------------------------------------------------------------
expect 2 "unknown option '--bogus'" "$SIMNET" train --bogus 1
expect 2 "is not an integer" "$SIMNET" train --epochs x --out "$T/x.snm"
expect 2 "out MODEL is required" "$SIMNET" train
expect 2 "unknown command" "$SIMNET" frobnicate
expect 1 "$T/nope.snm: cannot open model file" "$SIMNET" info "$T/nope.snm"
printf 'hello' > "$T/junk.snm"
expect 1 "junk.snm: not a simnet model file" "$SIMNET" info "$T/junk.snm"
head -c 2000 "$T/m.snm" > "$T/trunc.snm"
expect 1 "trunc.snm: " "$SIMNET" info "$T/trunc.snm"
cp "$T/m.snm" "$T/flip.snm"; printf '\x55' | dd of="$T/flip.snm" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect 1 "flip.snm: checksum mismatch" "$SIMNET" info "$T/flip.snm"
expect 1 "nope.pgm" "$SIMNET" compare --model "$T/m.snm" "$T/a.pgm" "$T/nope.pgm"
expect 1 "not found" "$SIMNET" train --data "$T" --out "$T/y.snm" --max-steps 1
expect 2 "unknown architecture 'nosuch'" "$SIMNET" train --data "$SIMNET_DATA" --arch nosuch --out "$T/y.snm"
[ -e "$T/y.snm" ] && bad "failed train left a model file" || ok

echo "cli_smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
