"""The tolerance model in one place: every constant of the error allowance and every admission rule.

SPEC chapters 10-11. A candidate's value conforms when it is within the allowance (ALLOW-ELEMENT,
reference/allowance.py computes it from the constants here) or when one of the admission rules
below accepts it: each is named by the clause that grants it, and a verdict records which one did
(`allowance.Verdict.via`, shown in reports). Nothing else accepts a value.
"""

from __future__ import annotations

from mpmath import mpf

from .floats import FORMATS, Format

# --- constants of the allowance ---------------------------------------------------------------------
# ALLOW-LIBM: library error of exp and log, in units of the unit roundoff u (4u = 2 ulp): covers
# correctly rounded libraries and the documented 1-2 ulp of common vendor libraries
LIBM_U = 4.0
# ALLOW-LGAMMA: library error of lgamma (log|Gamma|), in units of u: 16u = 8 ulp. lgamma is harder
# than exp and log and its documented accuracy is lower: glibc lists up to 7 ulp for lgammaf on some
# targets (its libm-test-ulps), Cephes' gammaln (SciPy) and XLA's Lanczos-based lgamma a few ulp away
# from lgamma's zeros at 1 and 2 (where every value the spec asks for, an integer count + 1, is exact)
LGAMMA_U = 16.0
# ALLOW-SAFETY: one documented safety factor over the first-order running error bound
SAFETY = 2
# ALLOW-SUM: the sequential leaf length the summation bound admits (a tree of runs of LEAF terms)
LEAF = 32
# REF-PRECISION (Ziv-style loop): evaluate exactly at p1 and p1 + GUARD bits; accept when every output
# rounds alike at both, else double p1, up to MAX_PREC bits (then the point cannot be judged)
GUARD = 32
MAX_PREC = 4096
# ALLOW-GRAD-ORDER: a gradient whose evaluation peaks within GRAD_EVALUATE of the format's largest
# finite number is offered what the admitted orders (reverse, local-first) give, evaluated; within
# GRAD_HEADROOM (a constant factor 2 or 0.5 moved elsewhere in the product, as an analytic backward
# writing 1/v does) it may also overflow to +-inf or NaN
GRAD_EVALUATE = 16
GRAD_HEADROOM = 2

INF, NAN = mpf("inf"), mpf("nan")
ANY_NONFINITE = (INF, -INF, NAN)


# --- admission rules ----------------------------------------------------------------------------------
def accumulator(fmt: Format) -> Format:
    """ALLOW-SUM / SPECIAL-OVERFLOW: the format a reduction accumulates in: float32 for float16 and
    bfloat16 (PyTorch sums half precision in float32 on CPU and CUDA), else the format itself."""
    return FORMATS["float32"] if fmt.name in ("float16", "bfloat16") else fmt


def partial_sum_overflow(exact, counts, acc: Format) -> tuple:
    """SPECIAL-OVERFLOW, partial sums: the results a sum of finite terms may give although its total
    is finite, because a running sum overflowed the accumulator: +inf where the positive terms add
    up beyond its largest finite number, -inf where the negative ones do, NaN only where both do."""
    pos = sum(c * float(v) for v, c in zip(exact, counts) if v > 0)
    neg = -sum(c * float(v) for v, c in zip(exact, counts) if v < 0)
    alts = ((INF,) if pos > float(acc.max) else ()) + ((-INF,) if neg > float(acc.max) else ())
    return alts + ((NAN,) if len(alts) == 2 else ())


def grad_orders_evaluated(peak: float, cfmt: Format) -> bool:
    """ALLOW-GRAD-ORDER: is a gradient element's evaluation near enough to overflow (its peak within
    GRAD_EVALUATE of the largest finite number) that both admitted orders' IEEE results are offered?"""
    return peak > float(cfmt.max) / GRAD_EVALUATE


def grad_may_overflow(peaks, parts, cfmt: Format) -> bool:
    """ALLOW-GRAD-ORDER: may a gradient element (the sum of the terms with these peaks and part
    magnitudes) come back +-inf or NaN although it is finite? Where a term's evaluation peaks within
    GRAD_HEADROOM of the largest finite number, or the parts, accumulated separately over broadcast
    dimensions, add up beyond it."""
    peaks = list(peaks)
    return any(p > float(cfmt.max) / GRAD_HEADROOM for p in peaks) or (len(peaks) > 1 and sum(parts) > float(cfmt.max))


# what accepted a value: allowance.Verdict.via (recorded per accuracy point in results, shown by reports)
JUDGED = ("allowance", "fail")  # judged by the allowance
ADMISSIONS = {
    "straightforward-ieee": {
        "clauses": ("SPECIAL-OVERFLOW", "ALLOW-GRAD-ORDER", "ALLOW-MIXED"),
        "what": "straightforward IEEE result",
        "label": "accepted by SPECIAL-OVERFLOW / ALLOW-GRAD-ORDER (a straightforward IEEE result)",
    },
    "exact-special": {
        "clauses": ("COMPARE-NAN", "COMPARE-INF", "COMPARE-OVERFLOW"),
        "what": "exact special value",
        "label": "accepted as an exact special value (COMPARE-NAN / COMPARE-INF / COMPARE-OVERFLOW)",
    },
}
