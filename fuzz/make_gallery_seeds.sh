#!/usr/bin/env bash
# Regenerate fuzz/corpus/fuzz_gallery/: an empty gallery and one with 3 entries under 2
# labels, made with the simnet CLI from tests/malformed/valid/, then vacuumed to 512-byte
# pages with the sqlite3 shell (tool only) so that each seed is ~3.5 KB.
# Usage: fuzz/make_gallery_seeds.sh path/to/simnet
set -euo pipefail
cd "$(dirname "$0")/.."
S=${1:?usage: fuzz/make_gallery_seeds.sh path/to/simnet}
V=tests/malformed/valid
C=fuzz/corpus/fuzz_gallery
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
"$S" gallery create "$d/empty.db" --model $V/model.snm --no-model-path
"$S" gallery create "$d/g2.db" --model $V/model.snm --no-model-path
"$S" enroll "$d/g2.db" --label alice $V/a.pgm --model $V/model.snm
"$S" enroll "$d/g2.db" --label bob $V/a.pgm $V/a.pgm --model $V/model.snm
rm -rf "$C"; mkdir -p "$C"
for f in empty g2; do
  sqlite3 "$d/$f.db" "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;" >/dev/null
  cp "$d/$f.db" "$C/$f.db"
done
ls -l "$C"
