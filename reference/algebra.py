"""The three number systems a defining formula is evaluated in.

A loss formula is written once (in `poisson.py`, `gaussian.py`) against a small algebra: `inp`,
`const`, `exp`, `log`, `lgamma`, `div`, `clamp_min`, `le` and the operators + - * (division goes through
`div` so that x/0 has its IEEE meaning in every algebra). Evaluating the same formula
in different algebras answers different questions:

* `Exact`   plain mpmath numbers at the working precision: the exact value (used for the
            Ziv-style precision check); `RawExact` computes the same on mpmath's raw numbers,
            faster, and is what `elementwise` uses;
* `Tracked` a first-order running error bound for evaluating the formula straightforwardly in
            a target format (SPEC: ALLOW-RUNNING-BOUND), with flags for an intermediate that
            leaves the format's finite range; it needs magnitudes only, carried in binary64;
* `Straightforward` the straightforward evaluation itself (the spec's word), every operation
            correctly rounded to the target format: the IEEE result the spec accepts where an
            intermediate overflows or the bound is unbounded (SPEC: SPECIAL-OVERFLOW).

Special values follow IEEE-754 in every algebra: log of a negative number is NaN, 0*inf is NaN,
a clamp propagates NaN. The error bound itself is an upper bound computed in binary64 from the
intermediates' magnitudes; it is never compared against, only used as an allowance.
"""

from __future__ import annotations

import math

import mpmath
from mpmath import libmp as _lm
from mpmath import mpf
from mpmath.libmp import libmpf as _libmpf

from .floats import Format, to_mpf
from .tolerance import LGAMMA_U, LIBM_U

NAN = mpf("nan")
INF = mpf("inf")



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


def _lgamma(a):
    """log|Gamma(a)| as C's lgamma defines it: +inf at the poles (0, -1, -2, ...) and at +-inf, NaN
    for NaN; mpmath's loggamma of a negative non-integer is complex, its real part is log|Gamma|."""
    if _is_nan(a):
        return NAN
    if mpmath.isinf(a) or (a <= 0 and a == mpmath.floor(a)):
        return INF
    return mpmath.re(mpmath.loggamma(a))


def _lgamma_f(v: float) -> float:
    """math.lgamma with C's special values (a pole or an overflow: +inf)."""
    if v != v:
        return math.nan
    try:
        return math.lgamma(v)
    except (ValueError, OverflowError):
        return math.inf


def _digamma_bound(lo: float, hi: float) -> float:
    """An upper bound of |digamma| on [lo, hi] (lgamma's derivative), for lo > 0: there
    log(x) - 1/x < digamma(x) < log(x); unbounded where the interval reaches 0 or below."""
    if not lo > 0:
        return math.inf
    return abs(math.log(lo)) + abs(math.log(hi)) + 1.0 / lo


class Exact:
    """Exact values (to the working precision); constants are taken exactly."""

    def inp(self, v):
        return to_mpf(v)

    def const(self, c):
        return to_mpf(c) if not isinstance(c, mpf) else c

    exp = staticmethod(mpmath.exp)
    log = staticmethod(_log)
    lgamma = staticmethod(_lgamma)
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

    def lgamma(self, a):
        return _X(_rlgamma(a.t, a.p), a.p)

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


def _rlgamma(t, prec):
    """Exact.lgamma on a raw value, rounded once to `prec` bits."""
    with mpmath.workprec(prec + 20):
        r = _lgamma(mpmath.mp.make_mpf(t))
    return _lm.mpf_pos(r._mpf_, prec, "n")


def _raw_div(a, b, prec):
    if b == _lm.fzero:
        if a == _lm.fzero or a == _lm.fnan:
            return _lm.fnan
        return _lm.finf if _lm.mpf_sign(a) > 0 else _lm.fninf
    return _lm.mpf_div(a, b, prec, "n")


class Straightforward:
    """Straightforward evaluation in a target format: each operation's exact result is rounded."""

    def __init__(self, fmt: Format):
        self.fmt = fmt

    def inp(self, v):
        return _StraightNum(to_mpf(v), self.fmt)

    def const(self, c):
        return _StraightNum(self.fmt.round(c), self.fmt)

    def exp(self, a):
        return _StraightNum(self.fmt.round(mpmath.exp(a.v)), self.fmt)

    def log(self, a):
        return _StraightNum(self.fmt.round(_log(a.v)), self.fmt)

    def lgamma(self, a):
        return _StraightNum(self.fmt.round(_lgamma(a.v)), self.fmt)

    def clamp_min(self, a, lo):
        return _StraightNum(_clamp_min(a.v, lo.v), self.fmt)

    @staticmethod
    def div(a, b):
        return a / b

    @staticmethod
    def le(a, b) -> bool:
        return bool(a.v <= (b.v if isinstance(b, _StraightNum) else b))

    @staticmethod
    def value(a):
        return a.v


class _StraightNum:
    __slots__ = ("v", "f")

    def __init__(self, v, f):
        self.v = v
        self.f = f

    def _o(self, b):
        return b.v if isinstance(b, _StraightNum) else self.f.round(b)

    def __add__(self, b):
        return _StraightNum(self.f.round(self.v + self._o(b)), self.f)

    def __sub__(self, b):
        return _StraightNum(self.f.round(self.v - self._o(b)), self.f)

    def __mul__(self, b):
        return _StraightNum(self.f.round(self.v * self._o(b)), self.f)

    def __truediv__(self, b):
        d = self._o(b)
        return _StraightNum(self.f.round(_ieee_div(self.v, d)), self.f)

    def __neg__(self):
        return _StraightNum(-self.v, self.f)

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, b):
        return _StraightNum(self.f.round(self._o(b) - self.v), self.f)

    def __rtruediv__(self, b):
        return _StraightNum(self.f.round(_ieee_div(self._o(b), self.v)), self.f)


class Subnormals(Straightforward):
    """The straightforward evaluation in `fmt` (as Straightforward), noting whether it meets a subnormal
    magnitude: an operand, an operation's input or result (a clamp: its result only, since a
    comparison with a flushed bound picks the same value where the bound does not apply). `hit`
    says whether it did: what a backend that flushes subnormals to zero (FTZ/DAZ) evaluates
    differently, and nothing else does."""

    def __init__(self, fmt: Format):
        super().__init__(fmt)
        self.hit = False

    def _see(self, *vals):
        tiny = self.fmt.tiny
        for v in vals:
            if v != 0 and abs(v) < tiny:  # NaN compares False
                self.hit = True

    def _num(self, r, *ins):
        self._see(r, *ins)
        n = _SNum(r, self.fmt)
        n.alg = self
        return n

    def inp(self, v):
        return self._num(to_mpf(v))

    def const(self, c):
        n = _SNum(self.fmt.round(c), self.fmt)  # a constant counts where an operation uses it
        n.alg = self
        return n

    def exp(self, a):
        return self._num(self.fmt.round(mpmath.exp(a.v)), a.v)

    def log(self, a):
        return self._num(self.fmt.round(_log(a.v)), a.v)

    def lgamma(self, a):
        return self._num(self.fmt.round(_lgamma(a.v)), a.v)

    def clamp_min(self, a, lo):
        return self._num(_clamp_min(a.v, lo.v))


