#!/usr/bin/env bash
# End-to-end check of `custra import transactions --format online-retail`
# against the UCI Online Retail daily CSVs.
#
# Usage: online_retail_check.sh SERVER_BINARY CLI_BINARY DATA_DIR
#
# Starts a fresh custra-server on a free loopback port, creates tenant
# "retail", imports every file of DATA_DIR (the by-day folder) with the CLI,
# lists the customers as JSON and hands everything to online_retail_check.py,
# which recomputes the expected aggregates and rejects from the raw CSVs.
# Then runs RFM and ABC segmentations as of 2011-12-09, lists every member of
# both runs as JSON and hands them to segmentation_check.py, which recomputes
# each customer's scores, segment and class with pandas.
#
# Exit status: 0 pass, 1 mismatch or failed step, 2 bad usage,
# 77 skipped (DATA_DIR does not exist; CTest SKIP_RETURN_CODE).
# Set CUSTRA_KEEP_TMP=1 to keep the temporary directory for inspection.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 SERVER_BINARY CLI_BINARY DATA_DIR" >&2
  exit 2
fi
server_bin=$1
cli_bin=$2
data_dir=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
checker=$here/online_retail_check.py
seg_checker=$here/segmentation_check.py
python=/usr/bin/python3

if [[ ! -d $data_dir ]]; then
  echo "SKIP: Online Retail data not found at $data_dir"
  exit 77
fi
for f in "$server_bin" "$cli_bin" "$python"; do
  if [[ ! -x $f ]]; then
    echo "ERROR: not an executable: $f" >&2
    exit 2
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/custra-online-retail.XXXXXX")
server_pid=""

cleanup() {
  local status=$?
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # The server drains for a moment before it exits; do not wait forever.
    for _ in $(seq 1 150); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ ${CUSTRA_KEEP_TMP:-0} == 1 ]]; then
    echo "kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*" >&2
  if [[ -s $tmp/server.log ]]; then
    echo "--- server log (last 20 lines) ---" >&2
    tail -n 20 "$tmp/server.log" >&2
  fi
  exit 1
}

# Admin key: 32 random hex characters.
(umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$tmp/admin.key")
[[ $(wc -c <"$tmp/admin.key") -ge 16 ]] || fail "could not write an admin key"

"$server_bin" --listen=127.0.0.1:0 --data-dir="$tmp/data" \
  --admin-key-file="$tmp/admin.key" --port-file="$tmp/port" \
  >"$tmp/server.log" 2>&1 &
server_pid=$!

# Wait (at most 30 s) for the server to write its port.
port=""
for _ in $(seq 1 300); do
  if [[ -s $tmp/port ]]; then
    port=$(tr -d '[:space:]' <"$tmp/port")
    [[ $port =~ ^[0-9]+$ ]] && break
    port=""
  fi
  kill -0 "$server_pid" 2>/dev/null || fail "custra-server exited during startup"
  sleep 0.1
done
[[ -n $port ]] || fail "custra-server did not write $tmp/port within 30 s"

admin=("$cli_bin" --server "127.0.0.1:$port" --admin-key-file "$tmp/admin.key")
"${admin[@]}" tenant create retail >"$tmp/tenant.txt" ||
  fail "tenant create retail"
key=$("${admin[@]}" key issue retail -q) || fail "key issue retail"
[[ -n $key ]] || fail "key issue printed no key"

tenant=("$cli_bin" --server "127.0.0.1:$port" --tenant retail --api-key "$key"
  --timeout 600)
start=$SECONDS
"${tenant[@]}" import transactions --format online-retail -q \
  --rejects "$tmp/rejects.csv" "$data_dir" >"$tmp/summary.txt" ||
  { cat "$tmp/summary.txt" >&2; fail "import transactions"; }
echo "import took $((SECONDS - start)) s:"
cat "$tmp/summary.txt"

"${tenant[@]}" customers list -o json >"$tmp/customers.json" ||
  fail "customers list"

"$python" "$checker" "$data_dir" "$tmp/customers.json" "$tmp/rejects.csv" \
  "$tmp/summary.txt" || fail "online_retail_check.py found mismatches"

# Segmentation: one RFM and one ABC run as of the last day of the data, every
# member of each (`runs members` pages through all of them: --limit 0), and
# segmentation_check.py recomputes scores, segments and classes with pandas.
as_of=2011-12-09
run_id() { # run_id RUN_JSON: prints the run's "id" field
  "$python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' \
    "$1"
}
for model in rfm abc; do
  start=$SECONDS
  "${tenant[@]}" segment "$model" --as-of "$as_of" -o json \
    >"$tmp/$model-run.json" || fail "segment $model --as-of $as_of"
  id=$(run_id "$tmp/$model-run.json") || fail "no run id in segment $model output"
  [[ -n $id ]] || fail "segment $model printed an empty run id"
  "${tenant[@]}" runs members "$id" --limit 0 -o json \
    >"$tmp/$model-members.json" || fail "runs members $id ($model)"
  echo "segment $model: run $id, $((SECONDS - start)) s"
done

"$python" "$seg_checker" "$data_dir" "$tmp/rfm-run.json" \
  "$tmp/rfm-members.json" "$tmp/abc-run.json" "$tmp/abc-members.json" ||
  fail "segmentation_check.py found mismatches"
