"""`python -m conformance`: run the checks against a backend, list backends, merge reports.

    run      --backend NAME [options: see conformance/options.py or `run --help`]
    list     the backends and, for each, whether it can run here (and why not)
    report   RESULTS.json... --out reports/index.html   (a page per run plus the matrix)

Exit codes: 0 conformant (failures only where expected), 1 unexpected failures or stale
expectations, 2 usage or configuration error, 3 backend unavailable, 130 interrupted (what finished
is written, marked incomplete).

The checks run in worker processes (conformance/workers.py), first surveying every check, then
shrinking each distinct failure once; a crash or a hang costs one check, not the run. This module
parses the command line and runs the phases; the run's arguments are checked in validation.py, its
environment described in environment.py, progress printed by progress.py, the document assembled
in results.py and written (console, JSON, HTML, JUnit) by outputs.py.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import tempfile
import time
from pathlib import Path

from conformance import options
from conformance.environment import environment
from conformance.outputs import print_verdict, summary_line, write_outputs
from conformance.progress import Progress
from conformance.results import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, assemble
from conformance.validation import UsageError, user_specs, validate

ROOT = Path(__file__).resolve().parent.parent


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
    v.add_argument("--out", required=True, help="directory to write one <subject>.json per subject into")
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
    except BrokenPipeError:  # the output was piped to a reader that stopped (`| head`): not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


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
        print(f"  {env.get('backend', '?'):12s} {res.get('verdict', '?') if isinstance(res, dict) else '?'}  {summary_line(res)}")
    return EXIT_OK


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt  # SIGTERM stops the run like Ctrl-C does: what finished is written


def cmd_run(args) -> int:
    import signal

    from conformance import findings as fnd
    from conformance.workers import Pool, default_workers, worker_command

    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    t0 = time.monotonic()
    adapter, ok, why, exp_paths, _ = validate(args)
    workers = args.workers or default_workers()
    env = environment(args, adapter, exp_paths, started, workers)
    name = env["subject"]
    if not ok:
        from conformance import results

        res = results.document(env, verdict_code=("unavailable", EXIT_UNAVAILABLE), summary=results.empty_summary(),
                               problems=[why], stale=[], findings=[], records=[], accuracy=[])
        write_outputs(args, res, name)
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
            pool = Pool(workers, lambda w, j, d, c: worker_command(args, exp_paths, w, j, d, c), tmp / "survey",
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
                             lambda w, j, d, c: worker_command(args, exp_paths, w, j, d, c, minimise=str(tfile)),
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
    selective = bool(args.loss or args.dtype or args.check or user_specs(args))
    res = assemble(env, records, exp_paths, problems, selective, complete)
    write_outputs(args, res, name)
    for p in problems:
        print(f"[{name}] problem: {p}", file=sys.stderr)
    print_verdict(args, res, name)
    return res["exit_code"]
