"""Shapes: broadcasting both ways, the Gaussian var rule, 0-d, empty and memory layouts.

Spec chapter 4.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from . import strategies as S
from .checking import conform
from .test_values import gaussian_call, poisson_call

DTYPES = ("float32", "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@given(data=st.data())
def test_poisson_broadcasting(chk, reduction, dtype, data):
    """SHAPE-BROADCAST: input and target broadcast together, either one the larger; a reduction
    runs over the broadcast elements (RED-MEAN divides by their number, not input's)."""
    chk.clause = "SHAPE-BROADCAST"
    sx, st_ = data.draw(S.broadcastable_pair(), label="shapes")
    x = data.draw(S.array(dtype, sx, S.log_rate(dtype)))
    t = data.draw(S.array(dtype, st_, S.counts(dtype)))
    conform(chk, poisson_call(x, t, True, False, None, kwargs={"reduction": reduction}),
            value_clause="SHAPE-BROADCAST" if reduction == "none" else None, raise_clause="SHAPE-BROADCAST")


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_poisson_incompatible_shapes(chk, dtype, data):
    """SHAPE-BROADCAST: shapes that do not broadcast raise."""
    chk.clause = "SHAPE-BROADCAST"
    n = data.draw(st.integers(2, 4))
    m = data.draw(st.integers(2, 4).filter(lambda k: k != n))
    x = np.zeros((n,), dtype=dtype)
    t = np.zeros((3, m), dtype=dtype)
    conform(chk, poisson_call(x, t, True, False, None))


def _var_shapes(shape):
    """Candidate var shapes for an input shape: accepted ones and near misses (the reference decides)."""
    cands = {shape, shape[:-1] if shape else (), tuple(1 for _ in shape), shape + (1,), (1,), ()}
    for i in range(len(shape)):
        cands.add(shape[:i] + (1,) + shape[i + 1:])
        cands.add(shape[:i] + (shape[i] + 1,) + shape[i + 1:])
        if i + 1 < len(shape):
            cands.add(shape[:i] + (1, 1) + shape[i + 2:])
    return sorted(cands)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_gaussian_var_shapes(chk, dtype, data):
    """GNLL-VAR-SHAPE / GNLL-VAR-UNSQUEEZE: which var shapes are accepted and how they broadcast."""
    chk.clause = "GNLL-VAR-SHAPE"
    shape = data.draw(S.shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), label="input shape")
    vshape = data.draw(st.sampled_from(_var_shapes(shape)), label="var shape")
    x = data.draw(S.array(dtype, shape, S.gaussian_mean(dtype)))
    y = data.draw(S.array(dtype, shape, S.gaussian_mean(dtype)))
    v = data.draw(S.array(dtype, vshape, S.variance(dtype)))
    conform(chk, gaussian_call(x, y, v, False, None, kwargs={"reduction": "none"}, grad_wrt=("var",)),
            value_clause="GNLL-VAR-UNSQUEEZE", grad_clause=lambda name, i: "GRAD-BROADCAST")


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_square_var_per_row(chk, dtype):
    """GNLL-VAR-UNSQUEEZE: for a (3, 3) input a (3,) var applies per row, not per column."""
    chk.clause = "GNLL-VAR-UNSQUEEZE"
    x = np.arange(9, dtype=dtype).reshape(3, 3)
    y = np.zeros((3, 3), dtype=dtype)
    v = np.array([0.5, 2.0, 8.0], dtype=dtype)
    conform(chk, gaussian_call(x, y, v, False, None), value_clause="GNLL-VAR-UNSQUEEZE")


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_gaussian_target_broadcasting(chk, dtype, data):
    """SHAPE-BROADCAST for the Gaussian: target (and input) broadcast; var is checked against input
    only (GNLL-VAR-INPUT-ONLY): a var shaped like input is accepted whatever target's shape."""
    chk.clause = "GNLL-VAR-INPUT-ONLY"
    sx, sy = data.draw(S.broadcastable_pair(), label="shapes")
    x = data.draw(S.array(dtype, sx, S.gaussian_mean(dtype)))
    y = data.draw(S.array(dtype, sy, S.gaussian_mean(dtype)))
    v = data.draw(S.array(dtype, sx, S.variance(dtype)))
    conform(chk, gaussian_call(x, y, v, False, None, kwargs={"reduction": "none"}), value_clause="SHAPE-BROADCAST",
            raise_clause="GNLL-VAR-INPUT-ONLY")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_poisson_zero_dim(chk, reduction, dtype):
    """SHAPE-ZERO-DIM: 0-d operands work; output is 0-d for every reduction."""
    chk.clause = "SHAPE-ZERO-DIM"
    x, t = np.array(0.5, dtype=dtype), np.array(3.0, dtype=dtype)
    conform(chk, poisson_call(x, t, True, True, None, kwargs={"reduction": reduction}, grad_wrt=("input", "target")),
            value_clause="SHAPE-ZERO-DIM", grad_clause=lambda name, i: "SHAPE-ZERO-DIM")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_gaussian_zero_dim(chk, reduction, dtype):
    chk.clause = "SHAPE-ZERO-DIM"
    x, t = np.array(0.5, dtype=dtype), np.array(3.0, dtype=dtype)
    conform(chk, gaussian_call(x, t, np.array(2.0, dtype=dtype), False, None, kwargs={"reduction": reduction},
                               grad_wrt=("input", "var")),
            value_clause="SHAPE-ZERO-DIM", grad_clause=lambda name, i: "SHAPE-ZERO-DIM")


def _layout_operand(data, dtype, rows, cols, elements, layout, constant_axis):
    """A (rows, cols) operand; for the expanded layout, constant along `constant_axis` so that the
    adapter can store it with stride 0 there."""
    if layout != "expanded":
        return data.draw(S.array(dtype, (rows, cols), elements))
    small = (1, cols) if constant_axis == 0 else (rows, 1)
    return np.broadcast_to(data.draw(S.array(dtype, small, elements)), (rows, cols)).copy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
@given(data=st.data())
def test_poisson_layouts(chk, layout, dtype, data):
    """SHAPE-LAYOUT: non-contiguous operands give the results of their contiguous copies."""
    chk.clause = "SHAPE-LAYOUT"
    rows, cols = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))
    x = _layout_operand(data, dtype, rows, cols, S.log_rate(dtype), layout, 0)
    t = _layout_operand(data, dtype, rows, cols, S.counts(dtype), layout, 1)
    reduction = data.draw(st.sampled_from(["none", "mean"]))
    call = poisson_call(x, t, True, True, None, kwargs={"reduction": reduction}, grad_wrt=("input",),
                        layout={"input": layout, "target": layout})
    conform(chk, call, value_clause="SHAPE-LAYOUT", grad_clause=lambda name, i: "SHAPE-LAYOUT")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded"])
@given(data=st.data())
def test_gaussian_layouts(chk, layout, dtype, data):
    chk.clause = "SHAPE-LAYOUT"
    rows, cols = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 5))
    x = _layout_operand(data, dtype, rows, cols, S.gaussian_mean(dtype), layout, 0)
    v = _layout_operand(data, dtype, rows, cols, S.variance(dtype), layout, 1)
    y = data.draw(S.array(dtype, (rows, cols), S.gaussian_mean(dtype)))
    call = gaussian_call(x, y, v, False, None, kwargs={"reduction": "sum"}, grad_wrt=("input", "var"),
                         layout={"input": layout, "var": layout, "target": "contiguous"})
    conform(chk, call, value_clause="SHAPE-LAYOUT", grad_clause=lambda name, i: "SHAPE-LAYOUT")
