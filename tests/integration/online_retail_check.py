#!/usr/bin/env python3
"""Checks a custra import of the UCI Online Retail data against the raw CSVs.

Usage: online_retail_check.py DATA_DIR CUSTOMERS_JSON REJECTS_CSV SUMMARY_FILE

DATA_DIR is the by-day folder of daily CSVs (header InvoiceNo,StockCode,
Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country). The other three
files are what `custra import transactions --format online-retail --rejects`
and `custra -o json customers list` produced for a fresh tenant.

Every expected value is recomputed here from the raw files with the csv module
and decimal.Decimal (no code shared with the server or the CLI):

  - rows without CustomerID are rejected client-side (reason MISSING_FIELD);
  - CustomerID "17850.0" is customer "17850";
  - amount = Quantity x UnitPrice, exactly, in micros (1e-6 units);
  - transaction_count = rows; revenue = sum of amounts; returns = sum of the
    negative amounts; a purchase is a row with amount > 0, or amount = 0
    and Quantity > 0 (free goods);
    first/last_purchase_time = min/max InvoiceDate (UTC) over purchases;
    order_count = distinct InvoiceNo with a purchase row;
    purchase_day_count = distinct UTC days with a purchase row; profit = 0.

Prints a compact report and exits 0 if everything matches, 1 on any mismatch,
2 on bad usage or unreadable input.
"""

import csv
import datetime
import decimal
import json
import os
import re
import sys

EXPECTED_CUSTOMERS = 4372
EXPECTED_ACCEPTED = 406829
EXPECTED_REJECTED = 135080
EXPECTED_DATA_ROWS = 541909
HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
          "UnitPrice", "CustomerID", "Country"]
MICROS = decimal.Decimal(1000000)
EXAMPLES = 5  # mismatch examples shown per check


class Report:
    def __init__(self):
        self.failures = 0
        self.lines = []

    def check(self, name, compared, mismatches):
        """Records one check: `compared` items, `mismatches` a list of strings."""
        if mismatches:
            self.failures += 1
            self.lines.append("FAIL %-34s %d of %d differ" %
                              (name, len(mismatches), compared))
            for m in mismatches[:EXAMPLES]:
                self.lines.append("       " + m)
            if len(mismatches) > EXAMPLES:
                self.lines.append("       ... and %d more" %
                                  (len(mismatches) - EXAMPLES))
        else:
            self.lines.append("ok   %-34s %d compared" % (name, compared))

    def equal(self, name, expected, got):
        self.check(name, 1, [] if expected == got else
                   ["expected %r, got %r" % (expected, got)])


def die(message):
    print("ERROR: " + message, file=sys.stderr)
    sys.exit(2)


def normalize_customer_id(raw):
    """'17850.0' -> '17850'; anything else is kept (stripped)."""
    raw = raw.strip()
    m = re.fullmatch(r"(\d+)\.0", raw)
    return str(int(m.group(1))) if m else raw


def parse_invoice_date(text):
    return datetime.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)


def parse_rfc3339(text):
    """RFC 3339 as printed by protobuf JSON ('Z', optional fraction)."""
    m = re.fullmatch(
        r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?"
        r"(Z|[+-]\d\d:\d\d)", text)
    if not m:
        raise ValueError("not an RFC 3339 time: %r" % text)
    frac = (m.group(7) or "").ljust(6, "0")[:6]
    t = datetime.datetime(*(int(m.group(i)) for i in range(1, 7)),
                          int(frac or 0), tzinfo=datetime.timezone.utc)
    if m.group(8) != "Z":
        sign = 1 if m.group(8)[0] == "+" else -1
        hh, mm = m.group(8)[1:].split(":")
        t -= sign * datetime.timedelta(hours=int(hh), minutes=int(mm))
    return t


def fmt_time(t):
    return "unset" if t is None else t.strftime("%Y-%m-%dT%H:%M:%S") + (
        ".%06dZ" % t.microsecond if t.microsecond else "Z")


def fmt_micros(m):
    return "%s (%s)" % (m, decimal.Decimal(m) / MICROS)


class Expected:
    """Aggregates of one customer recomputed from the CSV."""
    __slots__ = ("transactions", "revenue", "returns", "orders", "days",
                 "first", "last")

    def __init__(self):
        self.transactions = 0
        self.revenue = 0
        self.returns = 0
        self.orders = set()
        self.days = set()
        self.first = None
        self.last = None


