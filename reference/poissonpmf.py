"""The Poisson log-pmf, a distribution subject: `torch.distributions.Poisson(rate).log_prob(value)`,
`scipy.stats.poisson.logpmf(value, rate)`, `jax.scipy.stats.poisson.logpmf(value, rate)` (SPEC
chapter 14). Not a loss: no reduction, no module form. PNLL-EXACT (chapter 12) made into a subject a
user can run: minus the exact Poisson negative log-likelihood, `lgamma(value + 1)` included.
"""

from __future__ import annotations

from .domains import Domain, first_outside
from .rules import SpecError

# --- the subject's declaration (reference/losses.py; no module form, parameters or legacy arguments) -
NAME = "poissonpmf"
FUNCTIONAL = "poisson_log_pmf"  # a user function replaces it: --poissonpmf-fn, called (rate, value)
OPERANDS = ("rate", "value")
DIFFERENTIABLE = ("rate",)  # PLP-GRAD: the value is a count, the pmf has no derivative in it
SIGNATURES = {"functional": (("rate", "pk"), ("value", "pk"))}
REDUCTION_MESSAGE = None  # no reduction argument: the result is elementwise (RED-NONE)
ACCURACY_AXES = ("value", "rate")


# PLP-ARGS: torch.distributions.Poisson's constraints (rate: nonnegative; value: nonnegative_integer)
DOMAINS = {
    "rate": Domain(lo=0.0, window=(1e-6, 1e6), edges=(1.0, 0.5, 3.0)),
    "value": Domain(lo=0.0, integer=True, window=(0, 1e6), edges=(0.0, 1.0, 2.0)),
}


def before_reduction(operands: dict, shapes: dict, dtypes: dict):
    """PLP-ARGS: PyTorch validates its arguments by default: a value outside its domain (DOMAINS:
    a negative or NaN rate; a value that is not a non-negative integer) is a ValueError."""
    return SpecError("PLP-ARGS", "ValueError", None) if first_outside(DOMAINS, operands) else None


def element(A, rate, value, g=None, *, mean_n: int = 1, order: str = "reverse"):
    """(log_pmf, g * d/d rate, g * d/d value) for one element.

    PLP-VALUE:  xlogy(value, rate) - rate - lgamma(value + 1), in PyTorch's order, with xlogy's
                convention 0*log(rate) = 0 (so value = 0 at rate = 0 gives 0).
    PLP-GRAD:   d/drate = value/rate - 1 (reverse mode: g*value/rate from xlogy, then -g). The value is
                a count: the pmf has no derivative with respect to it; the reference's is NaN
                (undefined) and no check asks for it.
    """
    if g is None:
        g = A.const(1)
    if mean_n != 1:
        g = A.div(g, A.const(mean_n))
    if order == "local":  # ALLOW-GRAD-ORDER: local derivatives first, the upstream factor last
        out = element(A, rate, value, A.const(1))
        return out[0], out[1] * g, out[2]
    xlogy = A.const(0) if A.le(value, 0) else value * A.log(rate)  # value >= 0 (PLP-ARGS): value == 0
    out = xlogy - rate - A.lgamma(value + A.const(1))
    d_rate = A.div(g * value, rate) - g
    return out, d_rate, g * A.const(float("nan"))  # undefined (as a number of the algebra: g*NaN)


def clause(quantity: str, rate: float, value: float, **_) -> str:
    """The clause governing `quantity` of one element (output, grad_rate, grad_value)."""
    special = any(v != v or v in (float("inf"), float("-inf")) for v in (rate, value))
    if quantity == "output":
        return "SPECIAL-INF" if special else "PLP-VALUE"
    return "GRAD-SPECIAL" if special else "PLP-GRAD"
