"""The reference's normal log-density subject (reference/normal.py, SPEC chapter 14), checked
independently: values against SciPy and mpmath's own density, derivatives against mpmath.diff, and
its relation to GNLL-EXACT."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from reference.engine import Call, expect

PTS = [(0.0, 1.0, 0.0), (0.5, 2.0, 3.0), (-1.25, 0.125, -1.0), (3.0, 10.0, -40.0), (0.0, 1e-3, 2e-3)]


def _expect(pt, grad=("loc", "scale", "value")):
    ops = {k: np.array([v]) for k, v in zip(("loc", "scale", "value"), pt)}
    return expect(Call("normal", "functional", ops, grad_wrt=tuple(grad)))


@pytest.mark.parametrize("pt", PTS)
def test_values_are_the_log_density(pt):
    loc, scale, value = pt
    e = _expect(pt)
    with mpmath.workprec(200):
        exact = mpmath.log(mpmath.npdf(mpmath.mpf(value), mpmath.mpf(loc), mpmath.mpf(scale)))
        assert abs(e.output.exact[0] - exact) <= mpmath.mpf(2) ** -150 * max(1, abs(exact))
    from scipy.stats import norm

    assert abs(float(e.output.exact[0]) - norm.logpdf(value, loc, scale)) <= 1e-12 * max(1, abs(float(exact)))


@pytest.mark.parametrize("pt", PTS)
def test_gradients_are_the_derivatives(pt):
    e = _expect(pt)
    with mpmath.workprec(200):
        f = lambda loc, scale, value: mpmath.log(mpmath.npdf(value, loc, scale))  # noqa: E731
        for i, name in enumerate(("loc", "scale", "value")):
            d = mpmath.diff(f, tuple(mpmath.mpf(v) for v in pt), tuple(int(j == i) for j in range(3)))
            assert abs(e.grads[name].exact[0] - d) <= mpmath.mpf(10) ** -30 * max(1, abs(d)), name


def test_it_is_minus_the_exact_gaussian_negative_log_density():
    """NLP-VALUE = -GNLL-EXACT at var = scale**2 (chapter 12's family)."""
    from reference import gaussian
    from reference.algebra import Exact

    for loc, scale, value in PTS:
        with mpmath.workprec(200):
            nll = gaussian.log_density(Exact(), mpmath.mpf(loc), mpmath.mpf(value), mpmath.mpf(scale) ** 2)
            assert abs(_expect((loc, scale, value)).output.exact[0] + nll) < mpmath.mpf(10) ** -30


@pytest.mark.parametrize("bad", [{"scale": 0.0}, {"scale": -1.0}, {"scale": float("nan")}, {"loc": float("nan")},
                                 {"value": float("nan")}])
def test_invalid_arguments_raise_value_error(bad):
    pt = dict(zip(("loc", "scale", "value"), (0.0, 1.0, 0.5)), **bad)
    e = _expect(tuple(pt.values()), grad=())
    assert e.error is not None and e.error.clause == "NLP-ARGS" and e.error.type == "ValueError"
