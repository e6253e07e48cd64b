"""The day a candidate is wrong: every distinct failure reported, grouped and minimal; the run
survives its parent, talks while it works, and refuses bad output paths before doing anything.

Each CLI run here is narrowed with `--check`, so the module takes well under a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.procs import workers_of

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = "tests/mistakes/candidates.py"

try:
    import torch  # noqa: F401
except Exception as exc:  # noqa: BLE001
    pytest.skip(f"torch is not importable ({type(exc).__name__}: {exc})", allow_module_level=True)

pytestmark = [pytest.mark.torch]


def cli(*args, timeout=600, env=None):
    e = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "conformance", *map(str, args)], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=timeout)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def two_bugs(tmp_path_factory):
    d = tmp_path_factory.mktemp("two-bugs")
    out = d / "res.json"
    p = cli("run", "--backend", "torch", "--poisson-fn", f"{CANDIDATES}:poisson_two_bugs", "--loss", "poisson",
            "--profile", "quick", "--json", out, "--report", d,
            "--check", "poisson.values*,poisson.edge_values*,poisson.gradients[*reduction=none*]")
    return p, json.loads(out.read_text(encoding="utf-8")), d


def test_two_unrelated_bugs_are_both_reported(two_bugs):
    p, res, _ = two_bugs
    assert p.returncode == 1, p.stdout + p.stderr
    own = [f for f in res["findings"] if f["origin"] == "own" and f["status"] in ("FAIL", "ERROR")]
    by_clause = {f["clause"]: f for f in own}
    # each bug under its own clause, whatever else it causes
    assert "PNLL-STIRLING-MASK" in by_clause, [f["clause"] for f in own]
    assert "PNLL-VALUE-RATE" in by_clause, [f["clause"] for f in own]
    for clause, f in by_clause.items():
        # grouped: one finding for the many checks and dtypes that show the same mistake
        assert len(f["checks"]) >= 2, (clause, f["checks"])
        # a minimal counterexample: one element per operand
        ops = f["example"]["call"]["operands"]
        assert all(len(o["values"]) == 1 for o in ops.values()), (clause, ops)
        assert f["example"]["repro"].startswith("import torch") and "# expected:" in f["example"]["repro"]
    stirling = by_clause["PNLL-STIRLING-MASK"]["example"]["call"]
    assert stirling["kwargs"]["full"] is True and stirling["operands"]["target"]["values"] == ["1.0"]
    rate = by_clause["PNLL-VALUE-RATE"]["example"]["call"]
    assert rate["kwargs"]["log_input"] is False
    # every record names its findings; the console shows the findings with their minimal input
    for r in res["records"]:
        for f in r.get("failures") or ():
            assert f.get("finding", "").startswith("F"), f
    assert "PNLL-STIRLING-MASK" in p.stdout and "PNLL-VALUE-RATE" in p.stdout
    assert "minimal: poisson functional" in p.stdout or "example: poisson functional" in p.stdout


def test_a_check_reports_every_distinct_failure(two_bugs):
    """A check whose calls go wrong in two ways (the value at t = 1 and its target gradient) lists
    both, each with its own counterexample, not only the first one found."""
    _, res, _ = two_bugs
    rec = next(r for r in res["records"]
               if r["check"].startswith("poisson.gradients[log_input=True,full=True,reduction=none"))
    clauses = {f["clause"] for f in rec["failures"]}
    assert {"PNLL-STIRLING-MASK", "PNLL-GRAD-STIRLING-MASK"} <= clauses, clauses
    # rate mode with full=True: the log(x) + eps error is wrong with full=False too, so it is filed
    # under the rate formula's clause, not under the Stirling term's
    rate = next(r for r in res["records"] if r["check"].startswith("poisson.values[log_input=False,full=True"))
    assert "PNLL-VALUE-RATE" in {f["clause"] for f in rate["failures"]}


def test_user_function_run_is_named_after_the_function(two_bugs):
    _, res, d = two_bugs
    assert res["environment"]["subject"] == "candidates-poisson_two_bugs"
    assert (d / "candidates-poisson_two_bugs.html").exists(), sorted(x.name for x in d.iterdir())
    assert not (d / "torch.html").exists()


def test_pytorch_own_deviation_is_marked_and_can_be_expected(tmp_path):
    """A function that shares PyTorch's NaN target gradient at t <= 0 (full=True): marked as
    PyTorch's, and expected with --expect-pytorch-deviations (same bits, listed for PyTorch)."""
    args = ("run", "--backend", "torch", "--poisson-fn", f"{CANDIDATES}:poisson_wraps_torch", "--loss", "poisson",
            "--profile", "quick", "--quiet", "--check", "poisson.gradients[log_input=True,full=True,reduction=none*]")
    p = cli(*args, "--json", tmp_path / "a.json")
    res = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert res["findings"] and all(f["origin"] == "pytorch" and f["pytorch_reason"] for f in res["findings"])
    assert "[PyTorch 2.13 shows this too]" in p.stdout
    p = cli(*args, "--json", tmp_path / "b.json", "--expect-pytorch-deviations")
    res = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert {r["status"] for r in res["records"]} == {"XFAIL"}