class _SNum(_StraightNum):
    __slots__ = ("alg",)

    def _op(self, r: _StraightNum, b=None):
        alg = self.alg
        return alg._num(r.v, self.v, *(() if b is None else (b.v if isinstance(b, _StraightNum) else self._o(b),)))


for _name in ("__add__", "__sub__", "__mul__", "__truediv__", "__radd__", "__rmul__", "__rsub__", "__rtruediv__"):
    def _wrap(base):
        return lambda self, b: self._op(base(self, b), b)
    setattr(_SNum, _name, _wrap(getattr(_StraightNum, _name)))
_SNum.__neg__ = lambda self: self._op(_StraightNum.__neg__(self))


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
    the intermediates (`value`), never a reference value: the exact values come from `Exact`. Per
    intermediate it tracks the error `bound`, whether it left the format's finite range
    (`overflow`), the largest magnitude among its additive parts (`parts`, for per-path partial
    sums) and the largest intermediate magnitude so far (`peak`).
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
            got = self.NUM(v, float(abs(exact - self.fmt.round(exact))), False, self, abs(v), abs(v))
            self._consts[c] = got
        return got

    def _make(self, z, e, o, rel, p, m):
        """A result: propagated bound `e` plus this operation's own rounding (rel*u*|z| + eta)."""
        fz = abs(z)
        return self.NUM(z, e + rel * self.u * fz + self.eta, o or fz > self.maxf, self, p if p is not None else fz,
                        m if m > fz else fz)

    def exp(self, a):
        try:
            z = math.exp(a.value)
        except OverflowError:
            z = math.inf
        e = abs(z) * math.expm1(a.bound) if a.bound else 0.0
        return self._make(z, e, a.overflow, LIBM_U, None, a.peak)

    def log(self, a):
        v = a.value
        z = math.nan if (v != v or v < 0) else (-math.inf if v == 0 else math.log(v))
        fa = abs(v)
        if a.bound == 0.0:
            prop = 0.0
        elif a.bound < fa:
            prop = -math.log1p(-a.bound / fa)
        else:
            prop = math.inf
        return self._make(z, prop, a.overflow, LIBM_U, None, a.peak)

    def lgamma(self, a):
        """ALLOW-LGAMMA: the propagated error is at most sup|digamma| over [v - e, v + e] times e;
        the library's own error is LGAMMA_U*u*|z| + eta."""
        z = _lgamma_f(a.value)
        prop = a.bound * _digamma_bound(a.value - a.bound, a.value + a.bound) if a.bound else 0.0
        return self._make(z, prop, a.overflow, LGAMMA_U, None, a.peak)

    @staticmethod
    def div(a, b):
        return a / b

    def clamp_min(self, a, lo):
        z = math.nan if (a.value != a.value or lo.value != lo.value) else (a.value if a.value >= lo.value else lo.value)
        return self.NUM(z, max(a.bound, lo.bound), a.overflow or lo.overflow, self, abs(z),
                        max(a.peak, lo.peak, abs(z)))

    @staticmethod
    def le(a, b) -> bool:
        return a.value <= (b.value if isinstance(b, TNum) else b)

    @staticmethod
    def value(a):
        return a.value


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

    __slots__ = ("value", "bound", "overflow", "alg", "parts", "peak")

    def __init__(self, value, bound, overflow, alg, parts, peak):
        self.value = value
        self.bound = bound
        self.overflow = overflow
        self.alg = alg
        self.parts = parts
        self.peak = peak

    def _t(self, b):
        return b if isinstance(b, TNum) else self.alg.const(b)

    def __add__(self, b):
        b = self._t(b)
        return self.alg._make(self.value + b.value, self.bound + b.bound, self.overflow or b.overflow, 1.0,
                              max(self.parts, b.parts), max(self.peak, b.peak))

    __radd__ = __add__

    def __sub__(self, b):
        b = self._t(b)
        return self.alg._make(self.value - b.value, self.bound + b.bound, self.overflow or b.overflow, 1.0,
                              max(self.parts, b.parts), max(self.peak, b.peak))

    def __rsub__(self, b):
        return self._t(b) - self

    def __mul__(self, b):
        b = self._t(b)
        fa, fb = abs(self.value), abs(b.value)
        e = fb * self.bound + fa * b.bound + self.bound * b.bound
        return self.alg._make(_fmul(self.value, b.value), e, self.overflow or b.overflow, 1.0,
                              max(fa * b.parts, self.parts * fb), max(self.peak, b.peak))

    __rmul__ = __mul__

    def __truediv__(self, b):
        b = self._t(b)
        z = _fdiv(self.value, b.value)
        fb = abs(b.value)
        if b.bound == 0.0 and self.bound == 0.0:
            e = 0.0
        elif b.bound < fb:
            e = (self.bound + abs(z) * b.bound) / (fb - b.bound)
        else:
            e = math.inf
        return self.alg._make(z, e, self.overflow or b.overflow, 1.0,
                              _fdiv(self.parts, fb) if fb else abs(z), max(self.peak, b.peak))

    def __rtruediv__(self, b):
        return self._t(b) / self

    def __neg__(self):
        return TNum(-self.value, self.bound, self.overflow, self.alg, self.parts, self.peak)


Tracked.NUM = TNum  # the class of its values (MixedTracked's formats use a subclass)


# --- Mixed formats, step by step (ALLOW-MIXED) ---------------------------------------------------
class _FTracked(Tracked):
    """Tracked in one format, whose results remember it (for MixedTracked)."""

    def _div(self, a, b):  # TNum.__truediv__'s bound, the result in this format
        z = _fdiv(a.value, b.value)
        fb = abs(b.value)
        if b.bound == 0.0 and a.bound == 0.0:
            e = 0.0
        elif b.bound < fb:
            e = (a.bound + abs(z) * b.bound) / (fb - b.bound)
        else:
            e = math.inf
        return self._make(z, e, a.overflow or b.overflow, 1.0,
                          _fdiv(a.parts, fb) if fb else abs(z), max(a.peak, b.peak))


class _Weak:
    """A Python-number constant: it takes the format of what it meets (it does not promote)."""

    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __mul__(self, b):
        return b.alg.const(self.k) * b

    __rmul__ = __mul__

    def __add__(self, b):
        return b.alg.const(self.k) + b

    __radd__ = __add__

    def __sub__(self, b):
        return b.alg.const(self.k) - b

    def __rsub__(self, b):
        return b - b.alg.const(self.k)

    def __truediv__(self, b):
        return b.alg.const(self.k) / b

    def __rtruediv__(self, b):
        return b / b.alg.const(self.k)


