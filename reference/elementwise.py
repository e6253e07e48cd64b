"""One element of a loss, evaluated to a self-checked precision (SPEC: REF-PRECISION).

For one element (its operands as stored values, the formula's parameters, the target format) this
returns, for the loss and each first derivative: the exact value, the running error bound of the
straightforward evaluation in the format, whether an intermediate overflowed, and the precision
that was needed. Results are cached: a batch that repeats points pays for each distinct point once.

`_evaluate` is the fast path (compiled formulas, a certificate that skips the lower Ziv evaluation
where it provably agrees); `_evaluate_generic` is the definition it is tested against, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mpmath
from mpmath.libmp import from_float

from . import cache
from .algebra import (CertEmitter, Compiled, MixedStraightforward, MixedTracked, RawEmitter, RawExact, Straightforward,
                      Subnormals, Tracked, TrackedEmitter, certain, clear_memos)
from .floats import FORMATS, Format
from .tolerance import GUARD, MAX_PREC

from .losses import LOSSES  # noqa: E402 - the registry of loss modules

# Ziv-style loop: evaluate exactly at p1 and at p2 = p1 + GUARD bits; accept (and keep the p2
# values) when every output rounds to the same value in the target format at both, else double p1
# (up to MAX_PREC bits; reference/tolerance.py). The error bound comes from one Tracked evaluation.
# the tracked (error bound) evaluation runs at this working precision, so that a constant such as
# 2*pi is known well beyond float64 and its rounding into the format is measured (ALLOW-CONST);
# at mpmath's default 53 bits it would equal its float64 rounding and carry no error
CONST_PREC = 160

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
    ops = tuple(map(float, operands))
    return ops + (1.0,) if len(ops) == len(LOSSES[loss].OPERANDS) else ops


def least_precise(dtypes) -> str:
    """The format with the largest unit roundoff (ties: the narrower range)."""
    return min(dict.fromkeys(dtypes), key=lambda d: (FORMATS[d].p, FORMATS[d].emax))


def mixed_compute(operand_formats) -> str:
    """The compute name of a step-by-step mixed evaluation (ALLOW-MIXED): each formula operand's
    format, in order, the upstream gradient last."""
    return "mixed:" + ",".join(operand_formats)


def element_mixed(loss: str, operands: tuple, params: dict, dtype: str, computes: tuple,
                  operand_formats: tuple | None = None, accumulate: str | None = None) -> Element:
    """ALLOW-MIXED / ALLOW-GRAD-ORDER: one element whose straightforward evaluation may run in any
    of `computes`, with its derivatives in reverse-mode or local-first order.

    The exact values do not depend on the format; each output's bound is the largest finite bound
    over the formats (an unbounded one only where every format is unbounded), and an intermediate
    overflow in any format flags the output, so its straightforward result in each is offered.
    `accumulate`: a gradient's dtype, less precise than the steps of a mixed call, in which reverse
    mode accumulates its contributions (ALLOW-MIXED): its bound counts too.
    """
    ops = _with_g(loss, operands)
    orders = ("reverse",) if (ops[-1] == 1.0 and params.get("mean_n", 1) == 1) else ("reverse", "local")
    if operand_formats is not None and len(set(operand_formats)) > 1:
        # ALLOW-MIXED, step by step: one bound, each operation in its operands' promoted format
        computes = (mixed_compute(operand_formats),) + ((accumulate,) if accumulate else ())
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
    """One element, memoised in-process (lru_cache) and across processes (reference/cache.py)."""
    got, k = cache.get_element(loss, operands, params_key, dtype, compute, Element)
    if got is not None:
        return got
    e = _evaluate_warm(loss, operands, params_key, dtype, compute)
    cache.put_element(k, e)
    return e


# Compiling a formula costs 0.5 to 2 ms per program (Python's compiler on the generated code), what
# 10 to 40 fast evaluations save; a case seen only a few times (a rare format pair, an odd
# parameter set) is evaluated generically, and compiled once it has been evaluated WARMUP times.
# The 'mean' N is not part of a program's key (algebra.Param). On the quick profile of the numpy
# backend a WARMUP of 4 gave the least time in the reference (of 4, 8, 16 and 32).
WARMUP = 4
_USES: dict = {}


def _evaluate_warm(loss: str, operands: tuple, params_key: tuple, dtype: str, compute: str) -> Element:
    k = (loss, params_key, dtype, compute)
    n = _USES.get(k, 0)
    if n < WARMUP:
        _USES[k] = n + 1
        return _evaluate_generic(loss, operands, params_key, dtype, compute)
    return _evaluate(loss, operands, params_key, dtype, compute)


_PROGRAMS: dict = {}


def _split(params_key: tuple) -> tuple:
    """(program key, dynamic names, dynamic values): one program serves every 'mean' N, which is
    passed at call time (algebra.Param); N == 1 (no division) is a program of its own."""
    got = _SPLITS.get(params_key)
    if got is None:
        d = dict(params_key)
        n = d.get("mean_n", 1)
        if type(n) is int and n != 1:
            del d["mean_n"]
            got = (tuple(sorted(d.items())) + (("mean_n", "at call time"),), ("mean_n",), (n,))
        else:
            got = (params_key, (), ())
        if len(_SPLITS) > 1 << 16:
            _SPLITS.clear()
        _SPLITS[params_key] = got
    return got


_SPLITS: dict = {}


def _static(pkey: tuple) -> dict:
    return {k: v for k, v in pkey if v != "at call time"}


def _raw_program(loss: str, params_key: tuple, prec: int) -> Compiled:
    """RawExact(prec) compiled for this loss and these parameters (see algebra.Compiled)."""
    pkey, dyn, _ = _split(params_key)
    key = ("raw", loss, pkey, prec)
    prog = _PROGRAMS.get(key)
    if prog is None:
        alg = RawExact(prec)
        prog = _PROGRAMS[key] = Compiled(LOSSES[loss].element, _static(pkey), alg, RawEmitter(alg),
                                         lambda: mpmath.workprec(prec), dyn)
    return prog


def _cert_program(loss: str, params_key: tuple, p1: int) -> Compiled:
    """RawExact(p1 + GUARD) compiled with the bound on its distance from the p1 evaluation
    (algebra.CertEmitter)."""
    pkey, dyn, _ = _split(params_key)
    key = ("cert", loss, pkey, p1)
    prog = _PROGRAMS.get(key)
    if prog is None:
        p2 = p1 + GUARD
        alg = RawExact(p2)
        emitter = CertEmitter(alg, RawExact(p1), lambda: mpmath.workprec(p1))
        prog = _PROGRAMS[key] = Compiled(LOSSES[loss].element, _static(pkey), alg, emitter,
                                         lambda: mpmath.workprec(p2), dyn)
    return prog


def _tracked_program(loss: str, params_key: tuple, compute: str) -> Compiled:
    """Tracked(compute) compiled for this loss and these parameters.

    The generic evaluation runs the formula at mpmath's ambient working precision, which the
    formula's own constants (2*pi) and Tracked's constant errors are computed at; the key records it
    so that the compiled constants are the ones the generic evaluation would use.
    """
    pkey, dyn, _ = _split(params_key)
    key = ("tracked", loss, pkey, compute, tuple(mpmath.mp._prec_rounding))
    prog = _PROGRAMS.get(key)
    if prog is None:
        alg = _tracked(compute)
        prog = _PROGRAMS[key] = Compiled(LOSSES[loss].element, _static(pkey), alg, TrackedEmitter(alg), None, dyn)
    return prog


def _evaluate(loss: str, operands: tuple, params_key: tuple, dtype: str, compute: str) -> Element:
    """REF-PRECISION with compiled formulas: the same result as `_evaluate_generic`, faster.

    * The formulas run as compiled code (algebra.Compiled): the same operations, the same values.
    * At the first precision the p2 evaluation also bounds its distance from the p1 evaluation
      (algebra.CertEmitter); where every output of the p2 evaluation is further than that from a
      rounding boundary of the format, both round alike (`algebra.certain`), which is what the
      comparison of the two would find, so the p1 evaluation is skipped. Otherwise it is run and
      compared.
    * The comparison is made on raw tuples: mpmath's raw numbers are normalized, so two rounded
      values are equal as tuples exactly when they are equal as mpf, NaN included (fnan == fnan).
    """
    if compute.startswith("mixed:"):  # rare (mixed-dtype calls): the generic path only
        return _evaluate_generic(loss, operands, params_key, dtype, compute)
    mod = LOSSES[loss]
    fmt: Format = FORMATS[dtype]
    extra = _split(params_key)[2]
    with mpmath.workprec(CONST_PREC):  # ALLOW-CONST: 2*pi and log(2*pi)/2 exact enough to measure
        tracked = _tracked_program(loss, params_key, compute)(*operands, *extra)
    if tracked is None:
        return _evaluate_generic(loss, operands, params_key, dtype, compute)
    raws = tuple([from_float(o) for o in operands])  # what RawExact.inp makes of each operand
    p1 = max(64, 2 * fmt.p + 16)
    hi = None
    got = _cert_program(loss, params_key, p1)(*raws, *extra)
    if got is not None:
        hi, ds = got
        for t, d in zip(hi, ds):
            if not certain(t, d, fmt):
                break
        else:
            return Element(("loss",) + mod.OPERANDS, tuple([_make(t) for t in hi]), *tracked, p1 + GUARD, True)
    rnd = fmt.round_raw
    while True:
        lo = _raw_program(loss, params_key, p1)(*raws, *extra)
        if hi is None:
            hi = _raw_program(loss, params_key, p1 + GUARD)(*raws, *extra)
        if lo is None or hi is None:
            return _evaluate_generic(loss, operands, params_key, dtype, compute)
        agree = True
        for a, b in zip(lo, hi):
            if rnd(a) != rnd(b):
                agree = False
                break
        if agree or p1 >= MAX_PREC:
            return Element(("loss",) + mod.OPERANDS, tuple([_make(t) for t in hi]), *tracked, p1 + GUARD, agree)
        p1 *= 2
        hi = None


_make = mpmath.mp.make_mpf


def _evaluate_generic(loss: str, operands: tuple, params_key: tuple, dtype: str, compute: str) -> Element:
    """REF-PRECISION through the algebra objects: the definition `_evaluate` is checked against."""
    mod = LOSSES[loss]
    params = dict(params_key)
    fmt: Format = FORMATS[dtype]
    p1 = max(64, 2 * fmt.p + 16)
    if compute.startswith("mixed:"):
        tracked = MixedTracked(tuple(compute[len("mixed:"):].split(",")))
        with mpmath.workprec(CONST_PREC):
            t_out = mod.element(tracked, *tracked.inputs(operands), **params)
    else:
        tracked = _tracked(compute)
        with mpmath.workprec(CONST_PREC):  # ALLOW-CONST: constants' own rounding error, float64 too
            t_out = mod.element(tracked, *(tracked.inp(o) for o in operands), **params)  # binary64 magnitudes
    while True:
        lo, hi = _exact(mod, operands, params, p1), _exact(mod, operands, params, p1 + GUARD)
        agree = all(_same(fmt.round(a), fmt.round(b)) for a, b in zip(lo, hi))
        if agree or p1 >= MAX_PREC:
            return Element(
                outputs=("loss",) + mod.OPERANDS,
                exact=tuple(hi),
                bound=tuple(a.bound for a in t_out),
                overflow=tuple(a.overflow for a in t_out),
                parts=tuple(a.parts for a in t_out),
                peak=tuple(a.peak for a in t_out),
                precision=p1 + GUARD,
                converged=agree,
            )
        p1 *= 2


def _exact(mod, operands, params, prec) -> list:
    with mpmath.workprec(prec):  # the formula's constants (2*pi, log(2*pi)/2) at this precision too
        alg = RawExact(prec)
        return [alg.value(v) for v in mod.element(alg, *(alg.inp(o) for o in operands), **params)]


def straightforward(loss: str, operands: tuple, params: dict, dtype: str) -> tuple:
    """The straightforward evaluation of every output, each operation rounded to `dtype`."""
    return _straightforward(loss, _with_g(loss, operands), _params_key(params), dtype)


@lru_cache(maxsize=1 << 16)
def _straightforward(loss: str, operands: tuple, params_key: tuple, dtype: str) -> tuple:
    got, k = cache.get_straightforward(loss, operands, params_key, dtype)
    if got is not None:
        return got
    out = _straightforward_eval(loss, operands, params_key, dtype)
    cache.put_straightforward(k, out)
    return out


def _straightforward_eval(loss: str, operands: tuple, params_key: tuple, dtype: str) -> tuple:
    mod = LOSSES[loss]
    if dtype.startswith("mixed:"):  # ALLOW-MIXED: step by step, each operation in its operands' format
        names = tuple(dtype[len("mixed:"):].split(","))
        alg = MixedStraightforward(names)
        with mpmath.workprec(max(64, 2 * max(FORMATS[n].p for n in names) + 16)):
            out = mod.element(alg, *alg.inputs(operands), **dict(params_key))
        return tuple(alg.value(o) for o in out)
    alg = Straightforward(FORMATS[dtype])
    with mpmath.workprec(max(64, 2 * FORMATS[dtype].p + 16)):
        out = mod.element(alg, *(alg.inp(o) for o in operands), **dict(params_key))
    return tuple(alg.value(o) for o in out)


def meets_subnormal(loss: str, operands: tuple, params: dict, dtype: str) -> bool:
    """Does the straightforward evaluation of every output of one element in `dtype` meet a
    subnormal operand, operation input or result (algebra.Subnormals)? `operands` as for
    `element` (the upstream gradient last, optional)."""
    alg = Subnormals(FORMATS[dtype])
    with mpmath.workprec(max(64, 2 * FORMATS[dtype].p + 16)):
        LOSSES[loss].element(alg, *(alg.inp(o) for o in _with_g(loss, operands)), **params)
    return alg.hit


def cache_clear() -> None:
    """Forget the in-process memo (the on-disk cache, reference/cache.py, is kept: it is flushed)."""
    _element.cache_clear()
    _straightforward.cache_clear()
    clear_memos()
    cache.memo_cleared()
