#!/usr/bin/env bash
# Sharding behind nginx: three custra-server shards (each its own data dir,
# one shared admin key) behind nginx rendered from
# deploy/nginx/custra-shards.conf.template (hash $http_x_tenant_id
# consistent; grpc_pass), everything on loopback with free ports and temp
# dirs. Through the proxy only, with the CLI, it creates 30 tenants, issues a
# key for each and imports a small generated CSV into each, then proves:
#   1. each tenant's database (<data>/tenants/<id>.db) exists on exactly one
#      shard, every shard holds at least one tenant, and every call for a
#      tenant (admin calls naming it included) appears in the access log of
#      that shard and of no other, as many OK calls as the test made;
#   2. `tenant list` through the proxy (which routes it to any shard: it
#      names no tenant) lists every shard's tenants once, in id order: each
#      shard runs with --peer naming all three, itself included, and asks
#      the others for theirs; so does `tenant list --shard` from the CLI;
#   3. with one shard stopped (SIGTERM), exactly its tenants' calls fail, with
#      UNAVAILABLE, and nowhere else, while every other tenant's calls
#      succeed with the right data, and `tenant list` fails with
#      UNAVAILABLE (a listing without a shard would be silently partial);
#   4. restarted on the same port with the same data dir, the shard serves its
#      tenants again, every tenant's customers are exactly as imported, and
#      importing each tenant's file again finds every row already there
#      (all duplicates), and `tenant list` lists every tenant again; no
#      tenant changed shards over the whole run.
#
# Usage: sharding_test.sh SERVER_BINARY CLI_BINARY REPO_DIR
# Needs nginx (Debian package nginx; $NGINX overrides which binary) and
# python3. Exit status: 0 pass, 1 fail, 2 bad usage, 77 skipped (no nginx;
# CTest SKIP_RETURN_CODE). CUSTRA_KEEP_TMP=1 keeps the temporary directory.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 SERVER_BINARY CLI_BINARY REPO_DIR" >&2
  exit 2
fi
server_bin=$1
cli_bin=$2
repo_dir=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
checker=$here/sharding_check.py
template=$repo_dir/deploy/nginx/custra-shards.conf.template
python=/usr/bin/python3
shard_count=3
tenant_count=30
victim=2  # the shard that is stopped and restarted (1-based)

nginx_bin=${NGINX:-$(PATH=$PATH:/usr/sbin:/sbin command -v nginx || true)}
if [[ -z $nginx_bin || ! -x $nginx_bin ]]; then
  echo "SKIP: nginx is not installed (Debian package nginx)"
  exit 77
fi
for f in "$server_bin" "$cli_bin" "$python"; do
  if [[ ! -x $f ]]; then
    echo "ERROR: not an executable: $f" >&2
    exit 2
  fi
done
if [[ ! -f $template ]]; then
  echo "ERROR: no nginx template at $template" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/custra-sharding.XXXXXX")
declare -a shard_pid shard_port shard_runs
nginx_pid=""
probes=()  # PID:NAME:OUT of CLI calls running in the background
started=$SECONDS

# stop_pid PID SECONDS: SIGTERM, wait at most SECONDS, then SIGKILL.
stop_pid() {
  local pid=$1 limit=$2 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 1
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  local p
  for p in "${probes[@]}"; do
    kill -TERM "${p%%:*}" 2>/dev/null || true
  done
  [[ -n $nginx_pid ]] && { stop_pid "$nginx_pid" 5 || true; }
  for pid in "${shard_pid[@]}"; do
    [[ -n $pid ]] && { stop_pid "$pid" 15 || true; }
  done
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
  local i
  for ((i = 1; i <= shard_count; i++)); do
    if [[ -s $tmp/shard$i/server.log ]]; then
      echo "--- shard$i server log (last 10 lines) ---" >&2
      tail -n 10 "$tmp/shard$i/server.log" >&2
    fi
  done
  if [[ -s $tmp/nginx/error.log ]]; then
    echo "--- nginx error log (last 10 lines) ---" >&2
    tail -n 10 "$tmp/nginx/error.log" >&2
  fi
  exit 1
}

