#!/usr/bin/env bash
# Install the Debian packages simnet needs (when root and missing), then configure and
# build BUILD_DIR (default build/, Release). Idempotent; safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
# cmake/gcc: build; libopenblas-dev: GEMM (CBLAS); zlib1g-dev: gzip IDX + model checksums;
# libpng-dev / libjpeg62-turbo-dev: PNG / JPEG input; pkg-config: finding them;
# libcurl4-openssl-dev / libarchive-dev / libssl-dev: simnet fetch (HTTP(S) downloads,
# .tar.gz/.tgz/.deb unpacking, md5 checks of the published checksums);
# libcairo2-dev: PNG figures (src/viz, simnet figures); openmpi-bin / libopenmpi-dev:
# data-parallel training (mpirun -np N simnet train, SIMNET_MPI) and its CI tests;
# iproute2: tests/cli_mpi_netns.sh (two ranks in two network namespaces).
# libsqlite3-dev: the gallery database (src/gallery; simnet gallery/enroll/search).
# (libfaiss-dev is not used: its libfaiss.a lacks the C API; see docs/gallery.md.)
PKGS="cmake gcc make libc6-dev libopenblas-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev pkg-config libcurl4-openssl-dev libarchive-dev libssl-dev libcairo2-dev openmpi-bin libopenmpi-dev iproute2 libsqlite3-dev"
# clang / libclang-rt-14-dev (libFuzzer) / libomp-dev: the fuzz targets (fuzz/build.sh);
# only with SIMNET_FUZZ_DEPS=1, as .ci/run sets.
if [ "${SIMNET_FUZZ_DEPS:-0}" = 1 ]; then PKGS="$PKGS clang libclang-rt-14-dev libomp-dev"; fi
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q $missing >/dev/null
  else
    echo "setup: missing Debian packages:$missing" >&2
    echo "setup: run as root, or: sudo apt-get install$missing" >&2
    exit 1
  fi
fi
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
