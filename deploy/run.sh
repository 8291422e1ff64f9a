#!/usr/bin/env bash
# README command (a): installs the dependencies, builds custra, starts a
# server on the embedded data directory ./custra-data, creates the tenant
# "demo", loads real data (CDNOW from ../shared/data, or a generated data
# set when that is absent) and prints what it holds and how to reach it.
# The server keeps running in the background; run again to restart it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
data="$root/custra-data"
address=${CUSTRA_LISTEN:-127.0.0.1:50051}

./deploy/setup.sh
./deploy/build.sh custra-server custra
server_bin="$root/build/server/custra-server"
cli="$root/build/client/custra"
mkdir -p "$data"

if [[ -f "$data/server.pid" ]] && kill -0 "$(cat "$data/server.pid")" 2>/dev/null; then
  echo "run: restarting the running custra-server"
  kill -TERM "$(cat "$data/server.pid")"
  for _ in $(seq 1 100); do
    kill -0 "$(cat "$data/server.pid")" 2>/dev/null || break
    sleep 0.1
  done
fi
nohup "$server_bin" --listen="$address" --data-dir="$data" --insecure-dev \
  --metrics-listen=127.0.0.1:0 --access-log="$data/access.log" \
  >"$data/server.log" 2>&1 &
echo $! >"$data/server.pid"

export CUSTRA_SERVER="$address"
export CUSTRA_ADMIN_KEY_FILE="$data/admin.key"
"$cli" health --wait 15 >/dev/null || {
  echo "run: the server did not come up; see $data/server.log" >&2
  exit 1
}

export CUSTRA_TENANT=demo
if ! "$cli" tenant show demo >/dev/null 2>&1; then
  "$cli" tenant create demo --name "custra demo" >/dev/null
fi
if [[ ! -s "$data/demo.key" ]]; then
  (umask 077 && "$cli" key issue demo --name "demo script" -q >"$data/demo.key")
fi
export CUSTRA_API_KEY=$(cat "$data/demo.key")

cdnow="$root/../shared/data/cdnow/CDNOW_master.txt"
if [[ -f "$cdnow" ]]; then
  echo "run: loading CDNOW (Fader, Hardie & Lee 2005): $cdnow"
  "$cli" import transactions --format cdnow "$cdnow"
else
  generated="$data/generated-orders.csv"
  echo "run: ../shared/data is absent; generating a data set: $generated"
  /usr/bin/python3 "$root/deploy/generate_demo_data.py" >"$generated"
  "$cli" import transactions --currency USD "$generated"
fi

echo
echo "Five customers of tenant demo:"
"$cli" customers list --limit 5
echo
first=$("$cli" customers list --limit 1 -o csv | sed -n 2p | cut -d, -f1)
echo "Customer $first with its purchase aggregates:"
"$cli" customers get "$first"

# The segmentation is as of the data's last day, so recency means something
# for a historical data set.
last_day=$("$cli" customers list -o csv --limit 0 |
  grep -o 'last_purchase_time"":""[0-9-]*' | cut -d'"' -f5 | sort | tail -n1)
last_day=${last_day:-$(date -u +%F)}
echo
echo "Who brings the revenue (ABC / Pareto) as of $last_day:"
"$cli" segment abc --as-of "$last_day" --name "demo ABC"
echo
echo "Who is active or slipping away (RFM) as of $last_day:"
"$cli" segment rfm --as-of "$last_day" --name "demo RFM"
echo
echo "What each customer is worth in the future: BG/NBD and Gamma-Gamma fits:"
"$cli" clv fit --model all --calibration-end "$last_day"
echo
echo "Key accounts as of $last_day (default scoring profile):"
"$cli" accounts score --as-of "$last_day"
echo
"$cli" accounts top -n 10 --explain

cat <<EOT

custra-server is running (pid $(cat "$data/server.pid"), log $data/server.log,
one JSON line per call in $data/access.log,
$(grep -o 'metrics on .*' "$data/server.log" || echo 'no metrics endpoint')).
Reach it with:
  export CUSTRA_SERVER=$address
  export CUSTRA_TENANT=demo
  export CUSTRA_API_KEY=\$(cat $data/demo.key)
  export CUSTRA_ADMIN_KEY_FILE=$data/admin.key
  $cli customers list --limit 10
  $cli segment rfm --as-of $last_day
  $cli runs list
  $cli accounts explain \$($cli accounts top -n 1 -o csv | sed -n 2p | cut -d, -f1)
Stop it with: kill \$(cat $data/server.pid)
EOT