def read_data(data_dir):
    """Returns (customers {id: Expected}, missing [(file, line)], stats)."""
    files = sorted(f for f in os.listdir(data_dir)
                   if os.path.isfile(os.path.join(data_dir, f)))
    if not files:
        die("no files in " + data_dir)
    customers = {}
    missing = []
    stats = {"files": len(files), "rows": 0, "accepted": 0, "inexact": []}
    for name in files:
        path = os.path.join(data_dir, name)
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header != HEADER:
                die("%s: unexpected header %r" % (path, header))
            col = {c: i for i, c in enumerate(header)}
            while True:
                first_line = reader.line_num + 1  # 1-based line the row starts on
                row = next(reader, None)
                if row is None:
                    break
                stats["rows"] += 1
                if len(row) != len(HEADER):
                    die("%s:%d: %d fields" % (path, first_line, len(row)))
                if not row[col["InvoiceNo"]].strip():
                    die("%s:%d: empty InvoiceNo (not expected in this data)" %
                        (path, first_line))
                if not row[col["CustomerID"]].strip():
                    missing.append((name, first_line))
                    continue
                stats["accepted"] += 1
                cid = normalize_customer_id(row[col["CustomerID"]])
                quantity = int(row[col["Quantity"]])
                amount = decimal.Decimal(quantity) * decimal.Decimal(
                    row[col["UnitPrice"]]) * MICROS
                if amount != amount.to_integral_value():
                    stats["inexact"].append("%s:%d" % (name, first_line))
                amount = int(amount)
                when = parse_invoice_date(row[col["InvoiceDate"]])
                e = customers.get(cid)
                if e is None:
                    e = customers[cid] = Expected()
                e.transactions += 1
                e.revenue += amount
                if amount < 0:
                    e.returns += amount
                elif amount > 0 or quantity > 0:
                    e.orders.add(row[col["InvoiceNo"]])
                    e.days.add(when.date())
                    if e.first is None or when < e.first:
                        e.first = when
                    if e.last is None or when > e.last:
                        e.last = when
    return customers, missing, stats


def money_micros(stats, field, bad_currency, cid):
    m = stats.get(field)
    if m is None:
        return 0
    code = m.get("currency_code", "")
    if code not in ("", "GBP"):
        bad_currency.append("%s: %s currency %r, expected GBP" % (cid, field, code))
    return int(m.get("amount_micros", "0"))


def check_customers(report, expected, customers_json):
    with open(customers_json, encoding="utf-8") as fh:
        try:
            got_list = json.load(fh)
        except ValueError as e:
            die("%s: not JSON: %s" % (customers_json, e))
    if not isinstance(got_list, list):
        die("%s: not a JSON array" % customers_json)
    got = {}
    dup = []
    for c in got_list:
        if c.get("id") in got:
            dup.append(c.get("id"))
        got[c.get("id")] = c

    report.equal("customers (expected constant)", EXPECTED_CUSTOMERS, len(expected))
    report.equal("customers (server)", len(expected), len(got_list))
    report.check("duplicate customer ids", len(got_list),
                 ["duplicate id %r" % d for d in dup])
    only_exp = sorted(set(expected) - set(got))
    only_got = sorted(set(got) - set(expected), key=str)
    report.check("customer ids", len(expected) + len(only_got),
                 ["missing on server: %s" % i for i in only_exp] +
                 ["unexpected on server: %s" % i for i in only_got])

    common = sorted(set(expected) & set(got))
    fields = {k: [] for k in ("transaction_count", "revenue", "returns",
                              "profit", "order_count", "purchase_day_count",
                              "first_purchase_time", "last_purchase_time",
                              "currency")}
    total_tx = 0
    for cid in common:
        e, s = expected[cid], got[cid].get("purchase_stats", {})
        total_tx += int(s.get("transaction_count", "0"))

        def cmp(field, want, have, fmt=str):
            if want != have:
                fields[field].append("customer %s: %s expected %s, got %s" %
                                     (cid, field, fmt(want), fmt(have)))

        cmp("transaction_count", e.transactions, int(s.get("transaction_count", "0")))
        cmp("order_count", len(e.orders), int(s.get("order_count", "0")))
        cmp("purchase_day_count", len(e.days), int(s.get("purchase_day_count", "0")))
        cur = fields["currency"]
        cmp("revenue", e.revenue, money_micros(s, "revenue", cur, cid), fmt_micros)
        cmp("returns", e.returns, money_micros(s, "returns", cur, cid), fmt_micros)
        cmp("profit", 0, money_micros(s, "profit", cur, cid), fmt_micros)
        for field, want in (("first_purchase_time", e.first),
                            ("last_purchase_time", e.last)):
            text = s.get(field)
            try:
                have = None if text is None else parse_rfc3339(text)
            except ValueError as err:
                fields[field].append("customer %s: %s" % (cid, err))
                continue
            cmp(field, want, have, fmt_time)
    for field, mismatches in fields.items():
        report.check(field, len(common), mismatches)
    report.equal("sum of transaction_count", EXPECTED_ACCEPTED, total_tx)


