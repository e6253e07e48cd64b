"""`python -m conformance`: run the checks against a backend, list backends, merge reports.

    run      --backend NAME [options: see conformance/options.py or `run --help`]
    list     the backends and, for each, whether it can run here (and why not)
    report   RESULTS.json... --out reports/index.html   (a page per run plus the matrix)

Exit codes: 0 conformant (failures only where expected), 1 unexpected failures or stale
expectations, 2 usage or configuration error, 3 backend unavailable, 130 interrupted (what finished
is written, marked incomplete).

The checks run in worker processes (conformance/workers.py), first surveying every check, then
shrinking each distinct failure once; a crash or a hang costs one check, not the run.
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
from conformance import options
from conformance.results import DTYPES, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, STATUSES
from reference.losses import LOSSES


class UsageError(Exception):
    pass


def _user_specs(args) -> dict:
    """{loss: spec} of the --<loss>-fn options the run was given."""
    return options.user_specs(lambda dest: getattr(args, dest, None))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m conformance", description="lossconform: conformance of loss functions")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="check a backend against the spec")
    options.add_to_argparse(r)  # the one table of run options (conformance/options.py)
    sub.add_parser("list", help="list backends")
    m = sub.add_parser("report", help="render pages and the matrix from results JSON files")
    m.add_argument("results", nargs="+", help="results JSON files, or directories of them")
    m.add_argument("--out", default="reports/index.html")
    v = sub.add_parser("vectors", help="write the golden vectors (JSON for any language; docs/vectors-schema.md)")
    v.add_argument("--out", required=True, help="directory to write poisson.json and gaussian.json into")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "list":
            return cmd_list()
        if args.cmd == "report":
            return cmd_report(args)
        if args.cmd == "vectors":
            return cmd_vectors(args)
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


# --- vectors -----------------------------------------------------------------------------------
def cmd_vectors(args) -> int:
    from conformance import vectors

    try:
        paths = vectors.write(args.out)
    except OSError as exc:
        raise UsageError(f"{args.out}: cannot write the vectors: {exc}") from None
    for p in paths:
        n = len(json.loads(p.read_text(encoding="utf-8"))["cases"])
        print(f"vectors: {p} ({n} cases)")
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
    used = {out.name, "spec.html"}
    for i, res in enumerate(runs):  # two runs of one subject (cpu, cuda) get distinct pages
        if not isinstance(res, dict):
            continue
        name = render.page_name(res)
        stem, dot, ext = name.rpartition(".")
        n = 2
        while name in used:
            name, n = (f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"), n + 1
        used.add(name)
        runs[i] = {**res, "_page": name}
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
    for loss, spec in _user_specs(args).items():
        if spec:
            if args.backend not in adapters.ACCEPTS_USER_FUNCTIONS:
                raise UsageError(f"backend {args.backend!r} does not take user functions")
            try:
                fns[loss] = adapters.load_user_function(spec)
            except adapters.UserFunctionError as exc:
                raise UsageError(f"--{loss}-fn: {exc}") from None
    for opt, allowed in (("loss", tuple(LOSSES)), ("dtype", DTYPES)):
        val = getattr(args, opt)
        if val:
            bad = [v for v in val.split(",") if v.strip() not in allowed]
            if bad:
                raise UsageError(f"--{opt}: unknown {', '.join(bad)}; choose from {', '.join(allowed)}")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.cannot and not fns:
        raise UsageError("--cannot describes a user function: give " + " or ".join(f"--{n}-fn" for n in LOSSES))
    try:
        cannot = adapters.parse_cannot(args.cannot) if args.cannot else None
    except ValueError as exc:
        raise UsageError(f"--cannot: {exc}") from None
    exp_paths = []
    if not args.no_expectations:
        exp_paths = list(args.expectations or [])
        if not exp_paths and not fns and expmod.default_for(args.backend):
            exp_paths = [str(expmod.default_for(args.backend))]
        for path in exp_paths:
            try:
                expmod.load(path)
            except expmod.ExpectationsError as exc:
                raise UsageError(str(exc)) from None
    for opt, is_dir in (("json", False), ("junit", False), ("report", True)):
        if getattr(args, opt):
            why = _unwritable(Path(getattr(args, opt)), is_dir)
            if why:
                raise UsageError(f"--{opt} {getattr(args, opt)}: {why}")
    try:
        adapter = adapters.make(args.backend, fns or None, {k: getattr(args, f"{k}_fn") for k in fns}, cannot)
        ok, why = adapter.available()
    except Exception as exc:  # noqa: BLE001
        ok, why, adapter = False, f"adapter failed to load: {type(exc).__name__}: {exc}", None
    return adapter, ok, why, exp_paths, fns


def _unwritable(path: Path, is_dir: bool) -> str | None:
    """Why `path` cannot be written (None if it can), found without writing anything there: the
    nearest existing ancestor must be a directory this process can create a file in."""
    if path.exists():
        if is_dir and not path.is_dir():
            return "exists and is not a directory"
        if not is_dir and path.is_dir():
            return "is a directory"
    probe = path if (is_dir and path.is_dir()) else path.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    try:
        fd, name = tempfile.mkstemp(prefix=".lossconform-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"cannot write in {probe}: {exc.strerror or exc}"
    return None


def subject_name(args) -> str:
    """What the run is named after: the backend, or the user function(s) under test
    (`--poisson-fn mine.py:poisson_nll_loss` -> `mine-poisson_nll_loss`)."""
    specs = list(_user_specs(args).values())
    if not specs:
        return args.backend
    parts = []
    for spec in specs:
        mod, _, attr = spec.rpartition(":")
        stem = Path(mod).stem if (mod.endswith(".py") or os.sep in mod) else mod.rsplit(".", 1)[-1]
        parts.append((stem, attr))
    if len({p[0] for p in parts}) == 1:
        name = parts[0][0] + "-" + "+".join(p[1] for p in parts)
    else:
        name = "+".join(f"{a}-{b}" for a, b in parts)
    if args.backend != "torch":
        name += f"@{args.backend}"
    return "".join(ch if ch.isalnum() or ch in "._+@-" else "_" for ch in name)


def _suite_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _environment(args, adapter, exp_paths, started, workers) -> dict:
    level = args.level or options.default_level(_user_specs(args), args.backend)
    desc = {}
    if adapter is not None:
        try:
            desc = adapter.describe()
        except Exception as exc:  # noqa: BLE001
            desc = {"version": f"unknown ({type(exc).__name__})"}
    try:
        import hypothesis

        hyp = hypothesis.__version__
    except ImportError:  # pragma: no cover
        hyp = "unknown"
    return {
        "suite_commit": _suite_commit(),
        "subject": subject_name(args),
        "backend": args.backend,
        "backend_version": desc.get("version", "unknown"),
        "device": desc.get("device", "unknown"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hypothesis": hyp,
        "seed": args.seed,
        "profile": args.profile,
        "level": level,
        "explore": bool(args.explore),
        "shrink": args.shrink,
        "workers": workers,
        "losses": args.loss.split(",") if args.loss else list(LOSSES),
        "dtypes": args.dtype.split(",") if args.dtype else list(DTYPES),
        **{f"{n}_fn": getattr(args, f"{n}_fn", None) for n in LOSSES},
        "cannot": args.cannot,
        "expectations": os.pathsep.join(exp_paths) if exp_paths else None,
        "started": started,
        "duration_s": None,
        "timings": {},
    }


def _child_cmd(args, exp_paths, worker, jsonl, done_file, claim_dir, minimise=None):
    cmd = [sys.executable, "-m", "pytest", str(ROOT / "conformance"), "-q", "-p", "no:cacheprovider",
           "--rootdir", str(ROOT), *options.worker_args(args), "--results-jsonl", jsonl, "--done-file", done_file,
           "--claim-dir", claim_dir, "--worker", worker]
    if args.no_expectations or not exp_paths:
        cmd.append("--no-expectations")
    else:
        cmd += ["--expectations", os.pathsep.join(exp_paths)]
    if minimise:
        cmd += ["--minimise", minimise, "--shrink-seconds", str(max(1.0, min(30.0, args.shrink_budget)))]
    return cmd


class Progress:
    """One line per chapter as it completes, and a heartbeat line at least every 10 s."""

    def __init__(self, name, quiet):
        self.name, self.quiet = name, quiet
        self.counts, self.t0, self.last = {}, time.monotonic(), time.monotonic()
        self.chapters: dict = {}
        self.total = 0

    def say(self, text):
        if not self.quiet:
            print(f"[{self.name}] {text}", flush=True)
        self.last = time.monotonic()

    def __call__(self, rec):
        self.total += 1
        ch = rec.get("chapter") or "?"
        c = self.chapters.setdefault(ch, {})
        c[rec["status"]] = c.get(rec["status"], 0) + 1

    def tick(self, pool):
        from conformance.workers import HEARTBEAT_S

        if time.monotonic() - self.last < HEARTBEAT_S:
            return
        running = pool.running()
        done = ", ".join(f"{k} {v}" for k, v in sorted(_sum_counts(self.chapters).items()))
        head = f"{time.monotonic() - self.t0:.0f} s, {self.total} checks done ({done or 'none yet'})"
        if not running:
            self.say(head)
            return
        bits = []
        for check, secs, calls, phase, worker in running:
            what = "shrinking" if phase == "minimise" else "running"
            bits.append(f"{what} {check} for {secs:.0f} s" + (f" ({calls} calls)" if calls else "")
                        + (f" on worker {worker}" if len(pool.workers) > 1 else ""))
        self.say(head + "; " + "; ".join(bits))

    def flush(self):
        if self.quiet:
            return
        for ch, c in self.chapters.items():
            parts = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
            print(f"[{self.name}] {ch:12s} {parts}", flush=True)


def _sum_counts(chapters):
    out = {}
    for c in chapters.values():
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out


def _dtype_of(check_id: str) -> str | None:
    """The dtype a check id names (a whole parameter: 'float16' is not found inside 'bfloat16')."""
    params = check_id.partition("[")[2].rstrip("]").split(",")
    return next((d for d in DTYPES if d in params), None)


def _jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


RECORD_FIELDS = ("check", "loss", "chapter", "clause", "level", "status", "message", "reason", "link", "duration_s",
                 "failure", "failures", "expected_failures", "notes")


def assemble(env, records, exp_paths, problems, selective, complete=True) -> dict:
    """The results document (docs/results-schema.md) from the child's records."""
    from conformance import expectations as expmod
    from conformance import findings as fnd
    from conformance import results

    records = sorted(records, key=lambda r: (r.get("order", 0), r["check"]))
    summary = results.empty_summary()
    out_records, accuracy = [], {}
    findings = fnd.group(records)
    fnd.link(records, findings)
    for r in records:
        summary[r["status"]] = summary.get(r["status"], 0) + 1
        samples = r.get("samples") or []
        if samples and r.get("loss"):
            dtype = _dtype_of(r["check"])
            key = (r["loss"], dtype)
            acc = accuracy.setdefault(key, {"loss": r["loss"], "dtype": dtype, "check": r["check"],
                                            "axes": list(LOSSES[r["loss"]].ACCURACY_AXES),
                                            "points": []})
            acc["points"].extend(samples)
        out_records.append({k: r.get(k) for k in RECORD_FIELDS})
    stale = []
    if complete:
        for e in expmod.load_all(exp_paths or []):
            hits = [r for r in records if e.pattern().match(r["check"])]
            if not hits and not selective:
                stale.append({"check": e.check, "clause": e.clause, "why": "matched no check"})
            elif hits and e.when is None and not e.flaky and all(r["status"] == "XPASS" for r in hits):
                stale.append({"check": e.check, "clause": e.clause, "why": "every matching check passed"})
    return _jsonable(results.document(
        env, verdict_code=results.verdict(summary, problems, stale, complete), summary=summary, problems=problems,
        stale=stale, findings=[{k: v for k, v in f.items() if k != "signature"} for f in findings],
        records=out_records, accuracy=[dict(v, points=v["points"][:3000]) for v in accuracy.values()],
        complete=complete))


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops the run like Ctrl-C does: what finished is written


