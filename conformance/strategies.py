"""Hypothesis strategies for loss calls: values exactly representable in each dtype, shapes.

Element strategies mix the edges that matter to these losses (targets 0, 1 and 1 +- ulp, eps
regimes, subnormals) with ranges where every dtype stays finite, so a drawn case tests arithmetic,
not overflow (overflow and special values have their own checks; `past_the_format` is the
reductions' regime whose total passes the dtype's largest value).
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference.floats import FLOAT_DTYPES, FORMATS

DTYPES = FLOAT_DTYPES
# the smallest positive subnormal of each dtype (a Python float, exact)
FORMATS_TINY = {d: float(FORMATS[d].eta) for d in DTYPES}
WIDTH = {"float16": 16, "float32": 32, "float64": 64}


def np_dtype(tag: str):
    """The NumPy scalar type of a dtype tag (callable: np_dtype('float16')(0.5))."""
    return ml_dtypes.bfloat16 if tag == "bfloat16" else np.dtype(tag).type


def rep(v: float, dtype: str) -> float:
    """The nearest value representable in dtype (exact reference rounding)."""
    return float(FORMATS[dtype].round(v))


def next_up(v: float, dtype: str) -> float:
    f = FORMATS[dtype]
    return float(f.round(v) + f.ulp(f.round(v)))


def next_down(v: float, dtype: str) -> float:
    f = FORMATS[dtype]
    r = f.round(v)
    below = f.ulp(r) / 2 if r > 0 and r == 2 ** int(math.log2(float(r))) else f.ulp(r)
    return float(r - below)


def floats(dtype: str, lo: float, hi: float, *, subnormal: bool = True):
    """Values in [lo, hi] exactly representable in dtype."""
    lo, hi = rep(lo, dtype), rep(hi, dtype)
    if dtype == "bfloat16":  # a float32 rounded once to bfloat16 (ml_dtypes rounds to nearest even)
        return st.floats(lo, hi, width=32, allow_subnormal=subnormal).map(_to_bfloat16).filter(lambda v: lo <= v <= hi)
    return st.floats(lo, hi, width=WIDTH[dtype], allow_subnormal=subnormal)


def _to_bfloat16(v: float) -> float:
    return float(np.float32(v).astype(ml_dtypes.bfloat16))


def with_edges(dtype: str, base, edges):
    """`base` or one of `edges`; the first edge is what hypothesis shrinks towards, so list the
    simplest first."""
    edges = list(dict.fromkeys(rep(e, dtype) for e in edges if math.isfinite(rep(e, dtype))))
    return st.one_of(st.sampled_from(edges), base) if edges else base


def array(dtype: str, shape, elements):
    """An array of the given dtype and shape (bfloat16 built exactly through float64)."""
    return hnp.arrays(np.float64, shape, elements=elements).map(lambda a: a.astype(np_dtype(dtype)))


# --- element domains ---------------------------------------------------------------------------
def log_rate(dtype):
    """Poisson input with log_input=True: exp(x) stays finite in every dtype."""
    hi = 10.0 if dtype == "float16" else 60.0
    return with_edges(dtype, floats(dtype, -hi, hi), [0.0, -1.0, 1.0, math.log(2), math.log(7), -hi, hi])


def rate(dtype):
    """Poisson input with log_input=False: rates >= 0, many tiny ones (eps regime)."""
    tiny = floats(dtype, 0.0, 1e-5)
    return st.one_of(with_edges(dtype, floats(dtype, 0.0, 1e4), [0.0, 1.0, 1e-8, 1e-9, 1e-7, 3.0]), tiny)


def counts(dtype):
    """Poisson targets: counts, non-integer and negative values, with the Stirling-mask edges 0,
    1, 1 +- ulp."""
    hi = 1000.0 if dtype != "float16" else 200.0
    ints = st.integers(0, 60).map(float)
    edges = [0.0, 1.0, next_up(1.0, dtype), next_down(1.0, dtype), 2.0, 0.5, -1.0]
    # PNLL-TARGET-ANY: negative (and non-integer) targets are evaluated by the same formula
    negative = floats(dtype, -hi / 10, 0.0)
    return st.one_of(st.sampled_from([rep(e, dtype) for e in edges]), ints.map(lambda v: rep(v, dtype)),
                     floats(dtype, 0.0, hi), negative)


def from_domain(domain, dtype: str):
    """Values of an operand's declared domain (reference.domains.Domain) in dtype: inside the domain,
    spread over its window, which is clipped to where the format keeps a formula's squares finite
    (a positive operand: up to sqrt(max) and down to sqrt(smallest normal); a real one: a quarter
    of sqrt(max), so that a difference of two squares finitely too), with the domain's edges always
    reachable. A count is an integer the format holds exactly (at most 2**p)."""
    f = FORMATS[dtype]
    root_max, root_tiny = math.sqrt(float(f.max)), math.sqrt(float(f.tiny))
    w_lo, w_hi = domain.window
    if domain.integer:
        lo = max(0, math.ceil(max(domain.lo, w_lo)))
        cap = int(min(w_hi, domain.hi, 2 ** f.p))
        counts = st.one_of(st.integers(lo, min(lo + 30, cap)), st.integers(lo, cap))
        edges = [e for e in domain.edges if lo <= e <= cap]
        return st.one_of(st.sampled_from(edges), counts.map(float)) if edges else counts.map(float)
    if domain.lo >= 0:  # a positive operand: a scale, a rate
        lo, hi = max(w_lo, domain.lo, root_tiny), min(w_hi, domain.hi, root_max)
    else:
        lo, hi = max(w_lo, domain.lo, -root_max / 4), min(w_hi, domain.hi, root_max / 4)
    edges = [e for e in (*domain.edges, lo, hi) if lo <= e <= hi]
    return with_edges(dtype, floats(dtype, lo, hi, subnormal=False), edges)


def gaussian_mean(dtype):
    hi = 100.0 if dtype == "float16" else 1e3
    return with_edges(dtype, floats(dtype, -hi, hi), [0.0, 1.0, -1.0])


def variance(dtype, eps=1e-6):
    """Gaussian var >= 0: around and below eps (the clamp), and ordinary scales."""
    near = [v for v in (0.0, eps, next_up(eps, dtype), next_down(eps, dtype), eps / 10, 1.0) if v >= 0]
    hi = 100.0 if dtype == "float16" else 1e4
    return st.one_of(with_edges(dtype, floats(dtype, 0.0, hi), near), floats(dtype, 0.0, 1e-5))


# --- totals past the format: the accumulator rule of SPECIAL-OVERFLOW ----------------------------
PAST_N = (32, 48)  # elements of a past-the-format draw: enough for the smallest terms below


def accumulates_wider(dtype: str) -> bool:
    """True where a reduction accumulates in a format whose range holds PAST_N[1] of the dtype's
    largest values (the reference's `accumulator` rule: float16 sums in float32; bfloat16 too, but
    float32's range is hardly wider than bfloat16's), so a total can pass the dtype's largest
    finite value while the accumulated sum, and the mean, stay finite."""
    from reference.tolerance import accumulator

    fmt = FORMATS[dtype]
    return accumulator(fmt).max > PAST_N[1] * fmt.max


def past_the_format(dtype: str, kind: str):
    """Elements whose terms are each finite and at least 1/17 of the dtype's largest value, so
    that 32 or more of them total past it (a sum that overflows the format, a mean that does not):
    `kind` is "log_rate" / "rate" (Poisson input), "counts", "mean_hi" / "mean_lo" / "variance"
    (Gaussian operands at opposite ends, a variance near 1)."""
    top = float(FORMATS[dtype].max)
    lo_log = math.log(top) - 2.6  # exp(x) in [top/13.5, top/3]
    ranges = {"log_rate": (lo_log, math.log(top) - 1.1), "rate": (top / 16, top / 4), "counts": (0.0, 8.0),
              "mean_hi": (math.sqrt(top) * 0.35, math.sqrt(top) * 0.39),
              "mean_lo": (-math.sqrt(top) * 0.39, -math.sqrt(top) * 0.35), "variance": (0.5, 2.0)}
    lo, hi = ranges[kind]
    return floats(dtype, lo, hi, subnormal=False)


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_pair(max_dims=3, max_side=4):
    """Two shapes that broadcast together (either may be the larger one)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=max_dims, max_side=max_side).map(lambda b: b.input_shapes)
