"""The reference's fast path gives exactly what its definition gives (REF-PRECISION, FMT-ROUND,
ALLOW-ELEMENT).

`elementwise._evaluate` runs the formulas as compiled code and skips the lower Ziv evaluation where
a certificate shows it would agree; `elementwise._evaluate_generic` is the definition, through the
algebra objects. Here the two are compared bit for bit (NaN matching NaN in the binary64 fields,
whose NaN sign CPython itself does not keep stable), the certificate's claim is checked against the
evaluation it skips, and the raw-tuple rounding and allowance against independent or previous
formulations (`fractions.Fraction`, the mpf expressions).
"""

from __future__ import annotations

import itertools
import math
import random
import struct
from fractions import Fraction

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mpmath import libmp, mpf

from reference import algebra, elementwise as ew
from reference.allowance import allowance
from reference.floats import FORMATS

NAMES = ("float64", "float32", "float16", "bfloat16")
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 1e-8, 5e-324, 1e-310, 1e308, -1e308, math.inf, -math.inf, math.nan,
           88.7, 709.0, 710.0, -745.0, -1e300, 65504.0, 1e-7, 1.0000000000000002, 0.9999999999999999, 30.0, 7.0]


def fields(e):
    """An Element as comparable data: exact values by their raw tuples, floats by their bits."""
    fb = lambda v: "nan" if v != v else struct.pack("<d", v)  # noqa: E731
    return (e.outputs, tuple(x._mpf_ for x in e.exact), tuple(map(fb, e.bound)), tuple(e.overflow),
            tuple(map(fb, e.parts)), tuple(map(fb, e.peak)), e.precision, e.converged)


def param_sets():
    for log_input, full, eps in itertools.product((True, False), (True, False), (1e-8, 0.5)):
        yield "poisson", dict(log_input=log_input, full=full, eps=eps)
    for full, eps in itertools.product((True, False), (1e-6, 0.25)):
        yield "gaussian", dict(full=full, eps=eps)


EXTRAS = (dict(), dict(mean_n=7), dict(order="local"), dict(order="local", mean_n=3))


@pytest.mark.parametrize("loss,params", list(param_sets()))
def test_compiled_evaluation_is_the_generic_one(loss, params):
    rng = random.Random(f"{loss}{sorted(params.items())}")
    pool = SPECIAL + [rng.uniform(-10, 10) for _ in range(20)] + [math.exp(rng.uniform(-700, 700)) for _ in range(8)]
    n_ops = len(ew.LOSSES[loss].OPERANDS)
    for extra in EXTRAS:
        pk = ew._params_key(dict(params, **extra))
        for dtype in NAMES:
            for compute in sorted({dtype, "float16", "float64"}):
                for _ in range(12):
                    ops = tuple(rng.choice(pool) for _ in range(n_ops)) + (rng.choice([1.0, -2.5, 1e-3, 0.0, 3e38]),)
                    fast = ew._evaluate(loss, ops, pk, dtype, compute)
                    ref = ew._evaluate_generic(loss, ops, pk, dtype, compute)
                    assert fields(fast) == fields(ref), (loss, ops, pk, dtype, compute)


@pytest.mark.parametrize("dtype", NAMES)
def test_compiled_evaluation_near_cancellation(dtype):
    """Near the Poisson minimum (exp(x) = t) the derivative cancels: the certificate cannot hold,
    the lower evaluation is run, and Ziv may raise the precision; the result is still the definition's."""
    for t in (1.0, 2.0, 7.0, 1e3, 12345.678, 0.3):
        x0 = math.log(t)
        for k in range(-2, 3):
            x = x0 + k * math.ulp(x0)
            for order in ("reverse", "local"):
                for params, ops in ((dict(log_input=True, full=True, eps=1e-8), (x, t, 1.0)),
                                    (dict(log_input=False, full=False, eps=0.0), (t, t, 1.0))):
                    pk = ew._params_key(dict(params, order=order))
                    assert fields(ew._evaluate("poisson", ops, pk, dtype, dtype)) == \
                        fields(ew._evaluate_generic("poisson", ops, pk, dtype, dtype))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(x=st.floats(-40, 40), t=st.floats(0, 1e4), v=st.floats(1e-9, 1e4), log_input=st.booleans(),
       full=st.booleans(), dtype=st.sampled_from(NAMES))