class MTNum(TNum):
    """A tracked intermediate in its own format: an operation on two of them runs in the format
    their formats promote to (PyTorch's type promotion), its rounding measured in that format."""

    __slots__ = ()

    def _pair(self, b):
        if isinstance(b, _Weak):
            b = self.alg.const(b.k)
        elif not isinstance(b, TNum):
            b = self.alg.const(b)
        if b.alg is self.alg:
            return self, b, self.alg
        c = MixedTracked.promoted(self.alg, b.alg)
        return self, b, c

    def __add__(self, b):
        a, b, c = self._pair(b)
        return c._make(a.value + b.value, a.bound + b.bound, a.overflow or b.overflow, 1.0,
                       max(a.parts, b.parts), max(a.peak, b.peak))

    __radd__ = __add__

    def __sub__(self, b):
        a, b, c = self._pair(b)
        return c._make(a.value - b.value, a.bound + b.bound, a.overflow or b.overflow, 1.0,
                       max(a.parts, b.parts), max(a.peak, b.peak))

    def __rsub__(self, b):
        a, b, c = self._pair(b)
        return c._make(b.value - a.value, a.bound + b.bound, a.overflow or b.overflow, 1.0,
                       max(a.parts, b.parts), max(a.peak, b.peak))

    def __mul__(self, b):
        a, b, c = self._pair(b)
        fa, fb = abs(a.value), abs(b.value)
        e = fb * a.bound + fa * b.bound + a.bound * b.bound
        return c._make(_fmul(a.value, b.value), e, a.overflow or b.overflow, 1.0,
                       max(fa * b.parts, a.parts * fb), max(a.peak, b.peak))

    __rmul__ = __mul__

    def __truediv__(self, b):
        a, b, c = self._pair(b)
        return c._div(a, b)

    def __rtruediv__(self, b):
        a, b, c = self._pair(b)
        return c._div(b, a)

    def __neg__(self):
        return MTNum(-self.value, self.bound, self.overflow, self.alg, self.parts, self.peak)


_FTracked.NUM = MTNum


class MixedTracked:
    """ALLOW-MIXED, step by step: the running error bound when each operand is stored in its own
    format and every operation runs in the format its operands promote to, as PyTorch evaluates a
    mixed-dtype call (`exp(input)` in input's format, the clamp and `log(var)` in var's,
    `target * input` in their promotion). Python-number constants take the format they meet.

    `formats` names the format of each formula operand, in order (the upstream gradient last).
    """

    _BY_NAME: dict = {}

    def __init__(self, formats: tuple):
        self.formats = tuple(formats)

    @classmethod
    def ftracked(cls, name: str) -> _FTracked:
        alg = cls._BY_NAME.get(name)
        if alg is None:
            from .floats import FORMATS

            alg = cls._BY_NAME[name] = _FTracked(FORMATS[name])
        return alg

    @classmethod
    def promoted(cls, a: _FTracked, b: _FTracked) -> _FTracked:
        from .rules import _promote_pair

        return cls.ftracked(_promote_pair(a.fmt.name, b.fmt.name))

    def inputs(self, operands) -> list:
        out = []
        for o, name in zip(operands, self.formats):
            v = float(o)
            out.append(MTNum(v, 0.0, False, self.ftracked(name), abs(v), abs(v)))
        return out

    @staticmethod
    def const(c):
        return _Weak(c)

    @staticmethod
    def exp(a):
        return a.alg.exp(a)

    @staticmethod
    def log(a):
        return a.alg.log(a)

    @staticmethod
    def lgamma(a):
        return a.alg.lgamma(a)

    @staticmethod
    def div(a, b):
        return a / b

    @staticmethod
    def clamp_min(a, lo):
        return a.alg.clamp_min(a, a.alg.const(lo.k) if isinstance(lo, _Weak) else lo)

    @staticmethod
    def le(a, b) -> bool:
        return a.value <= (b.value if isinstance(b, TNum) else (b.k if isinstance(b, _Weak) else b))

    @staticmethod
    def value(a):
        return a.value


class _StraightWeak:
    """A Python-number constant of MixedStraightforward: rounded into the format of what it meets."""

    __slots__ = ("k",)

    def __init__(self, k):
        self.k = k

    def __mul__(self, b):
        return b * self.k

    __rmul__ = __mul__

    def __add__(self, b):
        return b + self.k

    __radd__ = __add__

    def __sub__(self, b):
        return b.__rsub__(self.k)

    def __rsub__(self, b):
        return b - self.k

    def __truediv__(self, b):
        return b.__rtruediv__(self.k)

    def __rtruediv__(self, b):
        return b / self.k


class _MixedStraightNum(_StraightNum):
    """A straightforward intermediate in its own format; a binary operation runs in the format
    the two promote to (a Python number takes the other's format)."""

    __slots__ = ()

    def _pf(self, b):
        if isinstance(b, _StraightWeak):
            b = b.k
        if isinstance(b, _StraightNum):
            f = self.f if b.f is self.f else MixedStraightforward.promoted(self.f, b.f)
            return b.v, f
        return self.f.round(b), self.f

    def __add__(self, b):
        v, f = self._pf(b)
        return _MixedStraightNum(f.round(self.v + v), f)

    __radd__ = __add__

    def __sub__(self, b):
        v, f = self._pf(b)
        return _MixedStraightNum(f.round(self.v - v), f)

    def __rsub__(self, b):
        v, f = self._pf(b)
        return _MixedStraightNum(f.round(v - self.v), f)

    def __mul__(self, b):
        v, f = self._pf(b)
        return _MixedStraightNum(f.round(self.v * v), f)

    __rmul__ = __mul__

    def __truediv__(self, b):
        v, f = self._pf(b)
        return _MixedStraightNum(f.round(_ieee_div(self.v, v)), f)

    def __rtruediv__(self, b):
        v, f = self._pf(b)
        return _MixedStraightNum(f.round(_ieee_div(v, self.v)), f)

    def __neg__(self):
        return _MixedStraightNum(-self.v, self.f)


class MixedStraightforward:
    """The straightforward evaluation of a mixed-dtype call, step by step (ALLOW-MIXED): each
    operand in its own format, each operation rounded to the format its operands promote to."""

    def __init__(self, formats: tuple):
        from .floats import FORMATS

        self.formats = tuple(FORMATS[n] for n in formats)

    @staticmethod
    def promoted(a: Format, b: Format) -> Format:
        from .floats import FORMATS
        from .rules import _promote_pair

        return FORMATS[_promote_pair(a.name, b.name)]

    def inputs(self, operands) -> list:
        return [_MixedStraightNum(to_mpf(v), f) for v, f in zip(operands, self.formats)]

    @staticmethod
    def const(c):
        return _StraightWeak(c)

    @staticmethod
    def exp(a):
        return _MixedStraightNum(a.f.round(mpmath.exp(a.v)), a.f)

    @staticmethod
    def log(a):
        return _MixedStraightNum(a.f.round(_log(a.v)), a.f)

    @staticmethod
    def lgamma(a):
        return _MixedStraightNum(a.f.round(_lgamma(a.v)), a.f)

    @staticmethod
    def clamp_min(a, lo):
        lv = lo.v if isinstance(lo, _StraightNum) else a.f.round(lo.k if isinstance(lo, _StraightWeak) else lo)
        return _MixedStraightNum(_clamp_min(a.v, lv), a.f)

    @staticmethod
    def div(a, b):
        return a / b

    @staticmethod
    def le(a, b) -> bool:
        if isinstance(b, _StraightWeak):
            b = b.k
        return bool(a.v <= (b.v if isinstance(b, _StraightNum) else b))

    @staticmethod
    def value(a):
        return a.v


