#!/usr/bin/env bash
# cli_gallery.sh -- simnet gallery create|list|remove|stats, enroll (files and a folder of
# label sub-folders), search (text, --json, -k, --index ivf): per-file errors for missing,
# unreadable, truncated and directory arguments while the rest still go through; a model
# with another fingerprint refused; corrupt database and bad options give clear errors.
# Self-contained: trains a tiny model on synthetic PGM images (no $SIMNET_DATA needed);
# with $SIMNET_DATA also `simnet eval --protocol enroll` on MNIST 5-9.
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_gallery "$1"

# pgm FILE VALUE: a 28x28 grey image with a bright bar whose row depends on VALUE
pgm() {
  local v=$2 row=$(( ($2 / 7) % 20 ))
  { printf 'P5\n28 28\n255\n'
    head -c $((row * 28)) /dev/zero | tr '\0' "\\$(printf '%03o' $((v % 200)))"
    head -c 112 /dev/zero | tr '\0' '\377'
    head -c $(((24 - row) * 28)) /dev/zero | tr '\0' "\\$(printf '%03o' $((v % 200)))"
  } > "$1"
}
mkdir -p "$T/ds" "$T/people"
for c in 0 1 2; do
  mkdir -p "$T/ds/c$c"
  for i in 0 1 2 3 4 5; do pgm "$T/ds/c$c/$i.pgm" $((c * 50 + i * 3)); done
done
train() { # train OUT SEED: a tiny 2-step model (avgpool + linear) on the synthetic folder
  "$SIMNET" train --dataset "folder:$T/ds" --image-size 28x28 --channels 1 --arch "avgpool 2 2; flatten; linear 16" --max-steps 2 \
    --batch-size 8 --val-fraction 0.2 --seed "$2" --threads 1 --quiet --out "$1" >/dev/null 2>&1
}
train "$T/m.snm" 1 || bad "training the tiny model"
train "$T/m2.snm" 2 || bad "training the second model"
M=$T/m.snm G=$T/g.db

# create; a second create over it is refused
out=$("$SIMNET" gallery create "$G" --model "$M") && [[ $out == created* ]] && ok || bad "create: $out"
"$SIMNET" gallery create "$G" --model "$M" 2>"$T/err" && bad "create over an existing file" \
  || { grep -q "already exists" "$T/err" && ok || bad "create twice: $(cat "$T/err")"; }
"$SIMNET" gallery stats "$G" --json | grep -q '"entries": 0' && ok || bad "stats of an empty gallery"

# enroll files under one label, then a folder of label sub-folders
pgm "$T/alice1.pgm" 11; pgm "$T/alice2.pgm" 12
out=$("$SIMNET" enroll "$G" --label alice "$T/alice1.pgm" "$T/alice2.pgm")
[[ $out == "enrolled 2 images under alice" ]] && ok || bad "enroll files: $out"
for p in bob carol; do mkdir -p "$T/people/$p"; done
pgm "$T/people/bob/1.pgm" 90; pgm "$T/people/bob/2.pgm" 95; pgm "$T/people/carol/1.pgm" 140
out=$("$SIMNET" enroll "$G" "$T/people" --json)
echo "$out" | grep -q '"enrolled": 3, "failed": 0' && echo "$out" | grep -q '"label": "carol", "count": 1' \
  && ok || bad "enroll folder: $out"

# bad files are reported one by one; the good one is enrolled; exit status 1
printf 'P5\n28 28\n255\nshort' > "$T/trunc.pgm"
printf 'not an image at all' > "$T/junk.png"
pgm "$T/dave.pgm" 170
"$SIMNET" enroll "$G" --label dave "$T/missing.pgm" "$T/trunc.pgm" "$T/junk.png" "$T/people" \
  "$T/dave.pgm" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && ok || bad "enroll with bad files: exit $rc"
for f in missing.pgm trunc.pgm junk.png; do
  grep -q "$T/$f" "$T/err" && ok || bad "no per-file error for $f: $(cat "$T/err")"
done
grep -q "$T/people: is a directory" "$T/err" && ok || bad "directory not reported: $(cat "$T/err")"
grep -q "No such file" "$T/err" && ok || bad "missing file reason: $(cat "$T/err")"
grep -q "enrolled 1 image under dave" "$T/out" && ok || bad "good file not enrolled: $(cat "$T/out")"
"$SIMNET" gallery stats "$G" --json | grep -q '"entries": 6, "labels": 4' && ok || bad "stats after enrolls"

