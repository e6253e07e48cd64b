"""The PaddlePaddle adapter (`paddle`): it translates PyTorch's argument names into Paddle's and
nothing else; what Paddle cannot express is NA, what it does differently is reported.

Skipped where paddle is not installed (the `tests` tox environment has none; `pip install '.[paddle]'`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytest.importorskip("paddle")

import adapters  # noqa: E402
from conformance import options  # noqa: E402
from reference.engine import Call  # noqa: E402

X = np.array([0.5, -1.0, 2.0])
T = np.array([2.0, 0.0, 3.0])


def test_registered_at_its_natural_level_with_cpu_dtypes():
    a = adapters.make("paddle")
    assert a.available() == (True, "")
    assert options.default_level({}, "paddle") == "core"
    assert a.caps.dtypes == ("float32", "float64") and a.caps.layouts == ("contiguous",)


def test_names_are_translated_and_omitted_arguments_stay_omitted():
    a = adapters.make("paddle")
    call = Call("poisson", "functional", {"input": X, "target": T}, (False,), {"eps": 0.5, "reduction": "none"})
    assert a._kwargs(call) == {"log_input": False, "epsilon": 0.5, "reduction": "none"}
    out = a.run(call)
    assert out.raised is None, out.raised
    np.testing.assert_allclose(out.output, X - T * np.log(X + 0.5))
    assert "epsilon=0.5" in out.repro and "size_average" not in out.repro


def test_legacy_arguments_are_not_applicable_not_translated():
    a = adapters.make("paddle")
    call = Call("poisson", "functional", {"input": X, "target": T}, (), {"size_average": False})
    assert "legacy" in a.cannot_express(call)


def test_a_gradient_paddle_does_not_give_is_reported_missing_never_filled_in():
    """Paddle's Gaussian loss detaches the clipped variance: no gradient comes back for var."""
    a = adapters.make("paddle")
    v = np.array([0.5, 1.0, 2.0])
    out = a.run(Call("gaussian", "functional", {"input": X, "target": T, "var": v}, (), {"reduction": "sum"},
                     grad_wrt=("input", "var")))
    assert out.raised is None, out.raised
    assert "input" in out.grads and "var" not in out.grads