# --- Compiled formulas -------------------------------------------------------------------------
#
# The algebras above evaluate a formula through one Python object per intermediate and one method
# call per operation; for RawExact and Tracked that overhead is most of the time. `Compiled` runs
# the formula once through a recording algebra (`_Recorder`) that performs every operation in the
# real algebra and writes down what was done: the operation, its operands, and the outcome of each
# comparison (`le`). From those traces an emitter generates straight-line Python code that performs
# the same operations, with the same functions, arguments, precision, rounding and evaluation
# order, on the raw values (mpmath tuples for RawExact; the five binary64/bool fields of a TNum for
# Tracked).
#
# Why the compiled code cannot change a result:
# * A formula is plain Python over the algebra: with its keyword parameters fixed, the only
#   data-dependent control flow is the outcome of `le` (a value used in any other way, e.g. `if x:`
#   or `x < y`, raises NotTraceable and the generic algebra is used). The generated code
#   re-evaluates every comparison, with the algebra's own `le`, and returns None where an outcome
#   differs from every recorded trace; the caller then records a new trace on that point (or, past
#   MAX_TRACES, evaluates generically).
# * Each emitted line is the body of the corresponding algebra method, written out with the same
#   operand order and the same expression structure (binary64 arithmetic is not associative, so
#   `e + rel * u * fz + eta` stays exactly that; `rel * u` is formed once, the same product), and
#   calls the same mpmath.libmp functions with the same precision and rounding mode. Python's
#   `max(a, b)` is written `b if b > a else a`, which is its definition (NaN operands included).
#   Constants are the very values the algebra's `const` returns (for Tracked, from the same
#   per-instance cache), computed while tracing under the same mpmath working precision that the
#   key of the compiled program records.
# * The sign or payload of a NaN produced by binary64 arithmetic is not part of any result: CPython
#   itself gives different NaN signs for the same `a + b` depending on whether the bytecode has
#   been specialised; every consumer tests `b != b`.
# * tests/test_reference_fastpath.py compares compiled and generic evaluation bit for bit (NaN for
#   NaN) over random points, special values, every loss, parameter set, order and format.

MAX_TRACES = 16  # per compiled program: one per pattern of comparison outcomes


class NotTraceable(Exception):
    """The formula used a value in a way the recorder does not model: use the generic algebra."""


class _Node:
    __slots__ = ("r", "i", "val")

    def __init__(self, r, i, val):
        self.r = r
        self.i = i
        self.val = val

    def _n(self, b):
        return b if type(b) is _Node else self.r.const(b)

    # a Python number operand x: RawExact converts it exactly (to_mpf), Tracked takes const(x): both
    # are what `const(x)` returns, so it is recorded as a constant; the reflected operators keep the
    # algebras' operand order (__radd__/__rmul__ are __add__/__mul__ with the number second)
    def __add__(self, b):
        b = self._n(b)
        return self.r.op("add", self.val + b.val, self, b)

    __radd__ = __add__

    def __sub__(self, b):
        b = self._n(b)
        return self.r.op("sub", self.val - b.val, self, b)

    def __rsub__(self, b):
        b = self._n(b)
        return self.r.op("sub", b.val - self.val, b, self)

    def __mul__(self, b):
        b = self._n(b)
        return self.r.op("mul", self.val * b.val, self, b)

    __rmul__ = __mul__

    def __truediv__(self, b):
        b = self._n(b)
        return self.r.op("div", self.val / b.val, self, b)

    def __rtruediv__(self, b):
        b = self._n(b)
        return self.r.op("div", b.val / self.val, b, self)

    def __neg__(self):
        return self.r.op("neg", -self.val, self)

    def _untraceable(self, *_):
        raise NotTraceable("a traced value was used outside the algebra")

    __bool__ = __float__ = __int__ = __index__ = __abs__ = __pow__ = __rpow__ = _untraceable
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _untraceable
    __hash__ = None


class Param(int):
    """An integer keyword parameter (the 'mean' N) passed to a compiled formula at call time rather
    than compiled in, so that one program serves every N. While tracing it may only be compared
    with 1 (the caller keys programs by `N == 1`, the formulas' only test) and handed to
    `A.const`; anything else raises NotTraceable, so a formula that used it otherwise could not be
    compiled for one value and run for another."""

    def __new__(cls, name: str, value: int):
        obj = int.__new__(cls, value)
        obj.name = name
        return obj

    def __eq__(self, other):
        if type(other) is int and other == 1:
            return int(self) == 1
        raise NotTraceable("a call-time parameter compared with something other than 1")

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = int.__hash__

    def _untraceable(self, *_):
        raise NotTraceable("a call-time parameter used outside A.const")

    __lt__ = __le__ = __gt__ = __ge__ = __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _untraceable
    __truediv__ = __rtruediv__ = __floordiv__ = __mod__ = __pow__ = __neg__ = __abs__ = _untraceable
    __float__ = __index__ = __bool__ = _untraceable


class _Recorder:
    """Evaluates a formula in a real algebra (RawExact or Tracked) and records the operations."""

    def __init__(self, real, operands):
        self.real = real
        self.operands = operands
        self.events = []
        self.n_inp = 0

    def _new(self, val, ev):
        node = _Node(self, len(self.events), val)
        self.events.append(ev)
        return node

    def op(self, name, val, *args):
        return self._new(val, (name,) + tuple(a.i for a in args))

    def inp(self, v):
        k = self.n_inp
        if k >= len(self.operands) or v is not self.operands[k]:
            raise NotTraceable("operands taken out of order")
        self.n_inp += 1
        return self._new(self.real.inp(v), ("inp", k))

    def const(self, c):
        if type(c) is Param:  # a parameter passed at call time: its value is not part of the trace
            return self._new(self.real.const(int(c)), ("param", c.name))
        return self._new(self.real.const(c), ("const", c))

    def exp(self, a):
        return self.op("exp", self.real.exp(a.val), a)

    def log(self, a):
        return self.op("log", self.real.log(a.val), a)

    def lgamma(self, a):
        # not compiled: the emitters write out exp and log only (a formula using lgamma, the
        # distribution subjects', is evaluated by the generic algebras)
        raise NotTraceable("lgamma is evaluated generically")

    def div(self, a, b):
        a, b = a._n(a), a._n(b)
        return self.op("div", self.real.div(a.val, b.val), a, b)

    def clamp_min(self, a, lo):
        return self.op("clamp", self.real.clamp_min(a.val, lo.val), a, lo)

    def le(self, a, b):
        if type(a) is not _Node:
            raise NotTraceable("comparison of a literal")
        if type(b) is _Node:
            out = bool(self.real.le(a.val, b.val))
            ev = ("le", a.i, ("n", b.i), out)
        else:
            out = bool(self.real.le(a.val, b))
            ev = ("le", a.i, ("l", b), out)
        self.events.append(ev)
        return out


def _same_event(a, b) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "le":
        return a[:3] == b[:3]
    if a[0] == "const":  # compare constants exactly (an mpf and a float may compare equal)
        return type(a[1]) is type(b[1]) and a[1] == b[1]
    return a == b


