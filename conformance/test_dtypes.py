"""Dtypes: output dtype and promotion pairs, integral operands, half precision.

Spec chapter 8.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from . import strategies as S
from .checking import conform
from .test_values import gaussian_call, poisson_call

TAGS = S.DTYPES + ("int32", "int64")


def _arr(tag, values, shape=None):
    a = np.array(values, dtype=np.float64)
    if shape is not None:
        a = a.reshape(shape)
    return a.astype(S.np_dtype(tag))


@pytest.mark.parametrize("pair", [f"{a}+{b}" for a, b in itertools.product(TAGS, TAGS)])
def test_poisson_promotion(chk, pair):
    """DTYPE-PROMOTE / DTYPE-INT-TO-FLOAT: the output dtype for every (input, target) pair."""
    chk.clause = "DTYPE-PROMOTE"
    a, b = pair.split("+")
    x, t = _arr(a, [0.0, 1.0, 2.0]), _arr(b, [1.0, 0.0, 3.0])
    ints = a.startswith("int") or b.startswith("int")
    for log_input in (True, False):
        conform(chk, poisson_call(x, t, log_input, False, None, kwargs={"reduction": "none"}),
                value_clause="DTYPE-INT-TO-FLOAT" if ints else "DTYPE-CONVERT")


@pytest.mark.parametrize("pair", ["float32+float64", "float64+float32", "float16+float32", "bfloat16+float16",
                                  "float32+bfloat16", "int64+float32", "float32+int64", "float64+int32"])
def test_poisson_zero_dim_promotion(chk, pair):
    """DTYPE-ZERO-DIM: a 0-d operand does not promote a dimensioned one of the same category."""
    chk.clause = "DTYPE-ZERO-DIM"
    a, b = pair.split("+")
    conform(chk, poisson_call(_arr(a, [0.5, 1.0]), _arr(b, 2.0, ()), True, False, None, kwargs={"reduction": "none"}),
            value_clause="DTYPE-CONVERT")
    conform(chk, poisson_call(_arr(a, 0.5, ()), _arr(b, [2.0, 1.0]), True, False, None, kwargs={"reduction": "none"}),
            value_clause="DTYPE-CONVERT")


@pytest.mark.parametrize("triple", ["float32+float32+float64", "float64+float32+float32", "float16+float16+float32",
                                    "bfloat16+float32+bfloat16", "float32+float32+float64:0d", "int64+int64+float32"])
def test_gaussian_promotion(chk, triple):
    """DTYPE-PROMOTE for (input, target, var), including the 0-d var that is unsqueezed first."""
    chk.clause = "DTYPE-PROMOTE"
    spec, _, zero = triple.partition(":")
    a, b, c = spec.split("+")
    x, y = _arr(a, [0.0, 1.0, 2.0]), _arr(b, [1.0, 0.0, 3.0])
    v = _arr(c, 2.0, ()) if zero else _arr(c, [0.5, 1.0, 2.0])
    conform(chk, gaussian_call(x, y, v, False, None, kwargs={"reduction": "none"}), value_clause="DTYPE-CONVERT")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_poisson_half_supported(chk, dtype):
    """DTYPE-HALF: float16 and bfloat16 are supported, forward and backward."""
    chk.clause = "DTYPE-HALF"
    x, t = _arr(dtype, [0.5, -1.0, 2.0]), _arr(dtype, [1.0, 0.0, 3.0])
    conform(chk, poisson_call(x, t, True, True, None, kwargs={"reduction": "mean"}, grad_wrt=("input",)),
            value_clause="DTYPE-HALF", grad_clause=lambda name, i: "DTYPE-HALF")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_gaussian_half_supported(chk, dtype):
    chk.clause = "DTYPE-HALF"
    x, t = _arr(dtype, [0.5, -1.0, 2.0]), _arr(dtype, [1.0, 0.0, 3.0])
    conform(chk, gaussian_call(x, t, _arr(dtype, [1.0, 2.0, 0.5]), True, None, kwargs={"reduction": "sum"},
                               grad_wrt=("input", "var")), value_clause="DTYPE-HALF", grad_clause=lambda name, i: "DTYPE-HALF")


MIXED = ["float16+float64", "float64+float16", "float32+float64", "bfloat16+float32", "float16+bfloat16",
         "float32+float16"]


@pytest.mark.parametrize("pair", MIXED)
@pytest.mark.parametrize("log_input", [True, False])
@given(data=st.data())
def test_poisson_mixed_values(chk, log_input, pair, data):
    """ALLOW-MIXED / DTYPE-PROMOTE: drawn values, each exact in its own dtype only, so that a
    candidate that casts everything to one operand's format is caught (the reference bounds each
    operation in the format its own operands promote to)."""
    chk.clause = "DTYPE-PROMOTE"
    a, b = pair.split("+")
    shape = data.draw(S.shapes(min_dims=1, max_dims=1, max_side=6), label="shape")
    x = data.draw(S.array(a, shape, S.log_rate(a) if log_input else S.rate(a)), label="input")
    t = data.draw(S.array(b, shape, S.counts(b)), label="target")
    conform(chk, poisson_call(x, t, log_input, False, None, kwargs={"reduction": "none"}))


@pytest.mark.parametrize("triple", ["float16+float64+float64", "float64+float64+float16", "float32+float16+float64"])
@given(data=st.data())
def test_gaussian_mixed_values(chk, triple, data):
    chk.clause = "DTYPE-PROMOTE"
    a, b, c = triple.split("+")
    shape = data.draw(S.shapes(min_dims=1, max_dims=1, max_side=6), label="shape")
    x = data.draw(S.array(a, shape, S.gaussian_mean(a)), label="input")
    y = data.draw(S.array(b, shape, S.gaussian_mean(b)), label="target")
    v = data.draw(S.array(c, shape, S.variance(c)), label="var")
    conform(chk, gaussian_call(x, y, v, False, None, kwargs={"reduction": "none"}))