def test_exact_check_id_selects_that_check(tmp_path):
    cid = "poisson.values[log_input=True,full=False,float32]"
    p = cli("run", "--backend", "torch", "--profile", "quick", "--quiet", "--check", cid, "--json", tmp_path / "r.json")
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert [r["check"] for r in res["records"]] == [cid]


def test_declared_inexpressible_cases_are_na(tmp_path):
    fn = write(tmp_path / "logonly.py", """
        import torch.nn.functional as F

        def loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                 reduction="mean"):
            if not log_input:
                raise NotImplementedError("only log_input=True")
            return F.poisson_nll_loss(input, target, log_input=log_input, full=full, eps=eps, reduction=reduction)

        loss.lossconform_cannot = ["log_input=False", "legacy"]
    """)
    out = tmp_path / "r.json"
    p = cli("run", "--backend", "torch", "--poisson-fn", f"{fn}:loss", "--loss", "poisson", "--profile", "quick",
            "--quiet", "--dtype", "float32", "--check", "poisson.values*,poisson.legacy*", "--json", out,
            "--expect-pytorch-deviations")
    res = json.loads(out.read_text(encoding="utf-8"))
    assert p.returncode == 0, p.stdout + p.stderr
    st = {r["check"]: r for r in res["records"]}
    assert st["poisson.values[log_input=False,full=False,float32]"]["status"] == "NA"
    assert "log_input=False" in st["poisson.values[log_input=False,full=False,float32]"]["reason"]
    assert st["poisson.values[log_input=True,full=False,float32]"]["status"] == "PASS"
    assert all(r["status"] == "NA" for c, r in st.items() if c.startswith("poisson.legacy"))


@pytest.mark.parametrize("opt,target", [("--json", "/proc/lossconform/res.json"), ("--junit", "FILE/under/it.xml"),
                                        ("--report", "FILE/sub")])
def test_unwritable_output_is_a_usage_error_before_any_check(tmp_path, opt, target):
    f = tmp_path / "FILE"
    f.write_text("a file, not a directory")
    target = target.replace("FILE", str(f))
    t0 = time.monotonic()
    p = cli("run", "--backend", "torch", "--profile", "quick", opt, target)
    assert p.returncode == 2, p.stdout + p.stderr
    err = p.stderr.strip()
    assert err.startswith("lossconform: ") and "\n" not in err and "Traceback" not in p.stderr, p.stderr
    assert opt in err
    assert time.monotonic() - t0 < 30, "no check may run before the paths are validated"
    assert f.read_text() == "a file, not a directory"


SLEEPER = """
    import time

    def loss(*args, **kwargs):
        time.sleep(1000)
"""


