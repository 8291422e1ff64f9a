#!/usr/bin/env python3
"""Checks custra's RFM and ABC runs on the UCI Online Retail data with pandas.

Usage: segmentation_check.py DATA_DIR RFM_RUN_JSON RFM_MEMBERS_JSON
                             ABC_RUN_JSON ABC_MEMBERS_JSON

DATA_DIR is the by-day folder of daily CSVs (header InvoiceNo,StockCode,
Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country). The run files
are what `custra segment rfm|abc --as-of 2011-12-09 -o json` printed for a
tenant holding exactly that data; the members files what `custra runs members
RUN_ID --limit 0 -o json` printed for those runs (every member).

Every expected value is recomputed here from the raw files with pandas and
integer arithmetic (no code shared with the server or the CLI), following
protos/custra/v1/segmentation.proto:

  - rows without CustomerID are not imported; CustomerID "17850.0" is
    customer "17850"; amount = Quantity x UnitPrice exactly, in int64 micros;
    InvoiceDate is UTC;
  - window: all history up to AS_OF (inclusive, by UTC date); a purchase row
    has amount > 0, or amount = 0 and Quantity > 0 (free goods); the
    population is the customers with >= 1 purchase row;
  - RFM: recency_days = AS_OF - UTC date of the last purchase row; frequency =
    distinct InvoiceNo with a purchase row; monetary = net sum of all the
    customer's amounts in the window. Each dimension is sorted ascending
    (recency: days descending), ties by customer id ascending byte-wise; rank
    i (1-based) of n scores ceil(5 i / n). Segments: the default (R, F) map;
  - ABC (revenue, value-share mode, cut-offs 0.80 / 0.95): rank by monetary
    descending, ties by id ascending; cumulative share = integer running sum
    of the positive values / their total; A if value > 0 and share <= 0.80,
    B if value > 0 and share <= 0.95, else C.

Prints a compact report and exits 0 if everything matches, 1 on any mismatch,
2 on bad usage or unreadable input.
"""

import datetime
import decimal
import json
import os
import re
import sys

import numpy as np
import pandas as pd

AS_OF = datetime.date(2011, 12, 9)
# Customers with a purchase row as of AS_OF: 4,338 with a positive amount,
# plus one whose only purchase rows are free goods (UnitPrice 0).
EXPECTED_MEMBERS = 4339
HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate",
          "UnitPrice", "CustomerID", "Country"]
MICROS = decimal.Decimal(1000000)
A_CUTOFF, B_CUTOFF = 0.80, 0.95
SHARE_EPS = 1e-12  # tolerance of the cut-off comparisons
EXAMPLES = 5  # mismatch examples shown per check

RFM_SEGMENTS = ["Hibernating", "At Risk", "Can't Lose Them", "About To Sleep",
                "Need Attention", "Loyal Customers", "Promising",
                "New Customers", "Potential Loyalists", "Champions"]
ABC_SEGMENTS = ["A", "B", "C"]


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


def fmt_micros(m):
    return "%s (%s)" % (m, decimal.Decimal(m) / MICROS)


# --- expected values ---------------------------------------------------------

def normalize_customer_id(raw):
    """'17850.0' -> '17850'; anything else is kept (stripped)."""
    raw = raw.strip()
    m = re.fullmatch(r"(\d+)\.0", raw)
    return str(int(m.group(1))) if m else raw


def price_micros(text):
    """UnitPrice text -> int micros; dies if it has more than 6 decimals."""
    d = decimal.Decimal(text.strip()) * MICROS
    if d != d.to_integral_value():
        die("UnitPrice %r is not a whole number of micros" % text)
    return int(d)


def read_rows(data_dir):
    """Every imported row: customer (str), invoice (str), day (date), amount
    (int64 micros)."""
    files = sorted(f for f in os.listdir(data_dir)
                   if os.path.isfile(os.path.join(data_dir, f)))
    if not files:
        die("no files in " + data_dir)
    frames = []
    for name in files:
        path = os.path.join(data_dir, name)
        df = pd.read_csv(path, dtype=str, keep_default_na=False,
                         encoding="utf-8")
        if list(df.columns) != HEADER:
            die("%s: unexpected header %r" % (path, list(df.columns)))
        frames.append(df[["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice",
                          "CustomerID"]])
    raw = pd.concat(frames, ignore_index=True)
    n_rows = len(raw)
    raw = raw[raw["CustomerID"].str.strip() != ""]

    ids = {v: normalize_customer_id(v) for v in raw["CustomerID"].unique()}
    prices = {v: price_micros(v) for v in raw["UnitPrice"].unique()}
    rows = pd.DataFrame({
        "customer": raw["CustomerID"].map(ids),
        "invoice": raw["InvoiceNo"],
        "time": pd.to_datetime(raw["InvoiceDate"].str.strip(),
                               format="%Y-%m-%d %H:%M:%S", utc=True),
        "amount": (raw["Quantity"].astype(np.int64) *
                   raw["UnitPrice"].map(prices).astype(np.int64)),
        "quantity": raw["Quantity"].astype(np.int64),
    })
    if rows["amount"].dtype != np.int64:
        die("amounts are not int64 (%s)" % rows["amount"].dtype)
    rows["day"] = rows["time"].dt.date
    return rows.reset_index(drop=True), len(files), n_rows


