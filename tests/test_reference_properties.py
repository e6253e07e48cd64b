"""Properties of reference.engine.expect that follow from the mathematics, checked with hypothesis.

* PNLL-VALUE-RATE: for t > 0 the rate loss decreases as eps grows (t = 0: independent of eps);
* GNLL-VALUE: the Gaussian loss is symmetric in input and target;
* RED-*: 'sum' is the exact sum of the 'none' elements, 'mean' is that sum over N;
* GRAD-*: under 'mean' the gradients are the 'none' gradients over N; a homoscedastic var's
  gradient is the heteroscedastic one summed over the broadcast dimension;
* a 10^6-element reduction built from a few distinct points completes.

Sums here are recomputed with mpmath.fsum at a high working precision.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath import mpf

from reference import engine

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)
HIGH = 300  # bits for the sums recomputed here
TIGHT = mpf(2) ** -100


def finite(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


# an absolute floor far below every format's smallest subnormal (float64: 2**-1074): an exactly
# zero derivative computed through an inexact 1/N (g/N - (g/N)*t/(x + eps) at t = x + eps) comes
# out as a residual of the working precision, about 1e-599, which rounds to 0 in every format
FLOOR = mpf(2) ** -1200


def close(a, b, rel=TIGHT):
    if a != a or b != b:
        return a != a and b != b
    with mpmath.workprec(HIGH):
        return abs(a - b) <= rel * max(abs(a), abs(b)) + FLOOR


def same(xs, ys) -> bool:
    """Element-wise equality of lists of mpf, NaN equal to NaN."""
    return len(xs) == len(ys) and all(a == b or (a != a and b != b) for a, b in zip(xs, ys))


def P(x, t, grad=(), g=None, **kw):
    return engine.Call("poisson", "functional", {"input": np.asarray(x), "target": np.asarray(t)}, kwargs=kw,
                    grad_wrt=grad, grad_output=g)


def G(x, y, v, grad=(), g=None, **kw):
    return engine.Call("gaussian", "functional", {"input": np.asarray(x), "target": np.asarray(y), "var": v},
                    kwargs=kw, grad_wrt=grad, grad_output=g)


# --- Poisson: monotone in eps --------------------------------------------------------------------
@SETTINGS
@given(x=st.one_of(finite(0, 100), st.just(0.0)), t=finite(1e-3, 100),
       e=st.lists(st.one_of(finite(0, 10), st.sampled_from([0.0, 1e-8, 1e-3])), min_size=2, max_size=2),
       full=st.booleans(), dtype=st.sampled_from(["float64", "float32"]))
def test_poisson_rate_loss_decreases_with_eps(x, t, e, full, dtype):
    e1, e2 = sorted(e)
    xs, ts = np.array([x], dtype=dtype), np.array([t], dtype=dtype)
    l1 = engine.expect(P(xs, ts, log_input=False, full=full, eps=e1, reduction="none")).output.exact[0]
    l2 = engine.expect(P(xs, ts, log_input=False, full=full, eps=e2, reduction="none")).output.exact[0]
    x32 = float(xs[0])
    if x32 + e1 == 0:
        assert l1 == mpf("inf")
        return
    assert l1 >= l2, (x, t, e1, e2, l1, l2)
    if e2 - e1 > (x32 + e2) * 2.0**-90:  # a difference the element's precision resolves
        assert l1 > l2


@SETTINGS
@given(x=finite(1e-6, 100), e=st.lists(finite(0, 10), min_size=2, max_size=2))
def test_poisson_rate_loss_with_zero_target_ignores_eps(x, e):
    vals = [engine.expect(P([x], [0.0], log_input=False, eps=ei, reduction="none")).output.exact[0] for ei in e]
    assert vals[0] == vals[1] == mpf(x)


# --- Gaussian: symmetric in input and target ----------------------------------------------------
@SETTINGS
@given(xy=st.lists(st.tuples(finite(-1e3, 1e3), finite(-1e3, 1e3), finite(0, 1e3)), min_size=1, max_size=6),
       full=st.booleans(), eps=st.sampled_from([0.0, 1e-6, 0.5]))
def test_gaussian_symmetric_in_input_and_target(xy, full, eps):
    x, y, v = (np.array(c) for c in zip(*xy))
    grad = ("input", "target", "var")
    e1 = engine.expect(G(x, y, v, grad=grad, full=full, eps=eps, reduction="none"))
    e2 = engine.expect(G(y, x, v, grad=grad, full=full, eps=eps, reduction="none"))
    assert same(e1.output.exact, e2.output.exact)
    assert same(e1.grads["input"].exact, e2.grads["target"].exact)
    assert same(e1.grads["target"].exact, e2.grads["input"].exact)
    assert same(e1.grads["var"].exact, e2.grads["var"].exact)


# --- reductions -------------------------------------------------------------------------------------
POOL_X = [0.5, 1.0, -0.5, 2.0, 0.0, 3.25, 1e-3]
POOL_T = [1.0, 0.0, 2.0, 3.0, 0.5, 7.0]


@st.composite
def poisson_batch(draw):
    n = draw(st.integers(1, 24))
    pick = st.one_of(st.sampled_from(POOL_X), finite(-3, 3))
    x = draw(st.lists(pick, min_size=n, max_size=n))
    t = draw(st.lists(st.one_of(st.sampled_from(POOL_T), finite(0, 20)), min_size=n, max_size=n))
    kw = dict(log_input=draw(st.booleans()), full=draw(st.booleans()), eps=draw(st.sampled_from([1e-8, 0.5])))
    if not kw["log_input"]:
        x = [abs(v) for v in x]
    dtype = draw(st.sampled_from(["float64", "float32", "float16"]))
    return np.array(x, dtype=dtype), np.array(t, dtype=dtype), kw


def _fsum(vals):
    with mpmath.workprec(HIGH):
        return mpmath.fsum(vals)


@SETTINGS
@given(batch=poisson_batch())
def test_sum_and_mean_are_the_exact_sum_of_the_elements(batch):
    x, t, kw = batch
    none = engine.expect(P(x, t, reduction="none", **kw)).output
    total = engine.expect(P(x, t, reduction="sum", **kw)).output
    mean = engine.expect(P(x, t, reduction="mean", **kw)).output
    assert total.shape == mean.shape == ()
    ref = _fsum(none.exact)
    n = len(none.exact)
    with mpmath.workprec(HIGH):
        ref_mean = ref / n
        mag = _fsum(abs(e) for e in none.exact)
        # within 2^-52 of the terms' magnitude only: the reference sums at 53 bits, see
        # test_reduction_exact_value_keeps_the_element_precision
        assert abs(total.exact[0] - ref) <= mag * mpf(2) ** -52, (total.exact[0], ref)
        assert abs(mean.exact[0] - ref_mean) <= mag / n * mpf(2) ** -51
    assert total.allow[0] > 0 and mean.allow[0] > 0


@pytest.mark.parametrize("x,t", [
    ([0.5, 1.0, -0.5, 2.0], [1.0, 0.0, 2.0, 3.0]),  # OBS-039..041
    ([0.5, 0.5, 0.5], [1.0, 1.0, 7.0]),  # cancellation: the 'exact' sum is 2.5 float64 ulps off
])
def test_reduction_exact_value_keeps_the_element_precision(x, t):
    x, t = np.array(x), np.array(t)
    none = engine.expect(P(x, t, reduction="none")).output
    total = engine.expect(P(x, t, reduction="sum")).output
    mean = engine.expect(P(x, t, reduction="mean")).output
    ref = _fsum(none.exact)
    with mpmath.workprec(HIGH):
        ref_mean = ref / len(x)
    assert close(total.exact[0], ref) and close(mean.exact[0], ref_mean), (total.exact[0], ref)


@SETTINGS
@given(batch=poisson_batch())
def test_mean_gradients_are_none_gradients_over_n(batch):
    x, t, kw = batch
    grad = ("input", "target")
    none = engine.expect(P(x, t, grad=grad, reduction="none", **kw))
    total = engine.expect(P(x, t, grad=grad, reduction="sum", **kw))
    mean = engine.expect(P(x, t, grad=grad, reduction="mean", **kw))
    n = x.size
    for name in grad:
        assert mean.grads[name].shape == x.shape
        for g_none, g_sum, g_mean in zip(none.grads[name].exact, total.grads[name].exact, mean.grads[name].exact):
            assert same([g_sum], [g_none])
            with mpmath.workprec(HIGH):
                # far below any format's resolution; the exact values are confirmed to round
                # correctly, not to carry all their working bits through cancellation
                rel = mpf(2) ** -60
                assert close(g_mean, g_none / n, rel), (name, g_mean, g_none, n)


@SETTINGS
@given(rows=st.integers(1, 4), cols=st.integers(1, 6), data=st.data(),
       reduction=st.sampled_from(["none", "sum", "mean"]), eps=st.sampled_from([1e-6, 0.3]))
def test_homoscedastic_var_gradient_is_the_summed_heteroscedastic_one(rows, cols, data, reduction, eps):
    vals = st.one_of(finite(-5, 5), st.sampled_from([0.0, 0.25, 1.0]))
    x = np.array(data.draw(st.lists(vals, min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)
    y = np.array(data.draw(st.lists(vals, min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)
    v = np.array(data.draw(st.lists(st.one_of(finite(0, 4), st.just(1e-8)), min_size=rows, max_size=rows)))
    g = None
    if reduction == "none":
        g = np.array(data.draw(st.lists(finite(-2, 2), min_size=rows * cols, max_size=rows * cols))).reshape(rows, cols)
    grad = ("input", "target", "var")
    hetero = engine.expect(G(x, y, np.repeat(v[:, None], cols, axis=1), grad=grad, g=g, eps=eps, reduction=reduction))
    homo = engine.expect(G(x, y, v[:, None], grad=grad, g=g, eps=eps, reduction=reduction))  # (rows, 1)
    short = engine.expect(G(x, y, v, grad=grad, g=g, eps=eps, reduction=reduction))  # (rows,): S[:-1]
    assert homo.grads["var"].shape == (rows, 1) and short.grads["var"].shape == (rows,)
    assert same(homo.output.exact, hetero.output.exact) and same(short.output.exact, hetero.output.exact)
    het = hetero.grads["var"].exact
    for r in range(rows):
        ref = _fsum(het[r * cols:(r + 1) * cols])
        rel = mpf(2) ** (8 - homo.grads["var"].precision)
        assert close(homo.grads["var"].exact[r], ref, rel), (r, homo.grads["var"].exact[r], ref)
        assert close(short.grads["var"].exact[r], ref, rel)
    for name in ("input", "target"):
        assert same(homo.grads[name].exact, hetero.grads[name].exact)


# --- large N ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_large_reduction_from_few_distinct_points():
    n = 10**6
    px = np.array([0.5, 1.0, 2.0, -1.0, 0.25])
    pt = np.array([1.0, 2.0, 0.0, 3.0, 2.0])
    reps = np.arange(n) % 5
    reps[:10] = 0  # unequal counts
    counts = np.bincount(reps, minlength=5)
    x, t = px[reps], pt[reps]
    exp = engine.expect(P(x, t, reduction="sum"))
    assert exp.error is None and exp.output.shape == ()
    elems = engine.expect(P(px, pt, reduction="none")).output.exact
    with mpmath.workprec(HIGH):
        ref = mpmath.fsum(int(c) * e for c, e in zip(counts, elems))
    assert close(exp.output.exact[0], ref, rel=mpf(2) ** -52)
    assert 0 < exp.output.allow[0] < abs(ref) * 1e-9
