#!/usr/bin/env bash
# simnet explain: saliency figure of two MNIST test images written as PGM (a PNG with the
# documented pixel size, with and without --occlusion), the printed distance equals
# simnet compare's, and bad inputs exit 1 (runtime) / 2 (usage) with messages naming the
# file or option; failures leave no PNG. Exits 77 (skip) without $SIMNET_DATA/mnist.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_explain "${1:-}" mnist
# png_wh FILE: "W H" from the IHDR chunk
png_wh() { echo $(( $(od -An -tu4 --endian=big -j16 -N4 "$1") )) $(( $(od -An -tu4 --endian=big -j20 -N4 "$1") )); }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ]; }

"$SIMNET" train --data "$D" --max-steps 10 --batch-size 32 --val-size 200 --threads 2 --out "$T/m.snm" \
  --quiet >"$T/train.log" 2>&1 && ok || { bad "train: $(tail -3 "$T/train.log")"; echo "cli_explain: $pass passed, $fail failed"; exit 1; }
for i in 0 1; do
  { printf 'P5\n28 28\n255\n'; gzip -dcf "$D"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + i * 784)) | head -c 784; } >"$T/img$i.pgm"
done

# gradient only: images + one overlay row; 28x28 panels are 224x224 (s = 8)
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" --out "$T/fig/g.png" >"$T/out" 2>&1 \
  && ok || bad "explain: $(cat "$T/out")"
is_png "$T/fig/g.png" && ok || bad "g.png is not a PNG"
read -r w h <<<"$(png_wh "$T/fig/g.png")"
# width = 24 + 150 + 2*224 + 24 + 24 + 90 + 24, height = 78 + 2*(224+30) + 14 + 24
[ "$w" = 784 ] && [ "$h" = 624 ] && ok || bad "g.png is ${w}x$h, expected 784x624"
grep -q '^wrote .*g.png' "$T/out" && ok || bad "no 'wrote' line: $(cat "$T/out")"
# the distance printed equals simnet compare's
de=$(sed -n 's/^distance *\([0-9.]*\).*/\1/p' "$T/out")
dc=$("$SIMNET" compare --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" | sed -n 's/^distance *\([0-9.]*\).*/\1/p')
[ -n "$de" ] && [ "$de" = "$dc" ] && ok || bad "explain distance '$de' != compare distance '$dc'"

# with occlusion maps: a third row
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" --occlusion 4 --out "$T/fig/o.png" \
  >"$T/out" 2>&1 && ok || bad "explain --occlusion: $(cat "$T/out")"
read -r w h <<<"$(png_wh "$T/fig/o.png")"
[ "$w" = 784 ] && [ "$h" = 892 ] && ok || bad "o.png is ${w}x$h, expected 784x892"

# failures
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" "$T/nosuch.png" --out "$T/f1.png" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nosuch.png" "$T/err" && ok || bad "missing image: rc $rc $(cat "$T/err")"
printf 'not an image' >"$T/junk.png"
"$SIMNET" explain --model "$T/m.snm" "$T/junk.png" "$T/img0.pgm" --out "$T/f2.png" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "junk.png" "$T/err" && ok || bad "junk image: rc $rc $(cat "$T/err")"
"$SIMNET" explain --model "$T/nosuch.snm" "$T/img0.pgm" "$T/img1.pgm" --out "$T/f3.png" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nosuch.snm" "$T/err" && ok || bad "missing model: rc $rc $(cat "$T/err")"
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--out" "$T/err" && ok || bad "no --out: rc $rc $(cat "$T/err")"
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" --out "$T/f4.png" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && ok || bad "one image: rc $rc $(cat "$T/err")"
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" --occlusion 40 --out "$T/f5.png" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "patch 40" "$T/err" && ok || bad "--occlusion 40: rc $rc $(cat "$T/err")"
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" --occlusion x --out "$T/f6.png" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--occlusion" "$T/err" && ok || bad "--occlusion x: rc $rc $(cat "$T/err")"
: >"$T/blocker"
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" --out "$T/blocker/f7.png" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "blocker/f7.png" "$T/err" && ok || bad "unwritable --out: rc $rc $(cat "$T/err")"
ls "$T" | grep -q '^f[0-9]' && bad "a failed explain left $(ls "$T" | grep '^f[0-9]')" || ok

echo "cli_explain: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