class Compiled:
    """A formula compiled for one algebra instance with its keyword parameters fixed.

    `prog(*args)` returns what the emitter makes of the formula's outputs (the emitter's `operand`
    turns each argument into what the algebra's `inp` takes), or None where the formula cannot be
    compiled or the operands need an unseen pattern of comparison outcomes past MAX_TRACES: the
    caller then evaluates generically. `context` is entered while tracing (the working precision
    that the formula's own constants, such as 2*pi, are computed at). An emitter with a `companion`
    (algebra, context) also gets the events of the same formula traced in that algebra.
    """

    def __init__(self, formula, params: dict, real, emitter, context=None, dynamic: tuple = ()):
        self.formula = formula
        self.params = params
        self.dynamic = dynamic  # parameters passed at call time, after the operands (see Param)
        self.real = real
        self.emitter = emitter
        self.context = context
        self.traces = []
        self.fn = None
        self.broken = False
        self.source = ""

    def __call__(self, *args):
        fn = self.fn
        if fn is not None:
            out = fn(*args)
            if out is not None:
                return out
        if self.broken or len(self.traces) >= MAX_TRACES:
            return None
        try:
            self._trace(args)
        except Exception:  # NotTraceable, or a formula the recorder cannot follow: evaluate generically
            self.broken = True
            self.fn = None
            return None
        return self.fn(*args)

    def _record(self, real, context, operands, params):
        rec = _Recorder(real, operands)
        if context is not None:
            with context():
                outs = self.formula(rec, *(rec.inp(o) for o in operands), **params)
        else:
            outs = self.formula(rec, *(rec.inp(o) for o in operands), **params)
        if type(outs) is not tuple or any(type(o) is not _Node for o in outs):
            raise NotTraceable("an output is not a traced value")
        return rec.events, tuple(o.i for o in outs)

    def _trace(self, args):
        n = len(args) - len(self.dynamic)
        operands = tuple(self.emitter.operand(a) for a in args[:n])
        params = dict(self.params)
        for name, value in zip(self.dynamic, args[n:]):
            params[name] = Param(name, value)
        events, outs = self._record(self.real, self.context, operands, params)
        companion = None
        if getattr(self.emitter, "companion", None) is not None:
            real2, context2 = self.emitter.companion
            companion, outs2 = self._record(real2, context2, operands, params)
            if outs2 != outs or len(companion) != len(events) or any(
                    (a[0] != b[0]) if a[0] == "const" else (a != b) for a, b in zip(events, companion)):
                raise NotTraceable("the companion evaluation took another path")
        traces = self.traces + [(events, outs, companion)]
        src, ns = _generate(traces, self.emitter, n, self.dynamic)
        code = compile(src, f"<compiled {getattr(self.formula, '__module__', '?')}.element>", "exec")
        exec(code, ns)
        self.traces = traces
        self.fn = ns["f"]
        self.source = src


def _generate(traces, emitter, n_args, dynamic=()):
    """Python source of one function evaluating every recorded trace (a decision tree on `le`)."""
    ns = emitter.namespace()
    lines = [f"def f({', '.join([f'x{i}' for i in range(n_args)] + [f'p_{d}' for d in dynamic])}):"]

    def walk(group, start, depth, names):
        ind = "    " * depth
        first, _, comp = group[0]
        i = start
        while True:
            ends = [i == len(g[0]) for g in group]
            if any(ends):
                if not all(ends) or any(g[1] != group[0][1] for g in group):
                    raise NotTraceable("traces end differently")
                lines.append(ind + emitter.ret(group[0][1], names))
                return
            ev = first[i]
            if any(not _same_event(g[0][i], ev) for g in group):
                raise NotTraceable("the formula is not determined by its comparisons")
            if ev[0] == "le":
                lines.append(ind + f"if {emitter.le(ev, names, ns, i)}:")
                for outcome in (True, False):
                    sub = [g for g in group if g[0][i][3] is outcome]
                    if sub:
                        walk(sub, i + 1, depth + 1, dict(names))
                    else:
                        lines.append(ind + "    return None")
                    if outcome:
                        lines.append(ind + "else:")
                return
            # common subexpressions: an operation already performed on the same operands gives the
            # same value (the functions are pure), so node i is node j under another name
            sig = _signature(ev)
            j = names.get(("cse", sig)) if sig is not None else None
            if j is not None:
                emitter.alias(i, j, names)
            else:
                if sig is not None:
                    names[("cse", sig)] = i
                for line in emitter.op(ev, i, names, ns, comp[i] if comp is not None else None):
                    lines.append(ind + line)
            i += 1

    walk(traces, 0, 1, {})
    return "\n".join(lines) + "\n", ns


def _signature(ev):
    """What identifies an operation's value: its kind and operands (constants by type and value)."""
    if ev[0] == "inp":
        return None
    if ev[0] == "param":
        return ev
    if ev[0] == "const":
        c = ev[1]
        return ("const", type(c), c) if c == c else None
    return ev


def _rlog(t, prec):
    """RawExact.log on a raw value."""
    if t == _lm.fnan:
        return _lm.fnan
    try:
        return _lm.mpf_log(t, prec, "n")
    except _lm.ComplexResult:
        return _lm.fnan


# exp and log are most of an exact evaluation (3 to 5 us each at 150 bits, against 0.2 to 0.4 us for
# an addition or a product), and their arguments repeat: Poisson targets are counts, log(t) and
# log(2*pi*t) recur across elements and checks. They are pure functions of (argument, precision),
# so a memo returns exactly what the call would.
_MEMO_MAX = 1 << 15
_EXP_MEMO: dict = {}
_LOG_MEMO: dict = {}


def _memo_exp(t, prec):
    """mpf_exp(t, prec, 'n'), memoised."""
    k = (t, prec)
    r = _EXP_MEMO.get(k)
    if r is None:
        r = _lm.mpf_exp(t, prec, "n")
        if len(_EXP_MEMO) >= _MEMO_MAX:
            _EXP_MEMO.clear()
        _EXP_MEMO[k] = r
    return r


def _memo_log(t, prec):
    """_rlog(t, prec) (RawExact.log), memoised."""
    k = (t, prec)
    r = _LOG_MEMO.get(k)
    if r is None:
        r = _rlog(t, prec)
        if len(_LOG_MEMO) >= _MEMO_MAX:
            _LOG_MEMO.clear()
        _LOG_MEMO[k] = r
    return r


def clear_memos() -> None:
    _EXP_MEMO.clear()
    _LOG_MEMO.clear()


def _rclamp(a, lo):
    """RawExact.clamp_min on raw values."""
    if a == _lm.fnan or lo == _lm.fnan:
        return _lm.fnan
    return a if _lm.mpf_ge(a, lo) else lo


def _rle(a, b):
    """RawExact.le on raw values."""
    if a == _lm.fnan:
        return False
    return _lm.mpf_le(a, b)


# Two libmp calls written out where that is exactly what mpmath runs: with the gmpy backend
# mpf_mul is gmpy_mpf_mul, whose result for nonzero mantissas is normalize1(sign, product, exponent
# sum, bitcount, prec, rnd); mpf_sub(s, t, prec, rnd) is mpf_add(s, t, prec, rnd, 1).
_FAST_MUL = _lm.mpf_mul is getattr(_libmpf, "gmpy_mpf_mul", None)
_FAST_SUB = _lm.mpf_sub is _libmpf.mpf_sub and _lm.mpf_add is _libmpf.mpf_add


