#!/usr/bin/env python3
"""Writes a deterministic synthetic transaction CSV for the custra demo.

Used by deploy/run.sh when the shared reference data is not present: 2,000
customers with Pareto-distributed spend over 2023, a few returns. Columns:
id,customer_id,time,amount,order_id. Same output on every run (seeded).
"""

import random
import sys


def main():
    rng = random.Random(20231)
    out = sys.stdout
    out.write("id,customer_id,time,amount,order_id\n")
    line = 0
    for customer in range(1, 2001):
        orders = max(1, int(rng.paretovariate(1.2)))
        for order in range(min(orders, 60)):
            day = rng.randrange(0, 365)
            month, dom = divmod(day, 28)
            amount = round(rng.lognormvariate(3.5, 0.8), 2)
            if rng.random() < 0.03:
                amount = -round(amount / 2, 2)
            line += 1
            out.write("t%d,c%d,2023-%02d-%02d,%.2f,o%d-%d\n" % (
                line, customer, month % 12 + 1, dom + 1, amount, customer,
                order))


if __name__ == "__main__":
    main()
