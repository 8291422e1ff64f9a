#!/usr/bin/env bash
# Configures and builds custra with CMake + Ninja into ./build (2 jobs).
# Usage: deploy/build.sh [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${CUSTRA_BUILD_JOBS:-2}
if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if (($# > 0)); then
  cmake --build build -j "$jobs" --target "$@"
else
  cmake --build build -j "$jobs"
fi
