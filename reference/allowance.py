"""The error allowance and the comparison of a candidate's number with the exact value.

SPEC chapter 11 (ALLOW-*, COMPARE-*). The allowance of one output element is

    allowance = SAFETY * bound + ulp(round(exact)) / 2

where `bound` is the first-order running error bound of evaluating the defining formula
straightforwardly in the format (algebra.Tracked), and for a reduction or a gradient summed over a
broadcast dimension, the bound of a pairwise/tree summation of the terms:

    sum_bound = sum(bound_i) + gamma(k) * sum(|exact_i|)

with gamma(k) = k*u / (1 - k*u) and k = N - 1 for N <= LEAF terms, else
k = LEAF - 1 + ceil(log2(N / LEAF)): a tree whose leaves are sequential runs of up to LEAF terms
(NumPy's pairwise sum, PyTorch's cascade sums, one GPU thread's share). It grows like log2 N, so
a plain sequential accumulation of a long sum is outside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath
from mpmath import libmp as _lm
from mpmath import mpf

from .floats import Format
from .tolerance import LEAF, SAFETY


NAN = mpf("nan")
INF = mpf("inf")
_ONE = _lm.MPZ_ONE
_make = mpmath.mp.make_mpf


def is_nan(a) -> bool:
    return a != a


def allowance(bound: float, exact, fmt: Format):
    """ALLOW-ELEMENT: SAFETY * bound + half an ulp of the correctly rounded exact value.

    A bound that is not finite (the straightforward evaluation is unbounded at this point) gives
    half an ulp: the candidate must then be correctly rounded or equal the straightforward result.

    For an mpf `exact` and a float `bound` (every caller's case) this performs the same mpmath
    operations on raw numbers (`_allowance_raw`); anything else takes the mpf route below.
    """
    if type(bound) is float and isinstance(exact, mpf):
        return _allowance_raw(bound, exact._mpf_, fmt)
    return allowance_mpf(bound, exact, fmt)


def allowance_mpf(bound, exact, fmt: Format):
    """ALLOW-ELEMENT written with mpf operations: the definition the raw-number route is checked
    against (tests/test_reference_fastpath.py) and measured against (benchmarks)."""
    if not mpmath.isfinite(exact):
        return mpf(0)
    r = fmt.round(exact)
    half = fmt.ulp(r if mpmath.isfinite(r) else fmt.max) / 2
    if bound != bound or bound == math.inf:
        return half
    return SAFETY * mpf(bound) + half


def _allowance_raw(bound: float, t: tuple, fmt: Format):
    """`allowance` on mpmath's raw numbers, operation for operation what the mpf expression does at
    the ambient working precision (so the result is the same mpf):

    * `fmt.ulp(x) / 2` is a power of two halved (mpf_div by 2: exact at any precision), formed
      directly as the normalized tuple (0, 1, k, 1);
    * `mpf(bound)` is from_float rounded to the working precision (mpf_pos), `SAFETY * b` is
      mpf_mul_int and `+ half` is mpf_add, each at the working precision and rounding. At 53 bits
      or more the first two are exact (a binary64 number, doubled), so they are formed directly.
    """
    if not t[1] and t != _lm.fzero:  # inf or nan
        return mpf(0)
    r = fmt.round_raw(t)
    if r[1]:
        top = r[2] + r[3] - 1
    elif r == _lm.fzero:
        top = fmt.emin  # FMT-ULP: the ulp at 0 is eta
    else:  # rounds to an infinity: the ulp at the largest finite number
        top = fmt.emax
    half = (0, _ONE, (top if top > fmt.emin else fmt.emin) - fmt.p, 1)
    if bound != bound or bound == math.inf:
        return _make(half)
    prec, rnd = mpmath.mp._prec_rounding
    b = _lm.from_float(bound)
    if prec >= 53 and SAFETY == 2:
        if b[1]:
            b = (b[0], b[1], b[2] + 1, b[3])  # doubled
    else:
        b = _lm.mpf_mul_int(_lm.mpf_pos(b, prec, rnd), SAFETY, prec, rnd)
    return _make(_lm.mpf_add(b, half, prec, rnd))


def gamma(n_terms: int, fmt: Format) -> float:
    if n_terms <= 1:
        return 0.0
    k = n_terms - 1 if n_terms <= LEAF else LEAF - 1 + math.ceil(math.log2(n_terms / LEAF))
    ku = k * float(fmt.u)
    return ku / (1 - ku) if ku < 1 else math.inf


def ieee_sum(values):
    """Exact sum with IEEE special values: NaN if any NaN or both infinities, else the infinity."""
    vals = list(values)
    if any(is_nan(v) for v in vals):
        return NAN
    pos = any(v == INF for v in vals)
    neg = any(v == -INF for v in vals)
    if pos and neg:
        return NAN
    if pos:
        return INF
    if neg:
        return -INF
    return mpmath.fsum(vals)


def _fsum(values) -> float:
    """math.fsum of non-negative bounds, inf where the binary64 sum overflows."""
    try:
        return math.fsum(values)
    except OverflowError:
        return math.inf


def sum_terms(exact, bounds, counts=None, fmt: Format = None):
    """ALLOW-SUM: exact sum (with multiplicities) and its summation bound."""
    if counts is None:
        counts = [1] * len(exact)
    n = sum(counts)
    total = ieee_sum(c * v for v, c in zip(exact, counts)) if n else mpf(0)
    prop = _fsum(c * b for b, c in zip(bounds, counts))
    mag = _fsum(c * abs(float(v)) for v, c in zip(exact, counts) if mpmath.isfinite(v))
    return total, prop + gamma(n, fmt) * mag + float(fmt.u) * abs(float(total) if mpmath.isfinite(total) else 0.0)


@dataclass
class Verdict:
    ok: bool
    normalized: float  # |got - exact| / allowance (inf when got is wrongly non-finite)
    ulps: float  # |got - exact| / ulp(round(exact))
    via: str  # "allowance", "exact-special", "straightforward-ieee", "fail"


def judge(got, exact, allow, fmt: Format, straightforward=None) -> Verdict:
    """COMPARE-*: does the candidate's stored value `got` conform for this element?

    `straightforward` (None, a value, or a tuple of alternatives) is the straightforward IEEE evaluation,
    offered where an intermediate overflowed or the bound was unbounded (SPECIAL-OVERFLOW).
    """
    got = mpf(got) if not isinstance(got, mpf) else got
    alts = () if straightforward is None else (straightforward if isinstance(straightforward, tuple) else (straightforward,))
    is_straightforward = any(got == a or (is_nan(got) and is_nan(a)) for a in alts)
    if is_straightforward and not (mpmath.isfinite(exact) and mpmath.isfinite(got)):
        return Verdict(True, 0.0, 0.0, "straightforward-ieee")
    if is_nan(exact):
        ok = is_nan(got)
        return Verdict(ok, 0.0 if ok else math.inf, 0.0 if ok else math.inf, "exact-special" if ok else "fail")
    if not mpmath.isfinite(exact):
        ok = got == exact
        return Verdict(ok, 0.0 if ok else math.inf, 0.0 if ok else math.inf, "exact-special" if ok else "fail")
    r = fmt.round(exact)
    if not mpmath.isfinite(got):
        if got == r:  # the exact value overflows the format
            return Verdict(True, 0.0, 0.0, "exact-special")
        if is_straightforward:
            return Verdict(True, math.inf, math.inf, "straightforward-ieee")
        return Verdict(False, math.inf, math.inf, "fail")
    err = abs(got - exact)
    ulp = fmt.ulp(r if mpmath.isfinite(r) else fmt.max)
    ulps = float(err / ulp)
    norm = float(err / allow) if allow > 0 else (0.0 if err == 0 else math.inf)
    if err <= allow:
        return Verdict(True, norm, ulps, "allowance")
    if is_straightforward:
        return Verdict(True, norm, ulps, "straightforward-ieee")
    return Verdict(False, norm, ulps, "fail")
