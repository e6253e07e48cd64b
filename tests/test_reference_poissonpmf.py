"""The reference's Poisson log-pmf subject (reference/poissonpmf.py, SPEC chapter 14), checked
independently: values against SciPy and mpmath's own Poisson pmf, the rate derivative against
mpmath.diff, its relation to PNLL-EXACT, and lgamma in every algebra the engine evaluates it in."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from reference.engine import Call, expect

PTS = [(1.0, 0.0), (3.0, 2.0), (0.5, 7.0), (1e-3, 5.0), (250.0, 250.0), (1e5, 99000.0), (2.0, 1.0)]


def _expect(pt, grad=("rate",)):
    ops = {k: np.array([v]) for k, v in zip(("rate", "value"), pt)}
    return expect(Call("poissonpmf", "functional", ops, grad_wrt=tuple(grad)))


def _mp_logpmf(rate, k):
    """log(rate**k * exp(-rate) / k!) from mpmath's own functions, not the reference's formula."""
    return mpmath.log(mpmath.power(rate, k) * mpmath.exp(-rate) / mpmath.factorial(k))


@pytest.mark.parametrize("pt", PTS)
def test_values_are_the_log_pmf(pt):
    rate, k = pt
    e = _expect(pt)
    with mpmath.workprec(400):
        exact = _mp_logpmf(mpmath.mpf(rate), int(k))
        assert abs(e.output.exact[0] - exact) <= mpmath.mpf(2) ** -100 * max(1, abs(exact))  # far below float64
    from scipy.stats import poisson

    assert abs(float(e.output.exact[0]) - poisson.logpmf(k, rate)) <= 1e-9 * max(1, abs(float(exact)))


@pytest.mark.parametrize("pt", PTS)
def test_rate_gradient_is_the_derivative(pt):
    rate, k = pt
    e = _expect(pt)
    with mpmath.workprec(400):
        d = mpmath.diff(lambda r: _mp_logpmf(r, int(k)), mpmath.mpf(rate))
        assert abs(e.grads["rate"].exact[0] - d) <= mpmath.mpf(10) ** -30 * max(1, abs(d))


def test_it_is_minus_the_exact_poisson_negative_log_likelihood():
    """PLP-VALUE = -PNLL-EXACT at log_input=False, eps = 0 (chapter 12's family)."""
    from reference import poisson
    from reference.algebra import Exact

    for rate, k in PTS:
        with mpmath.workprec(200):
            nll = poisson.exact_likelihood(Exact(), mpmath.mpf(rate), mpmath.mpf(k), log_input=False, eps=0.0)
            assert abs(_expect((rate, k)).output.exact[0] + nll) < mpmath.mpf(10) ** -30 * max(1, abs(nll))


def test_zero_rate():
    """xlogy(0, 0) = 0: a zero count at rate 0 has probability 1; any other count -inf."""
    assert _expect((0.0, 0.0), grad=()).output.exact[0] == 0
    assert _expect((0.0, 3.0), grad=()).output.exact[0] == -mpmath.inf


@pytest.mark.parametrize("bad", [{"rate": -1.0}, {"rate": float("nan")}, {"value": -1.0}, {"value": 1.5},
                                 {"value": float("inf")}, {"value": float("nan")}])
def test_invalid_arguments_raise_value_error(bad):
    pt = dict(dict(zip(("rate", "value"), (1.0, 2.0))), **bad)
    e = _expect(tuple(pt.values()), grad=())
    assert e.error is not None and e.error.clause == "PLP-ARGS" and e.error.type == "ValueError"


# --- lgamma in the algebras (ALLOW-RUNNING-BOUND, ALLOW-LGAMMA) ------------------------------------
LG_POINTS = [1.0, 2.0, 3.0, 0.5, 1e-3, 10.5, 1e4 + 1, 2.5e6, -0.5, 0.0, -2.0, float("inf"), float("nan")]


@pytest.mark.parametrize("x", LG_POINTS)
def test_lgamma_is_log_abs_gamma_in_every_exact_algebra(x):
    from reference.algebra import Exact, RawExact

    with mpmath.workprec(120):
        a = Exact().lgamma(mpmath.mpf(x))
        b = RawExact().value(RawExact().lgamma(RawExact().inp(x)))
        if x != x:
            assert a != a and b != b
            return
        if x == math.inf or (x <= 0 and x == math.floor(x)):  # C's lgamma: +inf at the poles and at inf
            assert a == b == mpmath.inf
            return
        want = mpmath.log(abs(mpmath.gamma(mpmath.mpf(x))))
        assert abs(a - want) <= mpmath.mpf(2) ** -110 * max(1, abs(want))
        assert abs(b - want) <= mpmath.mpf(2) ** -110 * max(1, abs(want))
        assert abs(math.lgamma(x) - float(want)) <= 1e-12 * max(1, abs(float(want)))


def test_lgamma_bound_covers_a_perturbed_argument():
    """Tracked.lgamma's propagated error bounds lgamma(v + e) - lgamma(v) (first order, by digamma)."""
    from reference.algebra import Tracked
    from reference.floats import FORMATS

    alg = Tracked(FORMATS["float32"])
    for v in (0.75, 1.0, 3.0, 40.0, 1e5):
        x = alg.inp(v) * alg.const(1.0000001)  # an intermediate with a nonzero bound
        z = alg.lgamma(x)
        worst = max(abs(math.lgamma(x.value + s * x.bound) - math.lgamma(x.value)) for s in (-1, 1))
        assert z.bound >= worst


def test_lgamma_straightforward_result_is_rounded_once():
    from reference.algebra import Straightforward
    from reference.floats import FORMATS

    for name in ("float16", "bfloat16", "float32", "float64"):
        alg = Straightforward(FORMATS[name])
        for x in (3.0, 10.0, 101.0):
            want = FORMATS[name].round(mpmath.log(mpmath.factorial(int(x) - 1)))
            assert alg.value(alg.lgamma(alg.inp(x))) == want
