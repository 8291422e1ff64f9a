#!/usr/bin/env bash
# README command (b): installs the dependencies, builds everything and runs
# the whole test suite (unit, integration, lint, install). CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh
./deploy/build.sh
cd build
ctest --output-on-failure -j "${CUSTRA_TEST_JOBS:-2}" "$@"
