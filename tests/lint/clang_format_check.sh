#!/usr/bin/env bash
# Fails if any C++ source of the project is not clang-format clean
# (.clang-format: BasedOnStyle Google).
set -euo pipefail
cd "$1"
mapfile -t files < <(git ls-files -co --exclude-standard -- \
  '*.cc' '*.h' | grep -v '^build')
if ((${#files[@]} == 0)); then echo "no sources"; exit 1; fi
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
