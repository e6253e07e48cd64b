"""The lucid adapter (adapters/lucid_backend.py), driven through an in-process stand-in of lucid's
documented API (tests/lucid_standin/): the adapter's translation is tested, lucid is not. lucid-dl
with PoissonNLLLoss builds only on macOS arm64; nothing here is a verification of it."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
STANDIN = ROOT / "tests" / "lucid_standin"
REAL_LUCID = importlib.util.find_spec("lucid") is not None and "lucid_standin" not in str(importlib.util.find_spec("lucid").origin)

import adapters  # noqa: E402
from reference.engine import Call  # noqa: E402


@pytest.fixture
def standin(monkeypatch):
    if REAL_LUCID:
        pytest.skip("a real lucid is installed: the stand-in would shadow it")
    monkeypatch.syspath_prepend(str(STANDIN))
    for m in [m for m in sys.modules if m == "lucid" or m.startswith("lucid.")]:
        monkeypatch.delitem(sys.modules, m)
    yield
    for m in [m for m in sys.modules if m == "lucid" or m.startswith("lucid.")]:
        sys.modules.pop(m, None)


@pytest.mark.skipif(REAL_LUCID, reason="a real lucid is installed")
def test_without_lucid_the_backend_is_unavailable_and_says_why():
    ok, why = adapters.make("lucid").available()
    assert not ok and "macOS arm64" in why


def test_the_stand_in_is_never_reported_as_lucid(standin):
    a = adapters.make("lucid")
    assert a.available() == (True, "")
    assert "NOT VERIFIED" in a.version()


def test_module_arguments_are_passed_by_name_and_gradients_come_back(standin):
    a = adapters.make("lucid")
    x = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    t = np.array([2.0, 0.0, 3.0], dtype=np.float32)
    # PyTorch's positional order (log_input, full, size_average, eps) is not lucid's: passed by name
    call = Call("poisson", "module", {"input": x, "target": t}, args=(False, True), kwargs={"eps": 0.5, "reduction": "none"},
                grad_wrt=("input", "target"))
    assert a._kwargs(call) == {"log_input": False, "full": True, "eps": 0.5, "reduction": "none"}
    out = a.run(call)
    assert out.raised is None, out.raised
    from adapters.numpy_losses import poisson_nll_loss, poisson_nll_loss_backward

    np.testing.assert_array_equal(out.output, poisson_nll_loss(x, t, False, True, eps=0.5, reduction="none"))
    g = poisson_nll_loss_backward(x, t, False, True, eps=0.5, reduction="none")
    np.testing.assert_array_equal(out.grads["input"], g["input"])
    np.testing.assert_array_equal(out.grads["target"], g["target"])
    assert "lucid.nn.PoissonNLLLoss(log_input=False, full=True, eps=0.5, reduction='none')" in out.repro


def test_what_lucid_cannot_say_is_not_applicable(standin):
    a = adapters.make("lucid")
    x = np.ones(3, dtype=np.float32)
    legacy = Call("poisson", "module", {"input": x, "target": x}, kwargs={"size_average": False})
    assert "legacy" in a.cannot_express(legacy)
    by_name = Call("poisson", "module", {"input": x, "target": x}, forward_names=("log_input", "target"))
    assert "forward" in a.cannot_express(by_name)
    assert a.caps.losses == ("poisson",) and "float16" not in a.caps.dtypes


def test_a_run_through_the_stand_in_is_labelled_not_verified(tmp_path):
    if REAL_LUCID:
        pytest.skip("a real lucid is installed")
    out = tmp_path / "res.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = str(STANDIN)
    p = subprocess.run([sys.executable, "-m", "conformance", "run", "--backend", "lucid", "--profile", "quick",
                        "--check", "poisson.values[*],poisson.defaults[*]", "--dtype", "float32", "--json", str(out),
                        "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.loads(out.read_text(encoding="utf-8"))
    assert "NOT VERIFIED" in res["environment"]["backend_version"] and res["summary"]["PASS"] > 0
