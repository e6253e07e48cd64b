"""The command line's contract: exit codes, messages, isolation of crashes and hangs, outputs.

`python -m conformance run` exits 0 (conformant), 1 (unexpected failures or stale expectations),
2 (usage or configuration error: one line on stderr, no traceback) or 3 (backend unavailable).
Runs that execute checks are narrowed to a few checks each (a pytest `-k` expression handed to
the suite's worker processes through PYTEST_ADDOPTS), so each takes a few seconds.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.procs import workers_of

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("PASS", "FAIL", "XFAIL", "XPASS", "ERROR", "CRASH", "TIMEOUT", "NA", "SKIP")

try:
    import torch  # noqa: F401

    HAVE_TORCH, WHY_NOT = True, ""
except Exception as exc:  # noqa: BLE001
    HAVE_TORCH, WHY_NOT = False, f"torch is not importable: {type(exc).__name__}: {exc}"

requires_torch = pytest.mark.skipif(not HAVE_TORCH, reason=WHY_NOT or "torch")


def cli(*args, select=None, env=None, timeout=300):
    """Run `python -m conformance ARGS` from the repository root."""
    e = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    if select:
        e["PYTEST_ADDOPTS"] = f"-k '{select}'"
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *map(str, args)], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=timeout)


def strict_json(path) -> dict:
    """The results JSON, refusing the non-standard NaN/Infinity literals (the schema writes strings)."""

    def bad(c):
        raise AssertionError(f"non-standard JSON constant {c} in {path}")

    return json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=bad)


def assert_usage_error(p, *needles):
    assert p.returncode == 2, f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    err = p.stderr.strip()
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr
    assert err.startswith("lossconform: ") and "\n" not in err, f"not a one-line message:\n{p.stderr}"
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- usage and configuration errors: exit 2 ------------------------------------------------------
def test_unknown_backend():
    p = cli("run", "--backend", "nosuchbackend")
    assert_usage_error(p, "unknown backend 'nosuchbackend'", "torch")


@pytest.mark.parametrize("kind", ["no-colon", "missing-file", "missing-attribute", "import-raises", "not-callable"])
def test_bad_user_function_spec(tmp_path, kind):
    ok = write(tmp_path / "ok.py", "value = 3\ndef loss(*a, **k):\n    raise AssertionError('never called')\n")
    boom = write(tmp_path / "boom.py", "raise RuntimeError('broken module')\n")
    spec = {
        "no-colon": str(ok),
        "missing-file": f"{tmp_path / 'absent.py'}:loss",
        "missing-attribute": f"{ok}:nope",
        "import-raises": f"{boom}:loss",
        "not-callable": f"{ok}:value",
    }[kind]
    needle = {"no-colon": "MODULE:ATTR", "missing-file": "no such file", "missing-attribute": "no attribute 'nope'",
              "import-raises": "RuntimeError: broken module", "not-callable": "not callable"}[kind]
    p = cli("run", "--backend", "torch", "--poisson-fn", spec, "--loss", "poisson")
    assert_usage_error(p, "--poisson-fn", needle)


@pytest.mark.parametrize("kind", ["bad-toml", "unknown-key", "missing-reason", "missing-file"])
def test_malformed_expectations(tmp_path, kind):
    text = {
        "bad-toml": '[[expect]]\ncheck = "poisson.values[*]\n',
        "unknown-key": '[[expect]]\ncheck = "poisson.values[*]"\nreason = "r"\nseverity = "high"\n',
        "missing-reason": '[[expect]]\ncheck = "poisson.values[*]"\n',
        "missing-file": None,
    }[kind]
    path = tmp_path / "exp.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    needle = {"bad-toml": "not valid TOML", "unknown-key": "unknown keys ['severity']",
              "missing-reason": "needs a non-empty string 'reason'", "missing-file": "no such expectations file"}[kind]
    p = cli("run", "--backend", "torch", "--expectations", path)
    assert_usage_error(p, str(path), needle)


def test_unknown_loss_and_dtype():
    assert_usage_error(cli("run", "--backend", "torch", "--loss", "poisson,huber"), "--loss", "huber")
    assert_usage_error(cli("run", "--backend", "torch", "--dtype", "float8"), "--dtype", "float8")


# --- list, unavailable backends: exit 0 / 3 -------------------------------------------------------
def test_list_prints_every_backend():
    sys.path.insert(0, str(ROOT))
    import adapters

    p = cli("list")
    assert p.returncode == 0, p.stderr
    lines = {line.split()[0]: line for line in p.stdout.splitlines() if line.strip()}
    assert set(adapters.REGISTRY) <= set(lines), p.stdout
    for name in adapters.REGISTRY:
        assert re.search(r"\b(available|unavailable)\b", lines[name]), lines[name]
    assert "Traceback" not in p.stdout + p.stderr


def test_torch_cuda_unavailable(tmp_path):
    if HAVE_TORCH:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA device is visible: torch-cuda is available here")
    out = tmp_path / "res.json"
    p = cli("run", "--backend", "torch-cuda", "--json", out)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
    res = strict_json(out)
    assert res["verdict"] == "unavailable" and res["exit_code"] == 3
    assert res["problems"] and res["records"] == []
    assert res["environment"]["backend"] == "torch-cuda"


# --- isolation: a crash or a hang costs one check, not the run -----------------------------------
CRASHER = """
    import os
    import time

    import torch
    import torch.nn.functional as F

    MARK = os.environ["LOSSCONFORM_TEST_MARK"]


    def loss(input, target, *args, **kwargs):
        # misbehave once, on the first float16 call; every later call (after the restart) is fine
        if input.dtype == torch.float16 and not os.path.exists(MARK):
            open(MARK, "w").close()
            {action}
        return F.poisson_nll_loss(input, target, *args, **kwargs)
