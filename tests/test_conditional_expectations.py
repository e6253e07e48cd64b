"""A conditional expectation (`when = "subnormal"`): a backend that flushes subnormals to zero is
recorded once, covers exactly the failures where a subnormal is involved, never hides another
failure and never goes stale by the luck of the draws.

The end-to-end tests run the NumPy backend on a user function that emulates flush-to-zero
(denormals-are-zero on the operands, flush-to-zero on the result) over the NumPy implementation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from conformance.expectations import Expectation, ExpectationsError, load
from reference.engine import Call, expect
from reference.elementwise import meets_subnormal

ROOT = Path(__file__).resolve().parent.parent
POISSON = dict(log_input=True, full=False, eps=1e-8)


# --- the reference's probe ----------------------------------------------------------------------
@pytest.mark.parametrize("point,params,dtype,meets", [
    ((1.0, 2.0), POISSON, "float32", False),
    ((-100.0, 0.0), POISSON, "float32", True),  # exp(-100) is a float32 subnormal: the result
    ((-100.0, 3.0), POISSON, "float32", True),  # ... and an intermediate, absorbed by -t*x
    ((1e-40, 1.0), dict(POISSON, log_input=False), "float32", True),  # a subnormal operand
    ((1e-40, 1.0), dict(POISSON, log_input=False), "float64", False),  # normal in float64
    ((1.0, 2.0, 1.0), dict(full=False, eps=1e-6), "float16", False),  # eps is a float16 subnormal, unused
    ((1.0, 2.0, 1e-7), dict(full=False, eps=1e-6), "float16", True),  # ... and used by the clamp
])
def test_meets_subnormal(point, params, dtype, meets):
    loss = "poisson" if len(point) == 2 else "gaussian"
    assert meets_subnormal(loss, point, params, dtype) is meets


def test_expected_asks_every_summed_point():
    x = np.array([1.0, -100.0], dtype=np.float32)
    t = np.array([2.0, 0.0], dtype=np.float32)
    none = expect(Call("poisson", "functional", {"input": x, "target": t}, kwargs={"reduction": "none"}))
    assert [none.meets_subnormal("output", i, "float32") for i in range(2)] == [False, True]
    mean = expect(Call("poisson", "functional", {"input": x, "target": t}))
    assert mean.meets_subnormal("output", 0, "float32")


# --- the entry ------------------------------------------------------------------------------------
def test_a_conditional_entry_matches_only_where_its_condition_holds():
    e = Expectation("poisson.values[*]", "flushes subnormals", when="subnormal")
    assert e.matches("poisson.values[x]", "PNLL-VALUE-LOG", {"subnormal": True})
    assert not e.matches("poisson.values[x]", "PNLL-VALUE-LOG", {"subnormal": False})
    assert not e.matches("poisson.values[x]", "PNLL-VALUE-LOG")  # no failure: never stale
    assert not e.matches("gaussian.values[x]", None, {"subnormal": True})


def test_an_unknown_condition_is_refused(tmp_path):
    p = tmp_path / "e.toml"
    p.write_text('[[expect]]\ncheck = "*"\nreason = "r"\nwhen = "sometimes"\n', encoding="utf-8")
    with pytest.raises(ExpectationsError, match="'when' must be one of"):
        load(p)


# --- end to end -------------------------------------------------------------------------------------
FTZ = '''
import numpy as np
from adapters.numpy_losses import poisson_nll_loss as _loss

def _flush(a):
    a = np.asarray(a)
    if a.dtype.kind != "f":
        return a
    tiny = np.finfo(a.dtype).tiny
    return np.where(np.abs(a) < tiny, np.zeros_like(a), a)

def ftz(input, target, *args, **kwargs):
    return _flush(_loss(_flush(input), _flush(target), *args, **kwargs))

def ftz_and_wrong(input, target, *args, **kwargs):
    """Flushes, and is wrong everywhere: log(1 + exp(x)) for exp(x) (a softplus rate)."""
    out = _loss(np.log1p(np.exp(_flush(input))), _flush(target), *args, **kwargs)
    return _flush(out)
'''
ENTRY = '''
[[expect]]
check = "*"
when = "subnormal"
reason = "flushes subnormals to zero"
'''
CHECKS = "poisson.subnormal_operands[*],poisson.values[log_input=True*]"


def _run(tmp_path, fn, entry: bool):
    (tmp_path / "ftz.py").write_text(textwrap.dedent(FTZ), encoding="utf-8")
    exp = tmp_path / "exp.toml"
    exp.write_text(ENTRY if entry else "", encoding="utf-8")
    out = tmp_path / f"{fn}-{entry}.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run([sys.executable, "-m", "conformance", "run", "--backend", "numpy", "--poisson-fn",
                        f"{tmp_path / 'ftz.py'}:{fn}", "--dtype", "float32", "--check", CHECKS, "--profile", "quick",
                        "--expectations", str(exp), "--json", str(out), "--quiet"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    res = json.loads(out.read_text(encoding="utf-8"))
    return p, {r["check"]: r["status"] for r in res["records"]}, res


def test_flush_to_zero_is_covered_by_one_conditional_entry(tmp_path):
    p, st, _ = _run(tmp_path, "ftz", entry=False)
    assert p.returncode == 1 and "FAIL" in st.values(), p.stdout + p.stderr
    p, st, res = _run(tmp_path, "ftz", entry=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert st["poisson.subnormal_operands[float32]"] == "XFAIL", st
    assert set(st.values()) <= {"PASS", "XFAIL", "NA"} and res["stale_expectations"] == []


def test_the_entry_does_not_hide_another_mistake(tmp_path):
    p, st, res = _run(tmp_path, "ftz_and_wrong", entry=True)
    assert p.returncode == 1, p.stdout + p.stderr
    fails = [r for r in res["records"] if r["status"] == "FAIL"]
    assert fails and all(not r["failure"].get("subnormal") for r in fails), fails


def test_the_probe_sees_the_mean_and_the_upstream_gradient():
    """A gradient made subnormal only by the mean's 1/N or by the upstream gradient is subnormal
    involvement too (CI found both: bfloat16 d/dtarget = -x/N at x = 2^-126 came back 0)."""
    tiny = np.float32(1.1754943508222875e-38)
    x, t = np.array([tiny, 0.0], dtype=np.float32), np.array([284.0, 0.0], dtype=np.float32)
    mean = expect(Call("poisson", "functional", {"input": x, "target": t}, grad_wrt=("target",)))
    assert mean.meets_subnormal("grad_target", 0, "float32")
    none = expect(Call("poisson", "functional", {"input": x, "target": t}, kwargs={"reduction": "none"},
                       grad_wrt=("target",)))
    assert not none.meets_subnormal("grad_target", 0, "float32")
    up = expect(Call("poisson", "functional", {"input": x, "target": t}, kwargs={"reduction": "none"},
                     grad_wrt=("target",), grad_output=np.array([0.5, 1.0], dtype=np.float32)))
    assert up.meets_subnormal("grad_target", 0, "float32")


def test_a_flaky_entry_is_never_stale(tmp_path):
    """`flaky = true`: a run in which the deviation does not show does not make the entry stale."""
    exp = tmp_path / "exp.toml"
    exp.write_text('[[expect]]\ncheck = "poisson.values[log_input=True,full=False,float32]"\nreason = "r"\nflaky = true\n',
                   encoding="utf-8")
    out = tmp_path / "res.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    p = subprocess.run([sys.executable, "-m", "conformance", "run", "--backend", "numpy", "--check",
                        "poisson.values[log_input=True,full=False,float32]", "--profile", "quick",
                        "--expectations", str(exp), "--json", str(out), "--quiet"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.loads(out.read_text(encoding="utf-8"))
    assert [r["status"] for r in res["records"]] == ["PASS"] and res["stale_expectations"] == []
    bad = tmp_path / "bad.toml"
    bad.write_text('[[expect]]\ncheck = "*"\nreason = "r"\nflaky = "yes"\n', encoding="utf-8")
    with pytest.raises(ExpectationsError, match="'flaky' must be true or false"):
        load(bad)


def test_a_quantity_entry_covers_only_that_quantity(tmp_path):
    """`quantity = ...`: the entry covers failures of that output or gradient only, so a flaky
    entry for one gradient cannot hide a wrong value of the same check and clause."""
    from conformance.expectations import Expectation

    e = Expectation("normal.values[float16]", "r", "NLP-GRAD", quantity="grad_scale", flaky=True)
    assert e.matches("normal.values[float16]", "NLP-GRAD", {"quantity": "grad_scale"})
    assert not e.matches("normal.values[float16]", "NLP-GRAD", {"quantity": "grad_loc"})
    assert not e.matches("normal.values[float16]", "NLP-VALUE", {"quantity": "grad_scale"})
    assert e.matches("normal.values[float16]")  # without a payload (staleness): the check alone
    bad = tmp_path / "bad.toml"
    bad.write_text('[[expect]]\ncheck = "*"\nreason = "r"\nquantity = "loss"\n', encoding="utf-8")
    with pytest.raises(ExpectationsError, match="'quantity' is 'output' or 'grad_<operand>'"):
        load(bad)
    good = tmp_path / "good.toml"
    good.write_text('[[expect]]\ncheck = "*"\nreason = "r"\nquantity = "grad_rate"\n', encoding="utf-8")
    assert load(good)[0].quantity == "grad_rate"
