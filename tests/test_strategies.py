"""The strategies reach every edge their docstrings promise (checked with hypothesis's own `find`),
and never leave their domain (a var is never negative, every value is exact in its dtype)."""

from __future__ import annotations

import math

import pytest
import numpy as np
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from conformance import strategies as S
from conformance.test_values import gaussian_operands, poisson_operands

FIND = settings(max_examples=20_000, database=None, suppress_health_check=list(HealthCheck))
DTYPES = S.DTYPES


def reach(strategy, predicate):
    return find(strategy, predicate, settings=FIND)


@pytest.mark.parametrize("dtype", DTYPES)
def test_targets_reach_the_stirling_mask_edges_and_negatives(dtype):
    s = S.counts(dtype)
    for edge in (0.0, 1.0, S.next_up(1.0, dtype), S.next_down(1.0, dtype)):
        assert reach(s, lambda v, e=edge: v == e) == edge
    assert reach(s, lambda v: v < 0) < 0  # PNLL-TARGET-ANY
    assert reach(s, lambda v: v != int(v)) != 0  # non-integer counts
    assert reach(s, lambda v: v > 100) > 100


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [1e-6, 1e-3, 0.0])
def test_variance_reaches_eps_below_and_above_and_is_never_negative(dtype, eps):
    s = S.variance(dtype, eps)
    e = S.rep(eps, dtype)
    assert reach(s, lambda v: v == e) == e
    assert reach(s, lambda v: v > e) > e
    if e > 0:
        assert 0 <= reach(s, lambda v: 0 < v < e) < e
    assert reach(s, lambda v: v == 0.0) == 0.0

    @settings(max_examples=300, database=None, suppress_health_check=list(HealthCheck))
    @given(s)
    def never_negative(v):
        assert v >= 0

    never_negative()


@pytest.mark.parametrize("dtype", DTYPES)
def test_rates_reach_subnormals_and_the_eps_regime(dtype):
    s = S.rate(dtype)
    normal_min = float(S.FORMATS[dtype].tiny)
    assert 0 < reach(s, lambda v: 0 < v < normal_min) < normal_min
    assert reach(s, lambda v: 0 < v <= 1e-7) <= 1e-7
    assert reach(s, lambda v: v == 0.0) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_rates_reach_both_ends(dtype):
    s = S.log_rate(dtype)
    hi = 10.0 if dtype == "float16" else 60.0
    assert reach(s, lambda v: v <= -hi + 1) <= -hi + 1
    assert reach(s, lambda v: v >= hi - 1) >= hi - 1
    assert reach(s, lambda v: v == 0.0) == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_drawn_value_is_exact_in_its_dtype(dtype):
    @settings(max_examples=300, database=None, suppress_health_check=list(HealthCheck))
    @given(S.counts(dtype), S.rate(dtype), S.log_rate(dtype), S.variance(dtype), S.gaussian_mean(dtype))
    def exact(a, b, c, d, e):
        for v in (a, b, c, d, e):
            assert math.isfinite(v) and S.rep(v, dtype) == v

    exact()


_DRAWS = r"""
import sys
from hypothesis import given, seed, settings, strategies as st
from conformance.conftest import no_source_constants
if "fixed" in sys.argv:
    no_source_constants()
if "extra" in sys.argv:
    sys.path.insert(0, sys.argv[1])
    import lossconform_extra_constants  # noqa: F401  (a local module full of float literals)
out = []
@seed(0)
@settings(max_examples=400, database=None)
@given(st.floats(min_value=-1e6, max_value=1e6))
def draw(x):
    out.append(x)
draw()
print(repr(out))
"""


def test_the_same_seed_draws_the_same_cases_whatever_the_process_imported(tmp_path):
    """Determinism: which local modules a worker has loaded (it depends on what it ran before, and
    on a checkout against an installed wheel) must not change what a seed draws. Recent hypothesis
    versions mix the literals of loaded local modules into draws; the suite turns that off."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "lossconform_extra_constants.py").write_text(
        "C = [" + ", ".join(f"{1000 + i}.{i:03d}25" for i in range(200)) + "]\n", encoding="utf-8")
    root = Path(__file__).resolve().parent.parent

    def draws(*flags):
        r = subprocess.run([sys.executable, "-c", _DRAWS, str(tmp_path), *flags], cwd=root,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert draws("fixed") == draws("fixed", "extra")
    from hypothesis.internal.conjecture import providers

    if hasattr(providers, "_get_local_constants"):  # the hook exists: without the fix, draws move
        assert draws() != draws("extra")


@pytest.mark.parametrize("dtype", [d for d in DTYPES if S.accumulates_wider(d)])
@pytest.mark.parametrize("loss", ["poisson-log", "poisson-rate", "gaussian"])
@given(data=st.data())
@settings(max_examples=40, database=None, suppress_health_check=[HealthCheck.too_slow])
def test_past_the_format_totals_pass_the_largest_value_with_finite_terms(dtype, loss, data):
    """SPECIAL-OVERFLOW's accumulator rule is reached on every such draw: each term finite (below
    the dtype's largest value, so the mean is finite), their total past it."""
    top = float(S.FORMATS[dtype].max)
    if loss == "gaussian":
        x, y, v = (a.astype(np.float64) for a in data.draw(gaussian_operands(dtype, None, past=True)))
        terms = 0.5 * (np.log(v) + (x - y) ** 2 / v)
    else:
        x, t = (a.astype(np.float64) for a in data.draw(poisson_operands(dtype, loss == "poisson-log", past=True)))
        terms = np.exp(x) - t * x if loss == "poisson-log" else x - t * np.log(x + 1e-8)
    assert np.all(np.isfinite(terms)) and terms.max() < top
    assert terms.sum() > top
