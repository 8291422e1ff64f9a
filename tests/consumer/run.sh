#!/usr/bin/env bash
# Installs the SDK from the build tree into a temporary prefix, builds the
# consumer project against it with find_package(custra), and runs it
# against a real custra-server on a loopback port.
set -euo pipefail
build_dir=$1
consumer_src=$2
server_bin=$3
work=$(mktemp -d)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$consumer_src" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null

key=consumer-admin-key-0123456789
echo "$key" >"$work/admin.key"
"$server_bin" --listen=127.0.0.1:0 --data-dir="$work/data" \
  --admin-key-file="$work/admin.key" --port-file="$work/port" \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  [[ -s "$work/port" ]] && break
  sleep 0.1
done
port=$(cat "$work/port")
out=$("$work/build/consumer" "127.0.0.1:$port" "$key" consumer-tenant)
echo "$out"
[[ "$out" == "created consumer-tenant with key k_"* ]]
[[ -f "$work/data/tenants/consumer-tenant.db" ]]