def test_certificate_holds_only_where_the_lower_evaluation_agrees(x, t, v, log_input, full, dtype):
    """Where `certain` accepts the upper evaluation, the skipped lower one rounds the same way."""
    fmt = FORMATS[dtype]
    p1 = max(64, 2 * fmt.p + 16)
    for loss, params, ops in (("poisson", dict(log_input=log_input, full=full, eps=1e-8),
                               (x if log_input else abs(x), t, 1.0)),
                              ("gaussian", dict(full=full, eps=1e-6), (x, t, v, 1.0))):
        pk = ew._params_key(params)
        raws = tuple(libmp.from_float(o) for o in ops)
        got = ew._cert_program(loss, pk, p1)(*raws)
        assert got is not None
        hi, ds = got
        assert hi == ew._raw_program(loss, pk, p1 + ew.GUARD)(*raws)  # the same upper values
        lo = ew._raw_program(loss, pk, p1)(*raws)
        for a, b, d in zip(lo, hi, ds):
            if algebra.certain(b, d, fmt):
                with mpmath.workprec(4 * p1):
                    diff = abs(mpmath.mp.make_mpf(a) - mpmath.mp.make_mpf(b))
                assert d < algebra.NEG // 2 and a == b or diff <= mpf(2) ** d  # the bound holds
                assert fmt.round_raw(a) == fmt.round_raw(b)


def test_certificate_is_refused_near_a_rounding_boundary():
    fmt = FORMATS["float64"]
    one = libmp.from_float(1.0)
    mid = libmp.from_man_exp((1 << 53) + 1, -53)  # 1 + 2^-53: the midpoint between 1 and 1 + ulp
    assert algebra.certain(one, -60, fmt)  # a float64 number, far from the midpoints (q/2 = 2^-53)
    assert not algebra.certain(mid, -200, fmt)  # on the midpoint: any error may round either way
    near = libmp.from_man_exp((((1 << 53) + 1) << 20) + 1, -73)  # 2^-73 above the midpoint
    assert algebra.certain(near, -75, fmt) and not algebra.certain(near, -73, fmt)
    assert not algebra.certain(one, -55, fmt)  # a bound of q/8 or more is never enough
    assert algebra.certain(libmp.fzero, algebra.NEG, fmt) and not algebra.certain(libmp.fzero, -2000, fmt)
    assert not algebra.certain(libmp.fnan, algebra.NEG, fmt) and not algebra.certain(libmp.finf, algebra.NEG, fmt)
    # the overflow threshold max + ulp/2 is a midpoint of the top binade
    top = libmp.mpf_add(FORMATS["float16"].max._mpf_, libmp.from_man_exp(1, 15 - 11), 0)
    assert not algebra.certain(top, -30, FORMATS["float16"])


# --- rounding on raw numbers, against Fraction -------------------------------------------------------
def fraction_round(man: int, exp: int, fmt) -> Fraction | float:
    """Round man * 2^exp to fmt with exact rational arithmetic (nearest, ties to even)."""
    v = Fraction(man) * Fraction(2) ** exp
    if v == 0:
        return Fraction(0)
    a = abs(v)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    q = Fraction(2) ** (max(e, fmt.emin) - fmt.p + 1)
    n, r = divmod(a, q)
    if r > q / 2 or (r == q / 2 and n % 2):
        n += 1
    out = n * q
    if out > Fraction(2 - Fraction(2) ** (1 - fmt.p)) * Fraction(2) ** fmt.emax:
        return -math.inf if v < 0 else math.inf
    return -out if v < 0 else out


@settings(max_examples=600, deadline=None, derandomize=True)
@given(name=st.sampled_from(NAMES), bits=st.integers(1, 160), data=st.data())
def test_round_raw_is_exact_rounding(name, bits, data):
    fmt = FORMATS[name]
    man = data.draw(st.integers(1, (1 << bits) - 1))
    if data.draw(st.booleans()):  # force a tie: the bits below the format's quantum are exactly half
        man = (man << 8) | 0x80
    top = data.draw(st.integers(fmt.emin - fmt.p - 4, fmt.emax + 2))
    exp = top - man.bit_length() + 1
    sign = data.draw(st.sampled_from([1, -1]))
    t = libmp.from_man_exp(sign * man, exp)
    want = fraction_round(sign * man, exp, fmt)
    got = fmt.round_raw(t)
    if isinstance(want, float):
        assert got == (libmp.finf if want > 0 else libmp.fninf)
    else:
        s, m, e, _ = got
        assert (Fraction(int(m)) * Fraction(2) ** e * (-1 if s else 1)) == want
        assert fmt.round(mpmath.mp.make_mpf(t))._mpf_ == got


def test_round_raw_of_astronomically_small_values_is_zero():
    tiny = libmp.mpf_exp(libmp.from_float(-1e300), 100)  # exp(-1e300): an exponent of ~1e300 bits
    for fmt in FORMATS.values():
        assert fmt.round_raw(tiny) == libmp.fzero


# --- the allowance on raw numbers is the mpf expression -------------------------------------------------
from reference.allowance import allowance_mpf as mpf_allowance  # noqa: E402 - the definition