class RawEmitter:
    """Code for RawExact(prec) on raw operands (`from_float` of each stored value, which is what
    RawExact.inp makes of it): each intermediate is an mpmath raw tuple; returns the outputs'."""

    companion = None

    def __init__(self, alg: RawExact):
        self.alg = alg
        self.prec = alg.prec

    @staticmethod
    def operand(x):
        return mpmath.mp.make_mpf(x)  # RawExact.inp takes an mpf's raw value as it is

    def namespace(self):
        return {"_add": _lm.mpf_add, "_sub": _lm.mpf_sub, "_mul": _lm.mpf_mul, "_div": _raw_div, "_neg": _lm.mpf_neg,
                "_mexp": _memo_exp, "_mlog": _memo_log, "_clamp": _rclamp, "_le": _rle,
                "_norm1": _libmpf.normalize1, "_bitcount": _libmpf.bitcount}

    def value_op(self, ev, i, names, ns):
        """The line computing node i's raw value (shared with CertEmitter)."""
        kind, P, n = ev[0], self.prec, f"n{i}"
        if kind == "inp":
            names[i] = f"x{ev[1]}"
            return []
        if kind == "const":
            ns[f"K{i}"] = self.alg.const(ev[1]).t
            names[i] = f"K{i}"
            return []
        names[i] = n
        if kind == "param":  # RawExact.const of the value passed at call time
            ns["_rconst"] = self.alg.const
            return [f"{n} = _rconst(p_{ev[1]}).t"]
        a = names[ev[1]]
        if kind == "mul" and _FAST_MUL:
            b = names[ev[2]]  # gmpy_mpf_mul's own lines for two nonzero mantissas, else the call
            return [f"{n} = _norm1({a}[0] ^ {b}[0], _p, {a}[2] + {b}[2], _bitcount(_p), {P}, 'n') "
                    f"if (_p := {a}[1] * {b}[1]) else _mul({a}, {b}, {P}, 'n')"]
        if kind == "sub" and _FAST_SUB:
            return [f"{n} = _add({a}, {names[ev[2]]}, {P}, 'n', 1)"]  # mpf_sub's own body
        if kind in ("add", "sub", "mul"):
            return [f"{n} = _{kind}({a}, {names[ev[2]]}, {P}, 'n')"]
        if kind == "div":
            return [f"{n} = _div({a}, {names[ev[2]]}, {P})"]
        if kind == "neg":
            return [f"{n} = _neg({a})"]
        if kind == "exp":
            return [f"{n} = _mexp({a}, {P})"]
        if kind == "log":
            return [f"{n} = _mlog({a}, {P})"]
        if kind == "clamp":
            return [f"{n} = _clamp({a}, {names[ev[2]]})"]
        raise NotTraceable(kind)

    def op(self, ev, i, names, ns, companion_ev=None):
        return self.value_op(ev, i, names, ns)

    @staticmethod
    def alias(i, j, names):
        names[i] = names[j]
        if ("D", j) in names:
            names[("D", i)] = names[("D", j)]

    def le(self, ev, names, ns, i):
        _, a, (tag, b), _ = ev
        if tag == "n":
            rhs = names[b]
        else:
            ns[f"L{i}"] = to_mpf(b)._mpf_
            rhs = f"L{i}"
        return f"_le({names[a]}, {rhs})"

    def ret(self, ids, names):
        return f"return ({', '.join(names[k] for k in ids)},)"


# --- a certificate for skipping the lower Ziv evaluation --------------------------------------------
#
# REF-PRECISION evaluates at p1 and p2 = p1 + 32 bits and accepts when every output rounds to the
# same value in the target format from both. `CertEmitter` generates the p2 evaluation (the same
# lines as RawEmitter, hence the same values) together with, per intermediate z, an integer D(z)
# with |z1 - z2| <= 2^D(z), where z1 and z2 are what the p1 and p2 evaluations compute (not the
# exact value: constants such as 2*pi are compared as both evaluations form them, exactly).
# `certain()` then checks that z2 is further than 2^D from every rounding boundary (midpoint) of the
# format; if so z1 rounds as z2 does, the comparison would have agreed, and the p1 evaluation is not
# needed. Where the certificate does not hold (or cannot be formed) the p1 evaluation is run and
# compared as before, so the result (values, precision, converged flag) is always the same.
#
# The bound, with M(z) >= log2 of max(|z1|, |z2|) formed from z2's exponent as max(mag(z2), D)+1,
# and the facts it rests on:
# * mpf_add/sub/mul round correctly (one rounding of the exact result); mpf_div and the libm-style
#   functions are charged more than they commit: 1 ulp for div, 2^4 ulp for exp and log (mpmath
#   evaluates them with 14 and 20 guard bits, plus the bits lost to cancellation near 1, and rounds
#   once). An ulp at precision p of a value below 2^S is at most 2^(S - p + 1).
# * a +- b: |s1 - s2| <= 2^Da + 2^Db; mul: <= 2^(Ma + Db) + 2^(Mb + Da); a / b with
#   |b2| >= 2^(mag(b2) - 1) and Db <= mag(b2) - 3 (so |b1|, |b2| >= 2^(mag(b2) - 2) = 2^Lb):
#   <= 2^(Da - Lb) + 2^(Ma + Db - 2 Lb); exp with Da <= -2: <= exp(a2) e^(2^Da) 2^Da
#   <= 2^(mag(z2) + 2 + Da); log of a2 > 0 with Da <= mag(a2) - 3: <= 2^(Da - mag(a2) + 2);
#   neg and max (the clamp) are 1-Lipschitz. Four terms of at most 2^m sum to at most 2^(m + 2).
# * Any other case (a divisor or log argument that may be zero or change sign, a special value,
#   a magnitude beyond 2^+-LIM) gives D = BIG, and a comparison (`le`) of operands that are not
#   both exact makes the certificate unavailable (the program is not built).
# * Exact values (operands, constants the same at both precisions) have D = NEG; a D below NEG/2
#   can only come from exact zeros and exact values (every inexact operation adds a rounding term
#   of at least 2^(-2 LIM - p1)), so it means z1 == z2.
#
# certain(): with q the format's quantum at z2 (2^(max(E, emin) - p + 1), E = floor(log2 |z2|)),
# require 2^D < q/8 and |z2 - nearest midpoint of z2's binade| > 2^D. Moving by less than q/8
# cannot reach a midpoint of the neighbouring binades either (below 2^E the nearest one is q/4 below,
# above 2^(E+1) it is q above; the subnormal quantum is uniform), and the overflow threshold
# max + ulp/2 is a midpoint of the top binade. So round_F(z1) == round_F(z2).

NEG = -(1 << 60)  # D of an exact value
BIG = 1 << 62  # D where no bound is formed
LIM = 1 << 40  # magnitudes beyond 2^+-LIM (exp of huge operands) are not bounded
LIB_ULP = 4  # log2 of the ulps charged to mpf_exp and mpf_log