# search: an enrolled image finds itself at distance 0
out=$("$SIMNET" search "$G" "$T/people/bob/1.pgm" -k 3)
echo "$out" | sed -n 2p | grep -Eq '^ +1\. bob +0\.0000$' && ok || bad "search top-1: $out"
[ "$(echo "$out" | grep -c '^ *[0-9]\. ')" -eq 3 ] && ok || bad "-k 3 lists 3: $out"
out=$("$SIMNET" search "$G" "$T/alice1.pgm" --json -k 2)
echo "$out" | grep -q '"neighbours": \[{"label": "alice", "distance": 0.000000' && ok || bad "search --json: $out"
echo "$out" | grep -q '"threshold_source"' && ok || bad "search --json threshold: $out"
out=$("$SIMNET" search "$G" "$T/alice1.pgm" --index ivf -k 1)
echo "$out" | grep -Eq '1\. alice +0\.0000' && ok || bad "search --index ivf: $out"
# malformed queries: per-file errors, the good query still answered, exit 1
"$SIMNET" search "$G" "$T/missing.pgm" "$T/trunc.pgm" "$T/people" "$T/alice2.pgm" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && ok || bad "search with bad queries: exit $rc"
[ "$(grep -c "simnet search: $T" "$T/err")" -eq 3 ] && ok || bad "search per-file errors: $(cat "$T/err")"
grep -Eq '1\. alice +0\.0000' "$T/out" && ok || bad "good query not answered: $(cat "$T/out")"
"$SIMNET" search "$G" "$T/alice1.pgm" --op nonesuch 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q "no operating point 'nonesuch'" "$T/err" && ok || bad "--op unknown: $rc $(cat "$T/err")"
"$SIMNET" search "$G" "$T/alice1.pgm" -k 0 2>/dev/null; [ $? -eq 2 ] && ok || bad "-k 0 accepted"

# another model: refused, both short fingerprints named
"$SIMNET" search "$G" "$T/alice1.pgm" --model "$T/m2.snm" >/dev/null 2>"$T/err"; rc=$?
fp1=$("$SIMNET" gallery stats "$G" --json | sed 's/.*"fingerprint": "\([0-9a-f]\{12\}\).*/\1/')
[ $rc -ne 0 ] && grep -q "fingerprints differ" "$T/err" && grep -q "$fp1" "$T/err" \
  && ok || bad "other model not refused: $rc $(cat "$T/err")"
"$SIMNET" enroll "$G" --label eve "$T/alice1.pgm" --model "$T/m2.snm" >/dev/null 2>&1 \
  && bad "enroll with another model accepted" || ok

# list / remove
out=$("$SIMNET" gallery list "$G")
[ "$(echo "$out" | wc -l)" -eq 4 ] && echo "$out" | grep -Eq '^ +2  bob$' && ok || bad "list: $out"
out=$("$SIMNET" gallery remove "$G" bob) && [[ $out == "removed 2 entries of bob" ]] && ok || bad "remove: $out"
"$SIMNET" gallery list "$G" --json | grep -q '"bob"' && bad "bob still listed" || ok
"$SIMNET" gallery remove "$G" nobody >/dev/null 2>"$T/err" && bad "remove of a missing label succeeded" \
  || { grep -q "no label 'nobody'" "$T/err" && ok || bad "remove missing: $(cat "$T/err")"; }
out=$("$SIMNET" search "$G" "$T/people/bob/1.pgm" -k 1)
echo "$out" | grep -q ' bob ' && bad "removed label still found: $out" || ok

# corrupt and missing databases, bad verbs
head -c 5000 /dev/urandom > "$T/bad.db"
"$SIMNET" gallery stats "$T/bad.db" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "not a valid gallery database" "$T/err" && ok || bad "corrupt db: $rc $(cat "$T/err")"
"$SIMNET" search "$T/none.db" "$T/alice1.pgm" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "gallery create" "$T/err" && ok || bad "missing db: $rc $(cat "$T/err")"
"$SIMNET" gallery frobnicate "$G" 2>/dev/null; [ $? -eq 2 ] && ok || bad "unknown verb accepted"
"$SIMNET" gallery create "$T/g3.db" 2>/dev/null; [ $? -eq 2 ] && ok || bad "create without --model"

# eval --protocol enroll on real MNIST (only when $SIMNET_DATA has it): a tiny model on
# digits 0-4, the use case on 5-9 (3 classes enrolled, 2 unknown)
if [ -n "$D" ] && ls "$D"/mnist/t10k-images-idx3-ubyte* >/dev/null 2>&1; then
  "$SIMNET" train --data "$D" --classes 0-4 --arch "avgpool 2 2; flatten; linear 16" \
    --max-steps 20 --threads 1 --quiet --out "$T/mn.snm" >/dev/null 2>&1 || bad "mnist tiny train"
  out=$("$SIMNET" eval --model "$T/mn.snm" --data "$D" --protocol enroll --classes 5-9 \
        --json "$T/enroll.json" --threads 1 2>&1) || bad "eval --protocol enroll: $out"
  grep -q '"shots": 1, "known_classes": 3, "unknown_classes": 2, "enrolled": 3,' "$T/enroll.json" \
    && grep -q '"shots": 5, "known_classes": 3, "unknown_classes": 2, "enrolled": 15,' "$T/enroll.json" \
    && grep -q '"unknown_rejection": [0-9.]*,' "$T/enroll.json" && ok || bad "enroll json: $(cat "$T/enroll.json")"
  echo "$out" | grep -q 'unk. rej' && ok || bad "enroll table: $out"
  "$SIMNET" eval --model "$T/mn.snm" --data "$D" --protocol enroll --classes 5-9 --op nope \
    >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "eval enroll --op unknown accepted"
fi

echo "cli_gallery: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
