"""Poisson negative log-likelihood: the defining formula and its first derivatives (SPEC ch. 2).

Written once against an algebra (see `algebra.py`): evaluated with `Exact` it is the reference
value, with `Tracked` it yields the error allowance, with `Straightforward` the straightforward IEEE result.
"""

from __future__ import annotations

from mpmath import pi

from . import rules
from .rules import SpecError

# --- the loss's declaration (reference/losses.py: what the engine, checks, CLI and reports read) ---
NAME = "poisson"
FUNCTIONAL = "poisson_nll_loss"  # the functional's name (a user function replaces it: --poisson-fn)
OPERANDS = ("input", "target")
FORWARD_NAMES = ("log_input", "target")  # API-FORWARD-NAMES: the module forward's parameter names
PARAMS = ("log_input", "full", "eps")  # the formula's parameters (and the module's attributes)
LEGACY = ("size_average", "reduce")  # LEGACY-MAP applies to these
# API-SIGNATURE: (name, kind, default) in PyTorch 2.13's order; kind "pk" positional-or-keyword, "kw"
# keyword-only; the functional's operands first (no default)
SIGNATURES = {
    "functional": (("input", "pk"), ("target", "pk"), ("log_input", "pk", True), ("full", "pk", False),
                   ("size_average", "pk", None), ("eps", "pk", 1e-8), ("reduce", "pk", None),
                   ("reduction", "pk", "mean")),
    "module": (("log_input", "pk", True), ("full", "pk", False), ("size_average", "pk", None),
               ("eps", "pk", 1e-8), ("reduce", "pk", None), ("reduction", "pk", "mean")),
}
REDUCTION_MESSAGE = ("{} is not a valid value for reduction", "PNLL-RED-VALID")  # RED-VALID's ValueError
ACCURACY_AXES = ("input", "target")  # the accuracy map's coordinates (reports)


def before_reduction(operands: dict, shapes: dict, dtypes: dict):
    """ERR-ORDER: the loss's checks before RED-VALID (none for the Poisson loss)."""
    return None


def after_reduction(params: dict, operands: dict, shapes: dict, dtypes: dict):
    """ERR-ORDER: the checks after RED-VALID: PyTorch's argument parser (API-BOOL-ARGS), then two
    bool operands (DTYPE-BOOL)."""
    if not all(isinstance(params[k], bool) for k in ("log_input", "full")):
        return SpecError("API-BOOL-ARGS", "TypeError", None)
    if dtypes["input"] == "bool" and dtypes["target"] == "bool":
        return SpecError("DTYPE-BOOL", "RuntimeError", None)
    return None


def operand_dtypes(dtypes: dict) -> dict:
    """DTYPE-INT-TO-FLOAT: the dtypes the operands take part in promotion with."""
    out = dict(dtypes)
    out["input"], out["target"] = rules.poisson_operand_dtypes(dtypes["input"], dtypes["target"])
    return out

# clauses of a term that a flag switches on: a deviation under them whose element is also wrong
# with the flag off belongs to the rest of the formula (the checks ask `Expected.clause_of` then)
TERM_FLAGS = {"full": ("PNLL-STIRLING", "PNLL-STIRLING-MASK")}
# region clauses that only widen where another clause's formula applies (same formula, more
# operand values): a deviation there is the wider clause's when elements of that clause's own
# region are wrong too in the same quantity; alone, the region is what is wrong
WIDENS = {"PNLL-TARGET-ANY": ("PNLL-VALUE-LOG", "PNLL-VALUE-RATE")}


def element(A, x, t, g=None, *, log_input: bool, full: bool, eps: float, mean_n: int = 1, order: str = "reverse"):
    """(loss, g * d loss/d input, g * d loss/d target) for one element.

    `g` is the upstream gradient of this element (divided by `mean_n` under 'mean'). With
    order="reverse" the derivatives are written in the order reverse-mode autodiff evaluates them
    (the upstream factor first, then each local factor); with order="local" the local derivative
    comes first and is multiplied by the upstream factor last, as an analytic backward does. The
    two straightforward evaluations overflow and underflow in different places (ALLOW-GRAD-ORDER).

    PNLL-VALUE-LOG:   log_input=True  -> exp(x) - t*x          (eps unused)
    PNLL-VALUE-RATE:  log_input=False -> x - t*log(x + eps)    (eps added inside the log)
    PNLL-STIRLING:    full=True adds t*log(t) - t + 0.5*log(2*pi*t) except where t <= 1
                      (PNLL-STIRLING-MASK: exactly zero for t <= 1; a NaN t is not masked, so its
                      term, and d/dt, are NaN).
    PNLL-GRAD-*:      the mathematical derivatives of the above.
    """
    if g is None:
        g = A.const(1)
    if mean_n != 1:
        g = A.div(g, A.const(mean_n))  # GRAD-REDUCTION: the mean's backward divides first
    if order == "local":  # ALLOW-GRAD-ORDER: local derivatives first, the upstream factor last
        out = element(A, x, t, A.const(1), log_input=log_input, full=full, eps=eps)
        return (out[0],) + tuple(d * g for d in out[1:])
    if log_input:
        ex = A.exp(x)
        loss = ex - t * x
        d_x = g * ex - g * t
        d_t = -(g * x)
    else:
        xe = x + A.const(eps)
        lg = A.log(xe)
        loss = x - t * lg
        d_x = g - A.div(g * t, xe)
        d_t = -(g * lg)
    if full and not A.le(t, 1):
        lt = A.log(t)
        loss = loss + (t * lt - t + A.const(0.5) * A.log(A.const(2 * pi) * t))
        d_t = d_t + (g * lt + A.div(A.const(0.5) * g, t))
    return loss, d_x, d_t


def exact_likelihood(A, x, t, *, log_input: bool, eps: float):
    """PNLL-EXACT: the true negative log-pmf, -log P(t | rate), with log(t!) = lgamma(t + 1).

    Not PyTorch's loss: a separately named family for validating distribution log_probs and for
    measuring the Stirling gap. Defined for t >= 0; only the Exact algebra evaluates it.
    """
    from mpmath import loggamma

    rate_log = x if log_input else A.log(x + A.const(eps))
    rate = A.exp(x) if log_input else x
    return rate - t * rate_log + loggamma(t + 1)



def clause(quantity: str, x: float, t: float, *, log_input: bool, full: bool, **_) -> str:
    """The most specific SPEC clause that governs `quantity` ("output", "grad_input",
    "grad_target") of one element at the stored operand values (x, t): the region of the formula
    the element falls in. The checks file an element's deviation under it.
    """
    special = any(v != v or v in (float("inf"), float("-inf")) for v in (x, t))
    if quantity == "output":
        if special:
            return "SPECIAL-NAN" if (x != x or t != t) else "SPECIAL-INF"
        if full:
            return "PNLL-STIRLING" if t > 1 else "PNLL-STIRLING-MASK"
        if not log_input and x < 0:
            return "PNLL-RATE-DOMAIN"
        if t < 0:
            return "PNLL-TARGET-ANY"
        return "PNLL-VALUE-LOG" if log_input else "PNLL-VALUE-RATE"
    if special:
        return "GRAD-SPECIAL"
    if quantity == "grad_input":
        return "PNLL-GRAD-INPUT"
    return "PNLL-GRAD-STIRLING-MASK" if (full and t <= 1) else "PNLL-GRAD-TARGET"