def check_rejects(report, data_dir, missing, rejects_csv):
    got = []
    bad = []
    data_real = os.path.realpath(data_dir)
    with open(rejects_csv, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        want_cols = ["file", "line", "row_id", "field", "reason", "description"]
        if reader.fieldnames != want_cols:
            die("%s: header %r, expected %r" % (rejects_csv, reader.fieldnames,
                                                 want_cols))
        for r in reader:
            where = "%s:%s" % (r["file"], r["line"])
            if os.path.realpath(os.path.dirname(r["file"]) or ".") != data_real:
                bad.append("%s: file is not in %s" % (where, data_dir))
            if r["reason"] != "MISSING_FIELD":
                bad.append("%s: reason %r, expected MISSING_FIELD" % (where, r["reason"]))
            if r["field"] != "CustomerID":
                bad.append("%s: field %r, expected CustomerID" % (where, r["field"]))
            if r["row_id"]:
                bad.append("%s: row_id %r, expected empty" % (where, r["row_id"]))
            try:
                got.append((os.path.basename(r["file"]), int(r["line"])))
            except ValueError:
                bad.append("%s: line is not a number" % where)
    report.equal("rejected rows (expected constant)", EXPECTED_REJECTED, len(missing))
    report.equal("rejected rows (rejects file)", len(missing), len(got))
    report.check("reject reason/field/file", len(got), bad)
    want_set, got_set = set(missing), set(got)
    diff = (["not rejected: %s:%d" % m for m in sorted(want_set - got_set)] +
            ["wrongly rejected: %s:%d" % m for m in sorted(got_set - want_set)])
    dups = len(got) - len(got_set)
    if dups:
        diff.append("%d duplicate (file, line) entries" % dups)
    report.check("rejected (file, line)", len(missing), diff)


def check_summary(report, summary_file, stats, n_customers, n_missing):
    with open(summary_file, encoding="utf-8") as fh:
        text = fh.read()
    counts = {}
    for m in re.finditer(r"^\s+([a-z][a-z ]*?)\s+(-?\d+)\s*$", text, re.M):
        counts[m.group(1)] = int(m.group(2))
    m = re.search(r"from (\d+) files?: (\d+) rows", text)
    report.equal("summary: files", stats["files"], int(m.group(1)) if m else None)
    report.equal("summary: rows", stats["rows"], int(m.group(2)) if m else None)
    report.equal("summary: accepted", EXPECTED_ACCEPTED, counts.get("accepted"))
    report.equal("summary: accepted (recomputed)", stats["accepted"],
                 counts.get("accepted"))
    report.equal("summary: rejected", EXPECTED_REJECTED, counts.get("rejected"))
    report.equal("summary: rejected (recomputed)", n_missing, counts.get("rejected"))
    report.equal("summary: customers created", EXPECTED_CUSTOMERS,
                 counts.get("customers created"))
    report.equal("summary: customers created (recomputed)", n_customers,
                 counts.get("customers created"))
    if "duplicates" in counts:
        report.equal("summary: duplicates", 0, counts["duplicates"])


def main(argv):
    if len(argv) != 5:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    data_dir, customers_json, rejects_csv, summary_file = argv[1:]
    for p in (customers_json, rejects_csv, summary_file):
        if not os.path.isfile(p):
            die("missing file " + p)
    if not os.path.isdir(data_dir):
        die("not a directory: " + data_dir)

    expected, missing, stats = read_data(data_dir)
    report = Report()
    report.equal("data rows (expected constant)", EXPECTED_DATA_ROWS, stats["rows"])
    report.check("amounts exact in micros", stats["accepted"],
                 ["%s: Quantity x UnitPrice has more than 6 decimals" % w
                  for w in stats["inexact"]])
    check_summary(report, summary_file, stats, len(expected), len(missing))
    check_rejects(report, data_dir, missing, rejects_csv)
    check_customers(report, expected, customers_json)

    print("online_retail_check: %d files, %d rows, %d accepted, %d rejected, "
          "%d customers" % (stats["files"], stats["rows"], stats["accepted"],
                            len(missing), len(expected)))
    print("\n".join(report.lines))
    if report.failures:
        print("FAILED: %d check(s) failed" % report.failures)
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
