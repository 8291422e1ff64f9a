#!/usr/bin/env python3
"""Helper of sharding_test.sh: generates the per-tenant transaction CSVs and
checks what the shards and the CLI report.

Subcommands:
  gen DIR TENANT...             write DIR/<t>.csv and DIR/<t>.expected.json
  customers DIR T=JSON...       compare `customers list -o json` answers with
                                DIR/<t>.expected.json
  routing [options]             prove that each tenant lives on, and every call
                                for it reached, exactly one shard
  all-tenants HOMES JSON...     each `tenant list -o json` answer (through
                                the proxy, or with --shard ...) holds every
                                tenant once, in id order

Exit status: 0 ok, 1 mismatch, 2 bad usage.
"""

import argparse
import collections
import json
import os
import sys
import time


def tenant_number(tenant):
    digits = "".join(c for c in tenant if c.isdigit())
    return int(digits) if digits else 0


def gen(args):
    """Every tenant gets a different number of customers and transactions,
    with customer ids that name the tenant, so that rows landing in the wrong
    tenant or a tenant answered by the wrong shard cannot go unnoticed."""
    os.makedirs(args.dir, exist_ok=True)
    for tenant in args.tenants:
        n = tenant_number(tenant)
        customers = {}
        lines = ["id,customer_id,time,amount,currency"]
        for c in range(1, 3 + n % 5):
            cid = f"{tenant}-c{c}"
            rows = 1 + (n + c) % 3
            for r in range(rows):
                day = 1 + (n * 7 + c * 3 + r * 5) % 28
                month = 1 + (c + r) % 12
                cents = 100 * n + 37 * c + 11 * r + 5
                stamp = f"2024-{month:02d}-{day:02d}T10:{r:02d}:00Z"
                lines.append(f"{tenant}-x{c}-{r},{cid},{stamp},"
                             f"{cents // 100}.{cents % 100:02d},EUR")
                e = customers.setdefault(
                    cid, {"id": cid, "transactions": 0, "revenue_micros": 0,
                          "first": stamp, "last": stamp})
                e["transactions"] += 1
                e["revenue_micros"] += cents * 10000
                e["first"] = min(e["first"], stamp)
                e["last"] = max(e["last"], stamp)
        with open(os.path.join(args.dir, f"{tenant}.csv"), "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(args.dir, f"{tenant}.expected.json"), "w") as f:
            json.dump(sorted(customers.values(), key=lambda e: e["id"]), f,
                      indent=1)
    return 0


def compare_customers(expected_path, actual_path):
    with open(expected_path) as f:
        expected = {e["id"]: e for e in json.load(f)}
    try:
        with open(actual_path) as f:
            actual_list = json.load(f)
    except (OSError, ValueError) as e:
        return [f"not JSON: {e}"]
    problems = []
    actual = {}
    for c in actual_list:
        if c.get("id") in actual:
            problems.append(f"customer {c.get('id')} listed twice")
        actual[c.get("id")] = c
    for cid in sorted(set(expected) - set(actual)):
        problems.append(f"customer {cid} missing")
    for cid in sorted(set(actual) - set(expected)):
        problems.append(f"unexpected customer {cid}")
    for cid in sorted(set(expected) & set(actual)):
        e, stats = expected[cid], actual[cid].get("purchase_stats", {})
        revenue = stats.get("revenue", {})
        got = {
            "transactions": int(stats.get("transaction_count", 0)),
            "revenue_micros": int(revenue.get("amount_micros", 0)),
            "currency": revenue.get("currency_code", ""),
            "first": stats.get("first_purchase_time", ""),
            "last": stats.get("last_purchase_time", ""),
        }
        want = {"transactions": e["transactions"],
                "revenue_micros": e["revenue_micros"], "currency": "EUR",
                "first": e["first"], "last": e["last"]}
        for k in want:
            if got[k] != want[k]:
                problems.append(f"customer {cid}: {k} is {got[k]!r}, "
                                f"expected {want[k]!r}")
    return problems


def customers(args):
    """Each TENANT=ACTUAL: ACTUAL (`customers list -o json`) must hold
    exactly the customers of EXPECTED_DIR/TENANT.expected.json."""
    failed = 0
    customers_seen = 0
    for pair in args.pairs:
        tenant, actual = pair.split("=", 1)
        problems = compare_customers(
            os.path.join(args.expected_dir, f"{tenant}.expected.json"), actual)
        for p in problems:
            print(f"tenant {tenant} ({actual}): {p}", file=sys.stderr)
        failed += bool(problems)
        if not problems:
            with open(actual) as f:
                customers_seen += len(json.load(f))
    print(f"customers of {len(args.pairs) - failed}/{len(args.pairs)} tenants "
          f"as imported ({customers_seen} customers)")
    return 1 if failed else 0


def read_log(path):
    """The access log's records; a torn last line (being written) is
    skipped, it is read again on the next attempt."""
    records = []
    if not os.path.exists(path):
        return records
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            records.append(json.loads(line))
    return records


def routing_problems(args, shards, tenants, ledger):
    """Returns (problems, homes)."""
    problems = []
    homes = {}
    # Where each tenant's database is.
    db_shards = collections.defaultdict(list)
    for name, data_dir, _ in shards:
        for t in tenants:
            if os.path.exists(os.path.join(data_dir, "tenants", f"{t}.db")):
                db_shards[t].append(name)
    # Which shards logged calls for each tenant, and how many of each method.
    call_shards = collections.defaultdict(set)
    ok_calls = collections.defaultdict(collections.Counter)
    for name, _, logs in shards:
        for log in logs:
            for r in read_log(log):
                t = r.get("tenant", "")
                if not t:
                    continue  # ListTenants, health: no tenant to route by
                if t not in tenants:
                    problems.append(f"{log}: call for unknown tenant {t!r}")
                    continue
                call_shards[t].add(name)
                if r.get("code") == "OK":
                    method = r.get("method", "").rsplit("/", 1)[-1]
                    ok_calls[(t, name)][method] += 1
    for t in tenants:
        if len(db_shards[t]) != 1:
            problems.append(f"tenant {t}: database on {len(db_shards[t])} "
                            f"shards {db_shards[t]} (expected exactly one)")
            continue
        home = db_shards[t][0]
        homes[t] = home
        if call_shards[t] != {home}:
            problems.append(f"tenant {t}: calls logged by shards "
                            f"{sorted(call_shards[t])}, its database is on "
                            f"{home}")
        got = ok_calls[(t, home)]
        for method, want in sorted(ledger[t].items()):
            if got[method] != want:
                problems.append(f"tenant {t}: {home} logged {got[method]} OK "
                                f"{method} calls, the test made {want}")
    counts = collections.Counter(homes.values())
    for name, _, _ in shards:
        if counts[name] == 0:
            problems.append(f"shard {name} holds no tenant "
                            f"(degenerate distribution {dict(counts)})")
    return problems, homes


def routing(args):
    with open(args.tenants) as f:
        tenants = [line.strip() for line in f if line.strip()]
    ledger = collections.defaultdict(collections.Counter)
    with open(args.ledger) as f:
        for line in f:
            if line.strip():
                t, method = line.split()
                ledger[t][method] += 1
    shards = []
    for spec in args.shard:
        name, data_dir, logs = spec.split("=", 2)
        shards.append((name, data_dir, logs.split(",")))
    # A shard logs a call once it has finished on its side, which may be just
    # after the client got its answer: give the last lines a moment.
    deadline = time.monotonic() + args.wait
    while True:
        problems, homes = routing_problems(args, shards, tenants, ledger)
        if not problems or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    for p in problems:
        print(f"routing: {p}", file=sys.stderr)
    if args.homes:
        with open(args.homes, "w") as f:
            for t in tenants:
                f.write(f"{t} {homes.get(t, '-')}\n")
    counts = collections.Counter(homes.values())
    print("tenants per shard: " + ", ".join(
        f"{name} {counts[name]}" for name, _, _ in shards))
    return 1 if problems else 0


def all_tenants(args):
    """Each `tenant list -o json` answer (through the proxy, whose shard asks
    its peers, or merged by the CLI from --shard ...) holds every tenant of
    every shard exactly once, in id order."""
    expected = set()
    with open(args.homes) as f:
        for line in f:
            expected.add(line.split()[0])
    problems = []
    for path in args.answers:
        with open(path) as f:
            ids = [t["id"] for t in json.load(f)]
        if len(ids) != len(set(ids)):
            dup = sorted(t for t, n in collections.Counter(ids).items()
                         if n > 1)
            problems.append(f"{path}: listed more than once: {dup}")
        if set(ids) != expected:
            problems.append(f"{path}: missing {sorted(expected - set(ids))}, "
                            f"unexpected {sorted(set(ids) - expected)}")
        if ids != sorted(ids):
            problems.append(f"{path}: not in id order")
    for p in problems:
        print(f"all-tenants: {p}", file=sys.stderr)
    if not problems:
        print(f"{args.what}: all {len(expected)} tenants, each once, in id "
              f"order ({len(args.answers)} answers)")
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("gen")
    p.add_argument("dir")
    p.add_argument("tenants", nargs="+")
    p.set_defaults(func=gen)
    p = sub.add_parser("customers")
    p.add_argument("expected_dir")
    p.add_argument("pairs", nargs="+", metavar="TENANT=ACTUAL_JSON")
    p.set_defaults(func=customers)
    p = sub.add_parser("routing")
    p.add_argument("--tenants", required=True, help="file, one id a line")
    p.add_argument("--ledger", required=True,
                   help="file of 'TENANT METHOD' lines, one per OK call made")
    p.add_argument("--shard", action="append", required=True,
                   help="NAME=DATA_DIR=LOG[,LOG...]")
    p.add_argument("--homes", help="write 'TENANT SHARD' lines here")
    p.add_argument("--wait", type=float, default=5.0,
                   help="seconds to wait for late access-log lines")
    p.set_defaults(func=routing)
    p = sub.add_parser("all-tenants")
    p.add_argument("--what", default="tenant list",
                   help="what the answers are, for the report")
    p.add_argument("homes")
    p.add_argument("answers", nargs="+")
    p.set_defaults(func=all_tenants)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
