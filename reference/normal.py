"""The normal log-density, a distribution subject: `torch.distributions.Normal(loc, scale).log_prob(value)`,
`scipy.stats.norm.logpdf(value, loc, scale)`, `jax.scipy.stats.norm.logpdf(value, loc, scale)`
(SPEC chapter 14). Not a loss: no reduction, no module form. The exact-likelihood family of chapter 12
(GNLL-EXACT) made into a subject a user can run, through the same engine as the losses.
"""

from __future__ import annotations

from mpmath import log, pi

from .domains import Domain, first_outside
from .rules import SpecError

# --- the subject's declaration (reference/losses.py; no module form, parameters or legacy arguments) -
NAME = "normal"
FUNCTIONAL = "normal_log_prob"  # a user function replaces it: --normal-fn, called (loc, scale, value)
OPERANDS = ("loc", "scale", "value")
SIGNATURES = {"functional": (("loc", "pk"), ("scale", "pk"), ("value", "pk"))}
REDUCTION_MESSAGE = None  # no reduction argument: the result is elementwise (RED-NONE)
ACCURACY_AXES = ("value - loc", "scale")


# NLP-ARGS: torch.distributions.Normal's constraints (loc, value: real, i.e. not NaN; scale: positive)
DOMAINS = {
    "loc": Domain(edges=(0.0, 1.0, -1.0)),
    "scale": Domain(lo=0.0, lo_open=True, window=(1e-6, 1e4), edges=(1.0, 0.5, 2.0)),
    "value": Domain(edges=(0.0, 1.0, -1.0)),
}


def before_reduction(operands: dict, shapes: dict, dtypes: dict):
    """NLP-ARGS: PyTorch validates its arguments by default: a value outside its domain (DOMAINS: a
    NaN loc or value, a scale that is not positive) is a ValueError."""
    return SpecError("NLP-ARGS", "ValueError", None) if first_outside(DOMAINS, operands) else None


def HALF_LOG_2PI():
    return log(2 * pi) / 2


def element(A, loc, scale, value, g=None, *, mean_n: int = 1, order: str = "reverse"):
    """(log_prob, g * d/d loc, g * d/d scale, g * d/d value) for one element.

    NLP-VALUE:  -(value - loc)^2 / (2 * scale^2) - log(scale) - 0.5*log(2*pi), in PyTorch's order:
                var = scale**2, n = -((value - loc)**2), q = n / (2*var), (q - log(scale)) - c.
    NLP-GRAD:   d/dvalue = -(value - loc)/scale^2, d/dloc = (value - loc)/scale^2,
                d/dscale = ((value - loc)^2/scale^2 - 1)/scale, evaluated as PyTorch's autograd
                does (reverse mode, its backward formulas: a/b gives grad/b and -grad*((a/b)/b),
                x**2 gives grad*(2*x), log(x) gives grad/x), so that an intermediate overflow of
                that evaluation (float16 g/(2*var)) is the straightforward result SPECIAL-OVERFLOW
                offers.
    """
    if g is None:
        g = A.const(1)
    if mean_n != 1:
        g = A.div(g, A.const(mean_n))
    if order == "local":  # ALLOW-GRAD-ORDER: local derivatives first, the upstream factor last
        out = element(A, loc, scale, value, A.const(1))
        return (out[0],) + tuple(d * g for d in out[1:])
    two = A.const(2)
    var = scale * scale
    d = value - loc
    n = -(d * d)
    b = two * var
    out = A.div(n, b) - A.log(scale) - A.const(HALF_LOG_2PI())
    # reverse mode, from the output back
    g_n = A.div(g, b)  # d(n/b)/dn
    g_b = -g * A.div(A.div(n, b), b)  # d(n/b)/db
    g_d = -g_n * (two * d)  # through n = -(d**2)
    d_value = g_d
    d_loc = -g_d
    d_scale = (g_b * two) * (two * scale) + A.div(-g, scale)  # through var = scale**2, and log(scale)
    return out, d_loc, d_scale, d_value


def clause(quantity: str, loc: float, scale: float, value: float, **_) -> str:
    """The clause governing `quantity` of one element (output, grad_loc, grad_scale, grad_value)."""
    special = any(v != v or v in (float("inf"), float("-inf")) for v in (loc, scale, value))
    if quantity == "output":
        return "SPECIAL-INF" if special else "NLP-VALUE"
    return "GRAD-SPECIAL" if special else "NLP-GRAD"
