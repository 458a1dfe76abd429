#!/usr/bin/env bash
# End to end on every dataset kind: simnet train (a few steps) + simnet eval on
# Fashion-MNIST, CIFAR-10 (real data from $SIMNET_DATA) and an image folder of PNG,
# JPEG and PGM files made here from MNIST; open-set class selection; bad dataset args.
# Exits 77 (skip) without $SIMNET_DATA/mnist.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_datasets "${1:-}" mnist
train_eval() { # NAME ARGS... : train 8 steps, eval with few pairs, check the JSON
  local name=$1; shift
  if "$SIMNET" train --data "$D" --max-steps 8 --batch-size 32 --val-size 200 --threads 2 --quiet "$@" \
       --out "$T/$name.snm" >"$T/$name.train" 2>&1; then ok; else bad "$name train: $(tail -3 "$T/$name.train")"; return; fi
  if "$SIMNET" eval --model "$T/$name.snm" --data "$D" --pairs 1000 --threads 2 --json "$T/$name.json" \
       --no-baselines --episodes 50 \
       >"$T/$name.eval" 2>&1; then ok; else bad "$name eval: $(tail -3 "$T/$name.eval")"; return; fi
  grep -q '"roc_auc": 0\.[0-9]' "$T/$name.json" && ok || bad "$name: no roc_auc in $(cat "$T/$name.json")"
}

if ls "$D"/fashion-mnist/t10k-images-idx3-ubyte* >/dev/null 2>&1; then
  train_eval fmnist --dataset fashion-mnist
  grep -q "fashion-mnist test (10000 images" "$T/fmnist.eval" && ok || bad "fmnist eval header: $(head -1 "$T/fmnist.eval")"
  # open set: train on classes 0-4, evaluate on 5-9 (5 classes of 1000 test images)
  train_eval fopen --dataset fashion-mnist --classes 0-4
  grep -q "(classes 0-4, as the model was trained: seen classes; give --classes" "$T/fopen.eval" && ok \
    || bad "eval of a 0-4 model: no as-trained hint in $(head -3 "$T/fopen.eval")"
  "$SIMNET" eval --model "$T/fopen.snm" --data "$D" --classes 5-9 --pairs 1000 --threads 2 --no-baselines \
    --episodes 50 --protocol open >"$T/fopen5" 2>&1 && grep -q "(5000 images, 5 classes" "$T/fopen5" \
    && grep -q "^  dir_at_far_1e-2 *0\.[0-9]" "$T/fopen5" && ! grep -q "as the model was trained" "$T/fopen5" && ok || bad "open-set eval: $(cat "$T/fopen5")"
else
  echo "note: no fashion-mnist in $D, skipping it"
fi
if [ -d "$D/cifar-10-batches-bin" ]; then
  train_eval cifar --dataset cifar10 --crop-pad 4 --flip --rotate 10 --zoom 0.1
  "$SIMNET" info "$T/cifar.snm" | grep -q "crop_pad=4 flip=1 erase=0 rotate=10 zoom=0.1" && ok || bad "cifar model: no rotate/zoom in its augment metadata: $("$SIMNET" info "$T/cifar.snm" | grep augment)"
  "$SIMNET" info "$T/cifar.snm" | grep -q "input        3x32x32" && ok || bad "cifar model input not 3x32x32"
else
  echo "note: no cifar-10-batches-bin in $D, skipping CIFAR-10"
fi

# an image folder: 3 classes (digits 0, 1, 7) x 12 MNIST test images written as PGM
# (PNG and JPEG decoding inside folders is covered by tests/test_folder.c)
mk_pgm() { { printf 'P5\n28 28\n255\n'; gzip -dcf "$D"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + $1 * 784)) | head -c 784; } > "$2"; }
labels=$(gzip -dcf "$D"/mnist/t10k-labels-idx1-ubyte* | tail -c +9 | head -c 400 | od -An -tu1 -v | tr -s ' ' '\n' | grep -v '^$')
i=0; for l in $labels; do
  case $l in 0|1|7) n=$(ls "$T/folder/digit$l" 2>/dev/null | wc -l)
    if [ "$n" -lt 12 ]; then mkdir -p "$T/folder/digit$l"; mk_pgm $i "$T/folder/digit$l/img$i.pgm"; fi ;;
  esac
  i=$((i+1))
done
train_eval folder --dataset "folder:$T/folder" --image-size 28x28 --channels 1 --val-size 6
"$SIMNET" info "$T/folder.snm" | grep -q "input        1x28x28" && ok || bad "folder model input"

# bad arguments: clear messages, exit 2 / 1
"$SIMNET" train --data "$D" --dataset nosuch --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && grep -q "unknown dataset 'nosuch'" "$T/err" && ok || bad "unknown dataset: rc $rc $(cat "$T/err")"
"$SIMNET" train --data "$D" --dataset mnist --classes 3-12 --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && grep -q "class 12 out of range" "$T/err" && ok || bad "bad --classes: rc $rc $(cat "$T/err")"
"$SIMNET" train --dataset "folder:$T/nonexistent" --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nonexistent" "$T/err" && ok || bad "missing folder: rc $rc $(cat "$T/err")"
"$SIMNET" train --data "$D" --image-size 0x3 --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && ok || bad "bad --image-size: rc $rc"
"$SIMNET" train --data "$D" --dataset mnist --image-size 32x16 --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--image-size applies to folder datasets only; --dataset mnist" "$T/err" && ok || bad "--image-size on mnist: rc $rc $(cat "$T/err")"
"$SIMNET" train --data "$D" --dataset mnist --rotate 200 --max-steps 1 --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--rotate must be in 0..180 degrees" "$T/err" && ok || bad "--rotate 200: rc $rc $(cat "$T/err")"
"$SIMNET" train --data "$D" --dataset mnist --channels 3 --out "$T/x.snm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--channels applies to folder datasets only" "$T/err" && ok || bad "--channels on mnist: rc $rc $(cat "$T/err")"
[ -e "$T/x.snm" ] && bad "a failed train left a model" || ok

echo "cli_datasets: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
