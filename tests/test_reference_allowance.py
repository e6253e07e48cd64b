"""The error allowance (reference.allowance, SPEC ch. 8) accepts honest results and rejects wrong ones.

Honest candidates are computed here by straightforward evaluation with NumPy in the result's dtype
(float16/float32/float64 NumPy types; bfloat16 with ml_dtypes, every operation computed in float32
and rounded to bfloat16), reductions with NumPy's own sum. Wrong candidates are the classic
mistakes: float64 computed in float32, `log(x) + eps`, the Stirling mask at t < 1, a sequential
float32 sum of 10^5 terms, a mean over the wrong N.
"""

from __future__ import annotations

import math

import ml_dtypes
import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mpmath import mpf

from reference import engine
from reference.allowance import allowance, gamma, judge, sum_terms
from reference.elementwise import element
from reference.floats import FORMATS

DTYPES = ("float16", "bfloat16", "float32", "float64")
STORE = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32, "float64": np.float64}
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)
TWO_PI = 2 * math.pi
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class Num:
    """Straightforward evaluation in one dtype: each operation's result is stored in that dtype.

    float32/float64 operate natively; float16 and bfloat16 operate in float32 and round the result
    (NumPy's float16 loops do the same; float32 has more than 2p+2 bits for both, so a basic
    operation is correctly rounded; exp and log are float32's own, then rounded).
    """

    def __init__(self, dtype):
        self.store = STORE[dtype]
        self.work = np.float64 if dtype == "float64" else np.float32

    def r(self, v):
        return np.asarray(v, dtype=self.work).astype(self.store).astype(self.work)

    def c(self, v):  # a Python constant, stored in the dtype
        return self.r(np.float64(v))

    def exp(self, a):
        return self.r(np.exp(a))

    def log(self, a):
        return self.r(np.log(a))


def poisson_candidate(dt, x, t, *, log_input, full, eps):
    N = Num(dt)
    with np.errstate(all="ignore"):
        x, t = N.r(x), N.r(t)
        if log_input:
            ex = N.exp(x)
            loss = N.r(ex - N.r(t * x))
            d_x = N.r(ex - t)
            d_t = -x
        else:
            xe = N.r(x + N.c(eps))
            lg = N.log(xe)
            loss = N.r(x - N.r(t * lg))
            d_x = N.r(N.c(1) - N.r(t / xe))
            d_t = -lg
        if full:
            lt = N.log(t)
            term = N.r(N.r(N.r(t * lt) - t) + N.r(N.c(0.5) * N.log(N.r(N.c(TWO_PI) * t))))
            loss = np.where(t > 1, N.r(loss + term), loss)
            d_t = np.where(t > 1, N.r(d_t + N.r(lt + N.r(N.c(1) / N.r(N.c(2) * t)))), d_t)
    return loss, d_x, d_t


def gaussian_candidate(dt, x, y, var, *, full, eps):
    N = Num(dt)
    with np.errstate(all="ignore"):
        x, y, var = N.r(x), N.r(y), N.r(var)
        v = np.maximum(var, N.c(eps))
        d = N.r(x - y)
        dd = N.r(d * d)
        loss = N.r(N.c(0.5) * N.r(N.log(v) + N.r(dd / v)))
        if full:
            loss = N.r(loss + N.c(HALF_LOG_2PI))
        d_x = N.r(d / v)
        d_var = N.r(N.c(0.5) * N.r(N.r(N.c(1) / v) - N.r(dd / N.r(v * v))))
    return loss, d_x, -d_x, d_var


def np_sum(dt, a):
    """NumPy's own sum in the dtype (pairwise); bfloat16 accumulates in float32 (as frameworks do)."""
    if dt == "bfloat16":
        return float(np.sum(np.asarray(a, np.float32)).astype(ml_dtypes.bfloat16))
    return float(np.sum(np.asarray(a).astype(STORE[dt])))


def np_mean(dt, a):
    if dt == "bfloat16":
        return float(np.float32(np.sum(np.asarray(a, np.float32)) / np.float32(len(a))).astype(ml_dtypes.bfloat16))
    return float(np.mean(np.asarray(a).astype(STORE[dt])))


def assert_all_accepted(q: engine.Quantity, got, what=""):
    fmt = FORMATS[q.dtype]
    got = np.asarray(got, dtype=np.float64).ravel()
    assert len(got) == len(q.exact)
    for i, (g, e, al, nv) in enumerate(zip(got, q.exact, q.allow, q.straightforward)):
        v = judge(mpf(float(g)), e, al, fmt, nv)
        assert v.ok, (what, i, float(g), e, al, v)


