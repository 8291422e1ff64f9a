#!/usr/bin/env bash
# Builds the libFuzzer targets with clang-14 (ASan + UBSan) in their own
# build directory and runs each for a bounded time on a copy of its corpus
# (tests/fuzz/corpus/<target>). Fails on any crash, leak or timeout.
# Usage: run_fuzzers.sh SOURCE_DIR BUILD_DIR SECONDS_PER_TARGET
set -euo pipefail
src=$1
build=$2
seconds=$3
targets=(fuzz_csv fuzz_known_formats fuzz_validation)
if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$src" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCUSTRA_FUZZ=ON \
    -DCUSTRA_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j "${CUSTRA_BUILD_JOBS:-2}" --target "${targets[@]}" \
  >/dev/null
for target in "${targets[@]}"; do
  work=$(mktemp -d)
  cp -r "$src/tests/fuzz/corpus/$target/." "$work/"
  echo "fuzz: $target for ${seconds}s"
  "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "$work" 2>"$work.log" || {
    tail -50 "$work.log"
    echo "fuzz: $target FAILED"
    exit 1
  }
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$work.log" |
    sed "s/^/  /"
  rm -rf "$work" "$work.log"
done
echo "fuzz: all targets clean"