# start_shard I [PORT]: starts shard I (port 0: a free one) and waits for it
# to write its port; every run appends to its own access log file.
start_shard() {
  local i=$1 port=${2:-0} dir=$tmp/shard$1 run
  mkdir -p "$dir"
  shard_runs[i]=$((${shard_runs[i]:-0} + 1))
  run=${shard_runs[i]}
  rm -f "$dir/port"
  "$server_bin" --listen="127.0.0.1:$port" --data-dir="$dir/data" \
    --admin-key-file="$tmp/admin.key" --port-file="$dir/port" \
    --peer="$peers" \
    --access-log="$dir/access.$run.log" --shutdown-grace=2 \
    >>"$dir/server.log" 2>&1 &
  shard_pid[i]=$!
  local got="" n
  for ((n = 0; n < 150; n++)); do
    if [[ -s $dir/port ]]; then
      got=$(tr -d '[:space:]' <"$dir/port")
      [[ $got =~ ^[0-9]+$ ]] && break
      got=""
    fi
    kill -0 "${shard_pid[i]}" 2>/dev/null || fail "shard$i exited during startup"
    sleep 0.1
  done
  [[ -n $got ]] || fail "shard$i did not write its port within 15 s"
  [[ $port == 0 || $got == "$port" ]] ||
    fail "shard$i listens on $got, not on the requested $port"
  shard_port[i]=$got
}

