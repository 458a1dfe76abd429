#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan, coverage-instrumented library) into
# BUILD_DIR (default build-fuzz/). Needs clang and libomp-dev (Debian: apt-get install
# clang libclang-rt-14-dev libomp-dev). Usage: fuzz/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
command -v clang >/dev/null || { echo "fuzz/build.sh: clang not found (apt-get install clang libclang-rt-14-dev libomp-dev)" >&2; exit 1; }
cmake -S . -B "$BUILD_DIR" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DSIMNET_FUZZ=ON -DSIMNET_NATIVE=OFF -DSIMNET_BUILD_TESTS=OFF -DSIMNET_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" --target fuzz -j"${JOBS:-$(nproc)}"
