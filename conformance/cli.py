"""`python -m conformance`: run the checks against a backend, list backends, merge reports.

    run      --backend NAME [--poisson-fn SPEC] [--gaussian-fn SPEC] [--loss L,..] [--dtype D,..]
             [--profile quick|standard|thorough] [--level core|api|strict] [--expectations FILE]
             [--json PATH] [--report DIR] [--junit PATH] [--seed N] [--explore]
             [--save-counterexamples DIR] [--timeout SECONDS]
    list     the backends and, for each, whether it can run here (and why not)
    report   RESULTS.json... --out reports/index.html   (a page per run plus the matrix)

Exit codes: 0 conformant (failures only where expected), 1 unexpected failures or stale
expectations, 2 usage or configuration error, 3 backend unavailable.

The checks run in a child pytest process that appends one JSON record per check to a file; this
parent watches it, so a backend that crashes the process (CRASH) or hangs (TIMEOUT) costs one
check, not the run: the child is restarted on the checks not yet done.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("PASS", "FAIL", "XFAIL", "XPASS", "ERROR", "CRASH", "TIMEOUT", "NA", "SKIP")
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
SCHEMA_VERSION = 1


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m conformance", description="lossconform: conformance of loss functions")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="check a backend against the spec")
    r.add_argument("--backend", required=True)
    r.add_argument("--poisson-fn")
    r.add_argument("--gaussian-fn")
    r.add_argument("--loss", help="comma-separated: poisson,gaussian")
    r.add_argument("--dtype", help="comma-separated: float16,bfloat16,float32,float64")
    r.add_argument("--check", help="comma-separated check-id patterns to run, e.g. 'poisson.values*,*float16*'")
    r.add_argument("--profile", default="standard", choices=("quick", "standard", "thorough"))
    r.add_argument("--level", choices=("core", "api", "strict"))
    r.add_argument("--expectations", help="expectations TOML (default: expectations/<backend>.toml)")
    r.add_argument("--no-expectations", action="store_true")
    r.add_argument("--json", help="write the results JSON here")
    r.add_argument("--report", help="write the HTML page into this directory")
    r.add_argument("--junit", help="write JUnit XML here")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--explore", action="store_true", help="fresh random cases, persistent hypothesis database")
    r.add_argument("--save-counterexamples", help="save failing calls into this replay-corpus directory")
    r.add_argument("--timeout", type=float, default=600.0, help="seconds one check may run (TIMEOUT past it)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    sub.add_parser("list", help="list backends")
    m = sub.add_parser("report", help="render pages and the matrix from results JSON files")
    m.add_argument("results", nargs="+", help="results JSON files, or directories of them")
    m.add_argument("--out", default="reports/index.html")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "list":
            return cmd_list()
        if args.cmd == "report":
            return cmd_report(args)
        return cmd_run(args)
    except UsageError as exc:
        print(f"lossconform: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lossconform: interrupted", file=sys.stderr)
        return 130


# --- list --------------------------------------------------------------------------------------
def cmd_list() -> int:
    sys.path.insert(0, str(ROOT))
    import adapters

    for name in adapters.REGISTRY:
        try:
            a = adapters.make(name)
            ok, why = a.available()
            ver = a.version() if ok else ""
        except Exception as exc:  # noqa: BLE001 - a broken adapter is reported, not raised
            ok, why, ver = False, f"adapter failed to load: {type(exc).__name__}: {exc}", ""
        print(f"{name:12s} {'available' if ok else 'unavailable'}  {ver if ok else why}")
    return EXIT_OK


# --- report ------------------------------------------------------------------------------------
def cmd_report(args) -> int:
    sys.path.insert(0, str(ROOT))
    from reports import render

    paths = []
    for path in args.results:  # a directory stands for every *.json in it
        p = Path(path)
        paths += sorted(p.glob("*.json")) if p.is_dir() else [p]
    if not paths:
        raise UsageError(f"no results JSON in {', '.join(args.results)}")
    runs = []
    for path in paths:
        try:
            runs.append(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{path}: cannot read results JSON: {exc}") from None
    out = Path(args.out)
    for res in runs:
        render.write_run(res, out.parent / render.page_name(res))
    render.write_matrix(runs, out)
    print(f"report: {out}")
    for res in runs:
        env = res.get("environment", {}) if isinstance(res, dict) else {}
        print(f"  {env.get('backend', '?'):12s} {res.get('verdict', '?') if isinstance(res, dict) else '?'}  {_summary_line(res)}")
    return EXIT_OK


def _summary_line(res) -> str:
    s = res.get("summary", {}) if isinstance(res, dict) else {}
    return ", ".join(f"{k} {s[k]}" for k in STATUSES if s.get(k))


# --- run ---------------------------------------------------------------------------------------
def _validate(args):
    """Usage and configuration errors are found here, before any child runs (exit code 2)."""
    sys.path.insert(0, str(ROOT))
    import adapters
    from conformance import expectations as expmod

    if args.backend not in adapters.REGISTRY:
        raise UsageError(f"unknown backend {args.backend!r}; known: {', '.join(adapters.REGISTRY)} (see `list`)")
    fns = {}
    for loss, spec in (("poisson", args.poisson_fn), ("gaussian", args.gaussian_fn)):
        if spec:
            if args.backend not in adapters.ACCEPTS_USER_FUNCTIONS:
                raise UsageError(f"backend {args.backend!r} does not take user functions")
            try:
                fns[loss] = adapters.load_user_function(spec)
            except adapters.UserFunctionError as exc:
                raise UsageError(f"--{loss}-fn: {exc}") from None
    for opt, allowed in (("loss", ("poisson", "gaussian")), ("dtype", ("float16", "bfloat16", "float32", "float64"))):
        val = getattr(args, opt)
        if val:
            bad = [v for v in val.split(",") if v.strip() not in allowed]
            if bad:
                raise UsageError(f"--{opt}: unknown {', '.join(bad)}; choose from {', '.join(allowed)}")
    exp_path = None
    if not args.no_expectations:
        exp_path = args.expectations or (expmod.default_for(args.backend) if not fns else None)
        if exp_path:
            try:
                expmod.load(exp_path)
            except expmod.ExpectationsError as exc:
                raise UsageError(str(exc)) from None
    try:
        adapter = adapters.make(args.backend, fns or None, {k: getattr(args, f"{k}_fn") for k in fns})
        ok, why = adapter.available()
    except Exception as exc:  # noqa: BLE001
        ok, why, adapter = False, f"adapter failed to load: {type(exc).__name__}: {exc}", None
    return adapter, ok, why, exp_path, fns


def _suite_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _environment(args, adapter, exp_path, started) -> dict:
    level = args.level or ("api" if (args.poisson_fn or args.gaussian_fn) else "strict")
    desc = {}
    if adapter is not None:
        try:
            desc = adapter.describe()
        except Exception as exc:  # noqa: BLE001
            desc = {"version": f"unknown ({type(exc).__name__})"}
    return {
        "suite_commit": _suite_commit(),
        "backend": args.backend,
        "backend_version": desc.get("version", "unknown"),
        "device": desc.get("device", "unknown"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "seed": args.seed,
        "profile": args.profile,
        "level": level,
        "explore": bool(args.explore),
        "losses": args.loss.split(",") if args.loss else ["poisson", "gaussian"],
        "dtypes": args.dtype.split(",") if args.dtype else ["float16", "bfloat16", "float32", "float64"],
        "poisson_fn": args.poisson_fn,
        "gaussian_fn": args.gaussian_fn,
        "expectations": str(exp_path) if exp_path else None,
        "started": started,
        "duration_s": None,
    }


def _child_cmd(args, jsonl, done_file):
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "conformance"), "-q", "-p", "no:cacheprovider",
           "--rootdir", str(ROOT), "--backend", args.backend, "--profile", args.profile,
           "--seed", str(args.seed), "--results-jsonl", jsonl, "--done-file", done_file]
    for opt in ("poisson_fn", "gaussian_fn", "loss", "dtype", "check", "level", "expectations", "save_counterexamples"):
        v = getattr(args, opt)
        if v:
            cmd += [f"--{opt.replace('_', '-')}", str(v)]
    if args.no_expectations:
        cmd.append("--no-expectations")
    if args.explore:
        cmd.append("--explore")
    return cmd


def _read_events(path):
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        out.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass  # a torn last line from a crashed child
    except FileNotFoundError:
        pass
    return out


def _run_children(args, workdir: Path, progress) -> tuple[list, list]:
    """Run the checks, restarting after a crash or a hang. Returns (records, problems)."""
    jsonl = str(workdir / "records.jsonl")
    done_file = str(workdir / "done.txt")
    Path(done_file).write_text("")
    log_path = workdir / "pytest.log"
    problems = []
    restarts = 0
    while True:
        with open(log_path, "ab") as log:
            child = subprocess.Popen(_child_cmd(args, jsonl, done_file), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
            seen = 0
            current, since = None, time.monotonic()
            timed_out = False
            try:
                while child.poll() is None:
                    time.sleep(0.2)
                    events = _read_events(jsonl)
                    for ev in events[seen:]:
                        if ev.get("event") == "start":
                            current, since = ev, time.monotonic()
                        elif ev.get("event") == "record":
                            current = None
                            progress(ev)
                    seen = len(events)
                    if current is not None and time.monotonic() - since > args.timeout:
                        timed_out = True
                        _kill(child)
                        break
            except BaseException:
                # the child runs in its own session, so Ctrl-C does not reach it: stop it here
                _kill(child)
                raise
            rc = child.wait()
        events = _read_events(jsonl)
        for ev in events[seen:]:
            if ev.get("event") == "record":
                progress(ev)
        started = {e["nodeid"]: e for e in events if e.get("event") == "start"}
        recorded = {e["nodeid"] for e in events if e.get("event") == "record"}
        hung = [e for n, e in started.items() if n not in recorded]
        if not hung:
            if rc not in (0, 1, 5) and not timed_out:
                problems.append(f"pytest exited with code {rc}; see its log:\n{_tail(log_path)}")
            break
        status = "TIMEOUT" if timed_out else "CRASH"
        for ev in hung:
            why = (f"ran past {args.timeout:.0f} s and was stopped" if timed_out
                   else f"the backend ended the process (exit code {rc})")
            rec = {"event": "record", "nodeid": ev["nodeid"], "check": ev["check"], "loss": None, "chapter": None,
                   "clause": None, "status": status, "message": f"{status}: {why}", "reason": None, "link": None,
                   "failure": None, "samples": [], "duration_s": None}
            with open(jsonl, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            progress(rec)
        with open(done_file, "w", encoding="utf-8") as f:
            f.write("\n".join(sorted({e["nodeid"] for e in _read_events(jsonl) if e.get("event") == "record"})))
        restarts += 1
        if restarts > 50:
            problems.append("more than 50 crashes or hangs: the run was stopped")
            break
    records = [e for e in _read_events(jsonl) if e.get("event") == "record"]
    if not records and not problems:
        problems.append(f"no check ran; pytest's log:\n{_tail(log_path)}")
    return records, problems


def _kill(child):
    import signal

    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()


def _tail(path, n=40) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


class Progress:
    """One line per chapter as it completes (and a dot line while long chapters run)."""

    def __init__(self, backend, quiet):
        self.backend, self.quiet = backend, quiet
        self.chapter, self.counts, self.t0 = None, {}, time.monotonic()

    def __call__(self, rec):
        if self.quiet:
            return
        ch = rec.get("chapter") or "?"
        if ch != self.chapter and self.chapter is not None:
            self.flush()
        self.chapter = ch
        self.counts[rec["status"]] = self.counts.get(rec["status"], 0) + 1

    def flush(self):
        if self.quiet or self.chapter is None:
            return
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        print(f"[{self.backend}] {self.chapter:12s} {parts}  ({time.monotonic() - self.t0:.0f} s)", flush=True)
        self.counts = {}


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def assemble(env, records, exp_path, problems, selective) -> dict:
    """The results document (docs/results-schema.md) from the child's records."""
    from conformance import expectations as expmod

    summary = {s: 0 for s in STATUSES}
    out_records, accuracy = [], {}
    for r in records:
        summary[r["status"]] = summary.get(r["status"], 0) + 1
        samples = r.get("samples") or []
        if samples and r.get("loss"):
            dtype = next((d for d in ("float16", "bfloat16", "float32", "float64") if d in r["check"]), None)
            key = (r["loss"], dtype)
            acc = accuracy.setdefault(key, {"loss": r["loss"], "dtype": dtype, "check": r["check"],
                                            "axes": ["input", "target"] if r["loss"] == "poisson" else ["input - target", "var"],
                                            "points": []})
            acc["points"].extend(samples)
        rec = {k: r.get(k) for k in ("check", "loss", "chapter", "clause", "level", "status", "message", "reason",
                                     "link", "duration_s", "failure")}
        out_records.append(rec)
    stale = []
    if exp_path:
        for e in expmod.load(exp_path):
            hits = [r for r in records if e.matches(r["check"])]
            if not hits and not selective:
                stale.append({"check": e.check, "clause": e.clause, "why": "matched no check"})
            elif hits and all(r["status"] == "XPASS" for r in hits):
                stale.append({"check": e.check, "clause": e.clause, "why": "every matching check passed"})
    bad = summary["FAIL"] + summary["XPASS"] + summary["ERROR"] + summary["CRASH"] + summary["TIMEOUT"]
    if problems:
        verdict, code = "error", EXIT_FAIL
    elif bad or stale:
        verdict, code = "nonconformant", EXIT_FAIL
    else:
        verdict, code = "conformant", EXIT_OK
    return _jsonable({
        "schema": "lossconform-results",
        "schema_version": SCHEMA_VERSION,
        "environment": env,
        "verdict": verdict,
        "exit_code": code,
        "summary": summary,
        "problems": problems,
        "stale_expectations": stale,
        "records": out_records,
        "accuracy": [dict(v, points=v["points"][:3000]) for v in accuracy.values()],
    })


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops the child like Ctrl-C does


