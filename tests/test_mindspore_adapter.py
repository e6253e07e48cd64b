"""The MindSpore adapter (`mindspore`): it passes the call's arguments by keyword (binding
positional ones by PyTorch's signature) and nothing else; what MindSpore cannot express is NA,
what it does differently is reported.

Skipped where mindspore is not installed (the `tests` tox environment has none; `pip install '.[mindspore]'`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("GLOG_v", "3")
pytest.importorskip("mindspore")

import adapters  # noqa: E402
from conformance import options  # noqa: E402
from reference.engine import Call  # noqa: E402

X = np.array([0.5, -1.0, 2.0])
T = np.array([2.0, 0.0, 3.0])
V = np.array([0.5, 1.0, 2.0])


def test_registered_at_its_natural_level_with_cpu_dtypes():
    a = adapters.make("mindspore")
    assert a.available() == (True, "")
    assert options.default_level({}, "mindspore") == "core"
    assert a.caps.dtypes == ("float16", "float32", "float64")
    assert a.caps.layouts == ("contiguous", "transposed", "strided", "expanded")


def test_positional_arguments_are_bound_by_pytorchs_signature_and_omitted_ones_stay_omitted():
    a = adapters.make("mindspore")
    rate = np.abs(X)
    call = Call("poisson", "functional", {"input": rate, "target": T}, (False,), {"eps": 0.5, "reduction": "none"})
    assert a._kwargs(call) == {"log_input": False, "eps": 0.5, "reduction": "none"}
    out = a.run(call)
    assert out.raised is None, out.raised
    assert out.output_dtype == "float64"
    # MindSpore's PoissonNLLLoss rounds its float64 loss to float32 (LossBase.get_loss): the
    # adapter reports that, it does not repair it
    np.testing.assert_allclose(out.output, rate - T * np.log(rate + 0.5), rtol=1e-6)
    assert "PoissonNLLLoss(log_input=False, eps=0.5, reduction='none')" in out.repro
    assert "size_average" not in out.repro


def test_legacy_arguments_and_forward_by_keyword_are_not_applicable():
    a = adapters.make("mindspore")
    assert "legacy" in a.cannot_express(Call("poisson", "functional", {"input": X, "target": T}, (), {"reduce": False}))
    assert "legacy" in a.cannot_express(Call("poisson", "module", {"input": X, "target": T}, (True, False, True), {}))
    kw = Call("gaussian", "module", {"input": X, "target": T, "var": V}, (), {}, forward_names=("input", "target", "var"))
    assert "names" in a.cannot_express(kw)


def test_gradients_are_pulled_back_with_the_upstream_gradient_in_every_layout():
    a = adapters.make("mindspore")
    x, t, v = (np.broadcast_to(z.reshape(3, 1), (3, 2)).copy() for z in (X, T, V))
    g = np.arange(6.0).reshape(3, 2)
    for layout in ({}, {"input": "transposed", "target": "strided", "var": "expanded"}):
        out = a.run(Call("gaussian", "functional", {"input": x, "target": t, "var": v}, (), {"reduction": "none"},
                         grad_wrt=("input", "var"), grad_output=g, layout=layout))
        assert out.raised is None, out.raised
        np.testing.assert_allclose(out.output, 0.5 * (np.log(v) + (x - t) ** 2 / v))
        np.testing.assert_allclose(out.grads["input"], g * (x - t) / v)
        np.testing.assert_allclose(out.grads["var"], g * 0.5 * (1 / v - (x - t) ** 2 / v**2))
        assert set(out.grads) == {"input", "var"} and not out.mutated


def test_what_mindspore_refuses_is_recorded_never_repaired():
    a = adapters.make("mindspore")
    out = a.run(Call("gaussian", "functional", {"input": X, "target": T, "var": 0.5}, (), {}))
    assert out.raised is not None and out.raised.type == "TypeError"  # no Python-number var
    import ml_dtypes

    b = X.astype(ml_dtypes.bfloat16)  # why bfloat16 is declared NA: no CPU kernel for it
    out = a.run(Call("poisson", "functional", {"input": b, "target": b}, (), {}))
    assert out.raised is not None and "Unsupported data type" in out.raised.message
