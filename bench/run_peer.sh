#!/usr/bin/env bash
# PyTorch speed peer for the simnet seed model: train (pairs/s) and embed (images/s),
# modes "plain" and "tuned", 2 threads. Prints one RESULT line per case.
#
#   bench/run_peer.sh [--steps N] [--warmup W] [--threads T] [--data DIR]
#   (defaults: 100 steps, 10 warmup, 2 threads, random-but-fixed data)
#
# Env: PYTHON (default /usr/bin/python3, Debian's PyTorch), TCMALLOC (default
# /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-/usr/bin/python3}"
TCMALLOC="${TCMALLOC:-/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4}"
STEPS=100
WARMUP=10
THREADS=2
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --data) EXTRA+=(--data "$2"); shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [ ! -e "$TCMALLOC" ]; then
  echo "warning: $TCMALLOC not found; tuned mode runs without tcmalloc" >&2
  TCMALLOC=""
fi

for task in train embed; do
  for mode in plain tuned; do
    args=(--task "$task" --mode "$mode" --threads "$THREADS" --steps "$STEPS" --warmup "$WARMUP" "${EXTRA[@]}")
    if [ "$mode" = tuned ]; then
      env ${TCMALLOC:+LD_PRELOAD="$TCMALLOC"} OPENBLAS_NUM_THREADS=1 \
        "$PYTHON" "$HERE/peer_seed.py" "${args[@]}" | grep '^RESULT'
    else
      "$PYTHON" "$HERE/peer_seed.py" "${args[@]}" | grep '^RESULT'
    fi
  done
done
