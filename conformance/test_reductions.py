"""Reductions: mean, sum, none; empty input; large N within the summation allowance.

Spec chapter 5.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from . import strategies as S
from .checking import conform
from .test_values import gaussian_call, gaussian_operands, poisson_call, poisson_operands

REDUCTIONS = ("mean", "sum")


def _past(data, dtype) -> bool:
    """Whether this example's terms total past the dtype's largest value (SPECIAL-OVERFLOW's
    accumulator rule: the sum overflows, the mean stays finite): drawn, where the dtype accumulates
    in a wider format; the ordinary regime is what a failure shrinks towards."""
    return S.accumulates_wider(dtype) and data.draw(st.booleans(), label="past the format")


@pytest.mark.parametrize("dtype", S.DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@given(data=st.data())
def test_poisson_reductions(chk, log_input, reduction, dtype, data):
    chk.clause = "RED-" + reduction.upper()
    x, t = data.draw(poisson_operands(dtype, log_input, _past(data, dtype)), label="operands")
    conform(chk, poisson_call(x, t, log_input, False, None, kwargs={"reduction": reduction}),
            value_clause=chk.clause)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@given(data=st.data())
def test_poisson_reduction_none(chk, dtype, data):
    """RED-NONE: 'none' returns the elementwise losses, in the broadcast shape."""
    chk.clause = "RED-NONE"
    x, t = data.draw(poisson_operands(dtype, True), label="operands")
    conform(chk, poisson_call(x, t, True, False, None, kwargs={"reduction": "none"}), shape_clause="RED-NONE")


@pytest.mark.parametrize("dtype", S.DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@given(data=st.data())
def test_gaussian_reductions(chk, reduction, dtype, data):
    chk.clause = "RED-" + reduction.upper()
    x, y, v = data.draw(gaussian_operands(dtype, None, _past(data, dtype)), label="operands")
    conform(chk, gaussian_call(x, y, v, False, None, kwargs={"reduction": reduction}), value_clause=chk.clause)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_empty(chk, dtype, reduction):
    """RED-EMPTY: mean of nothing is NaN, sum is 0, none keeps the empty shape."""
    chk.clause = "RED-EMPTY"
    z = np.zeros((0,), dtype=dtype)
    conform(chk, poisson_call(z, z.copy(), True, False, None, kwargs={"reduction": reduction}), value_clause="RED-EMPTY")
    z2 = np.zeros((3, 0), dtype=dtype)
    conform(chk, poisson_call(z2, z2.copy(), False, True, None, kwargs={"reduction": reduction},
                              grad_wrt=("input",)), value_clause="RED-EMPTY")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gaussian_empty(chk, dtype, reduction):
    chk.clause = "RED-EMPTY"
    z = np.zeros((0, 2), dtype=dtype)
    conform(chk, gaussian_call(z, z.copy(), np.ones((0, 2), dtype=dtype), False, None, kwargs={"reduction": reduction}),
            value_clause="RED-EMPTY")


# Large N: few distinct points repeated many times, so a sequential accumulation drifts visibly
# while a pairwise/tree sum stays within ALLOW-SUM; the reference pays once per distinct point.
LARGE_N = {"quick": 100_000, "standard": 1_000_000, "thorough": 4_000_000}


@pytest.mark.parametrize("dtype", S.DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_large_reduction(chk, request, reduction, dtype):
    chk.clause = "RED-ACCURACY"
    n = LARGE_N[request.config.getoption("--profile")]
    rng = np.random.default_rng(20261122)
    pool_x = np.array([S.rep(v, dtype) for v in (0.1, -0.3, 0.7, 1.3, -1.1, 0.05, 0.9)])
    pool_t = np.array([S.rep(v, dtype) for v in (0.0, 1.0, 2.0, 3.0, 1.0, 0.0, 5.0)])
    idx = rng.integers(0, len(pool_x), size=n)
    dt = S.np_dtype(dtype)
    x, t = pool_x[idx].astype(dt), pool_t[idx].astype(dt)
    conform(chk, poisson_call(x, t, True, False, None, kwargs={"reduction": reduction}), value_clause="RED-ACCURACY")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_large_reduction(chk, request, reduction, dtype):
    chk.clause = "RED-ACCURACY"
    n = LARGE_N[request.config.getoption("--profile")] // 4
    rng = np.random.default_rng(7)
    pool = np.array([(0.1, 0.0, 1.0), (1.5, 1.0, 0.25), (-0.7, 0.2, 2.0), (0.0, 0.0, 1e-8)])
    rows = pool[rng.integers(0, len(pool), size=n)].astype(S.np_dtype(dtype))
    conform(chk, gaussian_call(rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy(), False, None,
                               kwargs={"reduction": reduction}), value_clause="RED-ACCURACY")
