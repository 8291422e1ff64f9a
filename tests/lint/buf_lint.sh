#!/usr/bin/env bash
# Runs `buf lint` (STANDARD rules, protos/buf.yaml) over the public protos.
# buf comes from npm (@bufbuild/buf), installed once into the build tree.
set -euo pipefail
protos_dir=$1
tools_dir=$2
BUF_VERSION=1.75.0
buf="$tools_dir/node_modules/.bin/buf"
if [[ ! -x "$buf" ]] || ! "$buf" --version | grep -qx "$BUF_VERSION"; then
  mkdir -p "$tools_dir"
  npm install --prefix "$tools_dir" --no-audit --no-fund --silent \
    "@bufbuild/buf@$BUF_VERSION" >/dev/null
fi
cd "$protos_dir"
"$buf" lint
echo "buf lint: clean"
