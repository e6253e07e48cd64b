"""Special values: NaN, +-inf, +-0, subnormals, and overflow of intermediates.

Spec chapter 10: the result is the IEEE result of the straightforward evaluation of the defining
formula (SPECIAL-NAN, SPECIAL-INF); where only an intermediate overflows, either the exact value
or that IEEE result is accepted (SPECIAL-OVERFLOW).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from . import strategies as S
from .checking import conform
from .test_values import gaussian_call, poisson_call

NAN, INF = float("nan"), float("inf")


def _grid(dtype, xs, ts):
    dt = S.np_dtype(dtype)
    pairs = list(itertools.product(xs, ts))
    return np.array([p[0] for p in pairs]).astype(dt), np.array([p[1] for p in pairs]).astype(dt)


@pytest.mark.parametrize("dtype", S.DTYPES)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_special_values(chk, log_input, full, dtype):
    chk.clause = "SPECIAL-INF"
    f = S.FORMATS_TINY[dtype]
    xs = [NAN, INF, -INF, 0.0, -0.0, f, 1.0]
    ts = [NAN, INF, -INF, 0.0, -0.0, f, 1.0, 3.0]
    x, t = _grid(dtype, xs, ts)
    conform(chk, poisson_call(x, t, log_input, full, None))  # SPECIAL-NAN/-INF where an operand is


@pytest.mark.parametrize("dtype", S.DTYPES)
def test_gaussian_special_values(chk, dtype):
    chk.clause = "SPECIAL-INF"
    f = S.FORMATS_TINY[dtype]
    vals = [NAN, INF, -INF, 0.0, -0.0, f, 1.0]
    trip = list(itertools.product(vals, vals, [NAN, INF, 0.0, f, 1.0]))
    dt = S.np_dtype(dtype)
    x = np.array([p[0] for p in trip]).astype(dt)
    y = np.array([p[1] for p in trip]).astype(dt)
    v = np.array([p[2] for p in trip]).astype(dt)
    conform(chk, gaussian_call(x, y, v, False, None))


@pytest.mark.parametrize("dtype", S.DTYPES)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_poisson_overflow(chk, reduction, dtype):
    """SPECIAL-OVERFLOW: exp(x) beyond the format's range, with and without cancellation."""
    chk.clause = "SPECIAL-OVERFLOW"
    big = {"float16": [11.5, 12.0, 20.0], "bfloat16": [88.0, 89.0, 100.0], "float32": [88.0, 89.0, 100.0],
           "float64": [709.0, 710.0, 800.0]}[dtype]
    x, t = _grid(dtype, big + [1.0], [0.0, 1.0, 1e3])
    conform(chk, poisson_call(x, t, True, False, None, kwargs={"reduction": reduction}), value_clause="SPECIAL-OVERFLOW")


SUBNORMALS = {d: [S.FORMATS_TINY[d] * k for k in (1, 2, 37, 1000)] for d in S.DTYPES}


@pytest.mark.parametrize("dtype", S.DTYPES)
def test_poisson_subnormal_operands(chk, dtype):
    """SPECIAL-SUBNORMAL: subnormal operands are honoured, not flushed to zero."""
    chk.clause = "SPECIAL-SUBNORMAL"
    x, t = _grid(dtype, SUBNORMALS[dtype], [0.0, 1.0, 3.0])
    conform(chk, poisson_call(x, t, False, False, None, kwargs={"eps": 0.0}), value_clause="SPECIAL-SUBNORMAL")


@pytest.mark.parametrize("dtype", S.DTYPES)
def test_gaussian_subnormal_operands(chk, dtype):
    chk.clause = "SPECIAL-SUBNORMAL"
    sub = SUBNORMALS[dtype]
    xv = np.array(sub * 2).astype(S.np_dtype(dtype))
    conform(chk, gaussian_call(xv, xv * 0, np.array(sub[::-1] * 2).astype(S.np_dtype(dtype)), False, None,
                               kwargs={"eps": 0.0}), value_clause="SPECIAL-SUBNORMAL")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_poisson_nan_reduction(chk, reduction, dtype):
    """SPECIAL-NAN: a reduction over a NaN element is NaN (not skipped, not zero)."""
    chk.clause = "SPECIAL-NAN"
    x, t = _grid(dtype, [0.5, 1.0, NAN], [2.0, 3.0])
    conform(chk, poisson_call(x, t, True, False, None, kwargs={"reduction": reduction}), value_clause="SPECIAL-NAN")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_gaussian_nan_reduction(chk, reduction, dtype):
    chk.clause = "SPECIAL-NAN"
    x, y = _grid(dtype, [0.5, NAN, 2.0], [1.0, 0.0])
    v = np.ones_like(x)
    conform(chk, gaussian_call(x, y, v, False, None, kwargs={"reduction": reduction}), value_clause="SPECIAL-NAN")
