"""One element of a loss, evaluated to a self-checked precision (SPEC: REF-PRECISION).

For one element (its operands as stored values, the formula's parameters, the target format) this
returns, for the loss and each first derivative: the exact value, the running error bound of the
straightforward evaluation in the format, whether an intermediate overflowed, and the precision
that was needed. Results are cached: a batch that repeats points pays for each distinct point once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath

from . import gaussian, poisson
from .algebra import Naive, RawExact, Tracked
from .floats import FORMATS, Format

LOSSES = {"poisson": poisson, "gaussian": gaussian}

# Ziv-style loop: evaluate exactly at p1 and at p2 = p1 + GUARD bits; accept (and keep the p2
# values) when every output rounds to the same value in the target format at both, else double p1
# (up to MAX_PREC bits). The error bound comes from one Tracked evaluation (magnitudes only).
GUARD = 32
MAX_PREC = 4096

_TRACKED = {name: Tracked(f) for name, f in FORMATS.items()}


@dataclass(frozen=True)
class Element:
    outputs: tuple[str, ...]  # ("loss", "input", "target"[, "var"])
    exact: tuple  # mpf per output
    bound: tuple[float, ...]  # running error bound per output (before the safety factor)
    overflow: tuple[bool, ...]  # an intermediate left the format's finite range
    parts: tuple[float, ...]  # largest magnitude among each output's additive parts
    peak: tuple[float, ...]  # largest intermediate magnitude of each output's evaluation
    precision: int  # bits at which the rounded results were confirmed
    converged: bool  # False: MAX_PREC reached without two evaluations agreeing


def _same(a, b) -> bool:
    return a == b or (a != a and b != b)


def _params_key(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def element(loss: str, operands: tuple, params: dict, dtype: str, compute: str | None = None) -> Element:
    """Evaluate one element. `operands` are Python floats (the stored values, exactly): the loss's
    operands followed by the element's upstream gradient g. `params` may hold `mean_n`.

    `dtype` is the result's format (what values are rounded to); `compute` the format whose unit
    roundoff the error bound uses (default: the same; see `element_mixed` for mixed operands).
    """
    return _element(loss, _with_g(loss, operands), _params_key(params), dtype, compute or dtype)


def _with_g(loss: str, operands) -> tuple:
    ops = tuple(float(o) for o in operands)
    return ops + (1.0,) if len(ops) == len(LOSSES[loss].OPERANDS) else ops


def least_precise(dtypes) -> str:
    """The format with the largest unit roundoff (ties: the narrower range)."""
    return min(dict.fromkeys(dtypes), key=lambda d: (FORMATS[d].p, FORMATS[d].emax))


def element_mixed(loss: str, operands: tuple, params: dict, dtype: str, computes: tuple) -> Element:
    """ALLOW-MIXED / ALLOW-GRAD-ORDER: one element whose straightforward evaluation may run in any
    of `computes`, with its derivatives in reverse-mode or local-first order.

    The exact values do not depend on the format; each output's bound is the largest finite bound
    over the formats (an unbounded one only where every format is unbounded), and an intermediate
    overflow in any format flags the output, so its straightforward result in each is offered.
    """
    ops = _with_g(loss, operands)
    orders = ("reverse",) if (ops[-1] == 1.0 and params.get("mean_n", 1) == 1) else ("reverse", "local")
    es = [element(loss, ops, dict(params, order=o), dtype, c) for c in computes for o in orders]
    if len(es) == 1:
        return es[0]
    bounds = []
    for k in range(len(es[0].exact)):
        finite = [e.bound[k] for e in es if e.bound[k] == e.bound[k] and e.bound[k] != float("inf")]
        bounds.append(max(finite) if finite else float("inf"))
    return Element(
        outputs=es[0].outputs,
        exact=es[0].exact,
        bound=tuple(bounds),
        overflow=tuple(any(e.overflow[k] or e.bound[k] != e.bound[k] or e.bound[k] == float("inf") for e in es)
                       for k in range(len(bounds))),
        parts=tuple(max(e.parts[k] for e in es) for k in range(len(bounds))),
        peak=tuple(max(e.peak[k] for e in es) for k in range(len(bounds))),
        precision=max(e.precision for e in es),
        converged=all(e.converged for e in es),
    )


def _tracked(name: str) -> Tracked:
    alg = _TRACKED.get(name)
    if alg is None:
        alg = _TRACKED[name] = Tracked(FORMATS[name])
    return alg


@lru_cache(maxsize=1 << 20)
def _element(loss: str, operands: tuple, params_key: tuple, dtype: str, compute: str) -> Element:
    mod = LOSSES[loss]
    params = dict(params_key)
    fmt: Format = FORMATS[dtype]
    tracked = _tracked(compute)
    p1 = max(64, 2 * fmt.p + 16)
    t_out = mod.element(tracked, *(tracked.inp(o) for o in operands), **params)  # binary64 magnitudes
    while True:
        lo, hi = _exact(mod, operands, params, p1), _exact(mod, operands, params, p1 + GUARD)
        agree = all(_same(fmt.round(a), fmt.round(b)) for a, b in zip(lo, hi))
        if agree or p1 >= MAX_PREC:
            return Element(
                outputs=("loss",) + mod.OPERANDS,
                exact=tuple(hi),
                bound=tuple(a.e for a in t_out),
                overflow=tuple(a.o for a in t_out),
                parts=tuple(a.p for a in t_out),
                peak=tuple(a.m for a in t_out),
                precision=p1 + GUARD,
                converged=agree,
            )
        p1 *= 2


def _exact(mod, operands, params, prec) -> list:
    with mpmath.workprec(prec):  # the formula's constants (2*pi, log(2*pi)/2) at this precision too
        alg = RawExact(prec)
        return [alg.value(v) for v in mod.element(alg, *(alg.inp(o) for o in operands), **params)]


def naive(loss: str, operands: tuple, params: dict, dtype: str) -> tuple:
    """The straightforward evaluation of every output, each operation rounded to `dtype`."""
    return _naive(loss, _with_g(loss, operands), _params_key(params), dtype)


@lru_cache(maxsize=1 << 16)
def _naive(loss: str, operands: tuple, params_key: tuple, dtype: str) -> tuple:
    mod = LOSSES[loss]
    alg = Naive(FORMATS[dtype])
    with mpmath.workprec(max(64, 2 * FORMATS[dtype].p + 16)):
        out = mod.element(alg, *(alg.inp(o) for o in operands), **dict(params_key))
    return tuple(alg.value(o) for o in out)


def cache_clear() -> None:
    _element.cache_clear()
    _naive.cache_clear()
