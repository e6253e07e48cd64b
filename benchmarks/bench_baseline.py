"""The suite's power against a baseline, on the mistake catalogue (issue 8, section 6).

For every candidate of tests/mistakes/candidates.py that tests/test_mistakes.py lists (the
mistakes, and the correct twins they are written like), side by side:

(a) this suite, as a user runs it, on the whole loss and unnarrowed:
        python -m conformance run --backend torch --profile quick --loss L --L-fn tests/mistakes/candidates.py:NAME
            --quiet --json OUT [--level strict]
    (`--level strict` where the mistake's clause is a strict one, as its case in test_mistakes.py
    runs it). A mistake is killed "under its clause" when the run exits 1 with a FAIL/ERROR under
    one of the clauses its case names, and killed "at all" when the run exits 1;
(b) the baseline harness of benchmarks/baseline_harness.py: hypothesis + torch.testing.assert_close
    against torch's own function, forward and backward. It runs calibrated as a user would leave it
    once the from-scratch correct twins pass it (PyTorch's two NaN gradients not compared; float16
    rtol/atol 2e-3/1e-3 instead of 1e-3/1e-5, the least loosening that lets poisson_correct pass);
    the raw harness (assert_close's defaults, every element compared) is run on the correct
    candidates too, to show its false alarms. A baseline kill counts as "credible" only where the
    correct twin written the same way passes the same harness.

It prints one row per candidate and the totals. Each candidate runs in its own process for both
harnesses, so both times include start-up; the suite runs its checks on --workers processes (one
per core by default), the baseline on one.

    python benchmarks/bench_baseline.py [--only NAME,...] [--max-examples 300] [--json out.json]
        [--suite-timeout SECONDS] [--skip-suite] [--skip-baseline]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = "tests/mistakes/candidates.py"
HALF_TOL = "2e-3,1e-3"  # the calibration (module docstring)
TWIN = {"gaussian_fused": "gaussian_fused_correct", "gaussian": "gaussian_correct", "poisson": "poisson_correct"}


def catalogue():
    """Rows from tests/test_mistakes.py's CASES: name, loss, kind, clauses, level, xfail reason."""
    spec = importlib.util.spec_from_file_location("lossconform_test_mistakes", ROOT / "tests" / "test_mistakes.py")
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT))
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    rows, seen = [], set()
    for case in mod.CASES:
        if case.name in seen or (case.label and case.exit == 0):  # a mistake's default-level twin run
            continue
        seen.add(case.name)
        clauses = []
        for e in case.expect:
            clauses += [c for c in e.clauses if c not in clauses]
        args = list(case.args)
        level = args[args.index("--level") + 1] if "--level" in args else None
        exps = [args[i + 1] for i, a in enumerate(args) if a == "--expectations"]
        rows.append({"name": case.name, "loss": case.loss, "correct": case.exit == 0, "clauses": clauses,
                     "level": level, "expectations": exps, "xfail": case.xfail})
    return rows


def twin_of(name: str) -> str:
    for prefix, twin in TWIN.items():
        if name.startswith(prefix + "_"):
            return twin
    return name


def run_suite(row, timeout: float | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        out = Path(tmp) / "results.json"
        cmd = [sys.executable, "-m", "conformance", "run", "--backend", "torch", "--profile", "quick",
               "--loss", row["loss"], f"--{row['loss']}-fn", f"{CANDIDATES}:{row['name']}", "--quiet",
               "--json", str(out)]
        if row["level"]:
            cmd += ["--level", row["level"]]
        for e in row["expectations"]:
            cmd += ["--expectations", e]
        if timeout:
            cmd += ["--timeout", str(timeout)]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        secs = time.perf_counter() - t0
        res = json.loads(out.read_text()) if out.exists() else None
    bad = [r for r in (res or {}).get("records", []) if r["status"] in ("FAIL", "ERROR", "CRASH", "TIMEOUT", "XPASS")]
    clauses = set()
    for r in bad:
        clauses |= {f.get("clause") for f in (r.get("failures") or [])} | {r.get("clause")}
    clauses.discard(None)
    return {"exit": proc.returncode, "seconds": round(secs, 1), "killed_any": proc.returncode == 1,
            "killed_clause": proc.returncode == 1 and bool(clauses & set(row["clauses"])),
            "clauses": sorted(clauses), "timeouts": sum(r["status"] == "TIMEOUT" for r in bad),
            "stderr": proc.stderr[-500:] if res is None else ""}


def run_baseline(row, max_examples: int, raw: bool = False) -> dict:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "baseline_harness.py"), "--loss", row["loss"],
           "--fn", f"{CANDIDATES}:{row['name']}", "--max-examples", str(max_examples)]
    cmd += ["--no-workarounds"] if raw else ["--half-tol", HALF_TOL]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    try:
        res = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        res = {"killed": True, "failure": f"harness crashed: {proc.stderr[-300:]}", "example": None}
    res["seconds"] = round(secs, 1)
    return res


