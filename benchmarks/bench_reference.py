"""Reference throughput: prints figures, asserts nothing (speed targets live here, not in tests).

    python benchmarks/bench_reference.py [--n 6000] [--big 10000000] [--repeat 3]

1. elements/s for value + all first derivatives + allowance (every output), distinct points, one
   process (one core), in float64, float32 and float16, the in-process memo cleared and the on-disk
   cache off: "before" is the previous implementation measured in this run (the generic algebra
   objects, `elementwise._evaluate_generic`, and the mpf allowance expression), "after" the
   current one (`elementwise.element` and `allowance.allowance`). Target (issue 7): >= 20,000
   elements/s per core at float64.
2. the cache layers on the same points: cold with the on-disk cache on (lookups and writes), warm
   in-process (lru_cache), warm on disk in this process, and a second process evaluating the same
   points, with the cache and without it.
3. an exact 'sum' reduction of 10^7 Poisson elements drawn from a small pool of distinct points.

Rates are elements per CPU second of this process (time.process_time: per core, and less
disturbed by other processes on a shared machine), best of --repeat runs for the "after" figures;
wall times are marked as such.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

import mpmath  # noqa: E402
from mpmath import mpf  # noqa: E402

from reference import cache  # noqa: E402
from reference import elementwise as ew  # noqa: E402
from reference.allowance import allowance  # noqa: E402
from reference.engine import Call, expect  # noqa: E402
from reference.floats import FORMATS  # noqa: E402

TARGET = 20_000


from reference.allowance import allowance_mpf as mpf_allowance  # noqa: E402 - the definition


def points(n, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-5, 5, n)
    t = rng.integers(0, 30, n).astype(np.float64) + rng.choice([0.0, 0.5], n)
    v = rng.uniform(1e-7, 10, n)
    return x.tolist(), t.tolist(), v.tolist()


def cases(n):
    xs, ts, vs = points(n)
    return [
        ("poisson log_input=True  full=False", "poisson", dict(log_input=True, full=False, eps=1e-8), (xs, ts)),
        ("poisson log_input=True  full=True ", "poisson", dict(log_input=True, full=True, eps=1e-8), (xs, ts)),
        ("poisson log_input=False full=True ", "poisson", dict(log_input=False, full=True, eps=1e-8),
         ([abs(q) for q in xs], ts)),
        ("gaussian full=False               ", "gaussian", dict(full=False, eps=1e-6), (xs, ts, vs)),
    ]


def stored(rows, dtype):
    """The operands as stored in `dtype` (what the reference is asked about)."""
    fmt = FORMATS[dtype]
    return [tuple(float(fmt.round(mpf(v))) for v in r) for r in rows]


def after(loss, params, rows, dtype):
    fmt = FORMATS[dtype]
    element = ew.element
    for r in rows:
        e = element(loss, r, params, dtype)
        for b, x in zip(e.bound, e.exact):
            allowance(b, x, fmt)


def elements(loss, params, rows, dtype):
    """What the caches hold: the element (exact values, derivatives, bound), no allowance."""
    element = ew.element
    for r in rows:
        element(loss, r, params, dtype)


def before(loss, params, rows, dtype):
    fmt = FORMATS[dtype]
    for r in rows:
        e = ew._evaluate_generic(loss, ew._with_g(loss, r), ew._params_key(params), dtype, dtype)
        for b, x in zip(e.bound, e.exact):
            mpf_allowance(b, x, fmt)


def timed(fn, *args, repeat=1, clear=True):
    best = math.inf
    for _ in range(repeat):
        if clear:
            ew.cache_clear()
        t0 = time.process_time()
        fn(*args)
        best = min(best, time.process_time() - t0)
    return best


def second_process(loss, params, rows, dtype, cache_dir, switch):
    """Run the same evaluation in a fresh interpreter; returns (elements/s, wall seconds incl. start-up)."""
    env = dict(os.environ, **{cache.ENV_DIR: cache_dir, cache.ENV_SWITCH: switch})
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], input=json.dumps(
        dict(loss=loss, params=params, rows=rows, dtype=dtype)), capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t0
    return len(rows) / float(out.stdout.strip()), wall


def child():
    job = json.loads(sys.stdin.read())
    rows = [tuple(r) for r in job["rows"]]
    t0 = time.process_time()
    elements(job["loss"], job["params"], rows, job["dtype"])
    cache.flush()
    print(time.process_time() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=6000, help="distinct points per case")
    ap.add_argument("--big", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child()
    n = a.n
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, mpmath {mpmath.__version__} ({mpmath.libmp.BACKEND} backend), "
          f"{platform.machine()}, {os.cpu_count()} cores, one process; load average {load:.2f}")

    # 1. cold: value + derivatives + allowance, memo cleared, disk cache off
    os.environ[cache.ENV_SWITCH] = "off"
    cache.reset()
    print(f"\n1. value + all first derivatives + allowance, {n} distinct points, cold, one core "
          f"(target >= {TARGET:,} elements/s at float64)")
    print(f"   {'case':36s} {'dtype':8s} {'before':>10s} {'after':>10s} {'speed-up':>8s}  target")
    worst = math.inf
    for label, loss, params, cols in cases(n):
        for dtype in ("float64", "float32", "float16"):
            rows = stored(list(zip(*cols)), dtype)
            n_before = max(n // 4, 1)
            t_before = timed(before, loss, params, rows[:n_before], dtype) / n_before
            t_after = timed(after, loss, params, rows, dtype, repeat=a.repeat) / n
            rate = 1 / t_after
            verdict = ""
            if dtype == "float64":
                worst = min(worst, rate)
                verdict = "met" if rate >= TARGET else f"missed by {100 * (1 - rate / TARGET):.0f}%"
            print(f"   {label} {dtype:8s} {1 / t_before:10,.0f} {rate:10,.0f} {t_before / t_after:7.1f}x  {verdict}")
    print(f"   slowest float64 case: {worst:,.0f} elements/s ({1e6 / worst:.0f} us/element)")
    # the targets above are counts (repeated values: log(t) and log(2*pi*t) come from the memo of
    # exp and log); with every target distinct nothing repeats
    rng = np.random.default_rng(3)
    rows = stored(list(zip(points(n)[0], rng.uniform(1.5, 30, n).tolist())), "float64")
    params = dict(log_input=True, full=True, eps=1e-8)
    t_before = timed(before, "poisson", params, rows[:max(n // 4, 1)], "float64") / max(n // 4, 1)
    t_after = timed(after, "poisson", params, rows, "float64", repeat=a.repeat) / n
    verdict = "met" if 1 / t_after >= TARGET else f"missed by {100 * (1 - t_after ** -1 / TARGET):.0f}%"
    print(f"   {'poisson log_input=True  full=True, every target distinct':55s} {1 / t_before:10,.0f} {1 / t_after:10,.0f} "
          f"{t_before / t_after:7.1f}x  {verdict}")

    # 2. the cache layers, on the Poisson log_input=True full=True float64 points
    label, loss, params, cols = cases(n)[1]
    rows = stored(list(zip(*cols)), "float64")
    print(f"\n2. caches: {label.strip()} float64, the same {n} points, elementwise.element "
          f"(value + derivatives + bound; no allowance), elements/s")
    t_cold = timed(elements, loss, params, rows, "float64", repeat=a.repeat)
    with tempfile.TemporaryDirectory() as d:
        os.environ[cache.ENV_SWITCH] = "on"
        t_write = math.inf
        for r in range(a.repeat):  # each a first run on an empty cache: lookups skipped, every element written
            os.environ[cache.ENV_DIR] = os.path.join(d, f"run{r}")
            cache.reset()
            ew.cache_clear()
            t0 = time.process_time()
            elements(loss, params, rows, "float64")
            cache.flush()
            t_write = min(t_write, time.process_time() - t0)
        t_mem = timed(elements, loss, params, rows, "float64", repeat=a.repeat, clear=False)
        t_disk = timed(elements, loss, params, rows, "float64", repeat=a.repeat)
        cache.reset()
        here = os.environ[cache.ENV_DIR]
        rate2_on, wall_on = second_process(loss, params, rows, "float64", here, "on")
        fresh = tempfile.mkdtemp(dir=d)
        rate2_off, wall_off = second_process(loss, params, rows, "float64", fresh, "off")
        size = sum(os.path.getsize(os.path.join(here, f)) for f in os.listdir(here) if f.endswith(".sqlite3"))
    print(f"   cold, on-disk cache off                     {n / t_cold:10,.0f}")
    print(f"   cold, on-disk cache on (first run: writes)  {n / t_write:10,.0f}")
    print(f"   warm, in-process memo (lru_cache)           {n / t_mem:10,.0f}")
    print(f"   warm, on-disk cache, this process           {n / t_disk:10,.0f}")
    print(f"   second process, on-disk cache               {rate2_on:10,.0f}   ({wall_on:.2f} s wall incl. start-up)")
    print(f"   second process, cache off                   {rate2_off:10,.0f}   ({wall_off:.2f} s wall incl. start-up)")
    print(f"   cache file: {size / n:.0f} bytes per element")
    os.environ[cache.ENV_SWITCH] = "off"
    cache.reset()

    # 3. a large exact reduction
    rng = np.random.default_rng(2)
    pool_x = np.array([0.1, -0.3, 0.7, 1.3, -1.1, 0.05, 0.9, 2.5])
    pool_t = np.array([0.0, 1.0, 2.0, 3.0, 1.0, 0.0, 5.0, 7.0])
    idx = rng.integers(0, len(pool_x), size=a.big)
    call = Call("poisson", "functional", {"input": pool_x[idx], "target": pool_t[idx]},
                kwargs={"reduction": "sum", "full": True})
    ew.cache_clear()
    t0 = time.perf_counter()
    exp = expect(call)
    dt = time.perf_counter() - t0
    print(f"\n3. exact 'sum' of {a.big:,} Poisson elements (8 distinct points): {dt:.2f} s  "
          f"(= {mpmath.nstr(exp.output.exact[0], 20)})")


if __name__ == "__main__":
    main()
