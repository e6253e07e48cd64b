"""Poisson negative log-likelihood: the defining formula and its first derivatives (SPEC ch. 2).

Written once against an algebra (see `algebra.py`): evaluated with `Exact` it is the reference
value, with `Tracked` it yields the error allowance, with `Naive` the straightforward IEEE result.
"""

from __future__ import annotations

from mpmath import mpf, pi

NAME = "poisson"
OPERANDS = ("input", "target")
# the argument names that change the elementwise formula (reduction is applied afterwards)
PARAMS = ("log_input", "full", "eps")


def element(A, x, t, *, log_input: bool, full: bool, eps: float):
    """(loss, d loss/d input, d loss/d target) for one element.

    PNLL-VALUE-LOG:   log_input=True  -> exp(x) - t*x          (eps unused)
    PNLL-VALUE-RATE:  log_input=False -> x - t*log(x + eps)    (eps added inside the log)
    PNLL-STIRLING:    full=True adds t*log(t) - t + 0.5*log(2*pi*t) except where t <= 1
                      (PNLL-STIRLING-MASK: exactly zero for t <= 1; a NaN t is not masked, so its
                      term, and d/dt, are NaN).
    PNLL-GRAD-*:      the mathematical derivatives of the above.
    """
    if log_input:
        ex = A.exp(x)
        loss = ex - t * x
        d_x = ex - t
        d_t = -x
    else:
        xe = x + A.const(eps)
        lg = A.log(xe)
        loss = x - t * lg
        d_x = A.const(1) - A.div(t, xe)
        d_t = -lg
    if full and not A.le(t, 1):
        lt = A.log(t)
        loss = loss + (t * lt - t + A.const(0.5) * A.log(A.const(2 * pi) * t))
        d_t = d_t + (lt + A.div(A.const(1), A.const(2) * t))
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


def mpf_pi():
    return mpf(pi)
