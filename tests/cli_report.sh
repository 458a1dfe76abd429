#!/usr/bin/env bash
# simnet report: a 10-step MNIST model, a figures directory (simnet figures when the
# command exists, plus a simnet explain PNG), then one self-contained report.html:
# every PNG of the figures directory appears as an embedded data:image/png;base64 image
# whose base64 decodes (coreutils base64 -d) back to the very same bytes; the metrics
# table has the keys of simnet eval (run by report, or read from an eval --json file);
# no external resources; bad inputs exit 1/2 naming the file. Exits 77 (skip) without
# $SIMNET_DATA/mnist.
set -u
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_report "${1:-}" mnist
finish() { echo "cli_report: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit; }

"$SIMNET" train --data "$D" --max-steps 10 --batch-size 32 --val-size 200 --threads 2 --out "$T/m.snm" \
  --quiet >"$T/train.log" 2>&1 && ok || { bad "train: $(tail -3 "$T/train.log")"; finish; }
# one operating point, so that the model summary has its table
"$SIMNET" calibrate --model "$T/m.snm" --data "$D" --target f1 --pairs 2000 --threads 2 >"$T/log" 2>&1 \
  && ok || bad "calibrate: $(cat "$T/log")"
mkdir -p "$T/figs"
if "$SIMNET" --help 2>&1 | grep -q '^ *figures '; then
  "$SIMNET" figures --model "$T/m.snm" --data "$D" --out "$T/figs" --threads 2 >"$T/log" 2>&1 \
    && ok || bad "figures: $(cat "$T/log")"
fi
for i in 0 1; do
  { printf 'P5\n28 28\n255\n'; gzip -dcf "$D"/mnist/t10k-images-idx3-ubyte* | tail -c +$((17 + i * 784)) | head -c 784; } >"$T/img$i.pgm"
done
"$SIMNET" explain --model "$T/m.snm" "$T/img0.pgm" "$T/img1.pgm" --occlusion 4 --out "$T/figs/explain.png" \
  >"$T/log" 2>&1 && ok || bad "explain: $(cat "$T/log")"
echo "figures: $(cd "$T/figs" && ls | tr '\n' ' ')"

KEYS="roc_auc eer tar_at_far_1e-2 tar_at_far_1e-3 verification_accuracy best_accuracy precision_at_1
recall_at_1 recall_at_5 recall_at_10 r_precision mean_average_precision_at_r nmi ami knn_accuracy
fewshot_1shot fewshot_5shot"

# check_figures HTML: every PNG of figs/ embedded, one decoded back byte for byte
check_figures() {
  local html=$1 n=0 f b
  for f in "$T"/figs/*.png; do
    b=$(basename "$f")
    n=$((n + 1))
    # the <img> of this figure: alt text names the file, src is a base64 data: URI
    grep -o "<img alt=\"[^\"]*($b)\" src=\"data:image/png;base64,[A-Za-z0-9+/=]*\">" "$html" \
      >"$T/img.$b.txt" && ok || bad "$html: no embedded data:image/png;base64 image for $b"
    sed 's/.*base64,\([A-Za-z0-9+\/=]*\)">.*/\1/' "$T/img.$b.txt" | base64 -d >"$T/dec.$b" 2>/dev/null
    cmp -s "$T/dec.$b" "$f" && ok || bad "$html: the base64 of $b does not decode to the file"
  done
  [ "$n" -ge 1 ] && ok || bad "no PNG in the figures directory"
  [ "$(grep -o 'data:image/png;base64,' "$html" | wc -l)" -eq "$n" ] && ok \
    || bad "$html: $(grep -o 'data:image/png;base64,' "$html" | wc -l) embedded images, $n PNG files"
  # self-contained: no external resources
  grep -Eq '(src|href)="(https?:|file:|//)' "$html" && bad "$html refers to external resources" || ok
}
check_keys() {
  local html=$1 k
  for k in $KEYS; do
    grep -q "<code>$k</code></td><td class=\"num\">" "$html" && ok || bad "$html: metrics table has no $k"
  done
}

# 1. report running the evaluation (smaller than the defaults, for time)
"$SIMNET" report --model "$T/m.snm" --data "$D" --figures "$T/figs" --out "$T/rep" --pairs 2000 \
  --episodes 100 --threads 2 >"$T/log" 2>&1 && ok || bad "report: $(cat "$T/log")"
H="$T/rep/report.html"
[ -s "$H" ] && ok || { bad "no report.html"; finish; }
head -c 15 "$H" | grep -q '<!DOCTYPE html>' && ok || bad "report.html does not start with <!DOCTYPE html>"
tail -1 "$H" | grep -q '</html>' && ok || bad "report.html does not end with </html>"
check_figures "$H"
check_keys "$H"
grep -q '<th>parameters</th><td>[0-9][0-9]*</td>' "$H" && ok || bad "no parameter count"
grep -q '<th>threshold</th>' "$H" && ok || bad "no threshold"
grep -q '<h3>Operating points' "$H" && grep -q '<tr><td>f1</td><td class="num">' "$H" && ok \
  || bad "no operating points table with f1"
grep -q '<h3>Training metadata</h3>' "$H" && grep -q '<th>dataset</th><td>mnist</td>' "$H" && ok \
  || bad "no training metadata (dataset mnist)"
ls "$T/rep" | grep -q tmp && bad "temporary file left in $T/rep" || ok

# 2. metrics from a simnet eval --json file (here a hand-written one, in eval's layout)
{ echo '{'; for k in $KEYS; do echo "  \"$k\": 0.5,"; done
  echo '  "dir_at_far_1e-2": null,'; echo '  "seconds": 1.5,'
  echo '  "baselines": { "raw_pixels": { "roc_auc": 0.25 } }'; echo '}'; } >"$T/ev.json"
"$SIMNET" report --model "$T/m.snm" --json "$T/ev.json" --figures "$T/figs" --out "$T/rep2" >"$T/log" 2>&1 \
  && ok || bad "report --json: $(cat "$T/log")"
check_keys "$T/rep2/report.html"
grep -q '<code>roc_auc</code></td><td class="num">0.5000' "$T/rep2/report.html" && ok \
  || bad "--json: roc_auc is not the file's top-level 0.5 (baselines must be skipped)"

# 3. --no-eval: no metrics section, figures still there
"$SIMNET" report --model "$T/m.snm" --no-eval --figures "$T/figs" --out "$T/rep3" >"$T/log" 2>&1 \
  && ok || bad "report --no-eval: $(cat "$T/log")"
grep -q '<h2>Metrics</h2>' "$T/rep3/report.html" && bad "--no-eval wrote metrics" || ok
check_figures "$T/rep3/report.html"

# failures
"$SIMNET" report --model "$T/m.snm" --no-eval 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q -- "--out" "$T/err" && ok || bad "no --out: rc $rc $(cat "$T/err")"
"$SIMNET" report --model "$T/nosuch.snm" --no-eval --out "$T/f1" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nosuch.snm" "$T/err" && ok || bad "missing model: rc $rc $(cat "$T/err")"
"$SIMNET" report --model "$T/m.snm" --no-eval --figures "$T/nodir" --out "$T/f2" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "nodir" "$T/err" && ok || bad "missing figures dir: rc $rc $(cat "$T/err")"
printf '{"roc_auc": }' >"$T/broken.json"
"$SIMNET" report --model "$T/m.snm" --json "$T/broken.json" --out "$T/f3" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "broken.json: byte" "$T/err" && ok || bad "broken json: rc $rc $(cat "$T/err")"
mkdir -p "$T/badfigs" && printf 'not a png' >"$T/badfigs/x.png"
"$SIMNET" report --model "$T/m.snm" --no-eval --figures "$T/badfigs" --out "$T/f4" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "x.png: not a PNG" "$T/err" && ok || bad "non-PNG: rc $rc $(cat "$T/err")"
[ -e "$T/f4/report.html" ] && bad "a failed report left report.html" || ok
ls "$T"/f4 2>/dev/null | grep -q tmp && bad "a failed report left $(ls "$T/f4")" || ok
"$SIMNET" report --model "$T/m.snm" --no-eval --json "$T/ev.json" --out "$T/f5" 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && ok || bad "--no-eval with --json: rc $rc"

finish
