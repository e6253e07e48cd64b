"""What the spec says one call must do: the public entry point of the reference.

`expect(call)` takes a `Call` (which loss, functional or module form, the operands as NumPy arrays,
the other arguments as passed, which operands take gradients, the upstream gradient) and returns an
`Expected`: either the error the call must raise, or the output and every gradient as exact values
with their allowances, plus the warnings the call must emit. The conformance checks compare a
backend's `Outcome` with this and never restate a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np
from mpmath import mpf

from . import rules
from .allowance import allowance, ieee_sum, sum_terms
from .elementwise import LOSSES, element, mixed_format, naive
from .floats import FORMATS, Format
from .rules import SpecError, SpecWarning

FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")


def dtype_name(a) -> str:
    """The dtype tag of a NumPy array or scalar ('bfloat16' for ml_dtypes' type)."""
    return str(np.asarray(a).dtype)


@dataclass
class Call:
    loss: str  # "poisson" | "gaussian"
    form: str  # "functional" | "module"
    operands: dict  # name -> np.ndarray (Gaussian var may be a Python float)
    args: tuple = ()  # positional non-operand arguments (functional: after operands; module: ctor)
    kwargs: dict = field(default_factory=dict)  # keyword non-operand arguments
    grad_wrt: tuple = ()  # operand names that take gradients
    grad_output: object = None  # upstream gradient (np.ndarray shaped like the output) or None: ones


@dataclass
class Quantity:
    """An expected tensor: exact values, allowances and the straightforward IEEE results."""

    name: str
    shape: tuple
    dtype: str
    exact: list  # flat C-order list of mpf
    allow: list  # flat list of mpf
    naive: list  # flat list of mpf or None (offered only where flagged)
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


def _flat_float(a) -> list:
    return [float(v) for v in np.asarray(a).astype(np.float64).ravel()]


def resolve(call: Call):
    """Bind arguments, apply the legacy mapping and check the reduction (chapters 1, 5, 6).

    Returns (params, reduction, warnings) or (SpecError, warnings).
    """
    bound = rules.bind(call.loss, call.form, call.args, call.kwargs)
    if isinstance(bound, SpecError):
        return bound, []
    warnings = []
    reduction = bound["reduction"]
    when = "construction" if call.form == "module" else "call"
    if call.loss == "poisson":
        legacy = rules.legacy_reduction(bound["size_average"], bound["reduce"])
        if legacy is not None:
            reduction, w = legacy
            warnings.append(SpecWarning(w.clause, w.category, w.message, when))
        params = {"log_input": bound["log_input"], "full": bound["full"], "eps": bound["eps"]}
        for name in ("log_input", "full"):
            if not isinstance(params[name], bool):
                return SpecError("API-BOOL-ARGS", "TypeError", None, "call"), warnings
    else:
        params = {"full": bound["full"], "eps": bound["eps"]}
    return (params, reduction, warnings)


def expect(call: Call) -> Expected:
    res = resolve(call)
    if isinstance(res[0], SpecError):
        return Expected(error=res[0], warnings=res[1])
    params, reduction, warnings = res
    exp = Expected(warnings=warnings, reduction=reduction, params=params)
    ops = call.operands
    x = np.asarray(ops["input"])
    shapes = {"input": x.shape, "target": np.asarray(ops["target"]).shape}
    dtypes = {"input": dtype_name(x), "target": dtype_name(ops["target"])}

    if call.loss == "gaussian":
        var = ops["var"]
        if isinstance(var, float):  # GNLL-VAR-FLOAT
            if var < 0:
                exp.error = SpecError("GNLL-VAR-NONNEG", "ValueError", "var has negative entry/entries")
                return exp
            shapes["var"], dtypes["var"] = x.shape, dtypes["input"]
        elif isinstance(var, (int, bool)):
            exp.error = SpecError("GNLL-VAR-FLOAT", "TypeError", None)
            return exp
        else:
            v = np.asarray(var)
            if np.any(v.astype(np.float64) < 0):  # NaN and -0.0 pass (GNLL-VAR-NONNEG)
                exp.error = SpecError("GNLL-VAR-NONNEG", "ValueError", "var has negative entry/entries")
                return exp
            eff = rules.gaussian_var_shape(x.shape, v.shape)
            if isinstance(eff, SpecError):
                exp.error = eff
                return exp
            shapes["var"], dtypes["var"] = eff, dtype_name(v)

    bad = rules.check_reduction(call.loss, reduction)
    if bad is not None:
        exp.error = bad
        return exp

    out_shape = rules.broadcast_shapes(*shapes.values())
    if isinstance(out_shape, SpecError):
        exp.error = out_shape
        return exp

    res_dtype = rules.result_dtype([(dtypes[k], len(shapes[k])) for k in shapes])
    fmt = FORMATS[res_dtype]
    float_ops = [d for d in dtypes.values() if d in FLOAT_DTYPES]
    compute = mixed_format(float_ops + [res_dtype]).name

    # operands as exact values converted to the result dtype (DTYPE-CONVERT), broadcast
    names = list(shapes)
    cols = []
    for k in names:
        if k == "var" and isinstance(ops["var"], float):
            a = np.full(x.shape, ops["var"])
            vals = [FORMATS[dtypes["input"]].round(mpf(v)) if dtypes["input"] in FORMATS else mpf(v) for v in a.ravel()]
            a = np.array([float(v) for v in vals]).reshape(x.shape)
        else:
            a = np.asarray(ops[k]).astype(np.float64).reshape(shapes[k])
        cols.append(np.broadcast_to(a, out_shape))
    n = int(np.prod(out_shape, dtype=np.int64))
    flat_cols = [_flat_float(c) for c in cols]
    rows = [tuple(float(fmt.round(mpf(c[i]))) for c in flat_cols) for i in range(n)]

    # distinct points once (cheap large-N reductions), mapped back by index
    uniq: dict = {}
    index = []
    for r in rows:
        key = tuple(v if v == v else "nan" for v in r)
        j = uniq.get(key)
        if j is None:
            j = uniq[key] = len(uniq)
        index.append(j)
    points = list(uniq)
    pts = [tuple(float("nan") if v == "nan" else v for v in p) for p in points]
    elems = [element(call.loss, p, params, res_dtype, compute) for p in pts]
    cfmt = FORMATS[compute]
    precision = max((e.precision for e in elems), default=0)

    def flagged(e, k):
        b = e.bound[k]
        return e.overflow[k] or b != b or b == float("inf")

    def naive_of(j, k):
        return naive(call.loss, pts[j], params, compute)[k]

    # --- the loss output ---------------------------------------------------------------------
    if reduction == "none":
        ex = [elems[j].exact[0] for j in index]
        al = [allowance(elems[j].bound[0], elems[j].exact[0], fmt) for j in index]
        nv = [naive_of(j, 0) if flagged(elems[j], 0) else None for j in index]
        exp.output = Quantity("output", out_shape, res_dtype, ex, al, nv, compute, precision)
    else:
        counts = [0] * len(elems)
        for j in index:
            counts[j] += 1
        total, bound = sum_terms([e.exact[0] for e in elems], [e.bound[0] for e in elems], counts, cfmt)
        nv = None
        if any(flagged(e, 0) for e in elems):
            nv = fmt.round(ieee_sum(c * naive_of(j, 0) for j, c in enumerate(counts) if c))
        if reduction == "mean":
            total = total / n if n else mpf("nan")
            bound = bound / n + float(cfmt.u) * abs(float(total)) if n else 0.0
            if nv is not None:
                nv = fmt.round(nv / n)
        exp.output = Quantity("output", (), res_dtype, [total], [allowance(bound, total, fmt)],
                              [nv], compute, precision)

    # --- gradients -------------------------------------------------------------------------------
    if call.grad_wrt:
        g = call.grad_output
        if g is None:
            g_flat = [mpf(1)] * (n if reduction == "none" else 1)
        else:
            g_flat = [mpf(v) for v in _flat_float(g)]
        for name in call.grad_wrt:
            k = 1 + names.index(name)
            target_shape = tuple(np.asarray(ops[name]).shape) if not (name == "var" and isinstance(ops["var"], float)) else ()
            gdtype = dtypes[name] if dtypes[name] in FLOAT_DTYPES else res_dtype  # GRAD-DTYPE
            gcompute = mixed_format([compute, gdtype]).name
            exp.grads[name] = _grad_quantity(
                name, k, elems, index, g_flat, reduction, n, out_shape, shapes[name], target_shape,
                FORMATS[gdtype], FORMATS[gcompute], gdtype, gcompute, precision, lambda j: naive_of(j, k) if flagged(elems[j], k) else None,
            )
    return exp


def _grad_quantity(name, k, elems, index, g_flat, reduction, n, out_shape, eff_shape, op_shape,
                   fmt: Format, cfmt: Format, res_dtype, compute, precision, naive_at):
    """GRAD-CHAIN / GRAD-BROADCAST: upstream gradient times the partial, summed to the operand."""
    from .algebra import TNum
    from .elementwise import _tracked

    alg = _tracked(cfmt.name)
    with mpmath.workprec(max(64, precision)):
        if reduction == "mean":
            scale = [alg.div(alg.inp(g_flat[0]), alg.const(mpf(n)))] if n else [alg.inp(mpf(0))]
        else:
            scale = [alg.inp(v) for v in g_flat]
        terms = []
        for i, j in enumerate(index):
            e = elems[j]
            d = TNum(e.exact[k], e.bound[k], e.overflow[k], alg)
            s = scale[i if reduction == "none" else 0]
            terms.append(d * s)
        # sum over the broadcast dimensions back to the operand's (effective) shape
        groups = np.arange(int(np.prod(eff_shape, dtype=np.int64))).reshape(eff_shape)
        owner = np.broadcast_to(groups, out_shape).ravel()
        m = groups.size
        buckets = [[] for _ in range(m)]
        for i, o in enumerate(owner):
            buckets[o].append(i)
        ex, al, nv = [], [], []
        for b in buckets:
            if len(b) == 1:
                t = terms[b[0]]
                ex.append(t.v)
                al.append(allowance(t.e, t.v, fmt))
            else:
                total, bound = sum_terms([terms[i].v for i in b], [terms[i].e for i in b], None, cfmt)
                ex.append(total)
                al.append(allowance(bound, total, fmt))
            flagged = [naive_at(index[i]) for i in b]
            if any(f is not None for f in flagged):
                nv.append(fmt.round(ieee_sum(f if f is not None else terms[i].v for f, i in zip(flagged, b))))
            else:
                nv.append(None)
    return Quantity(f"grad_{name}", tuple(op_shape), res_dtype, ex, al, nv, compute, precision)