def cmd_run(args) -> int:
    import signal

    from conformance import findings as fnd
    from conformance.workers import Pool, default_workers

    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.monotonic()
    adapter, ok, why, exp_paths, _ = _validate(args)
    workers = args.workers or default_workers()
    env = _environment(args, adapter, exp_paths, started, workers)
    name = env["subject"]
    if not ok:
        from conformance import results

        res = results.document(env, verdict_code=("unavailable", EXIT_UNAVAILABLE), summary=results.empty_summary(),
                               problems=[why], stale=[], findings=[], records=[], accuracy=[])
        _write_outputs(args, res, name)
        print(f"[{name}] unavailable: {why}")
        return EXIT_UNAVAILABLE
    progress = Progress(name, args.quiet)
    progress.say(f"{env['backend_version']} on {env['device']}: profile {args.profile}, level {env['level']}, "
                 f"seed {args.seed}, {workers} worker{'s' if workers > 1 else ''}, shrink {args.shrink}"
                 + (f", expectations {env['expectations']}" if exp_paths else ""))
    records, problems, complete = [], [], True
    timings = env["timings"]
    with tempfile.TemporaryDirectory(prefix="lossconform-") as tmp:
        tmp = Path(tmp)
        pool = None
        try:
            (tmp / "survey").mkdir()
            pool = Pool(workers, lambda w, j, d, c: _child_cmd(args, exp_paths, w, j, d, c), tmp / "survey",
                        args.timeout, progress, on_tick=progress.tick)
            records, problems = pool.run()
            timings["checks_s"] = round(time.monotonic() - t0, 1)
            wanted = {}
            if not problems:
                wanted = fnd.targets(records, args.shrink, lambda p, r: bool(p.get("pytorch")))
            if wanted:
                t1 = time.monotonic()
                n_sigs = sum(len(v) for v in wanted.values())
                progress.say(f"{sum(1 for r in records if r['status'] in ('FAIL', 'ERROR'))} failing checks, "
                             f"{n_sigs} distinct failure{'s' if n_sigs > 1 else ''} to shrink "
                             f"(budget {args.shrink_budget:.0f} s)")
                (tmp / "minimise").mkdir()
                tfile = tmp / "targets.json"
                tfile.write_text(json.dumps(wanted), encoding="utf-8")
                mpool = Pool(min(workers, len(wanted)),
                             lambda w, j, d, c: _child_cmd(args, exp_paths, w, j, d, c, minimise=str(tfile)),
                             tmp / "minimise", args.timeout, lambda rec: None, on_tick=progress.tick,
                             deadline=time.monotonic() + args.shrink_budget)
                pool = mpool
                shrunk, _ = mpool.run()
                n = fnd.merge_minimised(records, shrunk, wanted)
                timings["shrink_s"] = round(time.monotonic() - t1, 1)
                if mpool.stopped_by_budget:
                    progress.say(f"the shrink budget ({args.shrink_budget:.0f} s) ran out: {n} of {n_sigs} "
                                 "failures shrunk; the others keep their first example (--shrink-budget)")
        except KeyboardInterrupt:
            complete = False
            if pool is not None:
                pool.kill_all()
                records = records or pool.records
    progress.flush()
    env["duration_s"] = round(time.monotonic() - t0, 1)
    selective = bool(args.loss or args.dtype or args.check or _user_specs(args))
    res = assemble(env, records, exp_paths, problems, selective, complete)
    _write_outputs(args, res, name)
    for p in problems:
        print(f"[{name}] problem: {p}", file=sys.stderr)
    _print_verdict(args, res, name)
    return res["exit_code"]


