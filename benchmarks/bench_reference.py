"""Reference throughput: prints figures, asserts nothing (speed targets live here, not in tests).

    python benchmarks/bench_reference.py [--n 20000]

1. elements/s for value + all first derivatives + allowance, float64, distinct points, one core
   (Poisson log/rate, full on and off; Gaussian), cache cleared before each;
2. the same points again (the cache);
3. an exact 'sum' reduction of 10^7 Poisson elements drawn from a small pool of distinct points.
Target (issue 2): >= 20,000 elements/s in (1); (3) in <= 10 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import mpmath  # noqa: E402

from reference.api import Call, expect  # noqa: E402
from reference.elementwise import cache_clear, element  # noqa: E402


def points(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5, n)
    t = rng.integers(0, 30, n).astype(np.float64) + rng.choice([0.0, 0.5], n)
    v = rng.uniform(1e-7, 10, n)
    return x, t, v


def rate(label, fn, n):
    cache_clear()
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    print(f"{label:48s} {n / dt:10.0f} elements/s  ({dt * 1e6 / n:6.1f} us/element)")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--big", type=int, default=10_000_000)
    a = ap.parse_args()
    n = a.n
    x, t, v = points(n)
    xs, ts, vs = x.tolist(), t.tolist(), v.tolist()
    print(f"python {platform.python_version()}, mpmath {mpmath.__version__} ({mpmath.libmp.BACKEND} backend), "
          f"{platform.machine()}, one process")
    cases = [
        ("poisson log_input=True  full=False float64", "poisson", dict(log_input=True, full=False, eps=1e-8), (xs, ts)),
        ("poisson log_input=True  full=True  float64", "poisson", dict(log_input=True, full=True, eps=1e-8), (xs, ts)),
        ("poisson log_input=False full=True  float64", "poisson", dict(log_input=False, full=True, eps=1e-8),
         ([abs(q) for q in xs], ts)),
        ("gaussian full=False float64", "gaussian", dict(full=False, eps=1e-6), (xs, ts, vs)),
    ]
    for label, loss, params, cols in cases:
        rows = list(zip(*cols))
        rate(label, lambda: [element(loss, r, params, "float64") for r in rows], n)
    rows = list(zip(xs, ts))
    params = dict(log_input=True, full=False, eps=1e-8)
    [element("poisson", r, params, "float64") for r in rows]
    t0 = time.perf_counter()
    [element("poisson", r, params, "float64") for r in rows]
    dt = time.perf_counter() - t0
    print(f"{'poisson, the same points again (cached)':48s} {n / dt:10.0f} elements/s")

    rng = np.random.default_rng(2)
    pool_x = np.array([0.1, -0.3, 0.7, 1.3, -1.1, 0.05, 0.9, 2.5])
    pool_t = np.array([0.0, 1.0, 2.0, 3.0, 1.0, 0.0, 5.0, 7.0])
    idx = rng.integers(0, len(pool_x), size=a.big)
    call = Call("poisson", "functional", {"input": pool_x[idx], "target": pool_t[idx]},
                kwargs={"reduction": "sum", "full": True})
    cache_clear()
    t0 = time.perf_counter()
    exp = expect(call)
    dt = time.perf_counter() - t0
    print(f"exact 'sum' of {a.big:,} Poisson elements (8 distinct points): {dt:.2f} s  "
          f"(= {mpmath.nstr(exp.output.exact[0], 20)})")


if __name__ == "__main__":
    main()
