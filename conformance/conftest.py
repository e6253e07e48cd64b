"""pytest plugin of the conformance checks: options, the per-check context, and result records.

`pytest conformance --backend NAME` runs the checks directly; `python -m conformance run` drives
the same session in a child process and turns the records into the results JSON.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import threading
import time
import traceback

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

import adapters
from conformance import expectations as expmod
from conformance import specindex
from conformance.checking import CheckContext, Mismatch, PytorchReference, merge_widened, signature

from conformance.options import PROFILES  # noqa: E402
# Health checks stay on except: function_scoped_fixture, because the `chk` fixture is shared by
# the examples of one check on purpose (the survey collects every distinct failure across them);
# too_slow, because a check's examples call the backend and the exact reference, whose cost is the
# point, not a strategy problem (the per-check time is reported instead).
_COMMON = dict(deadline=None, print_blob=False,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# survey: every example runs and every deviation is recorded (nothing raises, nothing shrinks);
# minimise: the target deviations raise and hypothesis shrinks each of them (one class each)
# No Phase.target in the gate: targeting mutates the examples with the largest normalized error
# (checking.steer feeds hypothesis.target), so the cases would depend on what the backend returned,
# and a backend whose results vary between runs (XLA:CPU's flush-to-zero in gradients did) would
# draw different cases under the same seed. --explore adds it (below).
PHASES = {"survey": dict(phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False),
          "minimise": dict(phases=[Phase.explicit, Phase.generate, Phase.shrink], report_multiple_bugs=True)}
for _name, _n in PROFILES.items():
    for _phase, _kw in PHASES.items():
        settings.register_profile(f"lossconform-{_name}-{_phase}", max_examples=_n, database=None, **_COMMON, **_kw)
# chapters whose checks cost most, run first so that parallel workers finish together
COST_ORDER = ("gradients", "reductions", "values", "shapes", "special", "dtypes", "legacy", "errors", "api", "corpus")


def pytest_addoption(parser):
    from conformance import options

    options.add_to_pytest(parser.getgroup("lossconform"))  # the one table of run options


class Session:
    """What every check of one run shares."""

    def __init__(self, config):
        opt = config.getoption
        self.backend = opt("--backend")
        from conformance import options

        self.user_specs = options.user_specs(lambda dest: opt("--" + dest.replace("_", "-")))
        self.level = opt("--level") or options.default_level(self.user_specs, self.backend)
        self.losses = _csv(opt("--loss"))
        self.dtypes = _csv(opt("--dtype"))
        self.checks = [expmod.Expectation(p, "selection") for p in expmod.split_patterns(opt("--check"))]
        self.profile = opt("--profile")
        self.seed = opt("--seed")
        self.explore = opt("--explore")
        self.jsonl = opt("--results-jsonl")
        self.corpus_out = opt("--save-counterexamples")
        self.claim_dir = opt("--claim-dir")
        self.worker = opt("--worker")
        self.targets = {}
        if opt("--minimise"):
            with open(opt("--minimise"), encoding="utf-8") as f:
                self.targets = json.load(f)
            self.phase = "minimise"
        else:
            self.phase = "minimise" if opt("--shrink") == "full" else "survey"
        self.shrink_seconds = opt("--shrink-seconds")
        self._last_beat = 0.0
        self._lock = threading.Lock()
        self.adapter = None
        self.unavailable = None
        self.expectations = []
        self.expectations_path = None
        if not opt("--no-expectations"):
            # several files separated by os.pathsep (the CLI's repeated --expectations)
            paths = [p for p in (opt("--expectations") or "").split(os.pathsep) if p]
            if not paths and not self.user_specs and expmod.default_for(self.backend):
                paths = [str(expmod.default_for(self.backend))]
            if paths:
                self.expectations_path = os.pathsep.join(paths)
                self.expectations = expmod.load_all(paths)  # ExpectationsError: a usage error
        if self.backend not in adapters.REGISTRY:
            raise pytest.UsageError(f"unknown backend {self.backend!r}; known: {', '.join(adapters.REGISTRY)}")
        fns = {k: adapters.load_user_function(v) for k, v in self.user_specs.items()}
        try:
            cannot = adapters.parse_cannot(opt("--cannot") or ())
        except ValueError as exc:
            raise pytest.UsageError(f"--cannot: {exc}") from None
        self.adapter = adapters.make(self.backend, fns or None, self.user_specs, cannot)
        ok, why = self.adapter.available()
        if not ok:
            self.unavailable = why
        # a candidate that is not PyTorch itself: which of its deviations PyTorch 2.13 shares
        self.pytorch = None
        torch_file = expmod.DEFAULT_DIR / "torch.toml"
        if (self.user_specs or self.backend not in ("torch", "torch-cuda")) and torch_file.exists():
            self.pytorch = PytorchReference(lambda: adapters.make("torch"), expmod.load(torch_file),
                                            expect=bool(opt("--expect-pytorch-deviations")))

    def write(self, rec: dict) -> None:
        if self.jsonl:
            with self._lock, open(self.jsonl, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec, default=str) + "\n")

    def beat(self, nodeid: str, chk) -> None:
        """A progress event at most every 2 s while a check runs (the parent's heartbeat)."""
        now = time.monotonic()
        if now - self._last_beat >= 2.0:
            self._last_beat = now
            self.write({"event": "beat", "nodeid": nodeid, "check": chk.check, "calls": chk.calls,
                        "phase": chk.mode, "worker": self.worker})

    def claim(self, nodeid: str) -> bool:
        """True if this worker may run the check (no other worker claimed it)."""
        if not self.claim_dir:
            return True
        name = hashlib.sha1(nodeid.encode("utf-8")).hexdigest()
        try:
            fd = os.open(os.path.join(self.claim_dir, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.write(fd, f"{self.worker} {nodeid}".encode("utf-8"))
        os.close(fd)
        return True


def _csv(v):
    return tuple(s.strip() for s in v.split(",") if s.strip()) if v else None


def pytest_configure(config):
    try:
        config._lossconform = Session(config)
    except (expmod.ExpectationsError, adapters.UserFunctionError) as exc:
        raise pytest.UsageError(str(exc)) from None
    s = config._lossconform
    _watch_parent()
    if s.phase == "minimise":
        _limit_shrinking(s.shrink_seconds)
    no_source_constants()
    if s.explore:
        settings.register_profile(
            "lossconform-explore", max_examples=PROFILES[s.profile],
            database=DirectoryBasedExampleDatabase(os.path.join(".hypothesis", f"lossconform-{s.backend}")),
            **_COMMON, **dict(PHASES[s.phase], phases=[p for p in Phase if p in PHASES[s.phase]["phases"]
                                                      or p in (Phase.reuse, Phase.target)]))
        settings.load_profile("lossconform-explore")
    else:
        settings.load_profile(f"lossconform-{s.profile}-{s.phase}")
        # the gate is deterministic: the same seed draws the same cases
        # as text: hypothesis's plugin ignores a falsy --hypothesis-seed (`any(getoption(...))`), so an
        # int 0, the default seed, would leave every run drawing fresh random cases
        config.option.hypothesis_seed = str(s.seed)


def _watch_parent() -> None:
    """End this process when the `python -m conformance` parent that started it is gone (even
    killed with SIGKILL): the parent names itself in LOSSCONFORM_PARENT_PID."""
    want = os.environ.get("LOSSCONFORM_PARENT_PID")
    if not want or not want.isdigit():
        return

    def watch():
        while True:
            time.sleep(0.5)
            if os.getppid() != int(want):
                os._exit(3)

    threading.Thread(target=watch, name="lossconform-parent-watch", daemon=True).start()


def no_source_constants() -> None:
    """Draw no constants from the process's own source files. Recent hypothesis versions mix
    into its draws the literals of every "local" module loaded so far; which modules those are
    depends on what this worker ran before (checks are claimed as workers free up) and on whether
    the suite is a checkout or an installed wheel, so the same seed drew different cases from run
    to run. The strategies name the edges they reach instead. A no-op where hypothesis has no such
    hook (its private function: checked, not assumed)."""
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover
        return
    if callable(getattr(providers, "_get_local_constants", None)) and hasattr(providers, "Constants"):
        empty = providers.Constants()
        providers._get_local_constants = lambda: empty


def _limit_shrinking(seconds: float) -> None:
    """Bound the time hypothesis spends shrinking one failure (its engine's module constant; the
    default is 300 s). Absent in another hypothesis version: the default stays."""
    try:
        from hypothesis.internal.conjecture import engine

        if hasattr(engine, "MAX_SHRINKING_SECONDS"):
            engine.MAX_SHRINKING_SECONDS = max(1, int(seconds))
    except ImportError:  # pragma: no cover
        pass


# --- check ids ---------------------------------------------------------------------------------
def check_params(item) -> dict:
    """The check's parameters as data (dtype, reduction, flags, ...), for the record: what its id
    names in brackets, never parsed back out of the id."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    return {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v)) for k, v in params.items()}


def check_id(item) -> tuple[str, str | None, str]:
    """(check id, loss, chapter) of a test item: `<loss>.<name>[<params>]`, no drawn data."""
    fn = item.function.__name__[len("test_"):]
    loss, _, rest = fn.partition("_")
    from reference.losses import LOSSES

    if loss not in LOSSES:
        loss = None
        rest = rest if fn.startswith("any_") else fn
    chapter = item.module.__name__.rsplit(".", 1)[-1][len("test_"):]
    params = getattr(getattr(item, "callspec", None), "params", {})
    order = [p for p in inspect.signature(item.function).parameters if p in params]
    parts = []
    for k in order:
        v = params[k]
        parts.append(str(v) if k in ("dtype", "case") else f"{k}={v}")
    name = f"{loss or 'any'}.{rest}"
    return (name + (f"[{','.join(parts)}]" if parts else "")), loss, chapter


def pytest_collection_modifyitems(config, items):
    s = config._lossconform
    done = set()
    if config.getoption("--done-file"):
        with open(config.getoption("--done-file"), encoding="utf-8") as f:
            done = {line.strip() for line in f if line.strip()}
    keep, drop = [], []
    for order, item in enumerate(items):
        item.stash[_ORDER] = order
        if item.nodeid in done or (s.targets and item.nodeid not in s.targets):
            drop.append(item)
            continue
        cid, loss, chapter = check_id(item)
        item.stash[_ID] = (cid, loss, chapter)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if s.losses and loss and loss not in s.losses:
            drop.append(item)
        elif s.dtypes and "dtype" in params and params["dtype"] not in s.dtypes:
            drop.append(item)
        elif s.checks and not any(c.matches(cid) for c in s.checks):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    if s.claim_dir:  # parallel workers: the costliest chapters first (a stable sort)
        items.sort(key=lambda it: COST_ORDER.index(it.stash[_ID][2]) if it.stash[_ID][2] in COST_ORDER else len(COST_ORDER))


_ID = pytest.StashKey[tuple]()
_ORDER = pytest.StashKey[int]()
_UNCLAIMED = pytest.StashKey[bool]()
_T0 = pytest.StashKey[float]()


@pytest.fixture
def chk(request):
    s = request.config._lossconform
    cid, loss, chapter = request.node.stash[_ID]
    if s.unavailable:
        pytest.skip(f"SKIP: backend {s.backend} unavailable: {s.unavailable}")
    c = CheckContext(cid, loss, chapter, s.adapter, s.level, s.expectations)
    c.pytorch = s.pytorch
    if s.phase == "minimise":
        c.mode = "minimise"
        c.targets = frozenset(s.targets.get(request.node.nodeid, ["*"]))
    node = request.node.nodeid
    c.on_call = lambda: s.beat(node, c)
    request.node.stash[_CHK] = c
    return c


_CHK = pytest.StashKey[CheckContext]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_T0] = time.perf_counter()
    s = item.config._lossconform
    if not s.claim(item.nodeid):  # another worker runs it: skipped here, and not recorded
        item.stash[_UNCLAIMED] = True
        pytest.skip("claimed by another worker")
    cid = item.stash[_ID][0]
    s.write({"event": "start", "nodeid": item.nodeid, "check": cid, "order": item.stash.get(_ORDER, 0),
             "pid": os.getpid(), "worker": s.worker, "phase": s.phase})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    s = item.config._lossconform
    if rep.when == "setup" and rep.passed:
        return
    if rep.when == "teardown" or item.stash.get(_UNCLAIMED, False):
        return
    cid, loss, chapter = item.stash[_ID]
    chk = item.stash.get(_CHK, None)
    rec = {"event": "record", "nodeid": item.nodeid, "check": cid, "loss": loss, "chapter": chapter,
           "params": check_params(item), "clause": (chk.clause if chk else None), "status": None, "message": "",
           "reason": None,
           "link": None, "failure": None, "failures": [], "expected_failures": [], "samples": [],
           "notes": list(chk.notes) if chk else [], "order": item.stash.get(_ORDER, 0),
           "shrinkable": bool(getattr(item.obj, "is_hypothesis_test", False)), "phase": s.phase,
           "worker": s.worker,
           "duration_s": round(time.perf_counter() - item.stash.get(_T0, time.perf_counter()), 4)}
    if chk is not None and chk.samples:
        step = max(1, len(chk.samples) // 400)
        rec["samples"] = [list(p) for p in chk.samples[::step]][:400]
    if chk is not None:
        rec["expected_failures"] = [dict(p, reason=e.reason, link=e.link) for e, p in chk.observed.values()]
    exc = _unwrap(call.excinfo.value) if (call.excinfo and not rep.skipped) else None
    # a call the backend cannot express (NA) after calls that already deviated: the check stops
    # there, and what it found stands (an NA must not hide a failure)
    na_after = False
    if rep.skipped:
        msg = _skip_message(rep)
        if msg.startswith("NA:") and chk is not None and (chk.found or chk.observed):
            na_after = True
            rec["notes"].append(f"stopped at a call the backend cannot express: {msg[3:].strip()}")
        elif msg.startswith("NA:"):
            rec["status"], rec["reason"] = "NA", msg[3:].strip()
        else:
            rec["status"], rec["reason"] = "SKIP", msg[5:].strip() if msg.startswith("SKIP:") else msg
    if rep.skipped and not na_after:
        pass
    elif rep.passed or na_after or (exc and all(isinstance(x, Mismatch) for x in exc)):
        if exc:  # minimise: the shrunk failures hypothesis raised (the others are shrinking noise)
            failures = [dict(x.payload, minimal=True) for x in exc]
        else:
            failures = merge_widened(chk.loss, list(chk.found.values())) if chk is not None else []
        failures.sort(key=_failure_rank)
        if failures:
            f = failures[0]
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            rec.update(status="ERROR" if any(p["status"] == "ERROR" for p in failures) else "FAIL",
                       failures=failures, failure=f, clause=f["clause"], message=f["message"] + more)
            rep.outcome = "failed"
            rep.longrepr = "\n".join(f"[{p['clause']}] {p['message']}" for p in failures)
        elif chk is not None and chk.observed:
            clause, (e, payload) = next(iter(chk.observed.items()))
            rec.update(status="XFAIL", clause=clause, reason=e.reason, link=e.link, failure=payload,
                       message=payload.get("message", ""))
            rep.outcome, rep.wasxfail = "skipped", f"expected deviation ({clause}): {e.reason}"
        else:
            stale = [e for e in (chk.expectations if chk else []) if e.matches(cid) and not e.flaky]
            if stale:
                e = stale[0]
                rec.update(status="XPASS", reason=e.reason, link=e.link,
                           message=f"expected to fail ({e.clause or 'any clause'}) but passed: the expectation is stale")
                rep.outcome = "failed"
                rep.longrepr = f"XPASS (stale expectation): {cid} was expected to fail: {e.reason}"
            else:
                rec["status"] = "PASS"
    else:
        x = exc[0] if exc else None
        tb = "".join(traceback.format_exception_only(type(x), x)).strip() if x else str(rep.longrepr)[-2000:]
        rec.update(status="ERROR", message=f"internal error in the suite or adapter ({rep.when}): {tb[:500]}",
                   failure={"quantity": "error", "kind": "internal", "message": tb[-4000:], "clause": rec["clause"],
                            "status": "ERROR"})
        rec["failures"] = [rec["failure"]]
    if rec["clause"]:
        rec["level"] = specindex.level_of(rec["clause"])
    s.write(rec)
    if rec["status"] in ("FAIL", "ERROR") and s.corpus_out:
        for f in rec["failures"]:
            if not f.get("call"):
                continue
            os.makedirs(s.corpus_out, exist_ok=True)
            safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in f"{cid}-{f['clause']}")[:120]
            with open(os.path.join(s.corpus_out, f"{safe}.json"), "w", encoding="utf-8") as fh:
                json.dump({"check": cid, "clause": f["clause"], "call": f["call"]}, fh, indent=1)


def _failure_rank(p: dict) -> tuple:
    """Order of a check's failures: errors, then the most basic level, then the largest error."""
    try:
        ne = float(p.get("normalized_error") or 0)
    except (TypeError, ValueError):
        ne = float("inf")
    lvl = specindex.LEVELS.index(p.get("level") or "core") if (p.get("level") or "core") in specindex.LEVELS else 0
    return (p.get("status") != "ERROR", lvl, -ne if ne == ne else 0, signature(p))


def _skip_message(rep) -> str:
    lr = rep.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        msg = lr[2]
    else:
        msg = str(lr)
    return msg[len("Skipped: "):] if msg.startswith("Skipped: ") else msg


def _unwrap(exc) -> list:
    """The exceptions of a failure: hypothesis raises an ExceptionGroup for several distinct ones."""
    if isinstance(exc, BaseExceptionGroup):
        return [x for e in exc.exceptions for x in _unwrap(e)]
    return [exc] if exc is not None else []


def pytest_report_header(config):
    s = config._lossconform
    return [f"lossconform: backend={s.backend} level={s.level} profile={s.profile} seed={s.seed} "
            f"expectations={s.expectations_path}" + (f" UNAVAILABLE: {s.unavailable}" if s.unavailable else "")]