# --- (a) honest results are accepted ------------------------------------------------------------
@st.composite
def poisson_points(draw, dt):
    n = draw(st.integers(1, 8))
    log_input = draw(st.booleans())
    full = draw(st.booleans())
    eps = draw(st.sampled_from([1e-8, 1e-3, 0.5]))
    xs, ts = [], []
    for _ in range(n):
        kind = draw(st.sampled_from(["any", "any", "minimum", "small"]))
        t = draw(st.one_of(st.floats(0, 30), st.sampled_from([0.0, 1.0, 2.0, math.e, 3.0])))
        if kind == "minimum":  # the minimum over x: d_x cancels (x = log t, or x = t - eps)
            t = draw(st.floats(0.05, 30))
            rel = draw(st.floats(-1e-2, 1e-2))
            x = math.log(t) * (1 + rel) + rel if log_input else t * (1 + rel)
        elif kind == "small":
            x = draw(st.floats(-1e-3, 1e-3)) if log_input else draw(st.floats(0, 1e-3))
        else:
            x = draw(st.floats(-4, 4)) if log_input else draw(st.floats(1e-3, 60))
        xs.append(x)
        ts.append(t)
    store = STORE[dt]
    return np.array(xs).astype(store), np.array(ts).astype(store), dict(log_input=log_input, full=full, eps=eps)


@pytest.mark.parametrize("dt", DTYPES)
@SETTINGS
@given(data=st.data())
def test_straightforward_poisson_is_accepted(dt, data):
    x, t, kw = data.draw(poisson_points(dt))
    loss, d_x, d_t = poisson_candidate(dt, x.astype(np.float64), t.astype(np.float64), **kw)
    assume(np.all(np.isfinite(loss)) and np.all(np.isfinite(d_x)) and np.all(np.isfinite(d_t)))
    call = lambda red: engine.Call("poisson", "functional", {"input": x, "target": t}, kwargs=dict(reduction=red, **kw),
                                grad_wrt=("input", "target"))
    none = engine.expect(call("none"))
    assert none.output.dtype == dt
    assert_all_accepted(none.output, loss, "loss")
    assert_all_accepted(none.grads["input"], d_x, "d_input")
    assert_all_accepted(none.grads["target"], d_t, "d_target")
    total = engine.expect(call("sum"))
    assert_all_accepted(total.output, [np_sum(dt, loss)], "sum")
    assert_all_accepted(total.grads["input"], d_x, "sum d_input")
    mean = engine.expect(call("mean"))
    assert_all_accepted(mean.output, [np_mean(dt, loss)], "mean")
    N = Num(dt)
    assert_all_accepted(mean.grads["input"], N.r(np.asarray(d_x, N.work) / N.work(x.size)), "mean d_input")
    assert_all_accepted(mean.grads["target"], N.r(np.asarray(d_t, N.work) / N.work(x.size)), "mean d_target")


@st.composite
def gaussian_points(draw, dt):
    n = draw(st.integers(1, 8))
    full = draw(st.booleans())
    eps = draw(st.sampled_from([1e-6, 1e-2]))
    small = dt in ("float16", "bfloat16")  # keep (x - y)^2 / v inside the format
    xs, ys, vs = [], [], []
    for _ in range(n):
        x = draw(st.floats(-10, 10))
        d = draw(st.one_of(st.floats(-3, 3), st.floats(-1e-3, 1e-3), st.just(0.0)))
        v = draw(st.one_of(st.floats(1e-2, 100), st.floats(0, 1e-6), st.just(1.0)))
        if small and v < 1e-2:
            d = d * 1e-3
        xs.append(x)
        ys.append(x + d)
        vs.append(v)
    store = STORE[dt]
    return (np.array(xs).astype(store), np.array(ys).astype(store), np.array(vs).astype(store),
            dict(full=full, eps=eps))


@pytest.mark.parametrize("dt", DTYPES)
@SETTINGS
@given(data=st.data())
def test_straightforward_gaussian_is_accepted(dt, data):
    x, y, v, kw = data.draw(gaussian_points(dt))
    f = lambda a: a.astype(np.float64)
    outs = gaussian_candidate(dt, f(x), f(y), f(v), **kw)
    assume(all(np.all(np.isfinite(o)) for o in outs))
    loss, d_x, d_y, d_v = outs
    grad = ("input", "target", "var")
    call = lambda red: engine.Call("gaussian", "functional", {"input": x, "target": y, "var": v},
                                kwargs=dict(reduction=red, **kw), grad_wrt=grad)
    none = engine.expect(call("none"))
    assert none.output.dtype == dt
    assert_all_accepted(none.output, loss, "loss")
    for name, g in zip(grad, (d_x, d_y, d_v)):
        assert_all_accepted(none.grads[name], g, name)
    assert_all_accepted(engine.expect(call("sum")).output, [np_sum(dt, loss)], "sum")
    assert_all_accepted(engine.expect(call("mean")).output, [np_mean(dt, loss)], "mean")


