#!/usr/bin/env bash
# cli_malformed.sh -- every command that reads a file, on every case of the malformed-input
# corpus (tests/malformed/cases.txt, made by fuzz/make_corpus.py), plus cases built here
# (a directory where a file is expected, unreadable files, broken folder datasets).
# Each run must: exit 1 or 2 (never a signal, never 0), print exactly one error line
# "simnet CMD: ..." on stderr that names the file (or the option) and contains the
# expected description of the problem (other stderr lines may only be warnings), and
# leave no output file behind (embed --out/--labels, eval --json, train --out and its log,
# no temporary files). Needs no real data ($SIMNET_DATA is not used).
# Usage: cli_malformed.sh path/to/simnet
set -u
. "$(dirname "$0")/cli_lib.inc"
SIMNET=${1:?usage: cli_malformed.sh path/to/simnet}
T=$(mktemp -d); trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
pass=0; fail=0
M=$(cd "$(dirname "$0")/malformed" && pwd)
V=$M/valid             # valid model (1x28x28), data (mnist layout, 20 images), image
O=$T/out; mkdir -p "$O"

# run DESC NAMES EXPECT CMD...: NAMES must appear in the error line, EXPECT too (if set).
run() {
  local desc=$1 names=$2 expect=$3; shift 3
  "$@" >"$T/stdout" 2>"$T/stderr" </dev/null
  local rc=$? err nerr
  # Log lines of the library ("simnet: warning: PATH: skipped ...") are not errors.
  local legacy='^simnet: (error|warning|info|debug): '
  err=$(grep -v -E -e "$legacy" "$T/stderr")
  nerr=$(printf '%s' "$err" | grep -c '')
  if [ $rc -ne 1 ] && [ $rc -ne 2 ]; then
    bad "$desc: exit status $rc (expected 1 or 2): $(head -c 300 "$T/stderr")"
  elif [ "$nerr" -ne 1 ]; then
    bad "$desc: $nerr non-warning lines on stderr (expected one):"; cat "$T/stderr" >&2
  elif [[ "$err" != "simnet "* ]]; then
    bad "$desc: error line does not start with 'simnet ': $err"
  elif [[ "$err" != *"$names"* ]]; then
    bad "$desc: error does not name '$names': $err"
  elif [ -n "$expect" ] && [[ "$err" != *"$expect"* ]]; then
    bad "$desc: error does not say '$expect': $err"
  elif [ -n "$(ls -A "$O")" ]; then
    bad "$desc: left output behind: $(ls -A "$O" | tr '\n' ' ')"
  else
    ok
  fi
  rm -rf "${O:?}"/* "$O"/.[!.]* 2>/dev/null
}

# Commands per kind of input. $1 = path, $2 = expected text, $3 = name in the message.
model_cmds() {
  run "info $1" "$3" "$2" "$SIMNET" info "$1"
  run "eval --model $1" "$3" "$2" "$SIMNET" eval --model "$1" --data "$V/data" --dataset mnist \
      --json "$O/m.json" --threads 1
  run "embed --model $1" "$3" "$2" "$SIMNET" embed --model "$1" --data "$V/data" --dataset mnist \
      --out "$O/e.npy" --threads 1
  run "compare --model $1" "$3" "$2" "$SIMNET" compare --model "$1" "$V/a.pgm" "$V/a.pgm"
}
data_cmds() { # $4 = --dataset
  run "eval --data $1" "$3" "$2" "$SIMNET" eval --model "$V/model.snm" --data "$1" \
      --dataset "$4" --json "$O/m.json" --threads 1 --no-baselines
  run "embed --data $1" "$3" "$2" "$SIMNET" embed --model "$V/model.snm" --data "$1" \
      --dataset "$4" --out "$O/e.npy" --threads 1
  run "train --data $1" "$3" "$2" "$SIMNET" train --data "$1" --dataset "$4" \
      --arch "flatten; linear 2" --val-size 4 --max-steps 1 --threads 1 --quiet --out "$O/m.snm"
}
image_cmds() {
  run "compare $1 (first)" "$3" "$2" "$SIMNET" compare --model "$V/model.snm" "$1" "$V/a.pgm"
  run "compare $1 (second)" "$3" "$2" "$SIMNET" compare --model "$V/model.snm" "$V/a.pgm" "$1"
}

n_cases=0
while IFS=$'\t' read -r kind rel expect; do
  case "$kind" in ''|'#'*) continue ;; esac
  n_cases=$((n_cases+1))
  p=$M/$rel
  case "$kind" in
    model) model_cmds "$p" "$expect" "$p" ;;
    idx) data_cmds "$p" "$expect" "$p/mnist/" mnist ;;
    cifar10) data_cmds "$p" "$expect" "$p/cifar-10-batches-bin/" cifar10 ;;
    cifar100) data_cmds "$p" "$expect" "$p/cifar-100-binary/" cifar100 ;;
    image)
      image_cmds "$p" "$expect" "$p"
      # Inside a folder dataset: a file with image magic that fails to decode is an error
      # naming it (other files are skipped with a warning).
      case "$rel" in *-bad-signature*) ;; image/png-*|image/jpeg-*|image/pgm-*|image/ppm-*)
        f=$T/folder-$(basename "$rel")
        for d in train/a train/b test/a test/b; do mkdir -p "$f/$d"; cp "$V/a.pgm" "$f/$d/1.pgm"; done
        cp "$p" "$f/train/b/bad-$(basename "$p")"
        run "train --dataset folder: with $rel" "$f/train/b/bad-$(basename "$p")" "$expect" \
            "$SIMNET" train --data "$T" --dataset "folder:$f" --channels 1 --image-size 8x8 \
            --arch "flatten; linear 2" --val-fraction 0.5 --max-steps 1 --threads 1 --quiet \
            --out "$O/m.snm"
        rm -rf "$f" ;;
      esac ;;
    spec)
      run "train --arch $(basename "$rel")" "architecture spec" "$expect" "$SIMNET" train \
          --data "$V/data" --dataset mnist --arch "$(cat "$p")" --val-size 4 --max-steps 1 \
          --threads 1 --quiet --out "$O/m.snm" ;;
    *) bad "cases.txt: unknown kind '$kind'" ;;
  esac
done <"$M/cases.txt"
[ "$n_cases" -ge 50 ] || bad "cases.txt: only $n_cases cases read"

# ---- a directory where a file is expected
mkdir -p "$T/dir.snm" "$T/dirdata/mnist/t10k-images-idx3-ubyte" "$T/dirdata/mnist/train-images-idx3-ubyte"
cp "$V"/data/mnist/*labels* "$T/dirdata/mnist/"
model_cmds "$T/dir.snm" "not a regular file" "$T/dir.snm"
data_cmds "$T/dirdata" "not a regular file" "$T/dirdata/mnist/" mnist
image_cmds "$T/dirdata" "" "$T/dirdata"

# ---- unreadable files (root reads everything: skipped then)
if [ "$(id -u)" -ne 0 ]; then
  cp "$V/model.snm" "$T/noperm.snm"; chmod 000 "$T/noperm.snm"
  model_cmds "$T/noperm.snm" "Permission denied" "$T/noperm.snm"
  mkdir -p "$T/nopermdata"; cp -r "$V/data/mnist" "$T/nopermdata/"
  chmod 000 "$T"/nopermdata/mnist/*
  data_cmds "$T/nopermdata" "Permission denied" "$T/nopermdata/mnist/" mnist
  cp "$V/a.pgm" "$T/noperm.pgm"; chmod 000 "$T/noperm.pgm"
  image_cmds "$T/noperm.pgm" "Permission denied" "$T/noperm.pgm"
else
  echo "running as root: unreadable-file cases skipped (root can read a chmod 000 file)"
fi

# ---- broken folder datasets
fold() { # DESC EXPECT -- the dataset is $T/fd
  run "folder dataset: $1" "$T/fd" "$2" "$SIMNET" train --data "$T" --dataset "folder:$T/fd" \
      --channels 1 --image-size 8x8 --arch "flatten; linear 2" --val-fraction 0.5 \
      --max-steps 1 --threads 1 --quiet --out "$O/m.snm"
  rm -rf "$T/fd"
}
fold "missing" "No such file or directory"
: >"$T/fd"; fold "a file, not a directory" "not a directory"
mkdir -p "$T/fd"; fold "no class folders" "no class sub-folders"
mkdir -p "$T/fd/a" "$T/fd/b"; cp "$V/a.pgm" "$T/fd/a/"; echo text >"$T/fd/b/notes.txt"
fold "class folder without images" "holds no image"
mkdir -p "$T/fd/train/a" "$T/fd/train/b" "$T/fd/test/a" "$T/fd/test/c"
for d in train/a train/b test/a test/c; do cp "$V/a.pgm" "$T/fd/$d/"; done
fold "train/ and test/ with different classes" "must hold the same class folders"

# ---- output that cannot be written leaves nothing behind either
: >"$T/afile"
run "embed --out below a regular file" "$T/afile/e.npy" "" "$SIMNET" embed \
    --model "$V/model.snm" --data "$V/data" --dataset mnist --out "$T/afile/e.npy" --threads 1
run "eval --json below a regular file" "$T/afile/m.json" "" "$SIMNET" eval \
    --model "$V/model.snm" --data "$V/data" --dataset mnist --json "$T/afile/m.json" \
    --threads 1 --no-baselines --episodes 0 --pairs 100

# ---- library log lines reaching stderr say their level (a short CIFAR-10 file warns)
C=$T/cifar/cifar-10-batches-bin; mkdir -p "$C"
for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
  for i in 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9; do
    printf "\\x0$i"; head -c 3072 /dev/zero | tr '\0' "\\$((i + 1))"
  done >"$C/$f.bin"
done
"$SIMNET" eval --model "$V/model.snm" --data "$T/cifar" --dataset cifar10 \
    --threads 1 --no-baselines --episodes 0 --pairs 100 >/dev/null 2>"$T/stderr"
if ! grep -q '^simnet: warning: .*test_batch.bin: 20 records (the official file has 10000)' \
     "$T/stderr"; then
  bad "eval on a short CIFAR-10 file: no 'simnet: warning: ...' line: $(head -c 300 "$T/stderr")"
elif grep -v -q -E '^simnet: (warning|info): |^simnet eval: ' "$T/stderr"; then
  bad "eval on a short CIFAR-10 file: a stderr line without its level: $(head -c 300 "$T/stderr")"
else ok; fi

echo "cli_malformed: $n_cases corpus cases; $pass checks passed, $fail failed"
[ "$fail" -eq 0 ]
