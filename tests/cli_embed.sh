#!/usr/bin/env bash
# simnet embed: MNIST test embeddings and labels as .npy (header parsed here in bash:
# magic, version 1.0, 64-byte aligned header, descr / fortran_order / shape, exact file
# size, labels equal to the IDX labels), image files, --classes, failures leave nothing.
# If /usr/bin/python3 has numpy, numpy.load must read both files too (skipped otherwise:
# the project does not need Python to test). Exits 77 (skip) without $SIMNET_DATA/mnist.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_embed "${1:-}" mnist
u8() { od -An -tu1 -j"$2" -N1 "$1" | tr -d ' '; } # FILE OFFSET: one byte

# npy_check FILE DESCR SHAPE: validate the header; sets HDR (its length)
npy_check() {
  local f=$1 descr=$2 shape=$3
  HDR=0
  [ "$(head -c 6 "$f" | od -An -c | tr -d ' ')" = '223NUMPY' ] || { bad "$f: bad magic"; return; }
  [ "$(u8 "$f" 6).$(u8 "$f" 7)" = "1.0" ] || { bad "$f: version $(u8 "$f" 6).$(u8 "$f" 7)"; return; }
  HDR=$((10 + $(u8 "$f" 8) + 256 * $(u8 "$f" 9)))
  [ $((HDR % 64)) -eq 0 ] || bad "$f: header length $HDR is not a multiple of 64"
  local h; h=$(head -c "$HDR" "$f" | tail -c +11)
  [ "$(head -c "$HDR" "$f" | tail -c 1 | od -An -tu1 | tr -d ' ')" = 10 ] || bad "$f: header does not end in \\n"
  case $h in
    "{'descr': '$descr', 'fortran_order': False, 'shape': $shape, }"*) ok ;;
    *) bad "$f: header '$h', expected descr $descr shape $shape" ;;
  esac
}

"$SIMNET" train --data "$D" --max-steps 5 --batch-size 32 --val-size 100 --threads 2 --out "$T/m.snm" \
  --quiet >"$T/train.log" 2>&1 && ok || { bad "train: $(tail -3 "$T/train.log")"; echo "cli_embed: $pass passed, $fail failed"; exit 1; }
INFO_DIM=$("$SIMNET" info "$T/m.snm" | sed -n 's/^embedding *\([0-9][0-9]*\).*/\1/p' | head -1)

# MNIST test split: (10000, DIM) float32 + (10000,) int32 at the default labels path
"$SIMNET" embed --model "$T/m.snm" --data "$D" --dataset mnist --out "$T/out/e.npy" --threads 2 \
  >"$T/log" 2>&1 && ok || bad "embed mnist: $(cat "$T/log")"
[ -f "$T/out/e.labels.npy" ] && ok || bad "no default labels file e.labels.npy"
# the embedding dimension, from the header's shape (cross-checked with simnet info)
DIM=$(head -c 128 "$T/out/e.npy" | tail -c +11 | tr -d '\n' | LC_ALL=C sed -n "s/.*'shape': (10000, \([0-9][0-9]*\)).*/\1/p")
[ -n "$DIM" ] && [ "$DIM" -ge 1 ] && ok || bad "e.npy: no shape (10000, D) in the header"
[ -z "$INFO_DIM" ] || [ "$INFO_DIM" = "${DIM:-}" ] && ok || bad "header dim ${DIM:-?} != simnet info dim $INFO_DIM"
npy_check "$T/out/e.npy" '<f4' "(10000, ${DIM:-?})"
size=$(stat -c %s "$T/out/e.npy")
[ "$HDR" -gt 0 ] && [ "$size" -eq $((HDR + 10000 * ${DIM:-0} * 4)) ] && ok || bad "e.npy: $size bytes, header $HDR, dim ${DIM:-?}"
npy_check "$T/out/e.labels.npy" '<i4' "(10000,)"
LH=$HDR
size=$(stat -c %s "$T/out/e.labels.npy")
[ "$size" -eq $((LH + 40000)) ] && ok || bad "e.labels.npy: $size bytes, header $LH"
want=$(gzip -dcf "$D"/mnist/t10k-labels-idx1-ubyte* | tail -c +9 | od -An -v -tu1 | tr -s ' \n' '\n\n' | grep -v '^$' | md5sum)
got=$(tail -c +$((LH + 1)) "$T/out/e.labels.npy" | od -An -v -tu4 | tr -s ' \n' '\n\n' | grep -v '^$' | md5sum)
[ "$want" = "$got" ] && ok || bad "labels differ from t10k-labels"
ls "$T"/out | grep -q -e '\.tmp\.' -e '\.part\.' && bad "temporary files left: $(ls "$T/out")" || ok

