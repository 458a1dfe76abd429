#!/usr/bin/env bash
# Build everything and run every test (unit + CLI). Real-data tests use $SIMNET_DATA
# (a folder holding mnist/); without it they are skipped and say so.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build} bash scripts/setup.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 "$@"
