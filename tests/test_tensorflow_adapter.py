"""The TensorFlow adapter (`tensorflow`: tf.nn.log_poisson_loss) and the Keras adapter (`keras`:
keras.losses.poisson / Poisson on TensorFlow): they translate names and operand order and nothing
else; what the API cannot express is NA, what it does differently is reported.

Skipped where tensorflow is not installed (the `tests` tox environment has none;
`pip install '.[tensorflow]'` or `'.[keras]'`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytest.importorskip("tensorflow")

import adapters  # noqa: E402
from reference.engine import Call  # noqa: E402

X = np.array([0.5, -1.0, 2.0])
T = np.array([2.0, 0.0, 3.0])


def poisson(kwargs, args=(), x=X, t=T, **kw):
    return Call("poisson", kw.pop("form", "functional"), {"input": x, "target": t}, tuple(args), dict(kwargs), **kw)


def test_registered_at_core_with_what_tf_can_express():
    a = adapters.make("tensorflow")
    assert a.available() == (True, "")
    assert adapters.NATURAL_LEVEL["tensorflow"] == adapters.NATURAL_LEVEL["keras"] == "core"
    assert a.caps.losses == ("poisson",) and a.caps.forms == ("functional",)
    assert a.caps.dtypes == ("float16", "bfloat16", "float32", "float64") and a.caps.layouts == ("contiguous",)


@pytest.mark.parametrize("kwargs, why", [
    ({}, "no reduction='mean'"),  # the default reduction is 'mean': the op is elementwise
    ({"reduction": "sum"}, "no reduction='sum'"),
    ({"reduction": "bogus"}, "no reduction='bogus'"),
    ({"log_input": False, "reduction": "none"}, "log-input form only"),
    ({"size_average": False, "reduce": False}, "legacy"),
    ({"full": 1, "reduction": "none"}, "not a bool"),
])
def test_what_tf_cannot_express_is_not_applicable(kwargs, why):
    assert why in adapters.make("tensorflow").cannot_express(poisson(kwargs))


def test_full_is_renamed_eps_is_dropped_and_the_value_is_tfs():
    a = adapters.make("tensorflow")
    call = poisson({"full": True, "eps": 0.25, "reduction": "none"})
    assert a.cannot_express(call) is None
    assert a._kwargs(call) == {"compute_full_loss": True}
    assert a._kwargs(poisson({}, args=(True, True))) == {"compute_full_loss": True}  # positional full
    out = a.run(call)
    assert out.raised is None, out.raised
    assert out.output_dtype == "float64"
    stirling = np.where(T > 1, T * np.log(np.where(T > 1, T, 1)) - T + 0.5 * np.log(2 * np.pi * np.where(T > 1, T, 1)), 0)
    np.testing.assert_allclose(out.output, np.exp(X) - T * X + stirling, rtol=1e-12)
    assert "compute_full_loss=True" in out.repro and "eps" not in out.repro


def test_gradients_come_from_the_tape_with_the_upstream_gradient():
    a = adapters.make("tensorflow")
    g = np.array([1.0, -2.0, 0.5], dtype=np.float32)
    call = poisson({"reduction": "none"}, x=X.astype(np.float32), t=T.astype(np.float32), grad_wrt=("input", "target"),
                   grad_output=g)
    out = a.run(call)
    assert out.raised is None, out.raised
    assert out.grad_dtypes == {"input": "float32", "target": "float32"}
    np.testing.assert_allclose(out.grads["input"], g * (np.exp(X) - T), rtol=1e-6)
    np.testing.assert_allclose(out.grads["target"], -g * X, rtol=1e-6)


def test_shapes_are_passed_as_they_are_never_broadcast_for_tf():
    out = adapters.make("tensorflow").run(poisson({"reduction": "none"}, x=np.zeros((2, 3)), t=np.zeros(3)))
    assert out.raised is not None and out.raised.type == "ValueError"


def test_bfloat16_goes_in_and_out_exactly():
    import ml_dtypes

    x = np.array([0.5, 1.5], dtype=ml_dtypes.bfloat16)
    out = adapters.make("tensorflow").run(poisson({"reduction": "none"}, x=x, t=x.copy()))
    assert out.raised is None, out.raised
    assert out.output_dtype == "bfloat16" and str(out.output.dtype) == "bfloat16"


# -- keras ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_adapter():
    pytest.importorskip("keras")
    a = adapters.make("keras")
    ok, why = a.available()
    if not ok:
        pytest.skip(why)
    return a


RATE = {"log_input": False}


@pytest.mark.parametrize("kwargs, why", [
    ({}, "log_input=False"),
    (dict(RATE, full=True), "no Stirling term"),
    (dict(RATE, reduction="none"), "'mean' only"),
    (dict(RATE, reduction="sum"), "'mean' only"),
    (dict(RATE, size_average=True), "legacy"),
])
def test_what_keras_cannot_express_is_not_applicable(keras_adapter, kwargs, why):
    assert why in keras_adapter.cannot_express(poisson(kwargs, x=np.abs(X)))


def test_zero_dim_operands_have_no_last_axis(keras_adapter):
    call = poisson(RATE, x=np.array(0.5), t=np.array(2.0))
    assert "0-d" in keras_adapter.cannot_express(call)


def test_keras_function_on_1d_is_the_mean_with_the_calls_eps_and_epsilon_is_restored(keras_adapter):
    keras = keras_adapter.keras
    before = keras.config.epsilon()
    x = np.abs(X)
    call = poisson(dict(RATE, eps=0.5), x=x, grad_wrt=("input",))
    assert keras_adapter.cannot_express(call) is None
    out = keras_adapter.run(call)
    assert out.raised is None, out.raised
    assert keras.config.epsilon() == before
    assert out.output.shape == () and out.output_dtype == "float64"  # the function keeps y_pred's dtype
    np.testing.assert_allclose(out.output, np.mean(x - T * np.log(x + 0.5)), rtol=1e-12)
    np.testing.assert_allclose(out.grads["input"], (1 - T / (x + 0.5)) / 3, rtol=1e-12)
    assert "keras.losses.poisson(target, input)" in out.repro and "set_epsilon(0.5)" in out.repro


def test_keras_class_says_the_mean_over_a_batch_in_its_own_dtype(keras_adapter):
    """On 2-D operands the spec's mean is the class's default reduction; the class computes in its
    dtype policy (floatx, float32), which the suite reports for a float64 call, never repaired."""
    x, t = np.abs(X).reshape(1, 3).repeat(2, 0), T.reshape(1, 3).repeat(2, 0)
    for form in ("functional", "module"):
        out = keras_adapter.run(poisson(RATE, x=x, t=t, form=form))
        assert out.raised is None, out.raised
        assert out.output_dtype == "float32"
        np.testing.assert_allclose(out.output, np.mean(x - t * np.log(x + 1e-8)), rtol=1e-6)
        assert "keras.losses.Poisson()(target, input)" in out.repro