def _mag_expr(n):
    """Expression: mag(n) = exponent above the leading bit (|n| < 2^mag), NEG for 0, BIG for specials
    and for magnitudes beyond 2^+-LIM."""
    return (f"((_m if {-LIM} <= (_m := {n}[2] + {n}[3]) <= {LIM} else {BIG}) if {n}[1] "
            f"else ({NEG} if {n} == _FZERO else {BIG}))")


_TMP = iter(range(1 << 62))


def _mx(*xs):
    """Expression: max of integer expressions, inline (the NEG literal dropped where another term
    exists); walrus temporaries keep each compound term evaluated once."""
    xs = [x for x in xs if x != "NEG"] or ["NEG"]
    out = xs[0]
    for x in xs[1:]:
        if out.isidentifier() and x.isidentifier():
            out = f"({out} if {out} > {x} else {x})"
        else:
            k = next(_TMP)
            out = f"(_a{k} if (_a{k} := {out}) > (_b{k} := {x}) else _b{k})"
    return out


class _InfoView:
    """names[("D", i)]: the (D, mag, M) expressions of node i, kept in the per-branch names dict."""

    __slots__ = ("names",)

    def __init__(self, names):
        self.names = names

    def __getitem__(self, i):
        return self.names[("D", i)]

    def __setitem__(self, i, v):
        self.names[("D", i)] = v


def _mag_of(t) -> int:
    _, man, exp, bc = t
    if not man:
        return NEG if t == _lm.fzero else BIG
    m = exp + bc
    return m if -LIM <= m <= LIM else BIG


class CertEmitter(RawEmitter):
    """Code for RawExact(p2) that also returns D per output (see the comment above)."""

    def __init__(self, alg: RawExact, lower: RawExact, lower_context):
        super().__init__(alg)
        self.p1 = lower.prec
        self.lower = lower
        self.companion = (lower, lower_context)

    def namespace(self):
        ns = super().namespace()
        ns.update(NEG=NEG, BIG=BIG, LIM=LIM, _FZERO=_lm.fzero)
        return ns

    def op(self, ev, i, names, ns, companion_ev=None):
        kind = ev[0]
        lines = self.value_op(ev, i, names, ns)
        n = names[i]
        P1 = self.p1
        D, g, M = f"D{i}", f"g{i}", f"M{i}"
        info = _InfoView(names)
        if kind == "inp":  # the same value at both precisions
            lines.append(f"{g} = {_mag_expr(n)}")
            info[i] = ("NEG", g, f"({g} + 1)")
            return lines
        if kind == "param":  # RawExact.const of an integer: to_mpf, exact, whatever the precision
            lines.append(f"{g} = {_mag_expr(n)}")
            info[i] = ("NEG", g, f"({g} + 1)")
            return lines
        if kind == "const":
            c2 = self.alg.const(ev[1]).t
            c1 = self.lower.const(companion_ev[1]).t
            d = NEG if c1 == c2 else _mag_of(_lm.mpf_sub(c1, c2))
            gv = _mag_of(c2)
            ns[D], ns[g], ns[M] = d, gv, max(gv, d) + 1
            info[i] = ("NEG" if d == NEG else D, g, M)
            return lines
        Da, ga, Ma = info[ev[1]]
        if kind == "neg":
            info[i] = info[ev[1]]
            return lines
        if kind == "clamp":
            Dl, gl, Ml = info[ev[2]]
            d = _mx(Da, Dl)
            if d == "NEG":  # the larger of two exact values is exact
                lines.append(f"{g} = {_mag_expr(n)}")
                info[i] = ("NEG", g, f"({g} + 1)")
                return lines
        elif kind in ("add", "sub"):
            Db, gb, Mb = info[ev[2]]
            d = f"{_mx(Da, Db, f'{_mx(Ma, Mb)} + {2 - P1}')} + 2"
        elif kind == "mul":
            Db, gb, Mb = info[ev[2]]
            terms = [f"{Ma} + {Db}" if Db != "NEG" else "NEG", f"{Mb} + {Da}" if Da != "NEG" else "NEG",
                     f"{Ma} + {Mb} + {1 - P1}"]
            d = f"{_mx(*terms)} + 2"
        elif kind == "div":
            Db, gb, Mb = info[ev[2]]
            b = names[ev[2]]
            lines.append(f"L{i} = {gb} - 2")
            terms = [f"{Da} - L{i}" if Da != "NEG" else "NEG", f"{Ma} + {Db} - 2 * L{i}" if Db != "NEG" else "NEG",
                     f"{Ma} - L{i} + {1 - P1}"]
            d = f"({_mx(*terms)} + 2) if ({b}[1] and {gb} < BIG and {Db} <= {gb} - 3) else BIG"
        elif kind == "exp":
            lines.append(f"{g} = {_mag_expr(n)}")
            d = f"({_mx(f'{g} + 2 + {Da}' if Da != 'NEG' else 'NEG', f'{g} + {2 + LIB_ULP + 1 - P1}')} + 2)"
            if Da != "NEG":
                d = f"{d} if {Da} <= -2 else BIG"
            lines.append(f"{D} = {d}")
            lines.append(f"{M} = ({g} if {g} > {D} else {D}) + 1")
            info[i] = (D, g, M)
            return lines
        elif kind == "log":
            a = names[ev[1]]
            lines.append(f"{g} = {_mag_expr(n)}")
            prop = f"{Da} - {ga} + 2" if Da != "NEG" else "NEG"
            lines.append(f"Z{i} = {_mx(f'{g} + 1', prop)} + 1")
            d = f"({_mx(prop, f'Z{i} + {LIB_ULP + 1 - P1}')} + 2)"
            d = f"{d} if ({a}[0] == 0 and {a}[1] and {ga} < BIG and {Da} <= {ga} - 3) else BIG"
            lines.append(f"{D} = {d}")
            lines.append(f"{M} = ({g} if {g} > {D} else {D}) + 1")
            info[i] = (D, g, M)
            return lines
        else:
            raise NotTraceable(kind)
        lines.append(f"{D} = {d}")
        lines.append(f"{g} = {_mag_expr(n)}")
        lines.append(f"{M} = ({g} if {g} > {D} else {D}) + 1")
        info[i] = (D, g, M)
        return lines

    def le(self, ev, names, ns, i):
        _, a, (tag, b), _ = ev
        if names[("D", a)][0] != "NEG" or (tag == "n" and names[("D", b)][0] != "NEG"):
            raise NotTraceable("a comparison of inexact values: no certificate")
        return super().le(ev, names, ns, i)

    def ret(self, ids, names):
        return (f"return ({', '.join(names[k] for k in ids)},), "
                f"({', '.join(names[('D', k)][0] for k in ids)},)")


def certain(t: tuple, d: int, fmt) -> bool:
    """Does every number within 2^d of the raw value t round to the same value in fmt as t does?"""
    sign, man, exp, bc = t
    if not man:  # zero: only if provably exact; inf, nan: never
        return d < NEG // 2 and t == _lm.fzero
    top = exp + bc - 1
    q = (top if top > fmt.emin else fmt.emin) - fmt.p + 1  # log2 of the format's quantum at t
    if d >= q - 3:
        return False
    if exp >= q:  # t is a number of the format: the midpoints are q/2 away
        return True
    shift = q - exp
    if shift > bc + 1:  # |t| < q/4: the midpoint q/2 is more than q/4 > 2^d away (nor is 2^shift formed)
        return True
    dist = (man & ((1 << shift) - 1)) - (1 << (shift - 1))  # from the midpoint, in units of 2^exp
    if dist < 0:
        dist = -dist
    return dist > (1 << (d - exp)) if d >= exp else dist > 0


