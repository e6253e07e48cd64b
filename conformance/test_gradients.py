"""Gradients: input, target and var, under every reduction, with a non-trivial upstream gradient.

Spec chapter 9. The masked Stirling region (t <= 1 with full=True) and var below eps (the clamp)
are always part of the drawn cases.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from . import strategies as S
from .checking import conform
from .test_values import gaussian_call, gaussian_operands, poisson_call, poisson_operands

REDUCTIONS = ("none", "mean", "sum")


def _upstream(draw, dtype, reduction, shape):
    """An upstream gradient of the output's shape: small integers and halves, exact in every dtype."""
    out_shape = shape if reduction == "none" else ()
    vals = st.sampled_from([1.0, -1.0, 0.5, 2.0, 3.0, -0.25])
    return draw(S.array(dtype, out_shape, vals))


@pytest.mark.parametrize("dtype", S.DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
@given(data=st.data())
def test_poisson_gradients(chk, log_input, full, reduction, dtype, data):
    chk.clause = "PNLL-GRAD-INPUT"
    x, t = data.draw(poisson_operands(dtype, log_input), label="operands")
    if full:  # the masked region is always present
        t = t.copy()
        t.ravel()[0] = S.np_dtype(dtype)(0.0)
    g = _upstream(data.draw, dtype, reduction, x.shape)
    call = poisson_call(x, t, log_input, full, None, grad_wrt=("input", "target"), grad_output=g,
                        kwargs={"reduction": reduction})
    conform(chk, call)  # every element under its region's clause (Expected.clause_of)


@pytest.mark.parametrize("dtype", S.DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@given(data=st.data())
def test_gaussian_gradients(chk, full, reduction, dtype, data):
    chk.clause = "GNLL-GRAD-INPUT"
    x, y, v = data.draw(gaussian_operands(dtype, None), label="operands")
    v = v.copy()
    v.ravel()[0] = S.np_dtype(dtype)(S.rep(1e-8, dtype))  # below eps: the clamp's straight-through gradient
    g = _upstream(data.draw, dtype, reduction, x.shape)
    call = gaussian_call(x, y, v, full, None, grad_wrt=("input", "target", "var"), grad_output=g,
                         kwargs={"reduction": reduction})
    conform(chk, call)  # every element under its region's clause (the var clamp included)


@pytest.mark.parametrize("dtype", S.DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_kind", ["shorter", "last-dim-1", "middle-1"])
@given(data=st.data())
def test_gaussian_homoscedastic_gradients(chk, var_kind, reduction, dtype, data):
    """Homoscedastic var: its gradient accumulates over the broadcast dimension (GRAD-BROADCAST)."""
    chk.clause = "GRAD-BROADCAST"
    shape = data.draw(S.shapes(min_dims=2, max_dims=3, min_side=2, max_side=5), label="shape")
    vshape = {"shorter": shape[:-1], "last-dim-1": shape[:-1] + (1,), "middle-1": (shape[0], 1) + shape[2:]}[var_kind]
    x = data.draw(S.array(dtype, shape, S.gaussian_mean(dtype)))
    y = data.draw(S.array(dtype, shape, S.gaussian_mean(dtype)))
    v = data.draw(S.array(dtype, vshape, S.variance(dtype)))
    g = _upstream(data.draw, dtype, reduction, shape)
    call = gaussian_call(x, y, v, False, None, grad_wrt=("input", "var"), grad_output=g,
                         kwargs={"reduction": reduction})
    conform(chk, call)  # var's gradient, summed over the broadcast dimension, is GRAD-BROADCAST


@pytest.mark.parametrize("dtype", S.DTYPES)
@given(data=st.data())
def test_poisson_broadcast_gradients(chk, dtype, data):
    """Operands broadcast against each other: each gradient is summed back to its operand's shape."""
    chk.clause = "GRAD-BROADCAST"
    sx, st_ = data.draw(S.broadcastable_pair(), label="shapes")
    x = data.draw(S.array(dtype, sx, S.log_rate(dtype)))
    t = data.draw(S.array(dtype, st_, S.counts(dtype)))
    call = poisson_call(x, t, True, False, None, grad_wrt=("input", "target"), kwargs={"reduction": "sum"})
    conform(chk, call, value_clause="SHAPE-BROADCAST", grad_clause=lambda name, i: "GRAD-BROADCAST")
