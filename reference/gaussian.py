"""Gaussian negative log-likelihood: the defining formula and its first derivatives (SPEC ch. 3).

Written once against an algebra (see `algebra.py`).
"""

from __future__ import annotations

from mpmath import log, pi

NAME = "gaussian"
OPERANDS = ("input", "target", "var")
PARAMS = ("full", "eps")


def element(A, x, y, var, *, full: bool, eps: float):
    """(loss, d/d input, d/d target, d/d var) for one element.

    GNLL-CLAMP:  v = max(var, eps), NaN propagates.
    GNLL-VALUE:  0.5 * (log(v) + (x - y)^2 / v)
    GNLL-FULL:   full=True adds 0.5*log(2*pi) to every element.
    GNLL-GRAD-*: d/dx = (x-y)/v, d/dy = -(x-y)/v, d/dvar = 0.5*(1/v - (x-y)^2/v^2) evaluated at the
                 clamped v and passed straight through the clamp (GNLL-GRAD-VAR-CLAMP).
    """
    v = A.clamp_min(var, A.const(eps))
    d = x - y
    dd = d * d
    loss = A.const(0.5) * (A.log(v) + A.div(dd, v))
    if full:
        loss = loss + A.const(HALF_LOG_2PI())
    # chain-rule form, as reverse-mode autodiff evaluates it: d * (1/v). Its straightforward
    # evaluation overflows where 1/v does (float16 near eps), which SPECIAL-OVERFLOW then admits.
    d_x = d * A.div(A.const(1), v)
    d_y = -d_x
    # 0.5 * (1/v - (d^2/v)/v): the chain-rule form (no v*v, which underflows in float16 near eps)
    d_var = A.const(0.5) * (A.div(A.const(1), v) - A.div(A.div(dd, v), v))
    return loss, d_x, d_y, d_var


def HALF_LOG_2PI():
    return log(2 * pi) / 2


def log_density(A, x, y, var):
    """GNLL-EXACT: -log N(y; x, var) with no clamp: the exact negative log-density."""
    d = x - y
    return A.const(0.5) * (A.log(A.const(2 * pi) * var) + A.div(d * d, var))