def _fexp(v):
    """math.exp as Tracked.exp uses it (overflow: inf)."""
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


class TrackedEmitter:
    """Code for Tracked(fmt): each intermediate is five locals, v (value), e (bound), o (overflow),
    p (parts), m (peak) as in TNum, plus f, the name of |v| where one is at hand.

    Returns (bounds, overflow flags, part magnitudes, peaks) of the outputs, the TNum fields that
    elementwise keeps.
    """

    companion = None

    def __init__(self, alg: Tracked):
        self.alg = alg

    @staticmethod
    def operand(x):
        return x

    def namespace(self):
        return {"U1": 1.0 * self.alg.u, "UL": LIBM_U * self.alg.u, "eta": self.alg.eta, "maxf": self.alg.maxf,
                "_fexp": _fexp, "_expm1": math.expm1, "_log1p": math.log1p, "_mlog": math.log, "_fdiv": _fdiv,
                "nan": math.nan, "inf": math.inf}

    @staticmethod
    def alias(i, j, names):
        names[i] = names[j]

    @staticmethod
    def _max(a, b):
        return f"({b} if {b} > {a} else {a})"  # builtin max(a, b), NaN included

    def _make(self, i, z, e, o, ru, p, m):
        """Tracked._make: fz = |z|; e + rel*u*fz + eta; o or fz > maxf; p or fz; m if m > fz else fz."""
        lines = [f"v{i} = {z}", f"f{i} = abs(v{i})", f"e{i} = ({e}) + {ru} * f{i} + eta",
                 f"o{i} = ({o}) or f{i} > maxf"]
        if p is None:
            p_name = f"f{i}"
        else:
            lines.append(f"p{i} = {p}")
            p_name = f"p{i}"
        lines += [f"m{i} = {m}", f"m{i} = m{i} if m{i} > f{i} else f{i}"]
        return lines, (f"v{i}", f"e{i}", f"o{i}", p_name, f"m{i}", f"f{i}")

    def op(self, ev, i, names, ns, companion_ev=None):
        kind = ev[0]
        mx = self._max
        if kind == "inp":
            x = f"x{ev[1]}"
            names[i] = (x, "0.0", "False", f"a{i}", f"a{i}", f"a{i}")  # TNum(v, 0, False, |v|, |v|)
            return [f"a{i} = abs({x})"]
        if kind == "param":  # Tracked.const of the value passed at call time (its cached TNum)
            ns["_tconst"] = self.alg.const
            names[i] = tuple(f"{f}{i}" for f in "veopmf")
            return [f"c{i} = _tconst(p_{ev[1]})", f"v{i} = c{i}.value", f"e{i} = c{i}.bound", f"o{i} = c{i}.overflow",
                    f"p{i} = c{i}.parts", f"m{i} = c{i}.peak", f"f{i} = abs(v{i})"]
        if kind == "const":
            c = self.alg.const(ev[1])  # the instance's cached constant, exactly what Tracked uses
            for f, val in zip("veopmf", (c.value, c.bound, c.overflow, c.parts, c.peak, abs(c.value))):
                ns[f"K{f}{i}"] = val
            names[i] = tuple(f"K{f}{i}" for f in "veopmf")
            return []
        va, ea, oa, pa, ma, fa = names[ev[1]]
        if kind == "neg":
            names[i] = (f"v{i}", ea, oa, pa, ma, fa)
            return [f"v{i} = -{va}"]
        if kind == "exp":
            lines = [f"z{i} = _fexp({va})", f"d{i} = abs(z{i}) * _expm1({ea}) if {ea} else 0.0"]
            more, names[i] = self._make(i, f"z{i}", f"d{i}", oa, "UL", None, ma)
            return lines + more
        if kind == "log":
            lines = [f"z{i} = nan if ({va} != {va} or {va} < 0) else (-inf if {va} == 0 else _mlog({va}))",
                     f"d{i} = 0.0 if {ea} == 0.0 else (-_log1p(-{ea} / {fa}) if {ea} < {fa} else inf)"]
            more, names[i] = self._make(i, f"z{i}", f"d{i}", oa, "UL", None, ma)
            return lines + more
        vb, eb, ob, pb, mb, fb = names[ev[2]]
        if kind == "clamp":
            names[i] = (f"v{i}", f"e{i}", f"o{i}", f"f{i}", f"m{i}", f"f{i}")
            return [f"v{i} = nan if ({va} != {va} or {vb} != {vb}) else ({va} if {va} >= {vb} else {vb})",
                    f"e{i} = {mx(ea, eb)}", f"o{i} = {oa} or {ob}", f"f{i} = abs(v{i})",
                    f"m{i} = {mx(mx(ma, mb), f'f{i}')}"]
        if kind in ("add", "sub"):
            sym = "+" if kind == "add" else "-"
            lines, names[i] = self._make(i, f"{va} {sym} {vb}", f"{ea} + {eb}", f"{oa} or {ob}", "U1",
                                         mx(pa, pb), mx(ma, mb))
            return lines
        if kind == "mul":
            lines = [f"d{i} = {fb} * {ea} + {fa} * {eb} + {ea} * {eb}", f"q{i} = {fa} * {pb}", f"r{i} = {pa} * {fb}"]
            more, names[i] = self._make(i, f"{va} * {vb}", f"d{i}", f"{oa} or {ob}", "U1", mx(f"q{i}", f"r{i}"),
                                        mx(ma, mb))
            return lines + more
        if kind == "div":
            lines = [f"z{i} = {va} / {vb} if {vb} else _fdiv({va}, {vb})"]  # _fdiv: the same, or IEEE x/0
            if ea == "0.0" and eb == "0.0":
                lines.append(f"d{i} = 0.0")
            else:
                lines += [f"if {eb} == 0.0 and {ea} == 0.0:", f"    d{i} = 0.0",
                          f"elif {eb} < {fb}:", f"    d{i} = ({ea} + abs(z{i}) * {eb}) / ({fb} - {eb})",
                          "else:", f"    d{i} = inf"]
            more, names[i] = self._make(i, f"z{i}", f"d{i}", f"{oa} or {ob}", "U1",
                                        f"_fdiv({pa}, {fb}) if {fb} else abs(z{i})", mx(ma, mb))
            return lines + more
        raise NotTraceable(kind)

    def le(self, ev, names, ns, i):
        _, a, (tag, b), _ = ev
        if tag == "n":
            rhs = names[b][0]
        else:
            ns[f"L{i}"] = b  # Tracked.le compares a.v with a literal as it is
            rhs = f"L{i}"
        return f"{names[a][0]} <= {rhs}"

    def ret(self, ids, names):
        outs = [names[k] for k in ids]
        fields = ["(" + ", ".join(o[k] for o in outs) + ",)" for k in (1, 2, 3, 4)]
        return f"return ({', '.join(fields)})"
