#!/usr/bin/env bash
# PyTorch speed peer: runs bench/peer_seed.py once per mode, "plain" then "tuned", and
# prints its RESULT lines (they carry mode=plain / mode=tuned).
#
#   bench/run_peer.sh [--modes "plain tuned"] [peer_seed.py options ...]
#   e.g. bench/run_peer.sh --task train --spec "conv 32 3 1 1; ..." --in-shape 1,28,28
#
# plain: torch.set_num_threads(T) only. tuned: + channels_last (in peer_seed.py), tcmalloc
# preloaded, OPENBLAS_NUM_THREADS=1.
# Env: PYTHON (default /usr/bin/python3, Debian's PyTorch), TCMALLOC (default
# /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
TCMALLOC="${TCMALLOC:-/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4}"
MODES="plain tuned"
if [ "${1:-}" = "--modes" ]; then MODES=$2; shift 2; fi
case "${1:-}" in -h|--help) sed -n '2,12p' "$0"; exit 0 ;; esac

if [ ! -e "$TCMALLOC" ]; then
  echo "warning: $TCMALLOC not found; tuned mode runs without tcmalloc" >&2
  TCMALLOC=""
fi

for mode in $MODES; do
  if [ "$mode" = tuned ]; then
    env ${TCMALLOC:+LD_PRELOAD="$TCMALLOC"} OPENBLAS_NUM_THREADS=1 \
      "$PYTHON" "$HERE/peer_seed.py" --mode tuned "$@" | grep -E '^(RESULT|#)'
  else
    "$PYTHON" "$HERE/peer_seed.py" --mode plain "$@" | grep -E '^(RESULT|#)'
  fi
done
