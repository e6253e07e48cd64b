"""What the spec says one call must do: the expectation engine, the public entry point of the reference.

`expect(call)` takes a `Call` (which loss, functional or module form, the operands as NumPy arrays,
the other arguments as passed, which operands take gradients, the upstream gradient) and returns an
`Expected`: either the error the call must raise, or the output and every gradient as exact values
with their allowances, plus the warnings the call must emit. The conformance checks compare a
backend's `Outcome` with this and never restate a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import mpmath
import numpy as np
from mpmath import mpf

from . import rules
from .allowance import allowance, ieee_sum, sum_terms
from .elementwise import element_mixed, least_precise, mixed_compute, straightforward
from .floats import FLOAT_DTYPES, FORMATS, Format
from .losses import LOSSES
from .rules import SpecError, SpecWarning
from .tolerance import ANY_NONFINITE, accumulator, grad_may_overflow, grad_orders_evaluated, partial_sum_overflow


class ReferenceDidNotConverge(RuntimeError):
    """A point whose exact value the reference could not confirm (reported as an internal error)."""


def dtype_name(a) -> str:
    """The dtype tag of a NumPy array or scalar ('bfloat16' for ml_dtypes' type)."""
    return str(np.asarray(a).dtype)


@dataclass
class Call:
    loss: str  # a name in reference.losses.LOSSES
    form: str  # "functional" | "module"
    operands: dict  # name -> np.ndarray (Gaussian var may be a Python float)
    args: tuple = ()  # positional non-operand arguments (functional: after operands; module: ctor)
    kwargs: dict = field(default_factory=dict)  # keyword non-operand arguments
    grad_wrt: tuple = ()  # operand names that take gradients
    grad_output: object = None  # upstream gradient (np.ndarray shaped like the output) or None: ones
    # memory layout per operand for the backend ("transposed", "strided", "expanded"); values and
    # the spec's answer do not depend on it (SHAPE-LAYOUT)
    layout: dict = field(default_factory=dict)
    # module form: the keyword names the forward call passes the operands by (empty: positionally)
    forward_names: tuple = ()


# API-FORWARD-NAMES: the parameter names of each module's forward (the loss modules declare them)
FORWARD_NAMES = {name: m.FORWARD_NAMES for name, m in LOSSES.items()}


@dataclass
class Quantity:
    """An expected tensor: exact values, allowances and the straightforward IEEE results."""

    name: str
    shape: tuple
    dtype: str
    exact: list  # flat C-order list of mpf
    allow: list  # flat list of mpf
    straightforward: list  # flat list: None, or a tuple of straightforward IEEE results (offered where flagged)
    compute: str  # format whose unit roundoff the allowance used
    precision: int = 0


@dataclass
class Expected:
    error: SpecError | None = None
    warnings: list = field(default_factory=list)  # SpecWarning
    output: Quantity | None = None
    grads: dict = field(default_factory=dict)  # operand name -> Quantity
    reduction: str | None = None
    params: dict = field(default_factory=dict)
    # the operands of each output element, as stored values in the result dtype (broadcast,
    # C order), and each operand's shape before broadcasting: what `clause_of` reads
    loss: str | None = None
    columns: dict = field(default_factory=dict)
    operand_shapes: dict = field(default_factory=dict)
    upstream: object = None  # each output element's upstream gradient (flat), None: ones
    element_params: dict = field(default_factory=dict)  # params with the mean's 1/N (mean_n)

    def clause_of(self, quantity: str, i: int) -> str | None:
        """The most specific clause governing element `i` of `quantity` ("output" or
        "grad_<operand>"): the loss's region clause (poisson.clause / gaussian.clause). A reduced
        output is governed by its reduction clause, a gradient summed over broadcast dimensions by
        GRAD-BROADCAST. None where the element's operands are not known."""
        if not self.columns:
            return None
        if quantity == "output":
            if self.reduction != "none":
                return {"mean": "RED-MEAN", "sum": "RED-SUM"}.get(self.reduction)
            j = i
        else:
            name = quantity[len("grad_"):]
            full = tuple(np.broadcast_shapes(*self.operand_shapes.values()))
            if tuple(self.operand_shapes.get(name, ())) != full:
                return "GRAD-BROADCAST"
            j = i
        point = [float(self.columns[k][j]) for k in self.columns]
        return LOSSES[self.loss].clause(quantity, *point, **self.params)

    # a reduction or broadcast sum over more distinct points than this is probed on its first ones
    SUBNORMAL_PROBE_MAX = 4096

    def meets_subnormal(self, quantity: str, i: int, dtype: str) -> bool:
        """Does the straightforward evaluation of element `i` of `quantity` in `dtype` meet a
        subnormal magnitude (an operand, an operation's input or result: elementwise.meets_subnormal)?
        A reduced output or a gradient summed over broadcast dimensions asks every point it sums."""
        if not self.columns or dtype not in FORMATS:
            return False
        from .elementwise import meets_subnormal

        cols = np.stack([np.asarray(c, dtype=np.float64) for c in self.columns.values()], axis=1)
        single = (self.reduction == "none") if quantity == "output" else (
            tuple(self.operand_shapes.get(quantity[len("grad_"):], ())) ==
            tuple(np.broadcast_shapes(*self.operand_shapes.values())))
        if self.upstream is not None:  # each element's upstream gradient, after the operands
            cols = np.concatenate([cols, np.asarray(self.upstream, dtype=np.float64).reshape(-1, 1)], axis=1)
        rows = cols[i:i + 1] if single else np.unique(cols, axis=0)[:self.SUBNORMAL_PROBE_MAX]
        return any(meets_subnormal(self.loss, tuple(r), self.element_params or self.params, dtype) for r in rows)


def resolve(call: Call):
    """Bind arguments, apply the legacy mapping and check the reduction (chapters 1, 5, 6).

    Returns (params, reduction, warnings) or (SpecError, warnings).
    """
    bound = rules.bind(call.loss, call.form, call.args, call.kwargs)
    if isinstance(bound, SpecError):
        return bound, []
    warnings = []
    reduction = bound.get("reduction", "none")  # a subject without the argument is elementwise
    when = "construction" if call.form == "module" else "call"
    mod = LOSSES[call.loss]
    if mod.LEGACY:
        legacy = rules.legacy_reduction(*(bound[k] for k in mod.LEGACY))
        if legacy is not None:
            reduction, w = legacy
            warnings.append(SpecWarning(w.clause, w.category, w.message, when))
    return ({k: bound[k] for k in mod.PARAMS}, reduction, warnings)


def canonical(call: Call) -> Call | None:
    """The plainest call the spec says is equivalent to `call`: the functional form, every argument
    by keyword and resolved (legacy arguments mapped to their reduction), contiguous operands.
    None where `call` must raise. The checks run it beside `call` to tell which aspect a deviation
    belongs to (a layout, a binding, a form) and which to the formula itself."""
    res = resolve(call)
    if isinstance(res[0], SpecError):
        return None
    params, reduction, _ = res
    kwargs = dict(params, reduction=reduction) if "reduction" in rules.SIGNATURES[(call.loss, "functional")].parameters \
        else dict(params)
    return Call(call.loss, "functional", dict(call.operands), (), kwargs,
                tuple(call.grad_wrt), call.grad_output, {})


def module_attrs(call: Call) -> dict | None:
    """API-MODULE-ATTRS: what a module constructed by `call` exposes (None: not a module call, or
    its construction must raise): the arguments as given, `reduction` as LEGACY-MAP selected."""
    if call.form != "module":
        return None
    bound = rules.bind(call.loss, "module", call.args, call.kwargs)
    res = resolve(call)
    if isinstance(bound, SpecError) or isinstance(res[0], SpecError):
        return None
    return dict({k: bound[k] for k in LOSSES[call.loss].PARAMS}, reduction=res[1])


# the clauses that make a call equivalent to its canonical form (what `departures` names)
DEPARTURE_CLAUSES = ("SHAPE-LAYOUT", "API-MODULE-FUNCTIONAL", "API-SIGNATURE", "API-KEYWORD-ONLY",
                     "API-POSITIONAL-PITFALL", "LEGACY-MAP", "LEGACY-OVERRIDE", "API-DEFAULTS")


def departures(call: Call) -> tuple:
    """The clauses by which `call` differs from `canonical(call)`, most specific first (empty: it
    is canonical): non-contiguous operands, the module form, positional arguments, legacy
    arguments, omitted arguments."""
    c = canonical(call)
    if c is None:
        return ()
    out = []
    if any(v not in (None, "contiguous") for v in call.layout.values()):
        out.append("SHAPE-LAYOUT")
    if call.args:
        out.append("API-SIGNATURE")
    if set(LOSSES[call.loss].LEGACY) & (set(call.kwargs) | set(rules.positional_names(call.loss, call.form, call.args))):
        out.append("LEGACY-OVERRIDE")
    if call.form == "module":
        out.append("API-MODULE-FUNCTIONAL")
    if not call.args and not set(c.kwargs) <= set(call.kwargs):
        out.append("API-DEFAULTS")
    return tuple(out)


def twins(call: Call) -> list:
    """[(clause, call)]: for each way `call` departs from its canonical form, the call with that
    departure alone undone: contiguous operands (SHAPE-LAYOUT), the functional form with the
    arguments bound by keyword (API-MODULE-FUNCTIONAL for a plain module call, else the binding's
    clause), every default spelled out (API-DEFAULTS). Where the call and such a twin disagree and
    the twin is right, that departure is at fault."""
    c = canonical(call)
    if c is None:
        return []
    deps = departures(call)
    out = []
    if "SHAPE-LAYOUT" in deps:
        out.append(("SHAPE-LAYOUT", replace(call, layout={})))
    binding = [d for d in deps if d not in ("SHAPE-LAYOUT", "API-DEFAULTS")]
    if binding:
        plain_module = call.form == "module" and not call.args and "LEGACY-OVERRIDE" not in binding
        out.append(("API-MODULE-FUNCTIONAL" if plain_module else binding[0], replace(c, layout=dict(call.layout))))
    elif "API-DEFAULTS" in deps:
        out.append(("API-DEFAULTS", replace(call, kwargs=dict(c.kwargs))))
    return out


def is_canonical(call: Call) -> bool:
    """Is `call` already in the form `canonical` gives (so no twin is needed)?"""
    return not departures(call)


def expect(call: Call) -> Expected:
    res = resolve(call)
    if isinstance(res[0], SpecError):
        return Expected(error=res[0], warnings=res[1])
    params, reduction, warnings = res
    mod = LOSSES[call.loss]
    if call.form == "module" and call.forward_names and tuple(call.forward_names) != mod.FORWARD_NAMES:
        return Expected(error=SpecError("API-FORWARD-NAMES", "TypeError", None, "call"), warnings=warnings)
    exp = Expected(warnings=warnings, reduction=reduction, params=params)
    ops = call.operands
    # operands that are arrays; a Python-number operand (the Gaussian var) gets its shape and dtype
    # from the loss's own rule (GNLL-VAR-FLOAT) in before_reduction
    shapes = {k: np.asarray(ops[k]).shape for k in mod.OPERANDS if isinstance(ops[k], np.ndarray)}
    dtypes = {k: dtype_name(ops[k]) for k in shapes}

    # ERR-ORDER: the loss's checks before the reduction's, RED-VALID, the loss's checks after it,
    # then broadcasting (SHAPE-BROADCAST)
    bad = mod.before_reduction(ops, shapes, dtypes)
    if bad is not None:
        exp.error = bad
        return exp
    exp.loss = call.loss
    bad = rules.check_reduction(call.loss, reduction) or mod.after_reduction(params, ops, shapes, dtypes)
    if bad is not None:
        exp.error = bad
        return exp

    shapes = {k: shapes[k] for k in mod.OPERANDS}
    out_shape = rules.broadcast_shapes(*shapes.values())
    if isinstance(out_shape, SpecError):
        exp.error = out_shape
        return exp

    promo = mod.operand_dtypes(dtypes)
    res_dtype = rules.result_dtype([(promo[k], len(shapes[k])) for k in shapes])
    fmt = FORMATS[res_dtype]
    # ALLOW-MIXED: every float format an operand is evaluated in may carry the computation
    computes = tuple(dict.fromkeys([d for d in promo.values() if d in FLOAT_DTYPES] + [res_dtype]))
    compute = least_precise(computes)  # its unit roundoff bounds the reductions

    # operands as exact values converted to the result dtype (DTYPE-CONVERT), broadcast; the
    # distinct points are found on the bit patterns (cheap large-N reductions) and mapped back
    names = list(shapes)
    cols = []
    for k in names:
        if not isinstance(ops[k], np.ndarray):  # a Python number, in the format its rule gave it
            vfmt = FORMATS.get(dtypes[k])
            a = np.full(shapes[k], float(vfmt.round(mpf(ops[k]))) if vfmt else ops[k])
        else:
            a = np.asarray(ops[k]).astype(np.float64).reshape(shapes[k])
        cols.append(np.broadcast_to(a, out_shape).ravel())
    n = int(np.prod(out_shape, dtype=np.int64))
    exp.columns = dict(zip(names, cols))
    exp.operand_shapes = {k: tuple(shapes[k]) for k in names}
    # the upstream gradient of each element (GRAD-CHAIN): grad_output, or ones; the mean's 1/N is
    # applied inside the element formulas (GRAD-REDUCTION)
    if call.grad_output is not None:
        gcol = np.broadcast_to(np.asarray(call.grad_output).astype(np.float64), out_shape if reduction == "none" else ())
    else:
        gcol = np.ones(())
    cols.append(np.broadcast_to(gcol, out_shape).ravel())
    exp.upstream = cols[-1] if call.grad_output is not None else None
    params = dict(params, mean_n=n if (reduction == "mean" and n) else 1)
    exp.element_params = params
    stacked = np.ascontiguousarray(np.stack(cols, axis=1) if n else np.zeros((0, len(cols))))
    # one opaque bytes value per row: a 1-D unique is much faster than unique(axis=0)
    rows = stacked.view(np.dtype((np.void, stacked.dtype.itemsize * stacked.shape[1]))).ravel()
    uniq_rows, inverse = np.unique(rows, return_inverse=True)
    inverse = inverse.ravel()
    uniq = np.frombuffer(uniq_rows.tobytes(), dtype=np.float64).reshape(-1, stacked.shape[1])
    needs_index = reduction == "none" or bool(call.grad_wrt)
    index = inverse.tolist() if needs_index else None
    pts = [tuple(float(fmt.round(mpf(float(v)))) for v in row) for row in uniq]
    # ALLOW-MIXED, step by step: each operand in its own (promoted-for-the-loss) format; an
    # integral operand counts in the result format; the upstream gradient in the result format
    # a 0-d operand beside dimensioned ones does not promote them (DTYPE-ZERO-DIM): counted in the
    # result format too (a wider bound for its own unary steps, never a narrower one)
    dimensioned = any(len(shapes[k]) for k in names)
    op_formats = tuple(promo[k] if (promo[k] in FLOAT_DTYPES and (len(shapes[k]) or not dimensioned)) else res_dtype
                       for k in names) + (res_dtype,)
    elems = [element_mixed(call.loss, p, params, res_dtype, computes, op_formats) for p in pts]
    stuck = [p for p, e in zip(pts, elems) if not e.converged]
    if stuck:  # REF-PRECISION: never use a value whose rounding was not confirmed
        raise ReferenceDidNotConverge(
            f"REF-PRECISION: the reference did not confirm the rounding of {call.loss} at {stuck[0]} "
            f"({res_dtype}) by the precision cap; this point cannot be judged")
    cfmt = FORMATS[compute]
    precision = max((e.precision for e in elems), default=0)

    def flagged(e, k):
        b = e.bound[k]
        return e.overflow[k] or b != b or b == float("inf")

    # the straightforward evaluations offered: in each candidate format and, for a mixed call,
    # step by step (ALLOW-MIXED), each in both orders
    straightforward_formats = tuple(computes) + ((mixed_compute(op_formats),) if len(set(op_formats)) > 1 else ())

    def straightforward_of(j, k):
        """The straightforward IEEE results of output k at point j: per compute format and order."""
        return tuple(straightforward(call.loss, pts[j], dict(params, order=o), c)[k] for c in straightforward_formats
                     for o in ("reverse", "local"))


    # --- the loss output ---------------------------------------------------------------------
    if reduction == "none":
        ex = [elems[j].exact[0] for j in index]
        al = [allowance(elems[j].bound[0], elems[j].exact[0], fmt) for j in index]
        nv = [straightforward_of(j, 0) if flagged(elems[j], 0) else None for j in index]
        exp.output = Quantity("output", out_shape, res_dtype, ex, al, nv, compute, precision)
    else:
        counts = np.bincount(inverse.ravel(), minlength=len(elems)).tolist() if n else []
        with mpmath.workprec(precision + 64):  # products, sum and division exact enough (REF-EXACT)
            exp.output = _reduced_output(elems, counts, n, reduction, fmt, cfmt, res_dtype, compute, precision,
                                         any(flagged(e, 0) for e in elems), straightforward_of)

    # --- gradients -------------------------------------------------------------------------------
    for name in call.grad_wrt:
        if not isinstance(ops[name], np.ndarray):
            continue  # a Python number takes no gradient
        k = 1 + names.index(name)
        gdtype = dtypes[name] if dtypes[name] in FLOAT_DTYPES else res_dtype  # GRAD-DTYPE
        gcompute = least_precise([compute, gdtype])
        # REF-PRECISION per output format: a gradient in another format than the result (mixed
        # dtypes) has its rounding confirmed in its own format (agreement in one format does not
        # imply agreement in another)
        gel = elems
        if gdtype != res_dtype:
            # ALLOW-MIXED: reverse mode accumulates an operand's gradient contributions in its own
            # dtype; where that is less precise than the mixed steps, every step in it bounds them
            acc = gdtype if least_precise([res_dtype, gdtype]) == gdtype else None
            gel = [element_mixed(call.loss, p, params, gdtype, computes, op_formats, acc) for p in pts]
            stuck = [p for p, e in zip(pts, gel) if not e.converged]
            if stuck:
                raise ReferenceDidNotConverge(f"REF-PRECISION: the reference did not confirm the rounding of "
                                              f"{call.loss}'s d/d{name} at {stuck[0]} ({gdtype}) by the cap")
        gprec = max((e.precision for e in gel), default=0)
        with mpmath.workprec(gprec + 64):
            exp.grads[name] = _grad_quantity(
                name, k, gel, index, out_shape, shapes[name], tuple(np.asarray(ops[name]).shape),
                FORMATS[gdtype], FORMATS[gcompute], gdtype, gcompute, gprec,
                lambda j, k=k, gel=gel: straightforward_of(j, k) if flagged(gel[j], k) else None,
                lambda j, k=k: straightforward_of(j, k))
    return exp


def _reduced_output(elems, counts, n, reduction, fmt, cfmt, res_dtype, compute, precision, any_flagged, straightforward_of):
    """RED-SUM / RED-MEAN with ALLOW-SUM / ALLOW-MEAN: the exact reduction of the exact elements.
    The summation is bounded in the accumulator's format (float32 for float16 and bfloat16)."""
    total, bound = sum_terms([e.exact[0] for e in elems], [e.bound[0] for e in elems], counts, accumulator(cfmt))
    nv = None
    if any_flagged:
        alts = len(straightforward_of(0, 0))
        nv = tuple(fmt.round(ieee_sum(c * straightforward_of(j, 0)[a] for j, c in enumerate(counts) if c)) for a in range(alts))
    else:
        # SPECIAL-OVERFLOW, partial sums: a running sum can overflow the accumulator although the
        # total is finite, only to the infinity of the sign of the terms that add up beyond it
        nv = partial_sum_overflow([e.exact[0] for e in elems], counts, accumulator(cfmt)) or None
    if reduction == "mean":
        total = total / n if n else mpf("nan")
        bound = bound / n + float(accumulator(cfmt).u) * abs(float(total)) if n else 0.0
        if nv is not None:
            nv = tuple(fmt.round(v / n) for v in nv)
    return Quantity("output", (), res_dtype, [total], [allowance(bound, total, fmt)], [nv], compute, precision)


def _grad_quantity(name, k, elems, index, out_shape, eff_shape, op_shape, fmt: Format, cfmt: Format,
                   gdtype, compute, precision, straightforward_at, straightforward_all):
    """GRAD-CHAIN / GRAD-BROADCAST: each element's (upstream-scaled) partial, summed back to the
    operand's shape over the broadcast dimensions."""
    groups = np.arange(int(np.prod(eff_shape, dtype=np.int64))).reshape(eff_shape)
    owner = np.broadcast_to(groups, out_shape).ravel()
    buckets = [[] for _ in range(groups.size)]
    for i, o in enumerate(owner):
        buckets[o].append(i)
    ex, al, nv = [], [], []
    for b in buckets:
        es = [elems[index[i]] for i in b]
        if len(b) == 1:
            total, bound = es[0].exact[k], es[0].bound[k]
        else:
            total, bound = sum_terms([e.exact[k] for e in es], [e.bound[k] for e in es], None, cfmt)
        ex.append(total)
        al.append(allowance(bound, total, fmt))
        offered = [straightforward_at(index[i]) for i in b]
        alts = ()
        if any(f is not None for f in offered):
            width = len(next(f for f in offered if f is not None))
            alts = tuple(fmt.round(ieee_sum(f[a] if f is not None else e.exact[k] for f, e in zip(offered, es)))
                         for a in range(width))
            if len(b) > 1:
                # SPECIAL-OVERFLOW over a broadcast sum: the whole straightforward evaluation too,
                # every term as evaluated (a term's own roundings may move the total by an ulp
                # that the exact terms beside an overflowed one would not show)
                full = [straightforward_all(index[i]) for i in b]
                alts += tuple(fmt.round(ieee_sum(f[a] for f in full)) for a in range(len(full[0])))
        near = [i for i, e in zip(b, es) if grad_orders_evaluated(e.peak[k], cfmt)]
        if near and not any(f is not None for f in offered):
            # ALLOW-GRAD-ORDER: near the overflow threshold, what the admitted evaluation orders
            # actually give (evaluated, with their signs), not a blanket +-inf/NaN
            full = [straightforward_all(index[i]) for i in b]
            width = len(full[0])
            alts += tuple(fmt.round(ieee_sum(f[a] for f in full)) for a in range(width))
        if grad_may_overflow([e.peak[k] for e in es], [e.parts[k] for e in es], cfmt):
            # a constant factor moved past the peak, or a per-path partial sum over the broadcast
            # dimension (autodiff accumulates each additive part separately), may overflow
            # although the total is finite
            alts += ANY_NONFINITE
        alts = tuple(dict.fromkeys(alts, None)) if alts else ()
        nv.append(alts or None)
    return Quantity(f"grad_{name}", tuple(op_shape), gdtype, ex, al, nv, compute, precision)
