"""reference.floats against NumPy's and ml_dtypes' own formats (FMT-* clauses).

Every expected value here comes from somewhere other than `reference.floats`: NumPy's casts from
float64 (float16, float32; correctly rounded), ml_dtypes' cast from float32 to bfloat16 (correctly
rounded; its cast from float64 goes through float32 and double-rounds, so float64 inputs reach it
through a round-to-odd float32, which makes the second rounding innocuous), integer bit patterns
for neighbours and parity, `fractions.Fraction` for exact arithmetic, and `numpy.finfo` /
`ml_dtypes.finfo` for the format constants.
"""

from __future__ import annotations

import math
from fractions import Fraction

import ml_dtypes
import mpmath
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mpmath import mpf
from mpmath.libmp import from_man_exp

from reference.floats import FORMATS, format_of, to_mpf

NAMES = ("float16", "bfloat16", "float32", "float64")
NP_TYPE = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32, "float64": np.float64}
UINT = {"float16": np.uint16, "bfloat16": np.uint16, "float32": np.uint32, "float64": np.uint64}
# bit pattern of +inf: every positive finite value has a smaller pattern
INF_BITS = {"float16": 0x7C00, "bfloat16": 0x7F80, "float32": 0x7F800000, "float64": 0x7FF0000000000000}
FINFO = {"float16": np.finfo(np.float16), "bfloat16": ml_dtypes.finfo(ml_dtypes.bfloat16),
         "float32": np.finfo(np.float32), "float64": np.finfo(np.float64)}

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True)
FEWER = settings(max_examples=120, deadline=None, derandomize=True)


# --- independent helpers ------------------------------------------------------------------------
def exact(v) -> Fraction:
    """The exact rational value of a finite float (any width) or an mpf."""
    if isinstance(v, mpf):
        sign, man, exp, _ = v._mpf_
        f = Fraction(int(man)) * (Fraction(2) ** int(exp))  # int(): mpmath may hold gmpy2 integers
        return -f if sign else f
    return Fraction(float(v))


def mpf_exact(man: int, exp: int) -> mpf:
    """man * 2**exp as an mpf, without rounding (whatever the working precision)."""
    return mpmath.mp.make_mpf(from_man_exp(man, exp))


def from_bits(name: str, bits: int) -> float:
    return float(np.array([bits], dtype=UINT[name]).view(NP_TYPE[name])[0])


def to_bits(name: str, v: float) -> int:
    return int(np.array([v], dtype=NP_TYPE[name]).view(UINT[name])[0])


def _round_to_odd_f32(v: float) -> np.float32:
    """float64 -> float32 rounding to odd: exact values stay, inexact ones get an odd last bit."""
    with np.errstate(over="ignore"):
        f = np.float32(v)
    if v != v or math.isinf(v) or float(f) == v:
        return f
    if np.isinf(f):  # beyond float32's range: the largest float32 (odd significand) with v's sign
        return np.float32(math.copysign(float(np.finfo(np.float32).max), v))
    bits = int(np.array([f]).view(np.uint32)[0])
    if bits & 1 == 0:  # the nearest has an even last bit: take the other neighbour around v
        other = np.nextafter(f, np.float32(math.inf) if v > float(f) else np.float32(-math.inf))
        f = np.float32(other)
    return f


def numpy_round(name: str, v: float) -> float:
    """v (a float64) correctly rounded to format `name` by NumPy / ml_dtypes."""
    with np.errstate(over="ignore"):
        if name == "float64":
            return float(v)
        if name == "float32":
            return float(np.float32(v))
        if name == "float16":
            return float(np.float16(v))
        # round-to-odd to 24 bits, then ml_dtypes' correctly rounded float32 -> bfloat16 (24 >= 8 + 2)
        return float(ml_dtypes.bfloat16(_round_to_odd_f32(v)))


def same(a: float, b) -> bool:
    b = float(b)
    return a == b or (a != a and b != b)


def test_numpy_round_helper_is_correct_where_ml_dtypes_double_rounds():
    # 1 + 2^-8 + 2^-30 is just above the bfloat16 midpoint 1 + 2^-8: it rounds up to 1 + 2^-7,
    # but ml_dtypes' direct float64 cast rounds to float32 first (landing on the midpoint) -> 1.0
    v = 1 + 2**-8 + 2**-30
    assert numpy_round("bfloat16", v) == 1 + 2**-7
    assert float(FORMATS["bfloat16"].round(mpf(v))) == 1 + 2**-7