def mark(b) -> str:
    return "yes" if b else "-"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="lossconform vs a hypothesis + assert_close baseline on the mistake catalogue")
    p.add_argument("--only", help="comma-separated candidate names")
    p.add_argument("--max-examples", type=int, default=300, help="baseline hypothesis examples per candidate")
    p.add_argument("--suite-timeout", type=float, default=None, help="the suite's --timeout per check")
    p.add_argument("--skip-suite", action="store_true")
    p.add_argument("--skip-baseline", action="store_true")
    p.add_argument("--json", help="write every row here")
    args = p.parse_args(argv)
    rows = catalogue()
    if args.only:
        keep = set(args.only.split(","))
        rows = [r for r in rows if r["name"] in keep]
    t_start = time.perf_counter()
    for i, row in enumerate(rows, 1):
        if not args.skip_suite:
            row["suite"] = run_suite(row, args.suite_timeout)
        if not args.skip_baseline:
            row["baseline"] = run_baseline(row, args.max_examples)
            if row["correct"]:
                row["baseline_raw"] = run_baseline(row, args.max_examples, raw=True)
        s, b = row.get("suite", {}), row.get("baseline", {})
        print(f"[{i}/{len(rows)}] {row['name']}: suite exit {s.get('exit')} ({s.get('seconds')} s), "
              f"baseline {'killed' if b.get('killed') else 'passed'} ({b.get('seconds')} s)", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t_start

    by_name = {r["name"]: r for r in rows}
    for r in rows:
        t = by_name.get(twin_of(r["name"]))
        r["twin"] = twin_of(r["name"])
        r["twin_baseline_passes"] = None if t is None or "baseline" not in t else not t["baseline"]["killed"]

    mistakes = [r for r in rows if not r["correct"]]
    correct = [r for r in rows if r["correct"]]
    print()
    print("| mistake | loss | clause(s) it violates | suite: killed under the clause | suite: any failure | suite s "
          "| baseline: killed | baseline: credible (twin passes) | baseline s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in mistakes:
        s, b = r.get("suite", {}), r.get("baseline", {})
        note = " (xfail)" if r["xfail"] else ""
        lvl = " [strict]" if r["level"] == "strict" else ""
        to = f" ({s['timeouts']} TIMEOUT)" if s.get("timeouts") else ""
        print(f"| {r['name']}{note}{lvl} | {r['loss']} | {', '.join(r['clauses'][:3])} | {mark(s.get('killed_clause'))} "
              f"| {mark(s.get('killed_any'))}{to} | {s.get('seconds', '')} | {mark(b.get('killed'))} "
              f"| {mark(b.get('killed') and r['twin_baseline_passes'])} | {b.get('seconds', '')} |")
    print()
    print("| correct candidate | suite exit | suite s | calibrated baseline | raw baseline (assert_close defaults) |")
    print("| --- | --- | --- | --- | --- |")
    for r in correct:
        s, b, raw = r.get("suite", {}), r.get("baseline", {}), r.get("baseline_raw", {})
        print(f"| {r['name']} | {s.get('exit', '')} | {s.get('seconds', '')} "
              f"| {'FALSE ALARM: ' + (b.get('failure') or '')[:90] if b.get('killed') else 'passes'} "
              f"| {'FALSE ALARM: ' + (raw.get('failure') or '')[:90] if raw.get('killed') else 'passes'} |")
    n = len(mistakes)

    def total(rs, key, sub):
        return sum(1 for r in rs if r.get(key, {}).get(sub))

    st = sum(r.get("suite", {}).get("seconds", 0) for r in rows)
    bt = sum(r.get("baseline", {}).get("seconds", 0) for r in rows) + sum(r.get("baseline_raw", {}).get("seconds", 0)
                                                                          for r in rows)
    credible = sum(1 for r in mistakes if r.get("baseline", {}).get("killed") and r["twin_baseline_passes"])
    print()
    print(f"mistakes: {n}; correct candidates: {len(correct)}")
    if not args.skip_suite:
        print(f"suite (quick, whole loss): killed {total(mistakes, 'suite', 'killed_clause')}/{n} under the expected "
              f"clause, {total(mistakes, 'suite', 'killed_any')}/{n} at all; false alarms "
              f"{sum(1 for r in correct if r.get('suite', {}).get('exit') != 0)}/{len(correct)}; {st:.0f} s in total")
    if not args.skip_baseline:
        print(f"baseline (hypothesis + assert_close, {args.max_examples} examples, calibrated): killed "
              f"{total(mistakes, 'baseline', 'killed')}/{n}, credible (twin passes) {credible}/{n}; false alarms "
              f"{total(correct, 'baseline', 'killed')}/{len(correct)} calibrated, "
              f"{total(correct, 'baseline_raw', 'killed')}/{len(correct)} raw; {bt:.0f} s in total")
    print(f"wall time {wall:.0f} s on {os.cpu_count()} cores")
    print("reproduce: python benchmarks/bench_baseline.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
