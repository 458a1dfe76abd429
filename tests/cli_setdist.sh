#!/usr/bin/env bash
# simnet setdist with a briefly trained model: the two halves of MNIST test
# (dataset:mnist:test@half1 / @half2, even / odd indices) are much closer than MNIST
# test and Fashion-MNIST test, in Frechet distance and in MMD^2; .npy inputs written by
# simnet embed give the same numbers as the datasets; an image folder works; bad SETs
# fail with exit 2 naming the SET. Exits 77 (skip) without $SIMNET_DATA/mnist and
# $SIMNET_DATA/fashion-mnist.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_setdist "${1:-}" mnist fashion-mnist
num() { sed -n "s/.*\"$2\": \\([-0-9.eE+]*\\).*/\\1/p" "$1"; } # FILE KEY: a JSON number

"$SIMNET" train --data "$D" --max-steps 5 --batch-size 32 --val-size 100 --threads 2 --out "$T/m.snm" \
  --quiet >"$T/train.log" 2>&1 && ok || { bad "train: $(tail -3 "$T/train.log")"; echo "cli_setdist: $pass passed, $fail failed"; exit 1; }
run() { # NAME SET_A SET_B [options]: simnet setdist with --json T/NAME.json
  local name=$1; shift
  "$SIMNET" setdist --model "$T/m.snm" --data "$D" --threads 2 --json "$T/$name.json" "$@" \
    >"$T/$name.out" 2>&1 && ok || bad "setdist $name: $(cat "$T/$name.out")"
}

run halves dataset:mnist:test@half1 dataset:mnist:test@half2
run cross dataset:mnist:test dataset:fashion-mnist:test
grep -q '"n_a": 5000,' "$T/halves.json" && grep -q '"n_b": 5000,' "$T/halves.json" && ok || bad "halves are not 5000 + 5000: $(cat "$T/halves.json")"
grep -q '"mmd_n_a": 2000,' "$T/cross.json" && ok || bad "MMD did not subsample to 2000: $(cat "$T/cross.json")"
grep -q '^frechet_distance ' "$T/cross.out" && grep -q '^mmd2 ' "$T/cross.out" && ok || bad "output: $(cat "$T/cross.out")"
fh=$(num "$T/halves.json" frechet_distance); fc=$(num "$T/cross.json" frechet_distance)
mh=$(num "$T/halves.json" mmd2); mc=$(num "$T/cross.json" mmd2)
echo "FD halves $fh, MNIST vs Fashion-MNIST $fc; MMD^2 halves $mh, MNIST vs Fashion-MNIST $mc"
awk -v h="$fh" -v c="$fc" 'BEGIN {exit !(h != "" && c > 0 && h >= 0 && 10 * h < c)}' && ok || bad "FD: halves $fh not << cross $fc"
awk -v h="$mh" -v c="$mc" 'BEGIN {exit !(h != "" && c > 0 && 10 * h < c)}' && ok || bad "MMD^2: halves $mh not << cross $mc"

# .npy inputs (simnet embed) give the same numbers; --model is optional for them
"$SIMNET" embed --model "$T/m.snm" --data "$D" --dataset mnist --out "$T/a.npy" --threads 2 >/dev/null 2>&1 \
  && "$SIMNET" embed --model "$T/m.snm" --data "$D" --dataset fashion-mnist --out "$T/b.npy" --threads 2 >/dev/null 2>&1 \
  && ok || bad "simnet embed failed"
"$SIMNET" setdist --threads 2 --json "$T/npy.json" "$T/a.npy" "$T/b.npy" >"$T/npy.out" 2>&1 && ok || bad "setdist npy: $(cat "$T/npy.out")"
[ "$(num "$T/npy.json" frechet_distance)" = "$fc" ] && [ "$(num "$T/npy.json" mmd2)" = "$mc" ] && ok \
  || bad ".npy inputs: FD $(num "$T/npy.json" frechet_distance) MMD $(num "$T/npy.json" mmd2), datasets: $fc $mc"
run mixed "$T/a.npy" dataset:fashion-mnist:test
[ "$(num "$T/mixed.json" frechet_distance)" = "$fc" ] && ok || bad "mixed .npy + dataset: $(cat "$T/mixed.json")"
# the MMD subsample follows --seed
run seed dataset:mnist:test dataset:fashion-mnist:test --seed 7
[ "$(num "$T/seed.json" frechet_distance)" = "$fc" ] && [ "$(num "$T/seed.json" mmd2)" != "$mc" ] && ok || bad "--seed: $(cat "$T/seed.json")"

# an image folder (20 MNIST test images as PGM) against a class subset
mkdir -p "$T/folder"
for i in $(seq 0 19); do
  { printf 'P5\n28 28\n255\n'; gzip -dcf "$D"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + i * 784)) | head -c 784; } >"$T/folder/img$i.pgm"
done
echo "not an image" >"$T/folder/README.txt"
run folder "$T/folder" dataset:mnist:test:0-4
grep -q '"n_a": 20,' "$T/folder.json" && grep -q '"n_b": 5139,' "$T/folder.json" && ok || bad "folder: $(cat "$T/folder.json")"

# bad SETs and arguments: exit 2 naming the SET / option; missing files: exit 1
expect() { # RC NEEDLE ARGS...
  local want=$1 needle=$2; shift 2
  "$SIMNET" setdist "$@" >/dev/null 2>"$T/err"; local rc=$?
  [ $rc -eq "$want" ] && grep -q -- "$needle" "$T/err" && ok || bad "setdist $*: rc $rc (want $want), $(cat "$T/err")"
}
expect 2 "dataset:mnist:val" --model "$T/m.snm" --data "$D" dataset:mnist:val "$T/b.npy"
expect 2 "@half3" --model "$T/m.snm" --data "$D" dataset:mnist:test@half3 "$T/b.npy"
expect 2 "unknown dataset 'nosuch'" --model "$T/m.snm" --data "$D" dataset:nosuch "$T/b.npy"
expect 2 "model" --data "$D" dataset:mnist:test "$T/b.npy"
expect 2 "two SETs" --model "$T/m.snm" "$T/a.npy"
expect 2 "int32" "$T/a.npy" "$T/a.labels.npy"
expect 1 "nosuch.npy" "$T/a.npy" "$T/nosuch.npy"
expect 1 "nosuch.snm" --model "$T/nosuch.snm" "$T/a.npy" "$T/b.npy"
printf 'garbage' >"$T/g.npy"
expect 1 "g.npy" "$T/a.npy" "$T/g.npy"
mkdir -p "$T/empty"
expect 2 "empty" --model "$T/m.snm" "$T/empty" "$T/b.npy"

echo "cli_setdist: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