def cmd_run(args) -> int:
    import signal

    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.monotonic()
    adapter, ok, why, exp_path, _ = _validate(args)
    env = _environment(args, adapter, exp_path, started)
    if not ok:
        res = {"schema": "lossconform-results", "schema_version": SCHEMA_VERSION, "environment": env,
               "verdict": "unavailable", "exit_code": EXIT_UNAVAILABLE, "summary": {s: 0 for s in STATUSES},
               "problems": [why], "stale_expectations": [], "records": [], "accuracy": []}
        _write_outputs(args, res)
        print(f"[{args.backend}] unavailable: {why}")
        return EXIT_UNAVAILABLE
    if not args.quiet:
        print(f"[{args.backend}] {env['backend_version']} on {env['device']}: profile {args.profile}, "
              f"level {env['level']}, seed {args.seed}" + (f", expectations {exp_path}" if exp_path else ""), flush=True)
    progress = Progress(args.backend, args.quiet)
    with tempfile.TemporaryDirectory(prefix="lossconform-") as tmp:
        records, problems = _run_children(args, Path(tmp), progress)
    progress.flush()
    env["duration_s"] = round(time.monotonic() - t0, 1)
    selective = bool(args.loss or args.dtype or args.check or args.poisson_fn or args.gaussian_fn)
    res = assemble(env, records, exp_path, problems, selective)
    _write_outputs(args, res)
    for p in problems:
        print(f"[{args.backend}] problem: {p}", file=sys.stderr)
    for st in res["stale_expectations"]:
        print(f"[{args.backend}] stale expectation: {st['check']} ({st['why']})")
    for r in res["records"]:
        if r["status"] in ("FAIL", "ERROR", "CRASH", "TIMEOUT", "XPASS"):
            print(f"[{args.backend}] {r['status']:7s} {r['check']}  [{r.get('clause')}] {r.get('message', '')[:200]}")
    print(f"[{args.backend}] {res['verdict']}: {_summary_line(res)} in {env['duration_s']} s")
    return res["exit_code"]


