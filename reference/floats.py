"""Binary floating-point formats, exactly.

Everything here works on mpmath numbers: decoding a stored value into the exact rational it
denotes, rounding an exact value to the nearest representable one (ties to even, subnormals and
overflow included), and the quantities the error allowance is built from (unit roundoff, ulp,
smallest subnormal). No float framework is asked for a value.

Spec: FMT-* clauses in reference/SPEC.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import mpmath
import numpy as np
from mpmath import mpf
from mpmath.libmp import MPZ_ONE as _ONE
from mpmath.libmp import finf, fninf, from_float, from_man_exp, fzero
from mpmath.libmp import normalize as _normalize

__all__ = ["Format", "FORMATS", "FLOAT_DTYPES", "format_of", "to_mpf", "any_subnormal"]

INF = mpf("inf")
ZERO = mpf(0)
NAN = mpf("nan")


@dataclass(frozen=True)
class Format:
    """An IEEE-754-style binary format with `p` significand bits (implicit bit included)."""

    name: str
    p: int  # precision in bits, implicit leading bit included
    emin: int  # exponent of the smallest normal number
    emax: int  # exponent of the largest finite number

    def __post_init__(self):
        two = mpf(2)
        # derived constants, computed once (frozen dataclass: set through object.__setattr__)
        object.__setattr__(self, "u", two ** (-self.p))  # unit roundoff: half an ulp of 1
        object.__setattr__(self, "eta", two ** (self.emin - self.p + 1))  # smallest subnormal
        object.__setattr__(self, "tiny", two ** self.emin)  # smallest normal
        object.__setattr__(self, "max", (2 - two ** (1 - self.p)) * two**self.emax)

    def round(self, x) -> mpf:
        """Correctly round an exact value to this format (nearest, ties to even).

        Subnormals are produced as such; a magnitude that rounds above `max` becomes +-inf.
        """
        if not isinstance(x, mpf):
            x = mpf(x)
        t = x._mpf_
        if not t[1]:  # zero, inf or nan
            return x
        r = self.round_raw(t)
        if r is fzero:
            return ZERO  # mpmath has no signed zero; the spec never relies on it
        if r is finf:
            return INF
        if r is fninf:
            return -INF
        return mpmath.mp.make_mpf(r)

    def round_raw(self, t: tuple) -> tuple:
        """`round` on mpmath's raw number: returns fzero, finf, fninf, `t` itself or a new tuple.

        Rounding to `p` bits (fewer below 2^emin: those above the subnormal quantum) is mpmath's
        `normalize` with rounding 'n' (nearest, ties to even), done in C by the gmpy backend.
        """
        sign, man, exp, bc = t
        if not man:  # zero, inf or nan
            return t
        top = exp + bc - 1
        if top >= self.emin:
            if bc > self.p:
                t = _normalize(sign, man, exp, bc, self.p, "n")
        else:
            keep = top - self.emin + self.p  # significant bits at or above the subnormal quantum
            if keep < bc:
                if keep > 0:
                    t = _normalize(sign, man, exp, bc, keep, "n")
                elif keep < 0 or man == 1:  # below half the smallest subnormal, or exactly half (even: 0)
                    return fzero
                else:  # between half the smallest subnormal and it
                    return (sign, _ONE, self.emin - self.p + 1, 1)
        if t[2] + t[3] - 1 > self.emax:
            return fninf if sign else finf
        return t

    def ulp(self, x) -> mpf:
        """The spacing of this format's numbers at |x| (x finite): 2^(max(E, emin) - p + 1)."""
        if not isinstance(x, mpf):
            x = mpf(x)
        return mpmath.mp.make_mpf(self.ulp_raw(x._mpf_))

    def ulp_raw(self, t: tuple) -> tuple:
        """`ulp` on mpmath's raw number: the normalized power of two 2^(max(E, emin) - p + 1)."""
        _, man, exp, bc = t
        top = exp + bc - 1 if man else self.emin
        return from_man_exp(1, (top if top > self.emin else self.emin) - self.p + 1)

    def representable(self, x) -> bool:
        x = mpf(x)
        return (not mpmath.isfinite(x)) or self.round(x) == x


FORMATS = {
    "float16": Format("float16", 11, -14, 15),
    "bfloat16": Format("bfloat16", 8, -126, 127),
    "float32": Format("float32", 24, -126, 127),
    "float64": Format("float64", 53, -1022, 1023),
}
# the floating dtypes the suite knows, narrowest first: the one list every other module uses
FLOAT_DTYPES = tuple(FORMATS)


def format_of(dtype: str) -> Format:
    try:
        return FORMATS[dtype]
    except KeyError:
        raise ValueError(f"{dtype!r} is not a floating-point format the reference knows") from None


def to_mpf(value) -> mpf:
    """The exact value a stored float (Python, NumPy or ml_dtypes scalar) denotes.

    Every supported format widens exactly to binary64; the binary64 value is taken without rounding,
    whatever mpmath's working precision.
    """
    if isinstance(value, mpf):
        return value
    return mpmath.mp.make_mpf(from_float(float(value)))


def any_subnormal(values, fmt: Format) -> bool:
    """Is any of `values` (array-like or scalar, taken exactly as float64) a nonzero magnitude
    below `fmt`'s smallest normal number: a subnormal of that format, or below even its smallest
    subnormal (a value the format flushes or rounds to 0)?"""
    a = np.abs(np.asarray(values, dtype=np.float64))
    return bool(np.any((a > 0) & (a < float(fmt.tiny))))