# --- Format.round on float64 values ---------------------------------------------------------------
def _scaled(name):
    f = FINFO[name]
    big = float(f.max) * 1.01 if name != "float64" else float(f.max)
    tiny = float(f.smallest_normal) * 4
    return st.one_of(
        st.floats(min_value=-big, max_value=big),  # the whole finite range, a little beyond for overflow
        st.floats(min_value=-tiny, max_value=tiny),  # subnormals and the bottom of the normals
        st.floats(min_value=-4.0, max_value=4.0),
    )


def _any_float():
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True), *[_scaled(n) for n in NAMES])


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(v=_any_float())
def test_round_float64_values_matches_numpy(name, v):
    got = FORMATS[name].round(to_mpf(v))
    assert same(numpy_round(name, v), got), (name, v.hex(), got)


@pytest.mark.parametrize("name", NAMES)
def test_round_special_and_boundary_values(name):
    fmt = FORMATS[name]
    fi = FINFO[name]
    mx, tiny, sub = float(fi.max), float(fi.smallest_normal), float(fi.smallest_subnormal)
    for v in (0.0, -0.0, mx, -mx, tiny, sub, -sub, sub / 2, sub * 0.5000001, sub * 1.5, sub * 2.5,
              tiny - sub, tiny - sub / 2, math.inf, -math.inf):
        assert same(numpy_round(name, v), fmt.round(mpf(v))), (name, v)
    assert mpmath.isnan(fmt.round(mpf("nan")))
    if name != "float64":
        for v in (mx * 2, -mx * 2, 1e300, float(np.finfo(np.float64).max)):
            assert fmt.round(mpf(v)) == (mpf("inf") if v > 0 else mpf("-inf"))


# --- exact midpoints: ties to even, and perturbations far below 53 bits ------------------------
def _positive_finite_bits(name):
    return st.integers(min_value=0, max_value=INF_BITS[name] - 1)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_round_exact_midpoints_ties_to_even(name, data):
    bits = data.draw(_positive_finite_bits(name), label="bits")
    k = data.draw(st.integers(min_value=1, max_value=200), label="k")
    fmt = FORMATS[name]
    a = from_bits(name, bits)
    b = from_bits(name, bits + 1)  # +inf when a is the largest finite value
    if math.isinf(b):
        # the overflow threshold max + ulp/2 ties to the even 2^(emax+1), which overflows
        mid_q = exact(a) + (exact(a) - exact(from_bits(name, bits - 1))) / 2
    else:
        mid_q = (exact(a) + exact(b)) / 2
    # an mpf holding the midpoint exactly (it needs one bit more than the format)
    num, den = mid_q.numerator, mid_q.denominator
    e = den.bit_length() - 1
    assert den == 1 << e
    with mpmath.workprec(2000):
        mid = mpf_exact(num, -e)
        # a perturbation of about 2^-k half-spacings, itself with 61 significant bits
        delta = mpf_exact((1 << 60) + 1, -e - k - 60)
        above, below = mid + delta, mid - delta
    assert exact(mid) == mid_q
    even = a if bits % 2 == 0 else b
    upper = b if not math.isinf(b) else math.inf
    assert same(even, fmt.round(mid)), (name, a, b)
    assert same(upper, fmt.round(above))
    assert same(a, fmt.round(below))
    # symmetric for negative values (negated at a precision that keeps every bit)
    with mpmath.workprec(2000):
        nmid, nabove, nbelow = -mid, -above, -below
    assert same(-even, fmt.round(nmid))
    assert same(-upper, fmt.round(nabove))
    assert same(-a, fmt.round(nbelow))


@st.composite
def wide_mpf(draw):
    """An exact mpf with 54..160 significand bits (odd mantissa: the bits are all significant)."""
    nbits = draw(st.integers(min_value=54, max_value=160))
    man = draw(st.integers(min_value=1 << (nbits - 1), max_value=(1 << nbits) - 1)) | 1
    top = draw(st.one_of(st.integers(-1080, 1020), st.integers(-160, 140), st.integers(-30, 30)))
    neg = draw(st.booleans())
    return mpf_exact(-man if neg else man, top - nbits + 1)


