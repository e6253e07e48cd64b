"""The three number systems a defining formula is evaluated in.

A loss formula is written once (in `poisson.py`, `gaussian.py`) against a small algebra: `inp`,
`const`, `exp`, `log`, `div`, `clamp_min`, `le` and the operators + - * (division goes through
`div` so that x/0 has its IEEE meaning in every algebra). Evaluating the same formula
in different algebras answers different questions:

* `Exact`   plain mpmath numbers at the working precision: the exact value (used for the
            Ziv-style precision check); `RawExact` computes the same on mpmath's raw numbers,
            faster, and is what `elementwise` uses;
* `Tracked` a first-order running error bound for evaluating the formula straightforwardly in
            a target format (SPEC: ALLOW-RUNNING-BOUND), with flags for an intermediate that
            leaves the format's finite range; it needs magnitudes only, carried in binary64;
* `Naive`   the straightforward evaluation itself, every operation correctly rounded to the target
            format: the IEEE result the spec accepts where an intermediate overflows or the bound
            is unbounded (SPEC: SPECIAL-OVERFLOW).

Special values follow IEEE-754 in every algebra: log of a negative number is NaN, 0*inf is NaN,
a clamp propagates NaN. The error bound itself is an upper bound computed in binary64 from the
intermediates' magnitudes; it is never compared against, only used as an allowance.
"""

from __future__ import annotations

import math

import mpmath
from mpmath import libmp as _lm
from mpmath import mpf

from .floats import Format, to_mpf

NAN = mpf("nan")
INF = mpf("inf")

# Library error of exp and log, in units of the unit roundoff u (4u = 2 ulp): covers correctly
# rounded libraries and the documented 1-2 ulp of common vendor libraries (SPEC: ALLOW-LIBM).
LIBM_U = 4.0


def _is_nan(a) -> bool:
    return a != a


def _log(a):
    if _is_nan(a) or a < 0:
        return NAN
    return mpmath.log(a)


def _clamp_min(a, lo):
    if _is_nan(a) or _is_nan(lo):
        return NAN
    return a if a >= lo else lo


class Exact:
    """Exact values (to the working precision); constants are taken exactly."""

    def inp(self, v):
        return to_mpf(v)

    def const(self, c):
        return to_mpf(c) if not isinstance(c, mpf) else c

    exp = staticmethod(mpmath.exp)
    log = staticmethod(_log)
    clamp_min = staticmethod(_clamp_min)
    div = staticmethod(lambda a, b: _ieee_div(a, b))

    @staticmethod
    def le(a, b) -> bool:
        return bool(a <= b)

    @staticmethod
    def value(a):
        return a


class RawExact:
    """The `Exact` algebra on mpmath's raw numbers: the same values, several times faster.

    Operands and constants are taken exactly; every operation rounds to `prec` bits (default:
    mpmath's working precision; constants such as 2*pi are formed at that precision too). The values
    are mpmath's internal tuples behind a thin wrapper (`_X`) so that the formulas keep their
    operators without mpf's per-operation context overhead; `value()` returns an mpf.
    """

    def __init__(self, prec: int | None = None):
        self._prec = prec  # None: mpmath's working precision at the time of use

    @property
    def prec(self) -> int:
        return self._prec or mpmath.mp.prec

    def inp(self, v):
        return _X(v._mpf_ if isinstance(v, mpf) else _lm.from_float(float(v)), self.prec)

    def const(self, c):
        key = (c, self.prec)
        got = _CONSTS.get(key)
        if got is None:
            got = _CONSTS[key] = _X((to_mpf(c) if not isinstance(c, mpf) else c)._mpf_, self.prec)
        return got

    def exp(self, a):
        return _X(_lm.mpf_exp(a.t, a.p, "n"), a.p)

    def log(self, a):
        t = a.t
        if t == _lm.fnan:
            return _X(_lm.fnan, a.p)
        try:
            return _X(_lm.mpf_log(t, a.p, "n"), a.p)
        except _lm.ComplexResult:  # log of a negative number
            return _X(_lm.fnan, a.p)

    @staticmethod
    def div(a, b):
        return a / b

    def clamp_min(self, a, lo):
        if a.t == _lm.fnan or lo.t == _lm.fnan:
            return _X(_lm.fnan, a.p)
        return a if _lm.mpf_ge(a.t, lo.t) else lo

    @staticmethod
    def le(a, b) -> bool:
        if a.t == _lm.fnan:
            return False
        return _lm.mpf_le(a.t, b.t if isinstance(b, _X) else to_mpf(b)._mpf_)

    @staticmethod
    def value(a):
        return mpmath.mp.make_mpf(a.t)


