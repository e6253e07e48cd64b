"""The defining formulas of reference.poisson / reference.gaussian, checked from outside.

* the closed-form derivatives against mpmath.diff of the loss value (PNLL-GRAD-*, GNLL-GRAD-*);
* the Gaussian full loss against scipy's normal log-density (GNLL-EXACT), and
  reference.gaussian.log_density;
* the exact Poisson likelihood against scipy's Poisson log-pmf (PNLL-EXACT);
* the Stirling gap, full loss minus exact likelihood, against the Stirling series bounds
  -1/(12t) < gap < -1/(12t) + 1/(360 t^3) (PNLL-STIRLING).
"""

from __future__ import annotations

import itertools
import math

import mpmath
import pytest
import scipy.stats
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mpmath import mpf

from reference import gaussian, poisson
from reference.algebra import Exact

E = Exact()
PREC = 120  # bits for the exact side of these checks
U64 = 2.0**-53

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)


def rel_close(a, b, rel=mpf(2) ** -90, abs_=mpf(0)):
    return abs(a - b) <= rel * max(abs(a), abs(b)) + abs_


def finite(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


# --- derivatives: closed forms vs numerical differentiation -------------------------------------
POISSON_PARAMS = [
    dict(log_input=li, full=fu, eps=eps)
    for li, fu, eps in itertools.product((True, False), (False, True), (0.0, 1e-8, 0.5))
]


def _pois(x, t, p):
    return poisson.element(E, x, t, **p)


@pytest.mark.parametrize("p", POISSON_PARAMS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
@SETTINGS
@given(x=finite(-6, 6), t=st.one_of(finite(-3, 60), st.sampled_from([0.0, 0.5, 2.0, 7.0])))
def test_poisson_derivatives_match_mpmath_diff(p, x, t):
    if not p["log_input"]:
        x = abs(x) + 0.01  # the rate must stay positive around the point
    if p["full"]:
        assume(abs(t - 1) > 1e-3)  # the Stirling mask switches at t = 1
    with mpmath.workprec(PREC):
        X, T = mpf(x), mpf(t)
        loss, d_x, d_t = _pois(X, T, p)
        num_x = mpmath.diff(lambda v: _pois(v, T, p)[0], X)
        num_t = mpmath.diff(lambda v: _pois(X, v, p)[0], T)
        scale = abs(loss) + abs(T * X) + abs(T) + 1
        assert rel_close(d_x, num_x, abs_=scale * mpf(2) ** -80), (x, t, d_x, num_x)
        assert rel_close(d_t, num_t, abs_=scale * mpf(2) ** -80), (x, t, d_t, num_t)


@pytest.mark.parametrize("p", [dict(log_input=li, full=True, eps=0.0) for li in (True, False)])
def test_poisson_target_derivative_at_the_mask(p):
    """Below the mask the t-derivative is the one of the plain loss; above it adds log t + 1/(2t)."""
    x = 0.5
    with mpmath.workprec(PREC):
        X = mpf(x)
        plain = (lambda t: -X) if p["log_input"] else (lambda t: -mpmath.log(X))
        for t in (mpf(0), mpf("0.25"), mpf(1)):
            assert _pois(X, t, p)[2] == plain(t)
        t = mpf(1) + mpf(2) ** -52
        assert rel_close(_pois(X, t, p)[2], plain(t) + mpmath.log(t) + 1 / (2 * t))


@pytest.mark.parametrize("log_input", (True, False))
def test_poisson_target_derivative_at_nan_target_is_nan(log_input):
    # PNLL-STIRLING-MASK / PNLL-GRAD-STIRLING-MASK: a NaN target is not <= 1, so its NaN term is added
    with mpmath.workprec(PREC):
        loss, d_x, d_t = _pois(mpf(0.5), mpf("nan"), dict(log_input=log_input, full=True, eps=1e-8))
    assert mpmath.isnan(loss) and mpmath.isnan(d_x)
    assert mpmath.isnan(d_t)


GAUSS_PARAMS = [dict(full=fu, eps=eps) for fu, eps in itertools.product((False, True), (0.0, 1e-6, 0.5))]


def _gauss(x, y, v, p):
    return gaussian.element(E, x, y, v, **p)


@pytest.mark.parametrize("p", GAUSS_PARAMS, ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
@SETTINGS
@given(x=finite(-10, 10), y=finite(-10, 10), var=st.one_of(finite(1e-3, 100), finite(1e-9, 1e-3)))
def test_gaussian_derivatives_match_mpmath_diff(p, x, y, var):
    eps = p["eps"]
    assume(abs(var - eps) > 1e-3 * max(var, eps) + 1e-12)  # not at the clamp's kink
    with mpmath.workprec(PREC):
        X, Y, V = mpf(x), mpf(y), mpf(var)
        loss, d_x, d_y, d_v = _gauss(X, Y, V, p)
        num_x = mpmath.diff(lambda a: _gauss(a, Y, V, p)[0], X)
        num_y = mpmath.diff(lambda a: _gauss(X, a, V, p)[0], Y)
        scale = abs(loss) + 1 + (X - Y) ** 2 / max(V, mpf(eps))
        tol = scale * mpf(2) ** -70
        assert rel_close(d_x, num_x, abs_=tol), (x, y, var, d_x, num_x)
        assert rel_close(d_y, num_y, abs_=tol)
        if var > eps:
            num_v = mpmath.diff(lambda a: _gauss(X, Y, a, p)[0], V)
            assert rel_close(d_v, num_v, abs_=tol / V), (x, y, var, d_v, num_v)
        else:
            # GNLL-GRAD-VAR-CLAMP: the var-gradient at the clamped value, passed straight through
            # (not the zero derivative of the clamped loss): d/dv of 0.5*(log v + d^2/v) at v = eps
            dd = (X - Y) ** 2
            num_v = mpmath.diff(lambda a: (mpmath.log(a) + dd / a) / 2, mpf(eps))
            assert rel_close(d_v, num_v, abs_=tol / mpf(eps)), (x, y, var, d_v, num_v)
            assert mpmath.diff(lambda a: _gauss(X, Y, a, p)[0], V) == 0


# --- Gaussian: the negative log-density ------------------------------------------------------------
@SETTINGS
@given(x=finite(-50, 50), y=finite(-50, 50), var=st.one_of(finite(1e-5, 1e4), st.sampled_from([0.5, 1.0, 2.0])))
def test_gaussian_full_loss_is_the_negative_normal_log_density(x, y, var):
    eps = 1e-6
    assume(var > eps)
    with mpmath.workprec(PREC):
        loss = _gauss(mpf(x), mpf(y), mpf(var), dict(full=True, eps=eps))[0]
        dens = gaussian.log_density(E, mpf(x), mpf(y), mpf(var))
        assert rel_close(loss, dens, rel=mpf(2) ** -100, abs_=mpf(2) ** -100)
    ref = -float(scipy.stats.norm.logpdf(y, loc=x, scale=math.sqrt(var)))
    z2 = (x - y) ** 2 / var
    # a few ulp of the terms scipy adds (its scale is a rounded sqrt(var), one more rounding)
    tol = 8 * U64 * (0.92 + abs(math.log(var)) / 2 + z2 / 2)
    assert abs(float(loss) - ref) <= tol, (x, y, var, float(loss), ref)


def test_gaussian_log_density_known_point():
    # standard normal at its mean: 0.5*log(2*pi), which OBS-148 records as 0.9189385332046727
    with mpmath.workprec(PREC):
        v = gaussian.log_density(E, mpf(0), mpf(0), mpf(1))
        assert rel_close(v, mpmath.log(2 * mpmath.pi) / 2)
    assert abs(float(v) - 0.9189385332046727) <= math.ulp(0.9189385332046727)  # within one ulp


# --- Poisson: the exact likelihood -----------------------------------------------------------------
@SETTINGS
@given(x=st.one_of(finite(1e-3, 300), st.sampled_from([0.5, 1.0, 3.0, 20.0])), k=st.integers(0, 300))
def test_poisson_exact_likelihood_rate_matches_scipy(x, k):
    with mpmath.workprec(PREC):
        v = poisson.exact_likelihood(E, mpf(x), mpf(k), log_input=False, eps=0.0)
        terms = abs(x) + abs(k * math.log(x)) + float(mpmath.loggamma(k + 1))
    ref = -float(scipy.stats.poisson.logpmf(k, x))
    assert abs(float(v) - ref) <= 8 * U64 * terms + 1e-300, (x, k, float(v), ref)


@SETTINGS
@given(x=finite(-5, 5), k=st.integers(0, 200))
def test_poisson_exact_likelihood_log_rate_matches_scipy(x, k):
    mu = math.exp(x)  # one more rounding on scipy's side: relative error <= 1 ulp in mu
    with mpmath.workprec(PREC):
        v = poisson.exact_likelihood(E, mpf(x), mpf(k), log_input=True, eps=0.5)  # eps unused
        terms = mu + abs(k * x) + k + float(mpmath.loggamma(k + 1))
    ref = -float(scipy.stats.poisson.logpmf(k, mu))
    assert abs(float(v) - ref) <= 8 * U64 * terms + 1e-300, (x, k, float(v), ref)


def test_poisson_exact_likelihood_eps_goes_inside_the_log():
    # PNLL-EXACT with log_input=False: rate x, log-rate log(x + eps)
    with mpmath.workprec(PREC):
        v = poisson.exact_likelihood(E, mpf(2), mpf(3), log_input=False, eps=0.5)
        assert rel_close(v, 2 - 3 * mpmath.log(mpf("2.5")) + mpmath.log(6))


# --- the Stirling gap ---------------------------------------------------------------------------
def _gap(x, t, log_input=False):
    full = poisson.element(E, x, t, log_input=log_input, full=True, eps=0.0)[0]
    return full - poisson.exact_likelihood(E, x, t, log_input=log_input, eps=0.0)


@pytest.mark.parametrize("t", [0, 1])
def test_stirling_gap_is_zero_where_masked(t):
    # log(0!) = log(1!) = 0: the mask t <= 1 makes the full loss the exact likelihood there
    with mpmath.workprec(PREC):
        for x in (mpf("0.5"), mpf(3)):
            assert abs(_gap(x, mpf(t))) < mpf(2) ** -100
            assert abs(_gap(x, mpf(t), log_input=True)) < mpf(2) ** -100


@settings(max_examples=80, deadline=None, derandomize=True)
@given(t=st.one_of(finite(1.001, 1e8), st.sampled_from([1.5, 2.0, 3.0, 5.0, 10.0, 100.0, 1e4, 1e6])))
def test_stirling_gap_is_small_and_shrinks_like_one_over_12t(t):
    # the gap is a difference of terms of size t*log(t) and its bounds are 1/(1260 t^5) from it:
    # enough bits for both
    with mpmath.workprec(320):
        T = mpf(t)
        g = _gap(mpf("0.75"), T)
        assert rel_close(g, _gap(mpf(4), T), rel=mpf(2) ** -60)  # the gap does not depend on x
        # the Stirling series is alternating with decreasing terms: -1/(12t) < gap < -1/(12t) + 1/(360t^3)
        assert -1 / (12 * T) < g < -1 / (12 * T) + 1 / (360 * T**3), (t, g)
        assert abs(12 * T * g + 1) <= 1 / (30 * T**2)
    assert abs(float(g)) < 1 / 12  # small: below 1/12 for every t > 1


def test_stirling_gap_at_two_matches_observation():
    # OBS-018: torch's Stirling term at t = 2 (float64) is 0.6518064846045359; log(2!) = log 2
    with mpmath.workprec(PREC):
        g = _gap(mpf(1), mpf(2))
        assert rel_close(g, mpf(0.6518064846045359) - mpmath.log(2), rel=mpf(2) ** -48)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(x=st.floats(-30, 30), t=st.floats(0, 50), log_input=st.booleans(), full=st.booleans())
def test_raw_exact_algebra_agrees_with_plain_mpmath(x, t, log_input, full):
    """REF-EXACT: the fast RawExact algebra computes exactly what the plain mpf Exact algebra does."""
    import mpmath

    from reference.algebra import RawExact

    x = abs(x) if not log_input else x
    with mpmath.workprec(PREC):
        plain = poisson.element(E, E.inp(x), E.inp(t), log_input=log_input, full=full, eps=1e-8)
        raw_alg = RawExact(PREC)
        raw = [raw_alg.value(v) for v in poisson.element(raw_alg, raw_alg.inp(x), raw_alg.inp(t),
                                                         log_input=log_input, full=full, eps=1e-8)]
        for a, b in zip(plain, raw):
            assert (a != a and b != b) or a == b