def quintile_scores(df, value_col, descending):
    """Score 1-5 by rank: ascending by value (descending if asked), ties by
    customer id ascending; rank i of n scores ceil(5 i / n)."""
    key = -df[value_col] if descending else df[value_col]
    # Stable sort by id first, then by value: ties keep the id order.
    order = df.assign(_key=key).sort_values("customer", kind="mergesort")
    order = order.sort_values("_key", kind="mergesort")
    n = len(order)
    i = np.arange(1, n + 1, dtype=np.int64)
    return pd.Series((5 * i + n - 1) // n, index=order.index)


def rfm_segment(r, f):
    if r <= 2:
        return ("Hibernating" if f <= 2 else
                "At Risk" if f <= 4 else "Can't Lose Them")
    if r == 3:
        return ("About To Sleep" if f <= 2 else
                "Need Attention" if f == 3 else "Loyal Customers")
    if f >= 4:
        return "Loyal Customers" if r == 4 else "Champions"
    if f == 1:
        return "Promising" if r == 4 else "New Customers"
    return "Potential Loyalists"  # R4-5 / F2-3


def expected_rfm(rows):
    window = rows[rows["day"] <= AS_OF]
    purchases = window[(window["amount"] > 0) |
                       ((window["amount"] == 0) & (window["quantity"] > 0))]
    per = pd.DataFrame({
        "last_day": purchases.groupby("customer")["day"].max(),
        "frequency": purchases.groupby("customer")["invoice"].nunique(),
    })
    per["monetary"] = window.groupby("customer")["amount"].sum().reindex(
        per.index)
    per = per.rename_axis("customer").reset_index()
    per["recency_days"] = per["last_day"].map(lambda d: (AS_OF - d).days)
    per["frequency"] = per["frequency"].astype(np.int64)
    per["monetary"] = per["monetary"].astype(np.int64)
    per["recency_days"] = per["recency_days"].astype(np.int64)
    per["r"] = quintile_scores(per, "recency_days", descending=True)
    per["f"] = quintile_scores(per, "frequency", descending=False)
    per["m"] = quintile_scores(per, "monetary", descending=False)
    per["segment"] = [rfm_segment(r, f) for r, f in zip(per["r"], per["f"])]
    per["rfm_code"] = (per["r"].astype(str) + per["f"].astype(str) +
                       per["m"].astype(str))
    return per.set_index("customer", drop=False)


def expected_abc(rfm):
    df = rfm[["customer", "monetary"]].reset_index(drop=True)
    df = df.sort_values("customer", kind="mergesort")
    df = df.assign(_key=-df["monetary"]).sort_values("_key", kind="mergesort")
    df = df.drop(columns="_key").reset_index(drop=True)
    df["rank"] = np.arange(1, len(df) + 1, dtype=np.int64)
    positive = df["monetary"].clip(lower=0)
    total = int(positive.sum())
    running = positive.cumsum()
    # Exact integer running sums, divided once (Python int / int rounds
    # correctly).
    df["cum_share"] = [int(c) / total if total > 0 else 0.0 for c in running]
    df["value_share"] = [int(p) / total if total > 0 else 0.0
                         for p in positive]
    pos = df["monetary"] > 0
    df["segment"] = np.where(
        pos & (df["cum_share"] <= A_CUTOFF + SHARE_EPS), "A",
        np.where(pos & (df["cum_share"] <= B_CUTOFF + SHARE_EPS), "B", "C"))
    return df.set_index("customer", drop=False), total


# --- server output -----------------------------------------------------------

def camel(name):
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def get(obj, name, default=None):
    """A protobuf JSON field by its proto name or its lowerCamelCase name."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    return obj.get(camel(name), default)


def get_int(obj, name):
    """An int32 / int64 field (int64 is a JSON string); absent means 0."""
    return int(get(obj, name, 0))


def get_micros(obj, name, bad_currency, where):
    m = get(obj, name)
    if m is None:
        return 0
    code = get(m, "currency_code", "")
    if code not in ("", "GBP"):
        bad_currency.append("%s: %s currency %r, expected GBP" %
                            (where, name, code))
    return int(get(m, "amount_micros", 0))


def load_json(path, kind):
    with open(path, encoding="utf-8") as fh:
        try:
            value = json.load(fh)
        except ValueError as e:
            die("%s: not JSON: %s" % (path, e))
    if not isinstance(value, kind):
        die("%s: not a JSON %s" % (path, "array" if kind is list else "object"))
    return value


def date_of(d):
    """custra.v1.Date as JSON -> datetime.date (None if unset)."""
    if not d:
        return None
    return datetime.date(get_int(d, "year"), get_int(d, "month"),
                         get_int(d, "day"))


def check_run(report, label, run, model, expected_counts, n_expected):
    """Run-level checks: model, as-of, window, customer_count, segment counts."""
    report.equal("%s: model" % label, model, get(run, "model"))
    report.equal("%s: as_of_date" % label, AS_OF, date_of(get(run, "as_of_date")))
    report.equal("%s: window_start_date" % label, None,
                 date_of(get(run, "window_start_date")))
    report.equal("%s: customer_count" % label, n_expected,
                 get_int(run, "customer_count"))
    got = [(get(s, "segment", ""), get_int(s, "customer_count"))
           for s in get(run, "segments", [])]
    want = [(name, int(expected_counts.get(name, 0)))
            for name in (RFM_SEGMENTS if label == "rfm" else ABC_SEGMENTS)]
    mismatches = []
    if [g[0] for g in got] != [w[0] for w in want]:
        mismatches.append("segments %r, expected %r" %
                          ([g[0] for g in got], [w[0] for w in want]))
    got_counts = dict(got)
    for name, count in want:
        if got_counts.get(name) != count:
            mismatches.append("%s: expected %d customers, got %s" %
                              (name, count, got_counts.get(name)))
    report.check("%s: segment counts" % label, len(want), mismatches)


def index_members(report, label, members, expected_ids):
    got = {}
    dup = []
    for m in members:
        cid = get(m, "customer_id")
        if cid in got:
            dup.append(cid)
        got[cid] = m
    report.equal("%s: members (server)" % label, len(expected_ids), len(members))
    report.check("%s: duplicate member ids" % label, len(members),
                 ["duplicate id %r" % d for d in dup])
    only_exp = sorted(set(expected_ids) - set(got))
    only_got = sorted(set(got) - set(expected_ids), key=str)
    report.check("%s: member ids" % label, len(expected_ids) + len(only_got),
                 ["missing on server: %s" % i for i in only_exp] +
                 ["unexpected on server: %s" % i for i in only_got])
    return got


def check_rfm(report, rfm, run, members):
    counts = rfm["segment"].value_counts().to_dict()
    check_run(report, "rfm", run, "SEGMENTATION_MODEL_RFM", counts, len(rfm))
    got = index_members(report, "rfm", members, list(rfm.index))
    fields = {k: [] for k in ("segment", "recency_days", "frequency",
                              "monetary", "revenue", "recency_score",
                              "frequency_score", "monetary_score", "rfm_code",
                              "last_purchase_date", "currency")}
    common = sorted(set(rfm.index) & set(got))
    for cid in common:
        e, m = rfm.loc[cid], got[cid]
        d = get(m, "rfm", {})
        cur = fields["currency"]

        def cmp(field, want, have, fmt=str):
            if want != have:
                fields[field].append("customer %s: %s expected %s, got %s" %
                                     (cid, field, fmt(want), fmt(have)))

        cmp("segment", e["segment"], get(m, "segment", ""))
        cmp("recency_days", int(e["recency_days"]), get_int(d, "recency_days"))
        cmp("frequency", int(e["frequency"]), get_int(d, "frequency"))
        cmp("monetary", int(e["monetary"]),
            get_micros(d, "monetary", cur, cid), fmt_micros)
        cmp("revenue", int(e["monetary"]),
            get_micros(m, "revenue", cur, cid), fmt_micros)
        cmp("recency_score", int(e["r"]), get_int(d, "recency_score"))
        cmp("frequency_score", int(e["f"]), get_int(d, "frequency_score"))
        cmp("monetary_score", int(e["m"]), get_int(d, "monetary_score"))
        cmp("rfm_code", e["rfm_code"], get(d, "rfm_code", ""))
        cmp("last_purchase_date", e["last_day"],
            date_of(get(d, "last_purchase_date")))
    for field, mismatches in fields.items():
        report.check("rfm: " + field, len(common), mismatches)


def check_abc(report, abc, total, run, members):
    counts = abc["segment"].value_counts().to_dict()
    check_run(report, "abc", run, "SEGMENTATION_MODEL_ABC", counts, len(abc))
    result = get(run, "abc", {})
    bad_currency = []
    report.equal("abc: positive_value_total", total,
                 get_micros(result, "positive_value_total", bad_currency, "run"))
    report.equal("abc: non_positive_customer_count",
                 int((abc["monetary"] <= 0).sum()),
                 get_int(result, "non_positive_customer_count"))
    got = index_members(report, "abc", members, list(abc.index))
    fields = {k: [] for k in ("segment", "rank", "value", "revenue",
                              "cumulative_value_share", "currency")}
    fields["currency"] = bad_currency
    common = sorted(set(abc.index) & set(got))
    for cid in common:
        e, m = abc.loc[cid], got[cid]
        d = get(m, "abc", {})

        def cmp(field, want, have, fmt=str):
            if want != have:
                fields[field].append("customer %s: %s expected %s, got %s" %
                                     (cid, field, fmt(want), fmt(have)))

        cmp("segment", e["segment"], get(m, "segment", ""))
        cmp("rank", int(e["rank"]), get_int(d, "rank"))
        cmp("value", int(e["monetary"]),
            get_micros(d, "value", bad_currency, cid), fmt_micros)
        cmp("revenue", int(e["monetary"]),
            get_micros(m, "revenue", bad_currency, cid), fmt_micros)
        share = float(get(d, "cumulative_value_share", 0.0))
        if abs(share - float(e["cum_share"])) > 1e-9:
            cmp("cumulative_value_share", float(e["cum_share"]), share, repr)
    for field, mismatches in fields.items():
        report.check("abc: " + field, len(common), mismatches)


def abc_boundaries(abc):
    """The cumulative shares around each cut-off, to show how close it is."""
    lines = []
    for cls, cutoff in (("A", A_CUTOFF), ("B", B_CUTOFF)):
        inside = abc[abc["segment"] == cls]
        if inside.empty:
            continue
        last = inside.iloc[-1]
        nxt = abc[abc["rank"] == last["rank"] + 1]
        lines.append("  %s ends at rank %d (customer %s, cum share %.12f); "
                     "next %s (cum share %s); cut-off %.2f" % (
                         cls, last["rank"], last["customer"], last["cum_share"],
                         nxt["customer"].iloc[0] if len(nxt) else "-",
                         "%.12f" % nxt["cum_share"].iloc[0] if len(nxt) else "-",
                         cutoff))
    return lines


def main(argv):
    if len(argv) != 6:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    data_dir = argv[1]
    files = argv[2:]
    for p in files:
        if not os.path.isfile(p):
            die("missing file " + p)
    if not os.path.isdir(data_dir):
        die("not a directory: " + data_dir)
    rfm_run = load_json(files[0], dict)
    rfm_members = load_json(files[1], list)
    abc_run = load_json(files[2], dict)
    abc_members = load_json(files[3], list)

    rows, n_files, n_rows = read_rows(data_dir)
    rfm = expected_rfm(rows)
    abc, total = expected_abc(rfm)

    report = Report()
    report.equal("members (expected constant)", EXPECTED_MEMBERS, len(rfm))
    check_rfm(report, rfm, rfm_run, rfm_members)
    check_abc(report, abc, total, abc_run, abc_members)

    print("segmentation_check: %d files, %d rows, %d imported, %d customers "
          "with a purchase as of %s" % (n_files, n_rows, len(rows), len(rfm),
                                        AS_OF.isoformat()))
    print("  RFM segments: " + ", ".join(
        "%s %d" % (s, (rfm["segment"] == s).sum()) for s in RFM_SEGMENTS))
    print("  ABC classes: " + ", ".join(
        "%s %d" % (s, (abc["segment"] == s).sum()) for s in ABC_SEGMENTS) +
        "; positive value total " + fmt_micros(total))
    print("\n".join(abc_boundaries(abc)))
    print("\n".join(report.lines))
    if report.failures:
        print("FAILED: %d check(s) failed" % report.failures)
        return 1
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
