#!/usr/bin/env bash
# Enterprise integration test: proves that an integrator can generate Python
# stubs from nothing but protos/ (plus the standard google.rpc protos) and use
# them against a real custra-server on a loopback port. It generates the
# stubs, starts the server with a fresh data dir and runs
# python_client_test.py, which provisions a tenant, ingests customers and a
# transaction stream, reads them back and checks the rich error details.
#
# Usage: python_client_test.sh SERVER_BINARY PROTOS_DIR
# Needs Debian's python3-grpcio and protobuf-compiler-grpc (or grpcio-tools).
# GOOGLEAPIS_PROTO_DIR overrides where google/rpc/*.proto are found.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SERVER_BINARY PROTOS_DIR" >&2
  exit 2
fi
server_bin=$1
protos_dir=$2
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian package golang-github-gogo-googleapis-dev ships google/rpc/*.proto.
default_googleapis=/usr/share/gocode/src/github.com/gogo/googleapis
googleapis_dir=${GOOGLEAPIS_PROTO_DIR:-$default_googleapis}
# Debian's python3-grpcio lives here; the python3 first on PATH may lack it.
python=/usr/bin/python3
wkt_dir=/usr/include  # google/protobuf/*.proto (well-known types)

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [[ -s "$tmp/server.log" ]]; then
    echo "--- server log (last 40 lines) ---" >&2
    tail -n 40 "$tmp/server.log" >&2
  fi
  exit 1
}

[[ -x "$server_bin" ]] || fail "server binary not executable: $server_bin"
[[ -f "$protos_dir/custra/v1/ingestion.proto" ]] ||
  fail "not a protos dir: $protos_dir"
[[ -f "$googleapis_dir/google/rpc/status.proto" ]] ||
  fail "google/rpc/status.proto not found under $googleapis_dir" \
    "(set GOOGLEAPIS_PROTO_DIR)"

# --- Generate the stubs. Not into a folder named grpc/: it would shadow the
# grpc module. Only custra/v1 is generated (protos/grpc/health is not ours).
gen=$tmp/gen
mkdir -p "$gen"
if "$python" -c "import grpc_tools.protoc" 2>/dev/null; then
  protoc_cmd=("$python" -m grpc_tools.protoc)
  grpc_out=(--grpc_python_out="$gen")
else
  plugin=$(command -v grpc_python_plugin) ||
    fail "neither grpc_tools (grpcio-tools) nor grpc_python_plugin" \
      "(protobuf-compiler-grpc) is installed"
  command -v protoc >/dev/null || fail "protoc is not installed"
  protoc_cmd=(protoc)
  grpc_out=(--grpc_python_out="$gen" --plugin=protoc-gen-grpc_python="$plugin")
fi
(
  cd "$protos_dir"
  "${protoc_cmd[@]}" -I. -I"$wkt_dir" --python_out="$gen" "${grpc_out[@]}" \
    custra/v1/*.proto
) || fail "generating custra stubs failed"
(
  cd "$googleapis_dir"
  "${protoc_cmd[@]}" -I. -I"$wkt_dir" --python_out="$gen" \
    google/rpc/status.proto google/rpc/error_details.proto
) || fail "generating google.rpc stubs failed"

# --- Start the server on a free loopback port.
admin_key=py-admin-key-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$admin_key" >"$tmp/admin.key"
chmod 600 "$tmp/admin.key"
"$server_bin" --listen=127.0.0.1:0 --data-dir="$tmp/data" \
  --admin-key-file="$tmp/admin.key" --port-file="$tmp/port" \
  >"$tmp/server.log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 1 100); do  # at most ~10 s
  if [[ -s "$tmp/port" ]]; then
    port=$(tr -d '[:space:]' <"$tmp/port")
    [[ "$port" =~ ^[0-9]+$ ]] && break
    port=""
  fi
  kill -0 "$server_pid" 2>/dev/null || fail "server exited during startup"
  sleep 0.1
done
[[ -n "$port" ]] || fail "server did not write its port within 10 s"

# --- Run the client.
timeout 120 "$python" "$script_dir/python_client_test.py" \
  --target="127.0.0.1:$port" --admin_key_file="$tmp/admin.key" \
  --gen_dir="$gen" || fail "python_client_test.py failed (exit $?)"