# image files: the first 3 test images as PGM embed like rows 0..2 of the split
for i in 0 1 2; do
  { printf 'P5\n28 28\n255\n'; gzip -dcf "$D"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + i * 784)) | head -c 784; } >"$T/img$i.pgm"
done
"$SIMNET" embed --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" "$T/img2.pgm" --out "$T/imgs.npy" \
  >"$T/log" 2>&1 && ok || bad "embed images: $(cat "$T/log")"
npy_check "$T/imgs.npy" '<f4' "(3, ${DIM:-?})"
[ -e "$T/imgs.labels.npy" ] && bad "labels written for image files" || ok
a=$(tail -c +$((HDR + 1)) "$T/imgs.npy" | od -An -v -tf4)
b=$(tail -c +$((HDR + 1)) "$T/out/e.npy" | head -c $((3 * ${DIM:-0} * 4)) | od -An -v -tf4)
paste <(echo $a | tr ' ' '\n') <(echo $b | tr ' ' '\n') | awk '{d=$1-$2; if (d<0) d=-d; if (d>1e-4) n++} END {exit n>0}' \
  && [ -n "$a" ] && ok || bad "image-file embeddings differ from the dataset rows: $a vs $b"

# --classes and an explicit --labels path: digits 0-4 are 5139 of the test images
"$SIMNET" embed --model "$T/m.snm" --data "$D" --dataset mnist --classes 0-4 --out "$T/c.npy" \
  --labels "$T/lab/c_lab.npy" --threads 2 >"$T/log" 2>&1 && ok || bad "embed --classes: $(cat "$T/log")"
npy_check "$T/c.npy" '<f4' "(5139, ${DIM:-?})"
npy_check "$T/lab/c_lab.npy" '<i4' "(5139,)"

# numpy (optional): numpy.load reads both files, and numpy.save writes the same bytes
if /usr/bin/python3 -c 'import numpy' >/dev/null 2>&1; then
  /usr/bin/python3 - "$T/out/e.npy" "$T/out/e.labels.npy" "$D" "${DIM:-0}" <<'EOF' && ok || bad "numpy.load check failed"
import gzip, glob, sys, numpy as np
e, l = np.load(sys.argv[1]), np.load(sys.argv[2])
assert e.dtype == np.float32 and e.shape == (10000, int(sys.argv[4])), (e.dtype, e.shape)
assert l.dtype == np.int32 and l.shape == (10000,), (l.dtype, l.shape)
p = glob.glob(sys.argv[3] + "/mnist/t10k-labels-idx1-ubyte*")[0]
raw = (gzip.open(p) if p.endswith(".gz") else open(p, "rb")).read()[8:]
assert (np.frombuffer(raw, np.uint8).astype(np.int32) == l).all()
assert np.isfinite(e).all()
import io
for path, arr in ((sys.argv[1], e), (sys.argv[2], l)):  # byte-identical to numpy.save
    b = io.BytesIO(); np.save(b, arr)
    assert open(path, "rb").read() == b.getvalue(), path
EOF
else
  echo "note: /usr/bin/python3 without numpy: skipping the numpy.load check"
fi

# failures: usage errors exit 2, a missing image exits 1 naming it, nothing is left behind
"$SIMNET" embed --model "$T/m.snm" --data "$D" --dataset mnist 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--out" "$T/err" && ok || bad "no --out: rc $rc $(cat "$T/err")"
"$SIMNET" embed --model "$T/m.snm" --data "$D" --dataset mnist --split val --out "$T/f.npy" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--split" "$T/err" && ok || bad "bad --split: rc $rc $(cat "$T/err")"
"$SIMNET" embed --model "$T/m.snm" "$T/img0.pgm" "$T/nosuch.png" --out "$T/f.npy" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nosuch.png" "$T/err" && ok || bad "missing image: rc $rc $(cat "$T/err")"
"$SIMNET" embed --model "$T/nosuch.snm" "$T/img0.pgm" --out "$T/f.npy" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nosuch.snm" "$T/err" && ok || bad "missing model: rc $rc $(cat "$T/err")"
ls "$T" | grep -q '^f\.' && bad "a failed embed left $(ls "$T" | grep '^f\.')" || ok

echo "cli_embed: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
