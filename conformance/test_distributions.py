"""Distribution subjects (SPEC chapter 14): the normal log-density and the Poisson log-pmf; values,
gradients, broadcasting, argument validation and special values, against the exact reference.

A subject with no reduction and no module form; everything else (promotion, layouts, the
allowance) is the losses' machinery.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference.engine import Call
from reference.losses import LOSSES

from . import strategies as S
from .checking import conform

DTYPES = S.DTYPES
ALL = ("loc", "scale", "value")


def normal_call(loc, scale, value, grad=ALL, **extra):
    return Call("normal", "functional", {"loc": loc, "scale": scale, "value": value},
                grad_wrt=tuple(grad), **extra)


def element(subject, operand, dtype):
    """Draws of an operand from its declared domain (reference: the subject's DOMAINS)."""
    return S.from_domain(LOSSES[subject].DOMAINS[operand], dtype)


@st.composite
def normal_operands(draw, dtype, broadcast=False):
    if broadcast:  # loc per row, scale per column, value the full shape
        rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        shapes = {"loc": (rows, 1), "scale": (1, cols), "value": (rows, cols)}
    else:
        shape = draw(S.shapes(min_dims=1, max_dims=2, max_side=6))
        shapes = dict.fromkeys(ALL, shape)
    return tuple(draw(S.array(dtype, shapes[n], element("normal", n, dtype))) for n in ALL)


def _axes(loc, scale_, value):
    a = np.broadcast_arrays(*(np.asarray(v).astype(np.float64) for v in (loc, scale_, value)))
    d, s = (a[2] - a[0]).ravel(), a[1].ravel()
    return lambda i: (float(d[i]), float(s[i]))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_normal_values(chk, dtype, data):
    """NLP-VALUE, NLP-GRAD: the log-density and its three partials at drawn points."""
    chk.clause = "NLP-VALUE"
    loc, sc, value = data.draw(normal_operands(dtype), label="operands")
    conform(chk, normal_call(loc, sc, value), sample_axes=_axes(loc, sc, value))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_normal_broadcast(chk, dtype, data):
    """SHAPE-BROADCAST and GRAD-BROADCAST: loc (rows, 1), scale (1, cols), value (rows, cols); the
    gradients of loc and scale sum over the broadcast dimension."""
    chk.clause = "SHAPE-BROADCAST"
    loc, sc, value = data.draw(normal_operands(dtype, broadcast=True), label="operands")
    g = data.draw(S.array(dtype, value.shape, S.gaussian_mean(dtype)), label="grad_output")
    conform(chk, normal_call(loc, sc, value, grad_output=g))


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_edge_values(chk, dtype):
    """A fixed grid: value at, near and far from loc, scales small to large."""
    chk.clause = "NLP-VALUE"
    dt = S.np_dtype(dtype)
    ds = [0.0, 1e-3, 0.5, -1.0, 3.0, -10.0]
    ss = [S.rep(v, dtype) for v in ([0.01, 0.5, 1.0, 2.0, 50.0] if dtype == "float16" else [1e-4, 0.5, 1.0, 2.0, 1e3])]
    rows = [(S.rep(d, dtype), s) for d in ds for s in ss]
    # a finite log-density whose standardized square ((value - loc)/scale)**2 passes float16's range
    rows.append((S.rep(-128.0, dtype), S.rep(0.5, dtype)))
    value = np.array([r[0] for r in rows]).astype(dt)
    sc = np.array([r[1] for r in rows]).astype(dt)
    conform(chk, normal_call(np.zeros(len(rows)).astype(dt), sc, value))


@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_special_values(chk, dtype):
    """SPECIAL-INF, GRAD-SPECIAL: infinite value, loc or scale give the straightforward IEEE result."""
    chk.clause = "SPECIAL-INF"
    dt = S.np_dtype(dtype)
    inf = float("inf")
    pts = [(0.0, 1.0, inf), (0.0, 1.0, -inf), (inf, 1.0, 0.0), (0.0, inf, 0.0), (0.0, inf, 1.0), (inf, 1.0, inf)]
    loc, sc, value = (np.array(c).astype(dt) for c in zip(*pts))
    conform(chk, normal_call(loc, sc, value))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", ["scale=0", "scale<0", "scale=nan", "loc=nan", "value=nan"])
def test_normal_invalid_arguments(chk, dtype, bad):
    """NLP-ARGS: PyTorch's default argument validation raises ValueError."""
    chk.clause = "NLP-ARGS"
    dt = S.np_dtype(dtype)
    loc, sc, value = np.zeros(3).astype(dt), np.ones(3).astype(dt), np.array([0.0, 1.0, -1.0]).astype(dt)
    name, _, what = bad.replace("<", "=").partition("=")
    arr = {"loc": loc, "scale": sc, "value": value}[name]
    arr[1] = {"0": 0.0, "nan": float("nan")}.get(what, -1.0)  # "scale<0": -1
    conform(chk, normal_call(loc, sc, value, grad=()), raise_clause="NLP-ARGS")


@pytest.mark.parametrize("pair", ["float32+float64", "float16+float32", "bfloat16+float32"])
def test_normal_promotion(chk, pair):
    """DTYPE-PROMOTE: loc and scale in one dtype, value in another; the result in the promoted one."""
    chk.clause = "DTYPE-PROMOTE"
    a, b = pair.split("+")
    loc = np.array([0.0, 1.5, -2.0]).astype(S.np_dtype(a))
    sc = np.array([1.0, 0.5, 3.0]).astype(S.np_dtype(a))
    value = np.array([0.25, 1.0, 4.0]).astype(S.np_dtype(b))
    conform(chk, normal_call(loc, sc, value))


# --- the Poisson log-pmf ------------------------------------------------------------------------------
def pmf_call(rate, value, grad=LOSSES["poissonpmf"].DIFFERENTIABLE, **extra):
    """PLP-GRAD: the rate only (the value is a count: no derivative is required)."""
    return Call("poissonpmf", "functional", {"rate": rate, "value": value}, grad_wrt=tuple(grad), **extra)


@st.composite
def pmf_operands(draw, dtype, broadcast=False):
    """Rates from their domain's positive window (rate = 0 has no derivative: the edge and special
    checks take it); counts small (lgamma's zeros at value + 1 = 1, 2) and large, or near the rate,
    where the three terms cancel (the pmf near its mode)."""
    if broadcast:  # rate per column, value the full shape
        rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        return (draw(S.array(dtype, (1, cols), element("poissonpmf", "rate", dtype))),
                draw(S.array(dtype, (rows, cols), element("poissonpmf", "value", dtype))))
    shape = draw(S.shapes(min_dims=1, max_dims=2, max_side=6))
    rate = draw(S.array(dtype, shape, element("poissonpmf", "rate", dtype)))
    near = draw(st.booleans())
    value = (np.floor(rate.astype(np.float64)) if near else draw(S.array(dtype, shape, element("poissonpmf", "value", dtype))))
    return rate, np.asarray(value).astype(S.np_dtype(dtype))


def _pmf_axes(rate, value):
    r, v = (a.ravel() for a in np.broadcast_arrays(*(np.asarray(x).astype(np.float64) for x in (rate, value))))
    return lambda i: (float(v[i]), float(r[i]))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_poissonpmf_values(chk, dtype, data):
    """PLP-VALUE, PLP-GRAD: the log-pmf and its derivative in the rate at drawn points."""
    chk.clause = "PLP-VALUE"
    rate, value = data.draw(pmf_operands(dtype), label="operands")
    conform(chk, pmf_call(rate, value), sample_axes=_pmf_axes(rate, value))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_poissonpmf_broadcast(chk, dtype, data):
    """SHAPE-BROADCAST and GRAD-BROADCAST: rate (1, cols) against value (rows, cols); the rate's
    gradient sums over the rows."""
    chk.clause = "SHAPE-BROADCAST"
    rate, value = data.draw(pmf_operands(dtype, broadcast=True), label="operands")
    g = data.draw(S.array(dtype, value.shape, S.gaussian_mean(dtype)), label="grad_output")
    conform(chk, pmf_call(rate, value, grad_output=g))


@pytest.mark.parametrize("dtype", DTYPES)
def test_poissonpmf_edge_values(chk, dtype):
    """A fixed grid: counts 0, 1, 2 (lgamma(1) = lgamma(2) = 0), small and large counts, rates from
    tiny to large; values only at rate = 0 (0 for a zero count, -inf otherwise)."""
    chk.clause = "PLP-VALUE"
    dt = S.np_dtype(dtype)
    big = 2000.0 if dtype == "float16" else 1e5
    rates = [S.rep(r, dtype) for r in ([1e-3, 0.5, 1.0, 2.0, 30.0, 1000.0] if dtype == "float16"
                                       else [1e-6, 0.5, 1.0, 2.0, 30.0, 1e5])]
    counts = [0.0, 1.0, 2.0, 3.0, 10.0, S.rep(big, dtype)]
    rows = [(r, k) for r in rates for k in counts]
    conform(chk, pmf_call(*(np.array(c).astype(dt) for c in zip(*rows))))
    zero = np.zeros(4).astype(dt)
    conform(chk, pmf_call(zero, np.array([0.0, 1.0, 2.0, 7.0]).astype(dt), grad=()))


@pytest.mark.parametrize("dtype", DTYPES)
def test_poissonpmf_special_values(chk, dtype):
    """SPECIAL-INF, GRAD-SPECIAL: an infinite rate gives the straightforward IEEE result (-inf for a
    zero count, NaN otherwise: xlogy(value, inf) - inf)."""
    chk.clause = "SPECIAL-INF"
    dt = S.np_dtype(dtype)
    inf = float("inf")
    conform(chk, pmf_call(np.array([inf, inf, inf]).astype(dt), np.array([0.0, 1.0, 5.0]).astype(dt)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bad", ["rate<0", "rate=nan", "value<0", "value=1.5", "value=inf", "value=nan"])
def test_poissonpmf_invalid_arguments(chk, dtype, bad):
    """PLP-ARGS: PyTorch's default argument validation raises ValueError."""
    chk.clause = "PLP-ARGS"
    dt = S.np_dtype(dtype)
    rate, value = np.array([1.0, 2.0, 0.5]).astype(dt), np.array([0.0, 1.0, 3.0]).astype(dt)
    name, _, what = bad.replace("<", "=").partition("=")
    arr = {"rate": rate, "value": value}[name]
    arr[1] = {"nan": float("nan"), "inf": float("inf"), "1.5": 1.5}.get(what, -1.0)  # "<0": -1
    conform(chk, pmf_call(rate, value, grad=()), raise_clause="PLP-ARGS")


@pytest.mark.parametrize("pair", ["float32+float64", "float16+float32", "bfloat16+float32"])
def test_poissonpmf_promotion(chk, pair):
    """DTYPE-PROMOTE: the rate in one dtype, the value in another; the result in the promoted one."""
    chk.clause = "DTYPE-PROMOTE"
    a, b = pair.split("+")
    rate = np.array([0.5, 3.0, 20.0]).astype(S.np_dtype(a))
    value = np.array([0.0, 2.0, 25.0]).astype(S.np_dtype(b))
    conform(chk, pmf_call(rate, value))
