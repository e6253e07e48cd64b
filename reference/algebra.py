"""The three number systems a defining formula is evaluated in.

A loss formula is written once (in `poisson.py`, `gaussian.py`) against a small algebra: `inp`,
`const`, `exp`, `log`, `div`, `clamp_min`, `gt`, `le` and the operators + - * (division goes through
`div` so that x/0 has its IEEE meaning in every algebra). Evaluating the same formula
in different algebras answers different questions:

* `Exact`   plain mpmath numbers at the working precision: the exact value (used for the
            Ziv-style precision check);
* `Tracked` the exact value together with a first-order running error bound for evaluating the
            formula straightforwardly in a target format (SPEC: ALLOW-RUNNING-BOUND), and a flag
            for an intermediate that leaves the format's finite range;
* `Naive`   the straightforward evaluation itself, every operation correctly rounded to the target
            format: the IEEE result the spec accepts where an intermediate overflows or the bound
            is unbounded (SPEC: SPECIAL-OVERFLOW).

Special values follow IEEE-754 in every algebra: log of a negative number is NaN, 0*inf is NaN,
a clamp propagates NaN. The error bound itself is an upper bound computed in binary64 from the
exact intermediates; it is never compared against, only used as an allowance.
"""

from __future__ import annotations

import math

import mpmath
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
    def gt(a, b) -> bool:
        return bool(a > b)

    @staticmethod
    def le(a, b) -> bool:
        return bool(a <= b)

    @staticmethod
    def value(a):
        return a


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
    def gt(a, b) -> bool:
        return bool(a.v > (b.v if isinstance(b, _NaiveNum) else b))

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
    """Exact values with the running error bound of their straightforward evaluation in `fmt`."""

    def __init__(self, fmt: Format):
        self.fmt = fmt
        self.u = float(fmt.u)
        self.eta = float(fmt.eta)  # rounding into the subnormal range costs at most eta/2
        self.maxf = float(fmt.max)
        self._consts: dict = {}

    def inp(self, v):
        v = to_mpf(v)
        return TNum(v, 0.0, False, self, _mag(v))

    def const(self, c):
        key = c
        got = self._consts.get(key)
        if got is None:
            c = to_mpf(c) if not isinstance(c, mpf) else c
            got = TNum(c, float(abs(c - self.fmt.round(c))), False, self, _mag(c))
            self._consts[key] = got
        return got

    def _make(self, z, e, o, rel=1.0, p=None, operands=()):
        """A result: propagated bound `e` plus this operation's own rounding (rel*u*|z| + eta).

        `p` is the largest magnitude among the result's additive parts (default |z|): the size
        a partial sum reaches where autodiff accumulates each part separately (ALLOW-SUM).
        """
        fz = abs(float(z))
        return TNum(z, e + rel * self.u * fz + self.eta, o or fz > self.maxf, self, fz if p is None else p,
                    max(fz, *(x.m for x in operands)) if operands else fz)

    def exp(self, a):
        z = mpmath.exp(a.v)
        e = abs(float(z)) * math.expm1(a.e) if a.e else 0.0
        return self._make(z, e, a.o, LIBM_U, operands=(a,))

    def log(self, a):
        z = _log(a.v)
        fa = abs(float(a.v))
        if a.e == 0.0:
            prop = 0.0
        elif a.e < fa:
            prop = -math.log1p(-a.e / fa)
        else:
            prop = math.inf
        return self._make(z, prop, a.o, LIBM_U, operands=(a,))

    @staticmethod
    def div(a, b):
        return a / b

    def clamp_min(self, a, lo):
        z = _clamp_min(a.v, lo.v)
        e = max(a.e, lo.e)
        return TNum(z, e, a.o or lo.o, self, _mag(z), max(a.m, lo.m, _mag(z)))

    @staticmethod
    def gt(a, b) -> bool:
        return bool(a.v > (b.v if isinstance(b, TNum) else b))

    @staticmethod
    def le(a, b) -> bool:
        return bool(a.v <= (b.v if isinstance(b, TNum) else b))

    @staticmethod
    def value(a):
        return a.v


def _mag(v) -> float:
    try:
        return abs(float(v))
    except (OverflowError, ValueError):
        return math.inf


class TNum:
    """A tracked number: exact value `v`, error bound `e`, overflow flag `o`, part magnitude `p`."""

    __slots__ = ("v", "e", "o", "c", "p", "m")

    def __init__(self, v, e, o, c, p, m=None):
        self.v = v
        self.e = e
        self.o = o
        self.c = c
        self.p = p
        self.m = p if m is None else m  # peak: the largest intermediate magnitude so far

    def _t(self, b):
        return b if isinstance(b, TNum) else self.c.const(b)

    def __add__(self, b):
        b = self._t(b)
        z = self.v + b.v
        return self.c._make(z, self.e + b.e, self.o or b.o, p=max(self.p, b.p), operands=(self, b))

    __radd__ = __add__

    def __sub__(self, b):
        b = self._t(b)
        z = self.v - b.v
        return self.c._make(z, self.e + b.e, self.o or b.o, p=max(self.p, b.p), operands=(self, b))

    def __rsub__(self, b):
        return self._t(b) - self

    def __mul__(self, b):
        b = self._t(b)
        z = self.v * b.v
        fa, fb = abs(float(self.v)), abs(float(b.v))
        e = fb * self.e + fa * b.e + self.e * b.e
        return self.c._make(z, e, self.o or b.o, p=max(fa * b.p, self.p * fb), operands=(self, b))

    __rmul__ = __mul__

    def __truediv__(self, b):
        b = self._t(b)
        z = _ieee_div(self.v, b.v)
        fb = abs(float(b.v))
        if b.e == 0.0 and self.e == 0.0:
            e = 0.0
        elif b.e < fb:
            e = (self.e + abs(float(z)) * b.e) / (fb - b.e)
        else:
            e = math.inf
        return self.c._make(z, e, self.o or b.o, p=self.p / fb if fb else _mag(z), operands=(self, b))

    def __rtruediv__(self, b):
        return self._t(b) / self

    def __neg__(self):
        return TNum(-self.v, self.e, self.o, self.c, self.p, self.m)
