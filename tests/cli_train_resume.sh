#!/usr/bin/env bash
# CLI checkpoints on real MNIST (3 classes, 2 % of train so epochs are short, a tiny
# network): training
# 3 epochs straight and training 1 epoch, stopping, then --resume for the rest give the
# same embeddings byte for byte (P x K triplet with augmentation and prefetch, and the
# pair path with EMA + onecycle); a mismatching option and a damaged checkpoint are
# refused with a message. Needs $SIMNET_DATA with mnist/; exits 77 (skip) without it.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_train_resume "${1:-}" mnist
# a tiny network keeps the test loss and the threshold calibration of each run cheap
arch="conv 8 3 2 1; bn; relu; maxpool 2; flatten; linear 16; bn; relu; linear 8"
common=(--data "$SIMNET_DATA" --dataset mnist --classes 0-2 --val-fraction 0.98 --threads 2 --quiet
        --arch "$arch")
run() { "$SIMNET" train "${common[@]}" "$@" >"$T/out" 2>"$T/err"; }

for variant in pk pairs; do
  if [ $variant = pk ]; then
    opts=(--loss triplet --miner hard --classes-per-batch 3 --per-class 8 --crop-pad 2 --epochs 3
          --optimizer adamw --weight-decay 0.01 --schedule cosine --warmup-epochs 0.5)
  else
    opts=(--batch-size 16 --epochs 3 --ema 0.9 --schedule onecycle --clip-grad-norm 5 --crop-pad 1)
  fi
  run "${opts[@]}" --out "$T/a.snm" && ok || bad "$variant straight: $(cat "$T/err")"
  run "${opts[@]}" --checkpoint "$T/b.ckpt" --stop-after-epoch 1 --out "$T/b1.snm" \
    && ok || bad "$variant first epoch: $(cat "$T/err")"
  [ -s "$T/b.ckpt" ] && ok || bad "$variant: no checkpoint written"
  ls "$T"/b.ckpt.tmp* >/dev/null 2>&1 && bad "$variant: temporary checkpoint left behind" || ok
  grep -c '"event":"epoch"' "$T/b1.snm.log.jsonl" | grep -qx 1 && ok || bad "$variant: stop after epoch 1"
  grep -q '"active_fraction":.*"mean_embed_norm":.*"lr":' "$T/b1.snm.log.jsonl" && ok \
    || bad "$variant: log lacks health fields"
  run "${opts[@]}" --checkpoint "$T/b.ckpt" --resume "$T/b.ckpt" --out "$T/b.snm" \
    && ok || bad "$variant resume: $(cat "$T/err")"
  grep -q "^epoch   3 .* active .* norm .* lr " "$T/out" && ok || bad "$variant: epoch line: $(cat "$T/out")"
  for m in a b b1; do
    "$SIMNET" embed --model "$T/$m.snm" --data "$SIMNET_DATA" --dataset mnist --classes 0-2 \
      --threads 2 --out "$T/$m.npy" >/dev/null 2>"$T/err" || bad "embed $m: $(cat "$T/err")"
  done
  cmp -s "$T/a.npy" "$T/b.npy" && ok || bad "$variant: resumed run differs from the straight run"
  cmp -s "$T/a.npy" "$T/b1.npy" && bad "$variant: one epoch gave the same weights as three" || ok
done

# mismatching option: exit 2 naming the field; damaged checkpoint: exit 1
run --batch-size 16 --epochs 3 --ema 0.9 --schedule onecycle --clip-grad-norm 5 --crop-pad 1 \
  --margin 2 --resume "$T/b.ckpt" --out "$T/c.snm"
rc=$?
[ $rc -eq 2 ] && grep -q "margin=" "$T/err" && ok || bad "mismatch: exit $rc: $(cat "$T/err")"
head -c 5000 "$T/b.ckpt" >"$T/short.ckpt"
run --batch-size 16 --epochs 3 --ema 0.9 --schedule onecycle --clip-grad-norm 5 --crop-pad 1 \
  --resume "$T/short.ckpt" --out "$T/c.snm"
rc=$?
[ $rc -eq 1 ] && grep -q "short.ckpt.*truncated" "$T/err" && ok || bad "truncated: exit $rc: $(cat "$T/err")"
run --loss multisim --miner hard --out "$T/c.snm"
rc=$?
[ $rc -eq 2 ] && grep -q -- "--miner does not apply to --loss multisim" "$T/err" && ok \
  || bad "bad option: exit $rc: $(cat "$T/err")"

echo "cli_train_resume: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