@pytest.mark.parametrize("dt", ("float32", "float64"))
def test_numpy_pairwise_sum_of_many_terms_is_accepted(dt):
    rng = np.random.default_rng(0)
    n = 1024
    x = rng.uniform(-2, 2, n).astype(STORE[dt])
    t = rng.integers(0, 6, n).astype(STORE[dt])
    loss, _, _ = poisson_candidate(dt, x.astype(np.float64), t.astype(np.float64), log_input=True, full=True, eps=1e-8)
    exp = engine.expect(engine.Call("poisson", "functional", {"input": x, "target": t}, kwargs=dict(full=True, reduction="sum")))
    assert_all_accepted(exp.output, [np_sum(dt, loss)])


# --- (b) wrong results are rejected -------------------------------------------------------------
def _rejected(q: engine.Quantity, got):
    fmt = FORMATS[q.dtype]
    got = np.asarray(got, dtype=np.float64).ravel()
    return [not judge(mpf(float(g)), e, al, fmt, nv).ok for g, e, al, nv in zip(got, q.exact, q.allow, q.straightforward)]


def test_float64_result_computed_in_float32_is_rejected():
    x = np.array([0.3, 1.7, -2.2, 0.01, 3.9, 0.77])
    t = np.array([2.7, 0.5, 4.0, 1.3, 11.0, 6.1])
    for kw in (dict(log_input=True, full=False, eps=1e-8), dict(log_input=False, full=True, eps=1e-8)):
        xs = np.abs(x) if not kw["log_input"] else x
        exp = engine.expect(engine.Call("poisson", "functional", {"input": xs, "target": t}, kwargs=dict(reduction="none", **kw)))
        honest = poisson_candidate("float64", xs, t, **kw)[0]
        in_f32 = poisson_candidate("float32", xs, t, **kw)[0].astype(np.float64)
        assert not any(_rejected(exp.output, honest))
        assert all(_rejected(exp.output, in_f32)), kw
    exp = engine.expect(engine.Call("gaussian", "functional", {"input": x, "target": t, "var": np.abs(x) + 0.1},
                              kwargs=dict(reduction="none")))
    assert all(_rejected(exp.output, gaussian_candidate("float32", x, t, np.abs(x) + 0.1, full=False, eps=1e-6)[0]))


@pytest.mark.parametrize("dt", ("float32", "float64"))
def test_eps_outside_the_log_is_rejected(dt):
    x = np.array([1e-9, 0.0, 1e-8, 3e-9]).astype(STORE[dt])
    t = np.array([2.0, 2.0, 1.0, 5.0]).astype(STORE[dt])
    eps = 1e-8
    exp = engine.expect(engine.Call("poisson", "functional", {"input": x, "target": t},
                              kwargs=dict(log_input=False, eps=eps, reduction="none")))
    N = Num(dt)
    with np.errstate(divide="ignore"):
        xw, tw = x.astype(N.work), t.astype(N.work)
        wrong = N.r(xw - N.r(tw * N.r(N.log(xw) + N.c(eps))))  # log(x) + eps
    right = poisson_candidate(dt, x.astype(np.float64), t.astype(np.float64), log_input=False, full=False, eps=eps)[0]
    assert not any(_rejected(exp.output, right))
    assert all(_rejected(exp.output, wrong))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("log_input", (True, False))
def test_stirling_mask_below_one_instead_of_at_most_one_is_rejected(dt, log_input):
    # losses near 1, so that the missing -0.0811 is well outside even bfloat16's allowance
    x = np.array([0.5, 0.0 if log_input else 1.0]).astype(STORE[dt])
    t = np.array([1.0, 1.0]).astype(STORE[dt])  # t = 1 exactly: masked (t <= 1)
    exp = engine.expect(engine.Call("poisson", "functional", {"input": x, "target": t},
                              kwargs=dict(log_input=log_input, full=True, reduction="none")))
    kw = dict(log_input=log_input, eps=1e-8)
    plain = poisson_candidate(dt, x.astype(np.float64), t.astype(np.float64), full=False, **kw)[0]
    N = Num(dt)
    tw = t.astype(N.work)
    term = N.r(N.r(N.r(tw * N.log(tw)) - tw) + N.r(N.c(0.5) * N.log(N.r(N.c(TWO_PI) * tw))))  # -0.0811
    wrong = N.r(plain + term)  # the term added at t = 1 (a mask t < 1)
    assert not any(_rejected(exp.output, plain))
    assert all(_rejected(exp.output, wrong))