def _is_midpoint_of(name, y: float) -> bool:
    """Is the float64 y exactly halfway between two adjacent values of format `name`?"""
    r = numpy_round(name, y)
    if r == y:
        return False
    mx = float(FINFO[name].max)
    if abs(y) > mx:  # between max and the overflow threshold, or beyond
        thr = exact(mx) + (exact(mx) - exact(from_bits(name, to_bits(name, mx) - 1))) / 2
        return abs(exact(y)) == thr
    bits = to_bits(name, abs(r))
    other = from_bits(name, bits + 1 if abs(y) > abs(r) else bits - 1)
    return abs(exact(y)) - exact(abs(r)) == abs(exact(other) - exact(abs(y)))


@pytest.mark.parametrize("name", NAMES)
@FEWER
@given(x=wide_mpf())
def test_round_wide_mpf_two_step(name, x):
    """round_F(x) == round_F(round_64(x)) unless round_64(x) is itself an F-midpoint.

    The F-midpoints are float64 numbers and rounding to float64 is monotone, so x and its float64
    rounding lie on the same side of every midpoint. round_64 is Python's exact int/int division.
    """
    q = exact(x)
    try:
        y = q.numerator / q.denominator
    except OverflowError:
        y = math.copysign(math.inf, q)
    fmt = FORMATS[name]
    if name == "float64":
        assert same(y, fmt.round(x))
        return
    assume(math.isinf(y) or not _is_midpoint_of(name, y))
    assert same(numpy_round(name, y), fmt.round(x)), (name, x, y)


# --- format constants and ulp ---------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_constants_match_finfo(name):
    fmt, fi = format_of(name), FINFO[name]
    assert fmt.p == fi.nmant + 1
    assert fmt.emin == fi.minexp
    assert fmt.emax == fi.maxexp - 1
    assert exact(fmt.u) == exact(fi.eps) / 2  # unit roundoff: half the machine epsilon
    assert exact(fmt.eta) == exact(fi.smallest_subnormal)
    assert exact(fmt.tiny) == exact(fi.smallest_normal)
    assert exact(fmt.max) == exact(fi.max)
    assert fmt.round(fmt.max) == fmt.max
    assert fmt.representable(fmt.eta) and not fmt.representable(fmt.eta / 2)


def test_format_of_rejects_unknown():
    with pytest.raises(ValueError):
        format_of("float8_e4m3")


@pytest.mark.parametrize("name", NAMES)
@FEWER
@given(data=st.data())
def test_ulp_is_the_spacing_of_neighbours(name, data):
    bits = data.draw(st.integers(min_value=0, max_value=INF_BITS[name] - 2), label="bits")
    fmt = FORMATS[name]
    a = from_bits(name, bits)
    b = from_bits(name, bits + 1)
    gap = exact(b) - exact(a)
    # a representable value: the distance to the next one up
    assert exact(fmt.ulp(mpf(a))) == gap
    assert exact(fmt.ulp(mpf(-a))) == gap if a != 0 else True
    # any value strictly between two neighbours has their spacing as its ulp
    with mpmath.workprec(2000):
        inside = mpf(a) + (mpf(b) - mpf(a)) * mpf(0.3)
        neg_inside = -inside
    assert exact(fmt.ulp(inside)) == gap
    assert exact(fmt.ulp(neg_inside)) == gap


@pytest.mark.parametrize("name", NAMES)
def test_ulp_at_edges(name):
    fmt, fi = FORMATS[name], FINFO[name]
    assert exact(fmt.ulp(mpf(0))) == exact(fi.smallest_subnormal)
    mx = float(fi.max)
    prev = from_bits(name, to_bits(name, mx) - 1)
    assert exact(fmt.ulp(mpf(mx))) == exact(mx) - exact(prev)
    assert exact(fmt.ulp(mpf(1.0))) == exact(fi.eps)  # ulp(1) = eps = 2u


@pytest.mark.parametrize("name", NAMES)
@FEWER
@given(bits=st.integers(min_value=0, max_value=(1 << 16) - 1))
def test_to_mpf_is_exact(name, bits):
    if name in ("float32", "float64"):
        bits = bits * 0x10001 if name == "float32" else bits * 0x1000100010001
    v = np.array([bits], dtype=UINT[name]).view(NP_TYPE[name])[0]
    m = to_mpf(v)
    if np.isnan(float(v)):
        assert mpmath.isnan(m)
    elif np.isinf(float(v)):
        assert m == mpf(float(v))
    else:
        with mpmath.workprec(10):  # the conversion must not depend on the working precision
            m = to_mpf(v)
        assert exact(m) == Fraction(float(v))
        assert FORMATS[name].representable(m)
