"""Admission rules pinned on both sides: what a correct implementation produces is accepted, the
near misses that a loose rule would let through are rejected (SPECIAL-OVERFLOW, ALLOW-GRAD-ORDER).

Each case asks the reference (`expect`) and judges a candidate value with `judge`, as a check does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reference.allowance import judge
from reference.engine import Call, expect
from reference.tolerance import accumulator
from reference.floats import FORMATS

NAN, INF = float("nan"), float("inf")
CORPUS = Path(__file__).resolve().parent.parent / "conformance" / "corpus"


def verdict(q, got, i=0):
    return judge(got, q.exact[i], q.allow[i], FORMATS[q.dtype], q.straightforward[i]).ok


def test_half_precision_is_accumulated_in_float32():
    assert accumulator(FORMATS["float16"]).name == "float32"
    assert accumulator(FORMATS["bfloat16"]).name == "float32"
    assert accumulator(FORMATS["float64"]).name == "float64"


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_mean_of_positive_terms_must_be_finite(dtype):
    """2,300 Gaussian elements of about 30: their sum passes float16's 65,504, but PyTorch sums in
    float32, so the finite mean (about 30) must come back finite; NaN and +-inf are rejected."""
    import ml_dtypes

    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.float16
    n = 2300
    x = np.full(n, 7.75).astype(dt)
    call = Call("gaussian", "functional", {"input": x, "target": np.zeros(n).astype(dt), "var": np.ones(n).astype(dt)},
                kwargs={"reduction": "mean"})
    q = expect(call).output
    assert 29 < float(q.exact[0]) < 31
    for bad in (NAN, INF, -INF):
        assert not verdict(q, bad), bad
    assert verdict(q, float(FORMATS[dtype].round(q.exact[0])))


def test_float16_large_poisson_mean_rejects_non_finite():
    """poisson.large_reduction[float16]'s shape of data (exact mean about 0.425) cannot accept a
    non-finite result."""
    rng = np.random.default_rng(20261122)
    px = np.array([0.1, -0.3, 0.7, 1.3, -1.1, 0.05, 0.9])
    pt = np.array([0.0, 1.0, 2.0, 3.0, 1.0, 0.0, 5.0])
    idx = rng.integers(0, len(px), size=100_000)
    call = Call("poisson", "functional", {"input": px[idx].astype(np.float16), "target": pt[idx].astype(np.float16)},
                kwargs={"reduction": "mean"})
    q = expect(call).output
    for bad in (NAN, INF, -INF):
        assert not verdict(q, bad), bad


def test_float32_partial_sum_overflow_only_to_the_sign_of_the_terms():
    """Terms near float32's maximum: positive ones may overflow a partial sum to +inf only."""
    x = np.array([88.7, 88.7, 88.7, -1.0], dtype=np.float32)  # exp(88.7) ~ 3.3e38 each
    t = np.zeros(4, dtype=np.float32)
    q = expect(Call("poisson", "functional", {"input": x, "target": t}, kwargs={"reduction": "mean"})).output
    assert verdict(q, INF)
    assert not verdict(q, -INF) and not verdict(q, NAN)


def test_gradient_near_overflow_offers_only_evaluated_orders():
    """float16 d/dx at x = 9, t = 1: exact 8,102 (peak exp(9) = 8,103, within 16 of 65,504 but not
    within 2): the evaluated orders give 8,104; NaN and -inf are rejected."""
    x, t = np.array([9.0], np.float16), np.array([1.0], np.float16)
    q = expect(Call("poisson", "functional", {"input": x, "target": t}, kwargs={"reduction": "none"},
                    grad_wrt=("input",))).grads["input"]
    assert verdict(q, 8104.0)
    for bad in (NAN, -INF, INF):
        assert not verdict(q, bad), bad


def test_gradient_with_a_moved_constant_factor_may_overflow():
    """float16 d/dvar at x = y, var = 1e-5 (above eps): 0.5/v = 49,932 is finite,
    but an analytic backward computing 1/v first overflows (99,864 > 65,504): +inf is accepted
    (GRAD_HEADROOM = 2), as the NumPy backend does."""
    x = np.array([0.0], np.float16)
    v = np.array([1.0013580322265625e-05], np.float16)
    q = expect(Call("gaussian", "functional", {"input": x, "target": x.copy(), "var": v}, kwargs={"reduction": "none"},
                    grad_wrt=("var",))).grads["var"]
    assert verdict(q, INF)
    assert verdict(q, float(FORMATS["float16"].round(q.exact[0])))


