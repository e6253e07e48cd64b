"""Errors: invalid reductions, negative var, wrong var size, precedence, argument types.

Spec chapter 7. Whether a call raises is core or api; the exception type and text are strict.
"""

from __future__ import annotations

import numpy as np
import pytest

from .checking import conform
from .test_values import gaussian_call, poisson_call

BAD_REDUCTIONS = ("bogus", "elementwise_mean", "MEAN", "", None)


def _f32(*rows):
    return np.array(rows, dtype=np.float32)


@pytest.mark.parametrize("form", ["functional", "module"])
@pytest.mark.parametrize("reduction", BAD_REDUCTIONS, ids=repr)
def test_poisson_invalid_reduction(chk, reduction, form):
    """RED-VALID (+ PNLL-RED-VALID text); modules accept it at construction and raise in forward."""
    chk.clause = "RED-VALID"
    x, t = _f32(0.5, 1.0), _f32(1.0, 2.0)
    conform(chk, poisson_call(x, t, True, False, None, form=form, kwargs={"reduction": reduction}))


@pytest.mark.parametrize("form", ["functional", "module"])
@pytest.mark.parametrize("reduction", BAD_REDUCTIONS, ids=repr)
def test_gaussian_invalid_reduction(chk, reduction, form):
    chk.clause = "RED-VALID"
    x = _f32(0.5, 1.0)
    conform(chk, gaussian_call(x, x.copy(), _f32(1.0, 1.0), False, None, form=form, kwargs={"reduction": reduction}))


@pytest.mark.parametrize("form", ["functional", "module"])
def test_gaussian_negative_var(chk, form):
    """GNLL-VAR-NONNEG: a negative entry raises; -0.0 and NaN pass."""
    chk.clause = "GNLL-VAR-NONNEG"
    x = _f32(0.5, 1.0, 2.0)
    for var in (_f32(1.0, -1e-3, 1.0), _f32(-0.0, 1.0, 1.0), _f32(float("nan"), 1.0, 1.0), -0.5, 0.25):
        conform(chk, gaussian_call(x, x * 0, var, False, None, form=form), value_clause="GNLL-VAR-NONNEG")


@pytest.mark.parametrize("case", ["neg+size+reduction", "neg+reduction", "size+reduction", "reduction+broadcast"])
def test_gaussian_error_order(chk, case):
    """ERR-ORDER: negative var, then var size, then reduction, then broadcasting."""
    chk.clause = "ERR-ORDER"
    x = np.zeros((2, 3), dtype=np.float32)
    if case == "neg+size+reduction":
        call = gaussian_call(x, x.copy(), -np.ones((5,), np.float32), False, None, kwargs={"reduction": "bogus"})
    elif case == "neg+reduction":  # the var check comes before the reduction's
        call = gaussian_call(x, x.copy(), -np.ones((2, 3), np.float32), False, None, kwargs={"reduction": "bogus"})
    elif case == "size+reduction":
        call = gaussian_call(x, x.copy(), np.ones((5,), np.float32), False, None, kwargs={"reduction": "bogus"})
    else:
        call = gaussian_call(x, np.zeros((4, 3), np.float32), np.ones((2, 3), np.float32), False, None,
                             kwargs={"reduction": "bogus"})
    conform(chk, call)


@pytest.mark.parametrize("case", ["reduction+bool-arg", "legacy+invalid"])
def test_poisson_error_order(chk, case):
    chk.clause = "ERR-ORDER"
    x, t = _f32(0.5, 1.0), _f32(1.0, 2.0)
    if case == "reduction+bool-arg":
        call = poisson_call(x, t, True, False, None, kwargs={"reduction": "bogus", "log_input": 0})
    else:
        call = poisson_call(x, t, True, False, None, kwargs={"reduction": "bogus", "reduce": False})
    conform(chk, call, value_clause="LEGACY-OVERRIDE")


@pytest.mark.parametrize("arg", ["log_input", "full"])
@pytest.mark.parametrize("value", [0, 1, None])
def test_poisson_bool_args(chk, arg, value):
    """API-BOOL-ARGS: log_input and full take bools only."""
    chk.clause = "API-BOOL-ARGS"
    x, t = _f32(0.5, 1.0), _f32(1.0, 2.0)
    call = poisson_call(x, t, True, False, None, kwargs={arg: value})
    conform(chk, call)


@pytest.mark.parametrize("var", [2, True])
def test_gaussian_python_int_var(chk, var):
    """GNLL-VAR-FLOAT: a Python int or bool var raises TypeError; only a float is broadcast."""
    chk.clause = "GNLL-VAR-FLOAT"
    x = _f32(0.5, 1.0)
    conform(chk, gaussian_call(x, x.copy(), var, False, None))


def test_gaussian_integer_var_tensor(chk):
    """DTYPE-INT-VAR: an integral var tensor raises (the clamp writes floats into it)."""
    chk.clause = "DTYPE-INT-VAR"
    x = _f32(0.5, 1.0)
    conform(chk, gaussian_call(x, x.copy(), np.array([1, 2], dtype=np.int64), False, None))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_poisson_no_exception_on_values(chk, dtype):
    """ERR-NO-EXCEPTION-ON-VALUES: out-of-domain values give NaN/inf, never an exception."""
    chk.clause = "ERR-NO-EXCEPTION-ON-VALUES"
    x = np.array([-1.0, -1e-8, 0.0, 2.0], dtype=dtype)
    t = np.array([2.0, 2.0, 0.0, -3.0], dtype=dtype)
    for full in (False, True):
        conform(chk, poisson_call(x, t, False, full, None, kwargs={"eps": 1e-8 if full else 0.0}),
                value_clause="PNLL-RATE-DOMAIN")
