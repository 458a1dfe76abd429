#!/usr/bin/env bash
# cli_diskfull.sh -- a write that runs out of space must leave the previous file intact
# and no temporary file behind: simnet train --out / calibrate (model files), train
# --checkpoint (checkpoints), simnet embed --out (.npy), eval --json and setdist --json over
# an existing file, on
#   1. a full 64 KiB tmpfs (when running as root and mount is allowed; else said and skipped)
#   2. a file-size limit (ulimit -f, SIGXFSZ ignored: write() fails with EFBIG), any user.
# Needs no real data (tests/malformed/valid/). Usage: cli_diskfull.sh path/to/simnet
set -u
. "$(dirname "$0")/cli_lib.inc"
SIMNET=${1:?usage: cli_diskfull.sh path/to/simnet}
T=$(mktemp -d)
MNT=$T/mnt
cleanup() { mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"; rm -rf "$T"; }
trap cleanup EXIT
pass=0; fail=0
V=$(cd "$(dirname "$0")/malformed/valid" && pwd)
TRAIN=(--data "$V/data" --dataset mnist --arch "flatten; linear 2" --val-size 4 --max-steps 1
       --batch-size 4 --threads 1 --quiet)

# expect_kept DESC DIR FILE ORIGINAL -- CMD...: CMD fails (1), FILE still equals ORIGINAL,
# and DIR holds no temporary (*.tmp.*) file.
expect_kept() {
  local desc=$1 dir=$2 file=$3 orig=$4; shift 5
  "$@" >"$T/stdout" 2>"$T/stderr"; local rc=$?
  if [ $rc -ne 1 ]; then
    bad "$desc: exit status $rc (expected 1): $(head -c 300 "$T/stderr")"
  elif ! cmp -s "$file" "$orig"; then
    bad "$desc: the previous file $file was changed"
  elif ls "$dir" | grep -q '\.tmp\.'; then
    bad "$desc: temporary file left: $(ls "$dir" | grep '\.tmp\.')"
  elif ! grep -q -e 'No space left' -e 'File too large' "$T/stderr"; then
    bad "$desc: the message does not say why: $(cat "$T/stderr")"
  else
    ok
  fi
}

# The previous files: a model, a checkpoint and an embeddings .npy, written normally.
"$SIMNET" train "${TRAIN[@]}" --out "$T/prev.snm" --checkpoint "$T/prev.ckpt" >/dev/null 2>&1 ||
  bad "train (setup) failed"
"$SIMNET" embed --model "$T/prev.snm" --data "$V/data" --dataset mnist --out "$T/prev.npy" \
    --threads 1 >/dev/null 2>&1 || bad "embed (setup) failed"
EVAL=(eval --model "$T/prev.snm" --data "$V/data" --dataset mnist --threads 1 --episodes 0
      --pairs 100)
"$SIMNET" "${EVAL[@]}" --json "$T/prev.json" >/dev/null 2>&1 || bad "eval --json (setup) failed"
"$SIMNET" setdist "$T/prev.npy" "$T/prev.npy" --json "$T/prev.sd.json" >/dev/null 2>&1 ||
  bad "setdist --json (setup) failed"
[ -s "$T/prev.snm" ] && [ -s "$T/prev.ckpt" ] && [ -s "$T/prev.npy" ] && [ -s "$T/prev.json" ] &&
  [ -s "$T/prev.sd.json" ] || { echo "setup failed"; exit 1; }

# ---- 1. a full tmpfs
if [ "$(id -u)" -eq 0 ] && mkdir -p "$MNT" && mount -t tmpfs -o size=64k tmpfs "$MNT" 2>/dev/null; then
  cp "$T/prev.snm" "$MNT/m.snm"
  # fill what is left, so that any new block fails
  dd if=/dev/zero of="$MNT/fill" bs=1k count=128 >/dev/null 2>&1
  expect_kept "train --out on a full tmpfs" "$MNT" "$MNT/m.snm" "$T/prev.snm" -- \
      "$SIMNET" train "${TRAIN[@]}" --out "$MNT/m.snm" --log "$T/train.log.jsonl"
  expect_kept "calibrate on a full tmpfs" "$MNT" "$MNT/m.snm" "$T/prev.snm" -- \
      "$SIMNET" calibrate --model "$MNT/m.snm" --data "$V/data" --target f1 --pairs 40 --threads 1
  rm -f "$MNT/m.snm" "$MNT/fill"
  cp "$T/prev.ckpt" "$MNT/c.ckpt"
  dd if=/dev/zero of="$MNT/fill" bs=1k count=128 >/dev/null 2>&1
  expect_kept "train --checkpoint on a full tmpfs" "$MNT" "$MNT/c.ckpt" "$T/prev.ckpt" -- \
      "$SIMNET" train "${TRAIN[@]}" --seed 5 --out "$T/other.snm" --checkpoint "$MNT/c.ckpt"
  rm -f "$MNT/c.ckpt" "$MNT/fill"
  cp "$T/prev.npy" "$MNT/e.npy"
  dd if=/dev/zero of="$MNT/fill" bs=1k count=128 >/dev/null 2>&1
  expect_kept "embed --out on a full tmpfs" "$MNT" "$MNT/e.npy" "$T/prev.npy" -- \
      "$SIMNET" embed --model "$T/prev.snm" --data "$V/data" --dataset mnist --out "$MNT/e.npy" \
      --labels "$T/labels.npy" --threads 1
  rm -f "$MNT/e.npy" "$MNT/fill"
  cp "$T/prev.json" "$MNT/m.json"; cp "$T/prev.sd.json" "$MNT/s.json"
  dd if=/dev/zero of="$MNT/fill" bs=1k count=128 >/dev/null 2>&1
  expect_kept "eval --json on a full tmpfs" "$MNT" "$MNT/m.json" "$T/prev.json" -- \
      "$SIMNET" "${EVAL[@]}" --json "$MNT/m.json"
  expect_kept "setdist --json on a full tmpfs" "$MNT" "$MNT/s.json" "$T/prev.sd.json" -- \
      "$SIMNET" setdist "$T/prev.npy" "$T/prev.npy" --json "$MNT/s.json"
  umount "$MNT"
  echo "tmpfs (64 KiB, filled up): checked"
else
  echo "not root or mount not permitted: the tmpfs case is skipped (the ulimit case runs)"
fi

# ---- 2. a file-size limit of 2 KiB (the model file is ~6.4 KiB, the .npy ~0.3 KiB + data)
mkdir -p "$T/lim"
cp "$T/prev.snm" "$T/lim/m.snm"
expect_kept "train --out over the file-size limit" "$T/lim" "$T/lim/m.snm" "$T/prev.snm" -- \
    bash -c 'trap "" XFSZ; ulimit -f 2; exec "$@"' _ "$SIMNET" train "${TRAIN[@]}" \
    --out "$T/lim/m.snm" --log "$T/lim.log.jsonl"
expect_kept "calibrate over the file-size limit" "$T/lim" "$T/lim/m.snm" "$T/prev.snm" -- \
    bash -c 'trap "" XFSZ; ulimit -f 2; exec "$@"' _ "$SIMNET" calibrate --model "$T/lim/m.snm" \
    --data "$V/data" --target f1 --pairs 40 --threads 1

cp "$T/prev.ckpt" "$T/lim/c.ckpt"
expect_kept "train --checkpoint over the file-size limit" "$T/lim" "$T/lim/c.ckpt" "$T/prev.ckpt" -- \
    bash -c 'trap "" XFSZ; ulimit -f 2; exec "$@"' _ "$SIMNET" train "${TRAIN[@]}" --seed 5 \
    --out "$T/other.snm" --checkpoint "$T/lim/c.ckpt"

# the eval JSON with baselines is ~2 KB: over a 1 KiB limit
cp "$T/prev.json" "$T/lim/m.json"
expect_kept "eval --json over the file-size limit" "$T/lim" "$T/lim/m.json" "$T/prev.json" -- \
    bash -c 'trap "" XFSZ; ulimit -f 1; exec "$@"' _ "$SIMNET" "${EVAL[@]}" --json "$T/lim/m.json"

echo "cli_diskfull: $pass checks passed, $fail failed"
[ "$fail" -eq 0 ]
