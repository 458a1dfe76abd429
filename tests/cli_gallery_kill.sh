#!/usr/bin/env bash
# cli_gallery_kill.sh -- durability: a bulk enroll (one `simnet enroll` per label, 48 images
# each) is killed with SIGKILL at a random moment, five times. After each kill the gallery
# opens, `simnet gallery check` (PRAGMA integrity_check + entry sizes) passes, every label
# whose enroll printed its success line is present with all its images, and no label is
# half-enrolled (each has 0 or 48 entries). The next round enrolls into the same file.
# Self-contained: a tiny model trained on synthetic PGM images (no $SIMNET_DATA).
. "$(dirname "$0")/cli_lib.inc"
cli_setup cli_gallery_kill "$1"

N_IMG=48 ROUNDS=${GALLERY_KILL_ROUNDS:-5}
RANDOM=${GALLERY_KILL_SEED:-4242}   # the kill times are reproducible
pgm() { # pgm FILE VALUE
  local v=$2 row=$(( ($2 / 7) % 20 ))
  { printf 'P5\n28 28\n255\n'
    head -c $((row * 28)) /dev/zero | tr '\0' "\\$(printf '%03o' $((v % 200)))"
    head -c 112 /dev/zero | tr '\0' '\377'
    head -c $(((24 - row) * 28)) /dev/zero | tr '\0' "\\$(printf '%03o' $((v % 200)))"
  } > "$1"
}
mkdir -p "$T/ds/a" "$T/ds/b" "$T/img"
for i in 0 1 2 3 4; do pgm "$T/ds/a/$i.pgm" $((i * 3)); pgm "$T/ds/b/$i.pgm" $((100 + i * 3)); done
for i in $(seq 1 $N_IMG); do pgm "$T/img/$i.pgm" $((i * 4)); done
"$SIMNET" train --dataset "folder:$T/ds" --image-size 28x28 --channels 1 --arch "avgpool 2 2; flatten; linear 16" --max-steps 1 \
  --batch-size 4 --val-fraction 0.2 --threads 1 --quiet --out "$T/m.snm" >/dev/null 2>&1 \
  || { echo "training the tiny model failed"; exit 1; }
G=$T/g.db
"$SIMNET" gallery create "$G" --model "$T/m.snm" >/dev/null || { echo "create failed"; exit 1; }

# bulk ROUND: enroll labels R<round>_1, R<round>_2, ... one process each, success lines to
# $T/log; far more than can finish before the kill
bulk() {
  for l in $(seq 1 200); do
    "$SIMNET" enroll "$G" --label "R$1_$l" --threads 1 "$T"/img/*.pgm >> "$T/log" || exit 1
  done
}

verify() { # verify ROUND
  "$SIMNET" gallery check "$G" >/dev/null 2>"$T/err" && ok || bad "round $1: check: $(cat "$T/err")"
  "$SIMNET" gallery list "$G" > "$T/list" 2>"$T/err" || bad "round $1: list: $(cat "$T/err")"
  local half
  half=$(awk -v n=$N_IMG '$1 != n' "$T/list")
  [ -z "$half" ] && ok || bad "round $1: half-enrolled labels: $half"
  local l
  for l in $(sed -n "s/^enrolled $N_IMG images under \(R[0-9_]*\)$/\1/p" "$T/log"); do
    grep -Eq "^ +$N_IMG  $l\$" "$T/list" || { bad "round $1: $l reported success but is missing"; return; }
  done
  ok
}

: > "$T/log"
kills=0
for round in $(seq 1 "$ROUNDS"); do
  setsid bash -c "$(declare -f bulk); G='$G' T='$T' SIMNET='$SIMNET'; bulk $round" &
  pid=$!
  # 0.3 .. 2.0 s: lands inside model loading, embedding, the transaction or the commit
  sleep "$(printf '0.%03d' $((300 + RANDOM % 700)))"; sleep "$((RANDOM % 2))"
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null && kills=$((kills + 1))
  fi
  wait "$pid" 2>/dev/null
  verify "$round"
done
[ $kills -eq "$ROUNDS" ] && ok || bad "only $kills of $ROUNDS rounds were killed mid-way"
reported=$(grep -c . "$T/log")
present=$(wc -l < "$T/list")
[ "$present" -ge "$reported" ] && [ "$reported" -gt 0 ] && ok \
  || bad "$reported labels reported, $present present (need reported > 0 and present >= reported)"
echo "cli_gallery_kill: $kills SIGKILLs; $reported enrolls reported success; $present labels" \
     "present; $pass passed, $fail failed"
[ "$fail" -eq 0 ]