def _write_outputs(args, res):
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1), encoding="utf-8")
    if args.report:
        from reports import render

        path = Path(args.report) / render.page_name(res)
        render.write_run(res, path)
        print(f"[{args.backend}] report: {path}")
    if args.junit:
        write_junit(res, args.junit)


def write_junit(res, path):
    """JUnit XML for CI systems that read it: one testcase per check."""
    import xml.etree.ElementTree as ET

    env = res["environment"]
    suite = ET.Element("testsuite", name=f"lossconform.{env['backend']}", tests=str(len(res["records"])))
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for r in res["records"]:
        case = ET.SubElement(suite, "testcase", classname=f"lossconform.{env['backend']}.{r.get('chapter') or 'run'}",
                             name=r["check"], time=str(r.get("duration_s") or 0))
        st = r["status"]
        msg = f"[{r.get('clause')}] {r.get('message') or ''}"
        if st in ("FAIL", "XPASS"):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=msg[:500], type=st).text = json.dumps(r.get("failure"), indent=1)
        elif st in ("ERROR", "CRASH", "TIMEOUT"):
            counts["errors"] += 1
            ET.SubElement(case, "error", message=msg[:500], type=st).text = json.dumps(r.get("failure"), indent=1)
        elif st in ("NA", "SKIP", "XFAIL"):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{st}: {r.get('reason') or ''}"[:500])
    for k, v in counts.items():
        suite.set(k, str(v))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