"""


def _isolation_run(tmp_path, action, *extra):
    fn = write(tmp_path / "cand.py", CRASHER.replace("{action}", action))
    out = tmp_path / "res.json"
    p = cli("run", "--backend", "torch", "--poisson-fn", f"{fn}:loss", "--loss", "poisson",
            "--dtype", "float16,float32", "--profile", "quick", "--quiet", "--json", out, *extra,
            select="test_poisson_edge_values", env={"LOSSCONFORM_TEST_MARK": str(tmp_path / "mark")})
    assert (tmp_path / "mark").exists(), "the candidate never misbehaved\n" + p.stdout + p.stderr
    return p, strict_json(out)


def _assert_one_casualty(p, res, status):
    assert p.returncode == 1, p.stdout + p.stderr
    assert res["verdict"] == "nonconformant" and not res["problems"], res["problems"]
    recs = res["records"]
    # every edge-value check recorded once, as many for float16 as for float32: none was lost
    ids = [r["check"] for r in recs]
    assert len(ids) == len(set(ids)), ids
    per_dtype = [len([c for c in ids if d in c]) for d in ("float16", "float32")]
    assert per_dtype[0] == per_dtype[1] >= 2 and sum(per_dtype) == len(ids), ids
    hit = [r for r in recs if r["status"] == status]
    assert len(hit) == 1, [(r["check"], r["status"]) for r in recs]
    assert "float16" in hit[0]["check"]
    assert all(r["status"] == "PASS" for r in recs if r is not hit[0]), [(r["check"], r["status"]) for r in recs]
    # the checks after the casualty ran in a restarted child: float16 ones included
    after = ids[ids.index(hit[0]["check"]) + 1:]
    assert any("float16" in c for c in after) and any("float32" in c for c in after), ids
    assert f"{status} " in p.stdout and hit[0]["check"] in p.stdout
    return hit[0]


@pytest.mark.torch
@requires_torch
@pytest.mark.parametrize("action,code", [("os.abort()", -signal.SIGABRT), ("os._exit(9)", 9)], ids=["abort", "exit9"])
def test_crash_costs_one_check(tmp_path, action, code):
    p, res = _isolation_run(tmp_path, action)
    rec = _assert_one_casualty(p, res, "CRASH")
    assert f"exit code {code}" in rec["message"], rec["message"]


@pytest.mark.torch
@requires_torch
def test_hang_is_a_timeout(tmp_path):
    t0 = time.monotonic()
    p, res = _isolation_run(tmp_path, "time.sleep(1000)", "--timeout", "5")
    rec = _assert_one_casualty(p, res, "TIMEOUT")
    assert "5 s" in rec["message"], rec["message"]
    assert time.monotonic() - t0 < 120


@pytest.mark.torch
@requires_torch
def test_interrupt_stops_the_child(tmp_path):
    """Ctrl-C on the CLI stops the child pytest too (it runs in its own session, out of the
    terminal's reach), so no orphan keeps running the checks."""
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to find the child process")
    fn = write(tmp_path / "sleeper.py", """
        import time

        def loss(*args, **kwargs):
            time.sleep(1000)
    """)
    spec = f"{fn}:loss"

    def children():
        return workers_of(spec)

    e = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "run", "--backend", "torch", "--poisson-fn", spec,
                             "--loss", "poisson", "--quiet"], cwd=ROOT, env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not children() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert children(), "the child pytest never started"
        time.sleep(1.0)  # let it reach the sleeping candidate
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        deadline = time.monotonic() + 10
        while children() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not children(), "the child pytest outlived the interrupted CLI"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in children():
            os.kill(pid, signal.SIGKILL)