_CONSTS: dict = {}


class _X:
    """A raw mpmath number with its working precision (see `RawExact`)."""

    __slots__ = ("t", "p")

    def __init__(self, t, p):
        self.t = t
        self.p = p

    def _o(self, b):
        return b.t if type(b) is _X else to_mpf(b)._mpf_

    def __add__(self, b):
        return _X(_lm.mpf_add(self.t, self._o(b), self.p, "n"), self.p)

    __radd__ = __add__

    def __sub__(self, b):
        return _X(_lm.mpf_sub(self.t, self._o(b), self.p, "n"), self.p)

    def __rsub__(self, b):
        return _X(_lm.mpf_sub(self._o(b), self.t, self.p, "n"), self.p)

    def __mul__(self, b):
        return _X(_lm.mpf_mul(self.t, self._o(b), self.p, "n"), self.p)

    __rmul__ = __mul__

    def __truediv__(self, b):
        return _X(_raw_div(self.t, self._o(b), self.p), self.p)

    def __rtruediv__(self, b):
        return _X(_raw_div(self._o(b), self.t, self.p), self.p)

    def __neg__(self):
        return _X(_lm.mpf_neg(self.t), self.p)


def _raw_div(a, b, prec):
    if b == _lm.fzero:
        if a == _lm.fzero or a == _lm.fnan:
            return _lm.fnan
        return _lm.finf if _lm.mpf_sign(a) > 0 else _lm.fninf
    return _lm.mpf_div(a, b, prec, "n")


class Naive:
    """Straightforward evaluation in a target format: each operation's exact result is rounded."""

    def __init__(self, fmt: Format):
        self.fmt = fmt

    def inp(self, v):
        return _NaiveNum(to_mpf(v), self.fmt)

    def const(self, c):
        return _NaiveNum(self.fmt.round(c), self.fmt)

    def exp(self, a):
        return _NaiveNum(self.fmt.round(mpmath.exp(a.v)), self.fmt)

    def log(self, a):
        return _NaiveNum(self.fmt.round(_log(a.v)), self.fmt)

    def clamp_min(self, a, lo):
        return _NaiveNum(_clamp_min(a.v, lo.v), self.fmt)

    @staticmethod
    def div(a, b):
        return a / b

    @staticmethod
    def le(a, b) -> bool:
        return bool(a.v <= (b.v if isinstance(b, _NaiveNum) else b))

    @staticmethod
    def value(a):
        return a.v


class _NaiveNum:
    __slots__ = ("v", "f")

    def __init__(self, v, f):
        self.v = v
        self.f = f

    def _o(self, b):
        return b.v if isinstance(b, _NaiveNum) else self.f.round(b)

    def __add__(self, b):
        return _NaiveNum(self.f.round(self.v + self._o(b)), self.f)

    def __sub__(self, b):
        return _NaiveNum(self.f.round(self.v - self._o(b)), self.f)

    def __mul__(self, b):
        return _NaiveNum(self.f.round(self.v * self._o(b)), self.f)

    def __truediv__(self, b):
        d = self._o(b)
        return _NaiveNum(self.f.round(_ieee_div(self.v, d)), self.f)

    def __neg__(self):
        return _NaiveNum(-self.v, self.f)

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, b):
        return _NaiveNum(self.f.round(self._o(b) - self.v), self.f)

    def __rtruediv__(self, b):
        return _NaiveNum(self.f.round(_ieee_div(self._o(b), self.v)), self.f)


def _ieee_div(a, b):
    if b == 0:
        if a == 0 or _is_nan(a):
            return NAN
        # the sign of a zero divisor is lost in mpmath; the spec never relies on it
        return INF if a > 0 else -INF
    return a / b