free_port() {
  "$python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# --- Shards.
(umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$tmp/admin.key")
[[ $(wc -c <"$tmp/admin.key") -ge 16 ]] || fail "could not write an admin key"
# Every shard knows every shard (itself included, as the replicas of a
# StatefulSet get one list): the ports are picked first.
peers=""
for ((i = 1; i <= shard_count; i++)); do
  shard_port[i]=$(free_port) || fail "could not pick a free port"
  peers+="${peers:+,}127.0.0.1:${shard_port[i]}"
done
for ((i = 1; i <= shard_count; i++)); do
  start_shard "$i" "${shard_port[i]}"
done
echo "shards on ports ${shard_port[*]}"

# --- nginx from the deploy template.
prefix=$tmp/nginx
mkdir -p "$prefix"
proxy_port=$(free_port) || fail "could not pick a free port"
shard_lines=""
for ((i = 1; i <= shard_count; i++)); do
  shard_lines+="server 127.0.0.1:${shard_port[i]} max_fails=0;"$'\n'
done
"$python" - "$template" "$prefix/nginx.conf" "$prefix" \
  "127.0.0.1:$proxy_port" "$shard_lines" <<'EOF' || fail "rendering $template"
import sys
template, out, prefix, listen, shards = sys.argv[1:]
text = open(template).read()
for name, value in (("PREFIX", prefix), ("LISTEN", listen),
                    ("SHARDS", shards.strip())):
    if "@%s@" % name not in text:
        sys.exit("template has no @%s@" % name)
    text = text.replace("@%s@" % name, value)
open(out, "w").write(text)
EOF
nginx=("$nginx_bin" -e "$prefix/error.log" -p "$prefix" -c "$prefix/nginx.conf")
"${nginx[@]}" -t >"$tmp/nginx-t.log" 2>&1 ||
  { cat "$tmp/nginx-t.log" >&2; fail "nginx -t rejects the rendered config"; }
"${nginx[@]}" -g 'daemon off;' >"$prefix/stdout.log" 2>&1 &
nginx_pid=$!
proxy=127.0.0.1:$proxy_port
for ((n = 0; n < 100; n++)); do
  kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited during startup"
  (: <"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null && break
  sleep 0.1
done
(: <"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null ||
  fail "nginx does not accept connections on $proxy within 10 s"
echo "nginx on $proxy"

# --- The CLI, always through the proxy. Every OK call that names a tenant
# is written to the ledger, which the access logs must match exactly.
cli=("$cli_bin" --server "$proxy" --timeout 10)
admin=("${cli[@]}" --admin-key-file "$tmp/admin.key")
declare -A key
ledger=$tmp/ledger
: >"$ledger"
note() { echo "$1 $2" >>"$ledger"; }

# A first call through the proxy (it names no tenant, so any shard answers).
"${admin[@]}" tenant list >"$tmp/first-call.txt" 2>&1 ||
  { cat "$tmp/first-call.txt" >&2; fail "first call through the proxy"; }

tenants=()
for ((n = 1; n <= tenant_count; n++)); do
  tenants+=("$(printf 't%02d' "$n")")
done
printf '%s\n' "${tenants[@]}" >"$tmp/tenants"
"$python" "$checker" gen "$tmp/csv" "${tenants[@]}" || fail "generating CSVs"

# list_customers T OUT: lists T's customers as JSON into OUT and queues the
# answer for check_customers.
listed=()
list_customers() {
  local t=$1 out=$2
  "${cli[@]}" --tenant "$t" --api-key "${key[$t]}" customers list -o json \
    >"$out" 2>"$out.err" ||
    { cat "$out.err" >&2; fail "customers list for $t"; }
  note "$t" ListCustomers
  listed+=("$t=$out")
}
# check_customers WHEN: every queued answer is exactly what was imported.
check_customers() {
  "$python" "$checker" customers "$tmp/csv" "${listed[@]}" ||
    fail "customers differ from what was imported ($1)"
  listed=()
}

mkdir -p "$tmp/out"
for t in "${tenants[@]}"; do
  "${admin[@]}" tenant create "$t" >"$tmp/out/$t.create" 2>&1 ||
    { cat "$tmp/out/$t.create" >&2; fail "tenant create $t"; }
  note "$t" CreateTenant
  key[$t]=$("${admin[@]}" key issue "$t" -q 2>"$tmp/out/$t.key.err") ||
    { cat "$tmp/out/$t.key.err" >&2; fail "key issue $t"; }
  [[ -n ${key[$t]} ]] || fail "key issue $t printed no key"
  note "$t" IssueApiKey
  "${cli[@]}" --tenant "$t" --api-key "${key[$t]}" import transactions -q \
    "$tmp/csv/$t.csv" >"$tmp/out/$t.import" 2>&1 ||
    { cat "$tmp/out/$t.import" >&2; fail "import transactions for $t"; }
  note "$t" ImportTransactions
  grep -q 'rejected *0$' "$tmp/out/$t.import" ||
    { cat "$tmp/out/$t.import" >&2; fail "import for $t rejected rows"; }
done
echo "created and imported $tenant_count tenants in $((SECONDS - started)) s"

# Later calls: customers (tenant service) and tenant show (admin, by name).
for t in "${tenants[@]}"; do
  list_customers "$t" "$tmp/out/$t.customers.1.json"
  "${admin[@]}" tenant show "$t" -o json >"$tmp/out/$t.show.json" 2>&1 ||
    { cat "$tmp/out/$t.show.json" >&2; fail "tenant show $t"; }
  note "$t" GetTenant
done
check_customers "after the import"

shard_specs() { # one --shard NAME=DATA=LOGS per shard, all its access logs
  local i run logs
  for ((i = 1; i <= shard_count; i++)); do
    logs=$tmp/shard$i/access.1.log
    for ((run = 2; run <= shard_runs[i]; run++)); do
      logs+=,$tmp/shard$i/access.$run.log
    done
    printf -- '--shard\nshard%s=%s=%s\n' "$i" "$tmp/shard$i/data" "$logs"
  done
}
mapfile -t specs < <(shard_specs)
"$python" "$checker" routing --tenants "$tmp/tenants" --ledger "$ledger" \
  --homes "$tmp/homes" "${specs[@]}" || fail "routing before the outage"

# ListTenants names no tenant, so the proxy sends it to any shard; that
# shard asks its peers: every answer is every tenant, once, in id order.
# With --shard, the CLI asks each shard directly and merges the answers.
for ((n = 1; n <= 6; n++)); do
  "${admin[@]}" tenant list -o json >"$tmp/out/list.$n.json" 2>&1 ||
    { cat "$tmp/out/list.$n.json" >&2; fail "tenant list"; }
done
"$python" "$checker" all-tenants --what "tenant list through the proxy" \
  "$tmp/homes" "$tmp/out"/list.*.json || fail "tenant list through the proxy"
shard_args=()
for ((i = 1; i <= shard_count; i++)); do
  shard_args+=(--shard "127.0.0.1:${shard_port[i]}")
done
"${admin[@]}" tenant list -o json "${shard_args[@]}" \
  >"$tmp/out/list.shards.json" 2>&1 ||
  { cat "$tmp/out/list.shards.json" >&2; fail "tenant list --shard"; }
"$python" "$checker" all-tenants --what "tenant list --shard" "$tmp/homes" \
  "$tmp/out/list.shards.json" || fail "tenant list --shard"

# --- Outage: stop one shard.
victim_tenants=()
declare -A on_victim
while read -r t home; do
  if [[ $home == "shard$victim" ]]; then
    victim_tenants+=("$t")
    on_victim[$t]=1
  fi
done <"$tmp/homes"
stop_pid "${shard_pid[victim]}" 15 ||
  fail "shard$victim did not exit within 15 s of SIGTERM"
shard_pid[victim]=""
echo "stopped shard$victim (port ${shard_port[victim]}," \
  "${#victim_tenants[@]} tenants: ${victim_tenants[*]})"

# The stopped shard's tenants: a tenant call and an admin call naming the
# tenant must fail, and the CLI must report UNAVAILABLE. The CLI retries
# idempotent calls a few times with backoff first (under a second), so these
# run in the background while the other tenants are checked.
probe() { # probe NAME OUT COMMAND...: runs COMMAND in the background
  local name=$1 out=$2
  shift 2
  "$@" >"$out" 2>"$out.err" &
  probes+=("$!:$name:$out")
}
phase=$SECONDS
probe "tenant list --shard" "$tmp/out/list.shards.down" \
  "${admin[@]}" tenant list -o json "${shard_args[@]}"
probe "tenant list through the proxy" "$tmp/out/list.down" \
  "${admin[@]}" tenant list -o json
for t in "${victim_tenants[@]}"; do
  probe "customers list for $t" "$tmp/out/$t.down.customers" \
    "${cli[@]}" --tenant "$t" --api-key "${key[$t]}" customers list -o json
  probe "tenant show $t" "$tmp/out/$t.down.show" \
    "${admin[@]}" tenant show "$t" -o json
done
for t in "${tenants[@]}"; do
  out=$tmp/out/$t.down
  if [[ -z ${on_victim[$t]:-} ]]; then
    list_customers "$t" "$out.customers"
    "${admin[@]}" tenant show "$t" -o json >"$out.show" 2>&1 ||
      { cat "$out.show" >&2; fail "tenant show $t while shard$victim is down"; }
    note "$t" GetTenant
  fi
done
check_customers "with shard$victim down"
for p in "${probes[@]}"; do
  IFS=: read -r pid name out <<<"$p"
  rc=0
  wait "$pid" || rc=$?  # bounded by the CLI's --timeout
  [[ $rc != 0 ]] ||
    fail "$name succeeded while its shard shard$victim is down"
  grep -q '^error: UNAVAILABLE: ' "$out.err" ||
    { cat "$out.err" >&2; fail "$name (shard down) did not fail with" \
      "UNAVAILABLE"; }
done
grep -q "shard 127.0.0.1:${shard_port[victim]}: " \
  "$tmp/out/list.shards.down.err" ||
  { cat "$tmp/out/list.shards.down.err" >&2; fail "tenant list --shard" \
    "with shard$victim down does not name it"; }
echo "tenant list through the proxy with shard$victim down:" \
  "'$(grep -m 1 '^error: ' "$tmp/out/list.down.err")'"
echo "with shard$victim down ($((SECONDS - phase)) s): its" \
  "${#victim_tenants[@]} tenants' calls fail with" \
  "'$(grep -m 1 '^error: ' "$tmp/out/${victim_tenants[0]}.down.customers.err")'," \
  "the other $((tenant_count - ${#victim_tenants[@]})) tenants' calls work"

# --- Restart it on the same port with the same data dir.
phase=$SECONDS
start_shard "$victim" "${shard_port[victim]}"
echo "restarted shard$victim on port ${shard_port[victim]}"
# Nothing lost: the same customers, and every transaction row still there
# (importing the same file again finds each row a duplicate).
for t in "${tenants[@]}"; do
  list_customers "$t" "$tmp/out/$t.customers.2.json"
  rows=$(($(wc -l <"$tmp/csv/$t.csv") - 1))
  out=$tmp/out/$t.reimport
  "${cli[@]}" --tenant "$t" --api-key "${key[$t]}" import transactions -q \
    "$tmp/csv/$t.csv" >"$out" 2>&1 ||
    { cat "$out" >&2; fail "import transactions again for $t"; }
  note "$t" ImportTransactions
  if ! grep -q "accepted *0\$" "$out" ||
    ! grep -q "duplicates *$rows\$" "$out"; then
    cat "$out" >&2
    fail "importing $t's $rows rows again after the restart did not find" \
      "all of them duplicates"
  fi
done
check_customers "after the restart"
"${admin[@]}" tenant list -o json >"$tmp/out/list.after.json" 2>&1 ||
  { cat "$tmp/out/list.after.json" >&2; fail "tenant list after the restart"; }
"$python" "$checker" all-tenants --what "tenant list after the restart" \
  "$tmp/homes" "$tmp/out/list.after.json" || fail "tenant list after the restart"
echo "after the restart ($((SECONDS - phase)) s): every tenant's customers" \
  "and transaction rows are back"

mapfile -t specs < <(shard_specs)
"$python" "$checker" routing --tenants "$tmp/tenants" --ledger "$ledger" \
  --homes "$tmp/homes.after" "${specs[@]}" || fail "routing after the restart"
cmp -s "$tmp/homes" "$tmp/homes.after" ||
  fail "tenants changed shards: $(diff "$tmp/homes" "$tmp/homes.after" | tr '\n' ' ')"
n=0
for t in "${victim_tenants[@]}"; do
  grep -q "\"tenant\":\"$t\"" "$tmp/shard$victim/access.2.log" && n=$((n + 1))
done
[[ $n == "${#victim_tenants[@]}" ]] ||
  fail "only $n of ${#victim_tenants[@]} tenants of shard$victim reached it" \
    "after the restart"

echo "PASS: sharding behind nginx ($((SECONDS - started)) s)"