def _constant_ish_terms(n):
    """n Poisson terms cycling through three distinct points: exact elements, bounds, counts."""
    px = [0.5, 0.25, 0.125]
    pt = [2.0, 1.0, 3.0]
    counts = [len(range(i, n, 3)) for i in range(3)]
    elems = [element("poisson", (x, t), dict(log_input=True, full=False, eps=1e-8), "float32") for x, t in zip(px, pt)]
    loss32 = poisson_candidate("float32", np.array(px), np.array(pt), log_input=True, full=False, eps=1e-8)[0]
    terms = np.resize(loss32.astype(np.float32), n)  # cycles the three values, stored in float32
    return elems, counts, terms


def test_sequential_float32_sum_of_1e5_terms_is_rejected():
    n = 10**5
    elems, counts, terms = _constant_ish_terms(n)
    fmt = FORMATS["float32"]
    total, bound = sum_terms([e.exact[0] for e in elems], [e.bound[0] for e in elems], counts, fmt)
    allow = allowance(bound, total, fmt)
    pairwise = float(np.sum(terms, dtype=np.float32))  # NumPy: pairwise, error ~ log2(n) u
    sequential = float(np.cumsum(terms, dtype=np.float32)[-1])  # one running float32 accumulator
    assert judge(mpf(pairwise), total, allow, fmt).ok
    v = judge(mpf(sequential), total, allow, fmt)
    assert not v.ok and v.normalized > 10, v
    # the summation bound grows like log2(n) beyond the sequential leaves, not like n
    assert gamma(n, fmt) < 50 * float(fmt.u)
    ku = 31 * float(fmt.u)  # up to LEAF = 32 terms: a sequential run, gamma(k) = ku / (1 - ku)
    assert gamma(32, fmt) == pytest.approx(ku / (1 - ku), rel=1e-12)


def test_sequential_sum_with_counts_matches_the_expanded_sum():
    # sum_terms with multiplicities equals sum_terms over the expanded list (exact value and bound)
    elems, counts, _ = _constant_ish_terms(301)
    fmt = FORMATS["float32"]
    ex, bd = [e.exact[0] for e in elems], [e.bound[0] for e in elems]
    t1, b1 = sum_terms(ex, bd, counts, fmt)
    expanded = [i for i, c in enumerate(counts) for _ in range(c)]
    t2, b2 = sum_terms([ex[i] for i in expanded], [bd[i] for i in expanded], None, fmt)
    with mpmath.workprec(200):
        ref = mpmath.fsum(c * e for c, e in zip(counts, ex))
    assert abs(t1 - ref) <= abs(ref) * mpf(2) ** -50 and abs(t2 - ref) <= abs(ref) * mpf(2) ** -50
    assert b1 == pytest.approx(b2, rel=1e-12)


@pytest.mark.parametrize("dt", ("float32", "float64"))
def test_mean_over_the_wrong_n_is_rejected(dt):
    # input (2, 3), target (3,): the mean divides by the broadcast numel 6 (OBS-038), not by 3
    x = np.array([0.0, 1.0, 2.0, 3.0, 0.5, 1.5]).reshape(2, 3).astype(STORE[dt])
    t = np.array([1.0, 2.0, 3.0]).astype(STORE[dt])
    exp = engine.expect(engine.Call("poisson", "functional", {"input": x, "target": t}))
    loss = poisson_candidate(dt, x.astype(np.float64), np.broadcast_to(t, (2, 3)).astype(np.float64),
                             log_input=True, full=False, eps=1e-8)[0]
    s = np.sum(loss.astype(STORE[dt]))
    assert not any(_rejected(exp.output, [s / STORE[dt](6)]))
    assert all(_rejected(exp.output, [s / STORE[dt](n)]) for n in (3, 5, 7))
    # and a 4-element mean divided by 3 or 5
    x4 = np.array([0.5, 1.0, -0.5, 2.0]).astype(STORE[dt])
    t4 = np.array([1.0, 0.0, 2.0, 3.0]).astype(STORE[dt])
    exp4 = engine.expect(engine.Call("poisson", "functional", {"input": x4, "target": t4}))
    s4 = np.sum(poisson_candidate(dt, x4.astype(np.float64), t4.astype(np.float64), log_input=True, full=False,
                                  eps=1e-8)[0].astype(STORE[dt]))
    assert not any(_rejected(exp4.output, [s4 / STORE[dt](4)]))
    assert all(_rejected(exp4.output, [s4 / STORE[dt](n)]) for n in (3, 5))


def test_allowance_of_an_unbounded_evaluation_is_half_an_ulp():
    fmt = FORMATS["float32"]
    for b in (math.inf, math.nan):
        assert allowance(b, mpf(3), fmt) == fmt.ulp(mpf(3)) / 2
    assert allowance(0.0, mpf("inf"), fmt) == 0
    assert allowance(1e-7, mpf(3), fmt) == 2 * mpf(1e-7) + fmt.ulp(mpf(3)) / 2  # SAFETY = 2
