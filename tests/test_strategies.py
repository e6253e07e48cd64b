"""The strategies reach every edge their docstrings promise (checked with hypothesis's own `find`),
and never leave their domain (a var is never negative, every value is exact in its dtype)."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, find, given, settings

from conformance import strategies as S

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
