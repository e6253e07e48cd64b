"""Gaussian negative log-likelihood: the defining formula and its first derivatives (SPEC ch. 3).

Written once against an algebra (see `algebra.py`).
"""

from __future__ import annotations

import numpy as np
from mpmath import log, pi

from . import rules
from .floats import FLOAT_DTYPES
from .rules import SpecError

# --- the loss's declaration (see poisson.py and reference/losses.py) -------------------------------
NAME = "gaussian"
FUNCTIONAL = "gaussian_nll_loss"
OPERANDS = ("input", "target", "var")
FORWARD_NAMES = ("input", "target", "var")
PARAMS = ("full", "eps")
LEGACY = ()  # API-NO-LEGACY-GAUSSIAN
SIGNATURES = {
    "functional": (("input", "pk"), ("target", "pk"), ("var", "pk"), ("full", "pk", False), ("eps", "pk", 1e-6),
                   ("reduction", "pk", "mean")),
    "module": (("full", "kw", False), ("eps", "kw", 1e-6), ("reduction", "kw", "mean")),
}
REDUCTION_MESSAGE = ("{} is not valid", "GNLL-RED-VALID")
ACCURACY_AXES = ("input - target", "var")


def before_reduction(operands: dict, shapes: dict, dtypes: dict):
    """ERR-ORDER: the var checks come before RED-VALID: a Python number var (GNLL-VAR-FLOAT), then a
    negative entry (GNLL-VAR-NONNEG; NaN and -0.0 pass), then var's size (GNLL-VAR-SHAPE). Sets
    var's effective shape and dtype in `shapes` / `dtypes`."""
    var = operands["var"]
    if isinstance(var, float):
        if var < 0:
            return SpecError("GNLL-VAR-NONNEG", "ValueError", "var has negative entry/entries")
        shapes["var"], dtypes["var"] = shapes["input"], dtypes["input"]
        return None
    if isinstance(var, (int, bool)):
        return SpecError("GNLL-VAR-FLOAT", "TypeError", None)
    v = np.asarray(var)
    if np.any(v.astype(np.float64) < 0):
        return SpecError("GNLL-VAR-NONNEG", "ValueError", "var has negative entry/entries")
    eff = rules.gaussian_var_shape(shapes["input"], v.shape)
    if isinstance(eff, SpecError):
        return eff
    shapes["var"], dtypes["var"] = eff, str(v.dtype)
    return None


def after_reduction(params: dict, operands: dict, shapes: dict, dtypes: dict):
    """ERR-ORDER: an integral var tensor is refused after RED-VALID (the clamp cannot write floats
    into it: DTYPE-INT-VAR)."""
    if not isinstance(operands["var"], float) and dtypes["var"] not in FLOAT_DTYPES:
        return SpecError("DTYPE-INT-VAR", "RuntimeError", None)
    return None


def operand_dtypes(dtypes: dict) -> dict:
    return dict(dtypes)

TERM_FLAGS = {"full": ("GNLL-FULL",)}  # see poisson.TERM_FLAGS


def element(A, x, y, var, g=None, *, full: bool, eps: float, mean_n: int = 1, order: str = "reverse"):
    """(loss, g * d/d input, g * d/d target, g * d/d var) for one element.

    `g` is the upstream gradient (divided by `mean_n` under 'mean'); `order` as in
    poisson.element.

    GNLL-CLAMP:  v = max(var, eps), NaN propagates.
    GNLL-VALUE:  0.5 * (log(v) + (x - y)^2 / v)
    GNLL-FULL:   full=True adds 0.5*log(2*pi) to every element.
    GNLL-GRAD-*: d/dx = (x-y)/v, d/dy = -(x-y)/v, d/dvar = 0.5*(1/v - (x-y)^2/v^2) evaluated at the
                 clamped v and passed straight through the clamp (GNLL-GRAD-VAR-CLAMP).
    """
    if g is None:
        g = A.const(1)
    if mean_n != 1:
        g = A.div(g, A.const(mean_n))
    if order == "local":  # ALLOW-GRAD-ORDER (see poisson.element)
        out = element(A, x, y, var, A.const(1), full=full, eps=eps)
        return (out[0],) + tuple(d * g for d in out[1:])
    v = A.clamp_min(var, A.const(eps))
    d = x - y
    dd = d * d
    loss = A.const(0.5) * (A.log(v) + A.div(dd, v))
    if full:
        loss = loss + A.const(HALF_LOG_2PI())
    gh = A.const(0.5) * g
    # reverse mode: through the division (gh / v), then the square (times 2d)
    d_x = A.div(gh, v) * (A.const(2) * d)
    d_y = -d_x
    # d/dv: from log (gh / v) and from the division (-gh * ((dd / v) / v)): no v*v, which
    # underflows in float16 near eps
    d_var = A.div(gh, v) - gh * A.div(A.div(dd, v), v)
    return loss, d_x, d_y, d_var


def clause(quantity: str, x: float, y: float, var: float, *, full: bool, eps: float, **_) -> str:
    """The most specific SPEC clause that governs `quantity` ("output", "grad_input",
    "grad_target", "grad_var") of one element at the stored operand values: the region of the
    formula (the clamp, full) the element falls in. The checks file an element's deviation under it.
    """
    special = any(v != v or v in (float("inf"), float("-inf")) for v in (x, y, var))
    if quantity == "output":
        if special:
            return "SPECIAL-NAN" if (x != x or y != y or var != var) else "SPECIAL-INF"
        if full:  # the term's clause first; the checks re-file under the base when full=False is wrong too
            return "GNLL-FULL"
        return "GNLL-CLAMP" if var < eps else "GNLL-VALUE"
    if special:
        return "GRAD-SPECIAL"
    if quantity == "grad_var":
        return "GNLL-GRAD-VAR-CLAMP" if var < eps else "GNLL-GRAD-VAR"
    return "GNLL-GRAD-INPUT" if quantity == "grad_input" else "GNLL-GRAD-TARGET"


def HALF_LOG_2PI():
    return log(2 * pi) / 2


def log_density(A, x, y, var):
    """GNLL-EXACT: -log N(y; x, var) with no clamp: the exact negative log-density."""
    d = x - y
    return A.const(0.5) * (A.log(A.const(2 * pi) * var) + A.div(d * d, var))