def _start_sleeping_run(tmp_path, *extra):
    fn = write(tmp_path / "sleeper.py", SLEEPER)
    spec = f"{fn}:loss"
    e = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    proc = subprocess.Popen([sys.executable, "-m", "conformance", "run", "--backend", "torch", "--poisson-fn", spec,
                             "--loss", "poisson", *extra], cwd=ROOT, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not workers_of(spec) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert workers_of(spec), "no worker started"
    return proc, spec


def test_sigkill_of_the_parent_leaves_no_worker(tmp_path):
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc to find the worker processes")
    proc, spec = _start_sleeping_run(tmp_path, "--quiet")
    try:
        time.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while workers_of(spec) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not workers_of(spec), "a worker outlived its parent killed with SIGKILL"
    finally:
        for pid in workers_of(spec):
            os.kill(pid, signal.SIGKILL)


def test_sigterm_writes_what_finished_and_a_heartbeat_talks(tmp_path):
    out = tmp_path / "partial.json"
    proc, spec = _start_sleeping_run(tmp_path, "--json", str(out), "--report", str(tmp_path))
    try:
        time.sleep(12.5)  # past one heartbeat period with every worker asleep in the candidate
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in workers_of(spec):
            os.kill(pid, signal.SIGKILL)
    assert proc.returncode == 130, stdout + stderr
    assert "running poisson." in stdout, stdout  # the heartbeat names the check that runs
    res = json.loads(out.read_text(encoding="utf-8"))
    assert res["complete"] is False and res["verdict"] == "incomplete"
    assert (tmp_path / "sleeper-loss.html").exists()


def _without_timings(res: dict) -> dict:
    env = {k: v for k, v in res["environment"].items() if k not in ("started", "duration_s", "timings")}
    recs = [{k: v for k, v in r.items() if k != "duration_s"} for r in res["records"]]
    return dict(res, environment=env, records=recs)


def test_same_seed_same_results_whatever_the_workers(tmp_path):
    """Determinism: two runs with one seed (one with 1 worker, one with 2; shrinking included)
    give the same JSON apart from timings; the hypothesis version is recorded."""
    args = ("run", "--backend", "torch", "--poisson-fn", f"{CANDIDATES}:poisson_two_bugs", "--loss", "poisson",
            "--profile", "quick", "--quiet", "--seed", "7", "--dtype", "float32,float16",
            "--check", "poisson.values*,poisson.reductions*")
    a = cli(*args, "--workers", "1", "--json", tmp_path / "a.json")
    b = cli(*args, "--workers", "2", "--json", tmp_path / "b.json")
    assert a.returncode == b.returncode == 1, a.stdout + b.stdout
    ra = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    rb = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert ra["environment"]["hypothesis"] and ra["environment"]["hypothesis"] != "unknown"
    ra, rb = _without_timings(ra), _without_timings(rb)
    ra["environment"].pop("workers"), rb["environment"].pop("workers")
    assert ra == rb


def test_a_check_keeps_the_widened_formula_failure_over_its_examples():
    """Across a check's examples: a negative-target failure and a failure of the formula's own
    region in the same quantity and kind are one failure (the formula's); alone, it stays."""
    from conformance.checking import merge_widened

    neg = {"clause": "PNLL-TARGET-ANY", "quantity": "output", "kind": "value"}
    base = {"clause": "PNLL-VALUE-LOG", "quantity": "output", "kind": "value"}
    grad = {"clause": "PNLL-GRAD-INPUT", "quantity": "grad_input", "kind": "value"}
    assert merge_widened("poisson", [neg, base, grad]) == [base, grad]
    assert merge_widened("poisson", [neg, grad]) == [neg, grad]
    assert merge_widened(None, [neg, base]) == [neg, base]


def test_expanded_layout_keeps_the_sign_of_zero():
    """A layout never changes a value's bits: 0.0 and -0.0 along an axis are not 'constant'."""
    import numpy as np

    from adapters.base import layout_view

    a = np.array([[0.0, -0.0, 0.0], [1.0, 1.0, 1.0]], dtype=np.float32)
    v = layout_view(a, "expanded")
    assert np.array_equal(np.signbit(v), np.signbit(a)) and v.strides[1] != 0
    assert layout_view(np.ones((2, 3)), "expanded").strides == (0, 0)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int64"])
def test_a_large_counterexample_is_packed_exactly_in_results_and_reproductions(dtype):
    """Past PACK_OVER elements an operand is written packed (a large reduction's 10^5 elements as
    text made results of hundreds of MB): the JSON and the repro expression give back the same bits."""
    import ml_dtypes
    import numpy as np

    from adapters.base import PACK_OVER, array_literal
    from conformance.serialize import array_from_json, array_size, array_to_json

    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    a = (np.random.default_rng(1).standard_normal(3 * PACK_OVER) * 1e3).astype(dt).reshape(3, PACK_OVER)
    if dtype == "float64":
        a.ravel()[:3] = [np.nan, -0.0, np.inf]
    d = array_to_json(a)
    assert array_size(d) == a.size and len(d["values"]) < 20 and len(json.dumps(d)) < 11 * a.size + 1000
    for back in (array_from_json(d),
                 np.array(eval(array_literal(a)), dtype=np.float64).astype(dt).reshape(a.shape)):  # noqa: S307
        assert back.dtype == a.dtype and np.array_equal(back.view(np.uint8), a.view(np.uint8))
    small = array_to_json(a.ravel()[:4])
    assert "packed" not in small and len(small["values"]) == 4