@pytest.mark.torch
@requires_torch
def test_raising_candidate_is_error(tmp_path):
    fn = write(tmp_path / "raiser.py", """
        def loss(*args, **kwargs):
            raise ValueError("not implemented for this input")
    """)
    out = tmp_path / "res.json"
    p = cli("run", "--backend", "torch", "--poisson-fn", f"{fn}:loss", "--loss", "poisson", "--dtype", "float32",
            "--profile", "quick", "--quiet", "--json", out, select="test_poisson_defaults")
    assert p.returncode == 1, p.stdout + p.stderr
    res = strict_json(out)
    (rec,) = [r for r in res["records"] if r["check"] == "poisson.defaults[form=functional]"]
    assert rec["status"] == "ERROR", rec
    assert rec["clause"] == "ERR-NO-EXCEPTION-ON-VALUES"
    assert "ValueError: not implemented for this input" in rec["failure"]["got"]
    assert rec["failure"]["call"]["loss"] == "poisson" and "raiser.py" in rec["failure"]["repro"]
    (mod,) = [r for r in res["records"] if r["check"] == "poisson.defaults[form=module]"]
    assert mod["status"] == "NA" and mod["reason"]


# --- outputs: results JSON and JUnit --------------------------------------------------------------
@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """A run with PASS, FAIL and NA records: a mistaken candidate on two fixed-case checks."""
    if not HAVE_TORCH:
        pytest.skip(WHY_NOT)
    d = tmp_path_factory.mktemp("mixed")
    p = cli("run", "--backend", "torch", "--poisson-fn", "tests/mistakes/candidates.py:poisson_stirling_mask_lt",
            "--loss", "poisson", "--dtype", "float32", "--profile", "quick", "--quiet",
            "--json", d / "res.json", "--junit", d / "junit.xml",
            select="test_poisson_edge_values or test_poisson_defaults")
    return p, d


ENV_KEYS = {"suite_commit": str, "backend": str, "backend_version": str, "device": str, "python": str,
            "platform": str, "seed": int, "profile": str, "level": str, "explore": bool, "losses": list,
            "dtypes": list, "started": str}
RECORD_KEYS = ("check", "loss", "chapter", "clause", "level", "status", "message", "reason", "link", "duration_s",
               "failure")
FAILURE_KEYS = ("quantity", "index", "expected", "expected_rounded", "got", "allowance", "normalized_error", "ulps",
                "call", "repro")


@pytest.mark.torch
def test_results_json_schema(mixed_run):
    p, d = mixed_run
    res = strict_json(d / "res.json")
    assert p.returncode == res["exit_code"] == 1
    assert res["schema"] == "lossconform-results" and res["schema_version"] == 3
    assert res["complete"] is True and isinstance(res["findings"], list) and res["findings"]
    env = res["environment"]
    for k, t in ENV_KEYS.items():
        assert isinstance(env.get(k), t), (k, env.get(k))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", env["started"]), env["started"]
    assert isinstance(env["duration_s"], (int, float)) and env["duration_s"] > 0
    assert env["backend"] == "torch" and env["level"] == "api" and env["losses"] == ["poisson"]
    assert env["dtypes"] == ["float32"] and env["poisson_fn"].endswith(":poisson_stirling_mask_lt")
    assert env["gaussian_fn"] is None and env["expectations"] is None
    assert res["verdict"] in ("conformant", "nonconformant", "unavailable", "error")
    assert res["verdict"] == "nonconformant"
    assert set(res["summary"]) == set(STATUSES) and all(isinstance(v, int) for v in res["summary"].values())
    assert sum(res["summary"].values()) == len(res["records"]) > 0
    assert isinstance(res["problems"], list) and isinstance(res["stale_expectations"], list)
    seen = set()
    for r in res["records"]:
        assert set(RECORD_KEYS) <= set(r), r.keys()
        assert r["status"] in STATUSES
        assert r["loss"] in ("poisson", "gaussian", None)
        assert r["level"] in ("core", "api", "strict") or r["clause"] is None
        assert r["check"] not in seen
        seen.add(r["check"])
        if r["status"] in ("FAIL", "ERROR", "XFAIL"):
            f = r["failure"]
            assert set(FAILURE_KEYS) <= set(f), f.keys()
            call = f["call"]
            assert call["loss"] == r["loss"] and call["form"] in ("functional", "module")
            for op in call["operands"].values():
                if "values" in op:
                    assert len(op["values"]) == (1 if not op["shape"] else math.prod(op["shape"]))
                    assert all(isinstance(v, str) for v in op["values"])
            assert f["repro"].startswith("import torch")
        if r["status"] in ("NA", "SKIP", "XFAIL"):
            assert r["reason"]
    statuses = {r["status"] for r in res["records"]}
    assert {"PASS", "FAIL", "NA"} <= statuses, statuses
    assert res["accuracy"], "value checks record accuracy samples"
    for a in res["accuracy"]:
        assert a["loss"] == "poisson" and a["dtype"] == "float32" and a["axes"] == ["input", "target"]
        # (axis 0, axis 1, normalized error, the admission that accepted the value)
        assert all(len(pt) == 4 and pt[3] in ("allowance", "straightforward-ieee", "exact-special", "fail")
                   for pt in a["points"])


