"""Values: every argument combination and dtype, elementwise, against the exact reference.

Spec chapters 2 (Poisson) and 3 (Gaussian). Reduction 'none' here; reductions have their own file.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference.engine import Call

from . import strategies as S
from .checking import conform

DTYPES = S.DTYPES
EPS_POISSON = (None, 0.0, 1e-3, 0.5)  # None: the default (not passed)
EPS_GAUSSIAN = (None, 1e-3, 0.0)


def _bcast_axes(call, a, b):
    x = np.broadcast_arrays(*(np.asarray(call.operands[k]).astype(np.float64) for k in ("input", "target")))
    fx, ft = x[0].ravel(), x[1].ravel()
    return lambda i: (float(fx[i]), float(ft[i]))


def poisson_call(x, t, log_input, full, eps, form="functional", **extra):
    kw = {"log_input": log_input, "full": full, "reduction": "none"}
    if eps is not None:
        kw["eps"] = eps
    kw.update(extra.pop("kwargs", {}))
    return Call("poisson", form, {"input": x, "target": t}, kwargs=kw, **extra)


def gaussian_call(x, y, v, full, eps, form="functional", **extra):
    kw = {"full": full, "reduction": "none"}
    if eps is not None:
        kw["eps"] = eps
    kw.update(extra.pop("kwargs", {}))
    return Call("gaussian", form, {"input": x, "target": y, "var": v}, kwargs=kw, **extra)


@st.composite
def poisson_operands(draw, dtype, log_input, past=False):
    """Input and target of one shape; `past`: terms whose total passes the dtype's largest value."""
    if past:
        shape = (draw(st.integers(*S.PAST_N)),)
        x = draw(S.array(dtype, shape, S.past_the_format(dtype, "log_rate" if log_input else "rate")))
        return x, draw(S.array(dtype, shape, S.past_the_format(dtype, "counts")))
    shape = draw(S.shapes(min_dims=1, max_dims=2, max_side=6))
    x = draw(S.array(dtype, shape, S.log_rate(dtype) if log_input else S.rate(dtype)))
    t = draw(S.array(dtype, shape, S.counts(dtype)))
    return x, t


@st.composite
def gaussian_operands(draw, dtype, eps, past=False):
    """Input, target and var of one shape; `past`: terms whose total passes the dtype's largest value."""
    if past:
        shape = (draw(st.integers(*S.PAST_N)),)
        return tuple(draw(S.array(dtype, shape, S.past_the_format(dtype, k))) for k in ("mean_hi", "mean_lo", "variance"))
    shape = draw(S.shapes(min_dims=1, max_dims=2, max_side=6))
    x = draw(S.array(dtype, shape, S.gaussian_mean(dtype)))
    y = draw(S.array(dtype, shape, S.gaussian_mean(dtype)))
    v = draw(S.array(dtype, shape, S.variance(dtype, 1e-6 if eps is None else eps)))
    return x, y, v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
@given(data=st.data())
def test_poisson_values(chk, log_input, full, dtype, data):
    chk.clause = "PNLL-VALUE-LOG" if log_input else "PNLL-VALUE-RATE"
    x, t = data.draw(poisson_operands(dtype, log_input), label="operands")
    eps = None if log_input else data.draw(st.sampled_from(EPS_POISSON), label="eps")
    call = poisson_call(x, t, log_input, full, eps)
    conform(chk, call, sample_axes=_bcast_axes(call, x, t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("log_input", [True, False])
def test_poisson_edge_values(chk, log_input, full, dtype):
    """A fixed grid over the regions that matter: t in {0, 1-ulp, 1, 1+ulp, 2, 0.5}, eps regimes."""
    chk.clause = "PNLL-STIRLING-MASK" if full else ("PNLL-VALUE-LOG" if log_input else "PNLL-VALUE-RATE")
    ts = [0.0, 0.5, S.next_down(1.0, dtype), 1.0, S.next_up(1.0, dtype), 2.0, 5.0, 37.0]
    if log_input:
        xs = [0.0, -2.0, 0.5, np.log(5.0), 3.0, -20.0]
    else:
        xs = [0.0, 1e-9, 1e-8, 1e-6, 0.5, 1.0, 3.0, 250.0]
    xs = [S.rep(v, dtype) for v in xs]
    grid = np.array([(x, t) for x in xs for t in ts], dtype=np.float64)
    dt = S.np_dtype(dtype)
    x, t = grid[:, 0].astype(dt), grid[:, 1].astype(dt)
    for eps in ([None] if log_input else [None, 0.0, 1e-3]):
        call = poisson_call(x, t, log_input, full, eps)
        conform(chk, call, sample_axes=_bcast_axes(call, x, t))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("full", [False, True])
@given(data=st.data())
def test_gaussian_values(chk, full, dtype, data):
    chk.clause = "GNLL-VALUE"
    eps = data.draw(st.sampled_from(EPS_GAUSSIAN), label="eps")
    x, y, v = data.draw(gaussian_operands(dtype, eps), label="operands")
    call = gaussian_call(x, y, v, full, eps)
    fd = (x.astype(np.float64) - y.astype(np.float64)).ravel()
    fv = v.astype(np.float64).ravel()
    conform(chk, call, sample_axes=lambda i: (float(fd[i]), float(fv[i])))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("full", [False, True])
def test_gaussian_edge_values(chk, full, dtype):
    """var at 0, below, at and above eps (the clamp), with x == y and x != y."""
    chk.clause = "GNLL-CLAMP"
    vs = [0.0, 1e-8, S.next_down(1e-6, dtype), 1e-6, S.next_up(1e-6, dtype), 1e-3, 1.0, 42.0]
    ds = [0.0, 1e-3, 0.5, -2.0, 10.0]
    dt = S.np_dtype(dtype)
    rows = [(S.rep(d, dtype), S.rep(v, dtype)) for d in ds for v in vs]
    x = np.array([r[0] for r in rows]).astype(dt)
    y = np.zeros(len(rows)).astype(dt)
    v = np.array([r[1] for r in rows]).astype(dt)
    for eps in (None, 1e-2):
        conform(chk, gaussian_call(x, y, v, full, eps))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_float_var(chk, dtype):
    """A Python float var applies to every element (GNLL-VAR-FLOAT)."""
    chk.clause = "GNLL-VAR-FLOAT"
    dt = S.np_dtype(dtype)
    x = np.array([[0.0, 1.0, -2.0], [3.0, 0.5, 0.25]]).astype(dt)
    y = np.zeros((2, 3)).astype(dt)
    for var in (0.5, 1e-9, 2.0):
        conform(chk, gaussian_call(x, y, var, False, None), value_clause="GNLL-VAR-FLOAT")
