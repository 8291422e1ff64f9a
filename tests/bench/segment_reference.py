#!/usr/bin/env python3
"""Reference timings for segment_bench: RFM and ABC in pandas.

Usage: segment_reference.py TRANSACTIONS_CSV AS_OF_UNIX_SECONDS REPEATS

The CSV (customer_id,time_us,amount_micros,order_id) is loaded before any
clock starts: the timings are the computation on data already in memory, as
an analyst would run it in a notebook:
  RFM: purchases -> groupby (last purchase, distinct orders), net spend,
       rank quintiles (ties broken by customer id), segment lookup;
  ABC: net spend per customer, sort descending, cumulative share, classes.
Prints one line per model: "<model> <best seconds> <customers>".
"""

import sys
import time

import numpy as np
import pandas as pd


def rfm(df, as_of_us):
    purchases = df[df.amount_micros > 0]
    per = purchases.groupby("customer_id").agg(
        last_us=("time_us", "max"), frequency=("order_id", "nunique"))
    per["monetary"] = df.groupby("customer_id").amount_micros.sum()
    per["recency_days"] = (as_of_us - per.last_us) // 86_400_000_000
    per = per.sort_index()  # Ties broken by customer id.
    n = len(per)
    scores = {}
    for column, ascending in (("recency_days", False), ("frequency", True),
                              ("monetary", True)):
        rank = per[column].rank(method="first", ascending=ascending)
        scores[column] = np.ceil(5 * rank / n).astype(int)
    r, f = scores["recency_days"], scores["frequency"]
    segment = np.select(
        [(r <= 2) & (f <= 2), (r <= 2) & (f <= 4), r <= 2, (r == 3) & (f <= 2),
         (r == 3) & (f == 3), (r <= 4) & (f >= 4), (r == 4) & (f == 1),
         (r == 5) & (f == 1), f <= 3],
        ["Hibernating", "At Risk", "Can't Lose Them", "About To Sleep",
         "Need Attention", "Loyal Customers", "Promising", "New Customers",
         "Potential Loyalists"], "Champions")
    return pd.Series(segment, index=per.index).value_counts(), n


def abc(df):
    buyers = df[df.amount_micros > 0].customer_id.unique()
    value = df.groupby("customer_id").amount_micros.sum().loc[buyers]
    value = value.sort_index().sort_values(ascending=False, kind="mergesort")
    positive = value.clip(lower=0)
    share = positive.cumsum() / positive.sum()
    classes = np.where((value > 0) & (share <= 0.80), "A",
                       np.where((value > 0) & (share <= 0.95), "B", "C"))
    return pd.Series(classes).value_counts(), len(value)


def best_of(repeats, fn, *args):
    best = float("inf")
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    df = pd.read_csv(sys.argv[1], dtype={"customer_id": str, "order_id": str})
    as_of_us = (int(sys.argv[2]) + 86400) * 1_000_000  # End of the as-of day.
    repeats = int(sys.argv[3])
    seconds, (_, n) = best_of(repeats, rfm, df, as_of_us)
    print("rfm %.6f %d" % (seconds, n))
    seconds, (_, n) = best_of(repeats, abc, df)
    print("abc %.6f %d" % (seconds, n))


if __name__ == "__main__":
    main()