class Tracked:
    """The running error bound of a formula's straightforward evaluation in `fmt`.

    Only magnitudes enter a first-order bound, so this algebra carries binary64 approximations of
    the intermediates (`v`), never a reference value: the exact values come from `Exact`. Per
    intermediate it tracks the bound `e`, whether it left the format's finite range (`o`), the
    largest magnitude among its additive parts (`p`, for per-path partial sums) and the largest
    intermediate magnitude so far (`m`, the peak).
    """

    def __init__(self, fmt: Format):
        self.fmt = fmt
        self.u = float(fmt.u)
        self.eta = float(fmt.eta)  # rounding into the subnormal range costs at most eta/2
        self.maxf = float(fmt.max)
        self._consts: dict = {}

    def inp(self, v):
        v = float(v)
        a = abs(v)
        return TNum(v, 0.0, False, self, a, a)

    def const(self, c):
        got = self._consts.get(c)
        if got is None:
            exact = to_mpf(c) if not isinstance(c, mpf) else c
            v = float(exact)
            # ALLOW-CONST: a constant carries the error of its rounding into the format
            got = TNum(v, float(abs(exact - self.fmt.round(exact))), False, self, abs(v), abs(v))
            self._consts[c] = got
        return got

    def _make(self, z, e, o, rel, p, m):
        """A result: propagated bound `e` plus this operation's own rounding (rel*u*|z| + eta)."""
        fz = abs(z)
        return TNum(z, e + rel * self.u * fz + self.eta, o or fz > self.maxf, self, p if p is not None else fz,
                    m if m > fz else fz)

    def exp(self, a):
        try:
            z = math.exp(a.v)
        except OverflowError:
            z = math.inf
        e = abs(z) * math.expm1(a.e) if a.e else 0.0
        return self._make(z, e, a.o, LIBM_U, None, a.m)

    def log(self, a):
        v = a.v
        z = math.nan if (v != v or v < 0) else (-math.inf if v == 0 else math.log(v))
        fa = abs(v)
        if a.e == 0.0:
            prop = 0.0
        elif a.e < fa:
            prop = -math.log1p(-a.e / fa)
        else:
            prop = math.inf
        return self._make(z, prop, a.o, LIBM_U, None, a.m)

    @staticmethod
    def div(a, b):
        return a / b

    def clamp_min(self, a, lo):
        z = math.nan if (a.v != a.v or lo.v != lo.v) else (a.v if a.v >= lo.v else lo.v)
        return TNum(z, max(a.e, lo.e), a.o or lo.o, self, abs(z), max(a.m, lo.m, abs(z)))

    @staticmethod
    def le(a, b) -> bool:
        return a.v <= (b.v if isinstance(b, TNum) else b)

    @staticmethod
    def value(a):
        return a.v


def _fmul(a: float, b: float) -> float:
    return a * b  # IEEE in Python: inf*0 is nan, overflow is inf


def _fdiv(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


class TNum:
    """A tracked intermediate (see `Tracked`)."""

    __slots__ = ("v", "e", "o", "c", "p", "m")

    def __init__(self, v, e, o, c, p, m):
        self.v = v
        self.e = e
        self.o = o
        self.c = c
        self.p = p
        self.m = m

    def _t(self, b):
        return b if isinstance(b, TNum) else self.c.const(b)

    def __add__(self, b):
        b = self._t(b)
        return self.c._make(self.v + b.v, self.e + b.e, self.o or b.o, 1.0, max(self.p, b.p), max(self.m, b.m))

    __radd__ = __add__

    def __sub__(self, b):
        b = self._t(b)
        return self.c._make(self.v - b.v, self.e + b.e, self.o or b.o, 1.0, max(self.p, b.p), max(self.m, b.m))

    def __rsub__(self, b):
        return self._t(b) - self

    def __mul__(self, b):
        b = self._t(b)
        fa, fb = abs(self.v), abs(b.v)
        e = fb * self.e + fa * b.e + self.e * b.e
        return self.c._make(_fmul(self.v, b.v), e, self.o or b.o, 1.0, max(fa * b.p, self.p * fb), max(self.m, b.m))

    __rmul__ = __mul__

    def __truediv__(self, b):
        b = self._t(b)
        z = _fdiv(self.v, b.v)
        fb = abs(b.v)
        if b.e == 0.0 and self.e == 0.0:
            e = 0.0
        elif b.e < fb:
            e = (self.e + abs(z) * b.e) / (fb - b.e)
        else:
            e = math.inf
        return self.c._make(z, e, self.o or b.o, 1.0, _fdiv(self.p, fb) if fb else abs(z), max(self.m, b.m))

    def __rtruediv__(self, b):
        return self._t(b) / self

    def __neg__(self):
        return TNum(-self.v, self.e, self.o, self.c, self.p, self.m)
