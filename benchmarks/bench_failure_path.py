"""Time the suite on the paths a user meets, against the targets of issue 7, and say where the
time goes. Run from the repository root (torch installed): `python benchmarks/bench_failure_path.py`.

    one-bug candidate, quick, Poisson      <= 30 s   (tests/mistakes/candidates.py:poisson_stirling_mask_lt)
    conformant torch, quick, both losses   <= 15 s
    conformant torch, standard, both       <= 60 s
    main job (numpy + torch standard + matrix, after installation)  <= 120 s

Each figure is the wall time of `python -m conformance run ...` as a user runs it, start-up
included. Options: --workers N (default: the CLI's default, one per core), --only NAME.
Figures on a shared machine vary: compare runs made one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUNS = [
    ("one-bug candidate, quick, poisson", 30,
     ["--backend", "torch", "--poisson-fn", "tests/mistakes/candidates.py:poisson_stirling_mask_lt",
      "--loss", "poisson", "--profile", "quick"]),
    ("conformant torch, quick", 15, ["--backend", "torch", "--profile", "quick"]),
    ("conformant torch, standard", 60, ["--backend", "torch", "--profile", "standard"]),
]


def run(args, workers, tmp: Path):
    out = tmp / f"r{time.monotonic_ns()}.json"
    cmd = [sys.executable, "-m", "conformance", "run", *args, "--quiet", "--json", str(out)]
    if workers:
        cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    res = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    return wall, p.returncode, res


def where(res, wall) -> str:
    env = res.get("environment", {})
    t = env.get("timings") or {}
    recs = res.get("records", [])
    busy = sum(r.get("duration_s") or 0 for r in recs)
    checks = t.get("checks_s", env.get("duration_s", wall))
    parts = [f"checks phase {checks:.1f} s (sum of check times {busy:.1f} s over {env.get('workers', 1)} workers)"]
    if t.get("shrink_s"):
        parts.append(f"shrinking {t['shrink_s']:.1f} s")
    # what the workers did not spend inside checks: interpreter and torch import, collection,
    # assembly and writing (the checks phase minus the busiest share, plus time outside the run)
    idle = max(0.0, checks - busy / max(1, env.get("workers", 1))) + max(0.0, wall - (env.get("duration_s") or wall))
    parts.append(f"start-up, collection and assembly about {idle:.1f} s")
    by_ch = {}
    for r in recs:
        by_ch[r.get("chapter") or "?"] = by_ch.get(r.get("chapter") or "?", 0) + (r.get("duration_s") or 0)
    top = sorted(by_ch.items(), key=lambda kv: -kv[1])[:3]
    parts.append("costliest chapters " + ", ".join(f"{k} {v:.1f} s" for k, v in top))
    return "; ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--only", default=None, help="substring of a run's name")
    ap.add_argument("--main-job", action="store_true", help="also time numpy + torch standard + the matrix")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = []
        for name, target, args in RUNS:
            if a.only and a.only not in name:
                continue
            wall, rc, res = run(args, a.workers, tmp)
            f = [x for x in res.get("findings") or [] if x.get("status") != "XFAIL"]
            rows.append((name, target, wall))
            verdict = f"{res.get('verdict')} (exit {rc})" + (f", {len(f)} findings: "
                                                              + ", ".join(x["clause"] for x in f[:4]) if f else "")
            print(f"{name:38s} {wall:6.1f} s  target <= {target} s  {'met' if wall <= target else 'MISSED'}  {verdict}")
            print(f"{'':38s} {where(res, wall)}")
        if a.main_job:
            t0 = time.perf_counter()
            for backend in ("numpy", "torch"):
                run(["--backend", backend, "--report", str(tmp / "rep")], a.workers, tmp)
            subprocess.run([sys.executable, "-m", "conformance", "report", str(tmp), "--out",
                            str(tmp / "rep" / "index.html")], cwd=ROOT, capture_output=True)
            wall = time.perf_counter() - t0
            print(f"{'main job (numpy + torch + matrix)':38s} {wall:6.1f} s  target <= 120 s  "
                  f"{'met' if wall <= 120 else 'MISSED'}")
    print(f"(cores: {os.cpu_count()}; workers: {a.workers or 'one per core'})")


if __name__ == "__main__":
    main()