@pytest.mark.torch
def test_junit_xml(mixed_run):
    _, d = mixed_run
    res = strict_json(d / "res.json")
    root = ET.parse(d / "junit.xml").getroot()
    assert root.tag == "testsuite" and root.get("name") == "lossconform.torch"
    cases = root.findall("testcase")
    assert int(root.get("tests")) == len(cases) == len(res["records"])
    assert [c.get("name") for c in cases] == [r["check"] for r in res["records"]]
    s = res["summary"]
    with_failure = [c for c in cases if c.find("failure") is not None]
    assert int(root.get("failures")) == s["FAIL"] + s["XPASS"] == len(with_failure)
    assert int(root.get("errors")) == s["ERROR"] + s["CRASH"] + s["TIMEOUT"]
    assert int(root.get("skipped")) == s["NA"] + s["SKIP"] + s["XFAIL"]
    for c, r in zip(cases, res["records"]):
        if r["status"] == "FAIL":
            fail = c.find("failure")
            assert r["clause"] in fail.get("message")
            json.loads(fail.text)  # the failure payload, as JSON


# --- expectations: stale entries -------------------------------------------------------------------
@pytest.mark.torch
@requires_torch
def test_expectation_for_a_passing_check_is_xpass(tmp_path):
    exp = write(tmp_path / "exp.toml", """
        [[expect]]
        check = "poisson.defaults[form=functional]"
        reason = "recorded as failing, but torch passes it"
    """)
    out = tmp_path / "res.json"
    p = cli("run", "--backend", "torch", "--loss", "poisson", "--profile", "quick", "--quiet", "--expectations", exp,
            "--json", out, select="test_poisson_defaults")
    assert p.returncode == 1, p.stdout + p.stderr
    res = strict_json(out)
    recs = {r["check"]: r for r in res["records"]}
    assert recs["poisson.defaults[form=functional]"]["status"] == "XPASS"
    assert recs["poisson.defaults[form=functional]"]["reason"] == "recorded as failing, but torch passes it"
    assert recs["poisson.defaults[form=module]"]["status"] == "PASS"
    assert res["stale_expectations"] == [{"check": "poisson.defaults[form=functional]", "clause": None,
                                          "why": "every matching check passed"}]
    assert res["verdict"] == "nonconformant" and "stale expectation" in p.stdout


@pytest.mark.torch
@requires_torch
@pytest.mark.parametrize("selective", [False, True], ids=["full-run", "selective-run"])
def test_expectation_matching_nothing(tmp_path, selective):
    """An entry that matches no check is stale in a full run; a run narrowed by --loss/--dtype or
    a user function cannot tell, so it is not (the CLI's `selective` rule)."""
    exp = write(tmp_path / "exp.toml", """
        [[expect]]
        check = "poisson.no_such_check[*]"
        clause = "PNLL-STIRLING"
        reason = "matches nothing"
    """)
    out = tmp_path / "res.json"
    extra = ("--loss", "poisson") if selective else ()
    # the CLI sees a full run (no --loss/--dtype): the -k narrowing is invisible to it
    p = cli("run", "--backend", "torch", "--profile", "quick", "--quiet", "--expectations", exp, "--json", out, *extra,
            select="test_poisson_defaults")
    res = strict_json(out)
    assert not [r for r in res["records"] if r["status"] != "PASS"], res["records"]
    if selective:
        assert p.returncode == 0 and res["stale_expectations"] == [], p.stdout + p.stderr
    else:
        assert p.returncode == 1, p.stdout + p.stderr
        assert res["stale_expectations"] == [{"check": "poisson.no_such_check[*]", "clause": "PNLL-STIRLING",
                                              "why": "matched no check"}]
        assert res["verdict"] == "nonconformant" and "stale expectation: poisson.no_such_check[*]" in p.stdout