def test_cuda_per_path_partial_sum_overflow_stays_accepted():
    """conformance/corpus: torch 2.11 on an H100 returned -inf for grad_var when the division
    path's partial sum over the broadcast dimension overflowed float16; it stays admitted."""
    from conformance.serialize import call_from_json

    entry = json.loads((CORPUS / "gaussian-homoscedastic-float16-partial-sum-overflow.json").read_text("utf-8"))
    q = expect(call_from_json(entry["call"])).grads["var"]
    assert all(verdict(q, -INF, i) for i in range(len(q.exact)))
    assert not any(verdict(q, 0.0, i) for i in range(len(q.exact)))  # still not anything at all


def test_mixed_dtypes_are_bounded_step_by_step():
    """ALLOW-MIXED: float16 input with a float64 target (float64 result). PyTorch computes exp(x)
    in float16 and the rest in float64; casting everything to float16 is rejected."""
    x = np.array([2.0, -1.25], np.float16)
    t = np.array([1000.123, 5.5], np.float64)
    q = expect(Call("poisson", "functional", {"input": x, "target": t}, kwargs={"reduction": "none"})).output
    f16 = FORMATS["float16"]
    for i in range(2):
        xe, te = float(x[i]), float(t[i])
        stepwise = float(f16.round(np.exp(xe))) - te * xe  # exp in float16, the rest in float64
        all16 = float(f16.round(float(f16.round(np.exp(xe))) - float(f16.round(float(f16.round(te)) * xe))))
        assert verdict(q, stepwise, i), i
        assert not verdict(q, all16, i), i


def test_constants_carry_their_rounding_error_in_float64_too():
    """ALLOW-CONST: log(2*pi)/2 is not a float64 number; its rounding error is part of the bound
    of full=True at float64 (it used to be evaluated at 53 bits, so its error was 0)."""
    import mpmath

    from reference.elementwise import cache_clear, element
    from reference.gaussian import HALF_LOG_2PI

    cache_clear()
    with mpmath.workprec(200):
        c = HALF_LOG_2PI()
        err = float(abs(c - FORMATS["float64"].round(c)))
    assert err > 0
    full = element("gaussian", (0.5, 0.25, 2.0), {"full": True, "eps": 1e-6}, "float64").bound[0]
    plain = element("gaussian", (0.5, 0.25, 2.0), {"full": False, "eps": 1e-6}, "float64").bound[0]
    assert full - plain >= err * 0.999


def test_a_gradient_is_confirmed_in_its_own_format():
    """REF-PRECISION per output format: with a float16 input and a float64 target the input's
    gradient is float16 and its exact value is confirmed in float16 (precision recorded)."""
    x = np.array([0.5, 2.0], np.float16)
    t = np.array([3.0, 0.25], np.float64)
    exp = expect(Call("poisson", "functional", {"input": x, "target": t}, kwargs={"reduction": "none"},
                      grad_wrt=("input", "target")))
    assert exp.grads["input"].dtype == "float16" and exp.grads["target"].dtype == "float64"
    assert exp.output.dtype == "float64"
    for name in ("input", "target"):
        q = exp.grads[name]
        assert all(verdict(q, float(FORMATS[q.dtype].round(q.exact[i])), i) for i in range(2))


def test_a_broadcast_gradient_with_an_overflowed_term_admits_the_straightforward_sum():
    """SPECIAL-OVERFLOW over a broadcast sum. float16 normal log-density, loc (1, 1) against three
    scales: at scale 255.875, 2*var overflows float16, so PyTorch's term of d/dloc is 0 where the
    exact one is 1.5e-5. PyTorch 2.13 returns 0.0002689361572265625 (observed: the straightforward
    evaluation of every term); the exact total 0.000284 is accepted too; a value the two do not
    explain is not."""
    h = np.float16
    call = Call("normal", "functional", {"loc": np.array([[0.0]], h), "scale": np.array([[255.875, 61.0, 1.0]], h),
                                         "value": np.array([[1.0, 1.0, 0.0]], h)}, grad_wrt=("loc",))
    q = expect(call).grads["loc"]
    assert verdict(q, 0.0002689361572265625)
    assert verdict(q, float(q.exact[0]))
    assert not verdict(q, 0.000250) and not verdict(q, 0.0)
    # (+-inf and NaN are admitted here by ALLOW-GRAD-ORDER's headroom: var = 65,472 peaks within a
    # factor 2 of float16's largest finite number)