def _print_verdict(args, res, name) -> None:
    """Findings first (own deviations, then PyTorch's), each with its minimal input; then stale
    expectations, crashes and timeouts, the verdict line."""
    from conformance import findings as fnd

    for st in res["stale_expectations"]:
        print(f"[{name}] stale expectation: {st['check']} ({st['why']})")
    own = [f for f in res["findings"] if f["status"] != "XFAIL"]
    if own:
        print(f"[{name}] {len(own)} finding{'s' if len(own) > 1 else ''} (own deviations first):")
        for f in own:
            ex = f["example"]
            tag = "" if f["origin"] == "own" else "  [PyTorch 2.13 shows this too]"
            checks = f["checks"]
            seen = checks[0] + (f" and {len(checks) - 1} more checks" if len(checks) > 1 else "")
            print(f"[{name}] {f['id']} {f['status']} {f['clause']} ({f['quantity']}, {f['kind']}){tag}: in {seen}")
            print(f"[{name}]    {'minimal' if f['minimal'] else 'example'}: {fnd.example_text(ex)}")
            if ex.get("expected") is not None or ex.get("got") is not None:
                extra = f" (normalized error {ex['normalized_error']})" if ex.get("normalized_error") else ""
                print(f"[{name}]    expected {ex.get('expected')}, got {ex.get('got')}{extra}")
            else:
                print(f"[{name}]    {ex.get('message', '')[:200]}")
    for r in res["records"]:
        if r["status"] in ("CRASH", "TIMEOUT", "XPASS") or (args.verbose and r["status"] in ("FAIL", "ERROR")):
            print(f"[{name}] {r['status']:7s} {r['check']}  [{r.get('clause')}] {(r.get('message') or '')[:200]}")
        elif r["status"] == "ERROR" and (r.get("failure") or {}).get("kind") == "internal":
            print(f"[{name}] ERROR   {r['check']}  {(r.get('message') or '')[:200]}")
    env = res["environment"]
    tail = f" in {env['duration_s']} s"
    t = env.get("timings") or {}
    if t.get("shrink_s"):
        tail += f" (checks {t.get('checks_s')} s, shrinking {t['shrink_s']} s)"
    print(f"[{name}] {res['verdict']}: {_summary_line(res)}{tail}")


def _write_outputs(args, res, name=None):
    name = name or args.backend
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(args.json).with_name(Path(args.json).name + ".tmp")
        tmp.write_text(json.dumps(res, indent=1), encoding="utf-8")
        os.replace(tmp, args.json)
    if args.report:
        from reports import render

        path = Path(args.report) / render.page_name(res)
        render.write_run(res, path)
        print(f"[{name}] report: {path}")
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