def test_allowance_is_the_mpf_expression():
    rng = random.Random(3)
    values = [mpf(0), mpf("inf"), mpf("-inf"), mpf("nan"), mpf(3), mpf(65520), mpf(65519.99), mpf(2) ** -1080]
    values += [mpf(rng.uniform(-1e3, 1e3)) * mpf(2) ** rng.randint(-1100, 1100) for _ in range(60)]
    bounds = [0.0, 5e-324, 1e-16, 3.5, math.inf, math.nan, 1.7976931348623157e308]
    bounds += [rng.random() * 10.0 ** rng.randint(-320, 300) for _ in range(10)]
    for prec in (53, 30, 200):  # the expression rounds at the ambient precision; so must the fast one
        with mpmath.workprec(prec):
            for fmt in FORMATS.values():
                for v, b in itertools.product(values, bounds):
                    assert allowance(b, v, fmt)._mpf_ == mpf_allowance(b, v, fmt)._mpf_, (prec, fmt.name, v, b)


# --- the compiler itself ----------------------------------------------------------------------------------
class ToyFormula:
    """Python numbers as operands, reflected operators, a comparison of a computed value."""

    OPERANDS = ("a", "b")

    @staticmethod
    def element(A, a, b, g=None):
        s = 2 + a * 3 - b / 4  # __radd__ with a literal, literals on the right
        r = 1 - s  # __rsub__
        q = 5 / (b + A.const(1))  # __rtruediv__
        if A.le(s, 1):
            return s, r * q, -q
        return s, A.exp(r), A.log(q)


@pytest.mark.parametrize("prec", (64, 150))
def test_compiled_formula_with_literals_and_branches(prec):
    alg = algebra.RawExact(prec)
    prog = algebra.Compiled(ToyFormula.element, {}, alg, algebra.RawEmitter(alg), lambda: mpmath.workprec(prec))
    tracked = ew._tracked("float32")
    tprog = algebra.Compiled(ToyFormula.element, {}, tracked, algebra.TrackedEmitter(tracked))
    for a, b in [(0.0, 1.0), (-1.0, 3.0), (0.5, -0.25), (2.0, 8.0), (math.nan, 1.0), (40.0, 1e-30)]:
        with mpmath.workprec(prec):
            want = [alg.value(o)._mpf_ for o in ToyFormula.element(alg, alg.inp(a), alg.inp(b))]
        assert list(prog(libmp.from_float(a), libmp.from_float(b))) == want
        t_want = ToyFormula.element(tracked, tracked.inp(a), tracked.inp(b))
        got = tprog(a, b)
        for k, f in enumerate(("bound", "overflow", "parts", "peak")):
            for x, y in zip(got[k], (getattr(o, f) for o in t_want)):
                assert x == y or (x != x and y != y)
    assert len(prog.traces) == 2 and not prog.broken  # one trace per outcome of the comparison


def test_untraceable_formula_falls_back():
    def bad(A, a, b, g=None):
        s = a + b
        if s:  # a value used outside the algebra
            return s, s, s
        return s, s, s

    alg = algebra.RawExact(64)
    prog = algebra.Compiled(bad, {}, alg, algebra.RawEmitter(alg))
    assert prog(libmp.from_float(1.0), libmp.from_float(2.0)) is None and prog.broken


@pytest.mark.parametrize("loss", ["poisson", "gaussian"])
def test_one_program_serves_every_mean_n(loss):
    """The 'mean' N is passed to the compiled code at call time (algebra.Param): every N, including
    ones a format cannot hold exactly (2049 in float16, 3 * 2^60 + 1 in binary64), gives the generic
    result."""
    params = dict(log_input=True, full=True, eps=1e-8) if loss == "poisson" else dict(full=True, eps=1e-6)
    ops = (0.75, 3.0, 1.0) if loss == "poisson" else (0.75, 3.0, 0.5, 1.0)
    for order in ("reverse", "local"):
        for dtype in ("float16", "float64"):
            for n in (2, 3, 7, 2049, 10 ** 7, 3 * 2 ** 60 + 1):
                pk = ew._params_key(dict(params, mean_n=n, order=order))
                assert fields(ew._evaluate(loss, ops, pk, dtype, dtype)) == \
                    fields(ew._evaluate_generic(loss, ops, pk, dtype, dtype)), (order, dtype, n)
            progs = {id(ew._tracked_program(loss, ew._params_key(dict(params, mean_n=n, order=order)), dtype))
                     for n in (2, 5, 2049)}
            prog = ew._tracked_program(loss, ew._params_key(dict(params, mean_n=5, order=order)), dtype)
            assert len(progs) == 1 and prog.dynamic == ("mean_n",) and not prog.broken


def test_a_call_time_parameter_used_otherwise_is_not_compiled():
    def uses_n(A, a, b, g=None, *, mean_n=1):
        if mean_n > 4:  # a comparison the program key does not record
            return a, b, a
        return a, b, A.div(a, A.const(mean_n))

    alg = algebra.RawExact(64)
    prog = algebra.Compiled(uses_n, {}, alg, algebra.RawEmitter(alg), None, ("mean_n",))
    assert prog(libmp.from_float(1.0), libmp.from_float(2.0), 3) is None and prog.broken
