#!/usr/bin/env python3
"""Reference timings for clv_bench: the BG/NBD fit in SciPy.

Usage: clv_reference.py SUMMARY_CSV R ALPHA A B [REPEATS]

SUMMARY_CSV has the header x,t_x,T,weight (one row per distinct customer
summary, weight = number of identical customers), as clv_bench writes it.
R ALPHA A B is the starting point (clv_bench passes the first start of
custra's FitCountModel, so both sides start from the same point).

The data is loaded before any clock starts; only the scipy.optimize.minimize
call is timed (best of REPEATS, default 3). The objective is the weighted
BG/NBD log-likelihood of Fader, Hardie & Lee (2005), eq. 6, vectorised in
NumPy with scipy.special.gammaln, per customer (divided by the total weight,
as custra does), in log-parameter space with the bounds custra uses
([-10, 10]). Two variants, both L-BFGS-B:
  analytic: jac=True with the analytic gradient (digamma);
  numeric:  SciPy's default finite-difference gradient (what a typical
            notebook does).
Prints one line per variant:
  "<variant> <best seconds> <function evaluations> <log-likelihood> <r> <alpha> <a> <b>"
"""

import sys
import time

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, gammaln


def make_objective(x, t_x, T, w):
    total = w.sum()
    repeat = x > 0
    xm1 = np.where(repeat, x - 1, 0.0)

    def negll(log_params, with_gradient):
        r, alpha, a, b = np.exp(log_params)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        log_T = np.log(alpha + T)
        log_t = np.log(alpha + t_x)
        l3 = -(r + x) * log_T
        l4 = np.where(repeat,
                      np.log(a) - np.log(b + xm1) - (r + x) * log_t, -np.inf)
        mix = np.logaddexp(l3, l4)
        value = -np.dot(w, a1 + a2 + mix) / total
        if not with_gradient:
            return value
        p4 = np.exp(l4 - mix)
        p3 = 1 - p4
        g_r = digamma(r + x) - digamma(r) + np.log(alpha) - (p3 * log_T +
                                                            p4 * log_t)
        g_alpha = r / alpha - (r + x) * (p3 / (alpha + T) + p4 /
                                         (alpha + t_x))
        g_a = digamma(a + b) - digamma(a + b + x) + p4 / a
        g_b = (digamma(a + b) + digamma(b + x) - digamma(b) -
               digamma(a + b + x) - np.where(repeat, p4 / (b + xm1), 0.0))
        grad = -np.array([r * np.dot(w, g_r), alpha * np.dot(w, g_alpha),
                          a * np.dot(w, g_a), b * np.dot(w, g_b)]) / total
        return value, grad

    return negll, total


def main():
    path = sys.argv[1]
    start = np.log(np.array([float(v) for v in sys.argv[2:6]]))
    repeats = int(sys.argv[6]) if len(sys.argv) > 6 else 3
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    x, t_x, T, w = (np.ascontiguousarray(data[:, k]) for k in range(4))
    negll, total = make_objective(x, t_x, T, w)
    bounds = [(-10, 10)] * 4
    variants = {
        "analytic": dict(fun=lambda p: negll(p, True), jac=True),
        "numeric": dict(fun=lambda p: negll(p, False)),
    }
    for name, kwargs in variants.items():
        best, result = None, None
        for _ in range(repeats):
            began = time.perf_counter()
            result = minimize(x0=start, method="L-BFGS-B", bounds=bounds,
                              **kwargs)
            elapsed = time.perf_counter() - began
            best = elapsed if best is None else min(best, elapsed)
        params = np.exp(result.x)
        print(name, f"{best:.6f}", result.nfev, f"{-result.fun * total:.6f}",
              " ".join(f"{v:.6f}" for v in params), flush=True)


if __name__ == "__main__":
    main()
