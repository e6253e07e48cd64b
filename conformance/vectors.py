"""Golden vectors: the reference's answers for a fixed corpus of calls, as JSON any language can read.

`python -m conformance vectors --out DIR` writes one file per subject, `DIR/<subject>.json` (poisson,
gaussian, and the distribution subjects normal and poissonpmf; schema: docs/vectors-schema.md). Each case is one call of the functional form: operands, options, and what
the spec requires: an error, or the output and every operand's gradient (upstream gradient of ones)
as exact values with their allowances and the admitted alternative results. The corpus is a fixed
grid (no randomness), so two runs write identical files; the values come from `reference.engine.expect`
and nothing here restates a rule.

The corpus covers each loss's regions and flags (log_input, full, eps), the three reductions,
special values, broadcasting, empty operands, the Gaussian var shapes, and the errors an
implementation in another language can raise (invalid reduction, shapes, negative var, arguments
outside a distribution's support), in float32 and float64, the formats every language has. A file
names its function and operand order (from reference.losses), so a runner needs no per-subject code.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import mpmath
import numpy as np

from reference.engine import Call, expect
from reference.floats import FORMATS
from reference.losses import LOSSES, options_of

SCHEMA = "lossconform-vectors"
VERSION = 1
DTYPES = ("float32", "float64")
EXACT_DIGITS = 40


# --- number encoding ---------------------------------------------------------------------------------
def num(v) -> float | str:
    """A float64 value as JSON: a number (shortest round-trip text, -0.0 kept), or "nan", "inf", "-inf"."""
    f = float(v)
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return f


def _exact_parts(x) -> dict:
    """An exact value: decimal text, its nearest float64 and the float64 of the remainder (so that
    got - exact is computed to float64 accuracy as (got - hi) - lo)."""
    x = mpmath.mpf(x)
    if not mpmath.isfinite(x):
        return {"exact": num(x), "hi": num(x), "lo": 0.0}
    with mpmath.workprec(max(mpmath.mp.prec, x._mpf_[3] + 64) if x else 64):
        hi = float(x)
        lo = float(x - mpmath.mpf(hi)) if math.isfinite(hi) else 0.0
    return {"exact": mpmath.nstr(x, EXACT_DIGITS, min_fixed=-5, max_fixed=5) if x else "0", "hi": num(hi), "lo": lo}


def _quantity(q, exp) -> dict:
    fmt = FORMATS[q.dtype]
    parts = [_exact_parts(e) for e in q.exact]
    return {
        "dtype": q.dtype,
        "shape": list(q.shape),
        "exact": [p["exact"] for p in parts],
        "hi": [p["hi"] for p in parts],
        "lo": [p["lo"] for p in parts],
        "rounded": [num(fmt.round(e)) for e in q.exact],
        "allowance": [float(a) for a in q.allow],
        "admitted": [[num(v) for v in alts] if alts else [] for alts in q.straightforward],
        "clauses": [exp.clause_of(q.name, i) for i in range(len(q.exact))],
    }


def _operand(a) -> dict:
    a = np.asarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "values": [num(v) for v in a.astype(np.float64).ravel()]}


# --- the corpus ----------------------------------------------------------------------------------------
def _grid(xs, ts, dtype):
    x, t = (np.array(v, dtype=np.float64) for v in zip(*itertools.product(xs, ts)))
    return x.astype(dtype), t.astype(dtype)


def _poisson_calls(dtype):
    out = []
    log_x = [-20.0, -3.0, -0.5, 0.0, 0.25, 1.0, 2.5, 10.0]
    rate_x = [0.0, 1e-3, 0.5, 1.0, 4.0, 100.0]
    ts = [0.0, 0.5, 1.0, 1.5, 2.0, 7.0, 100.0]
    for log_input, full in itertools.product((True, False), (False, True)):
        x, t = _grid(log_x if log_input else rate_x, ts, dtype)
        for reduction in ("none", "mean", "sum"):
            out.append((f"grid[log_input={log_input},full={full},reduction={reduction}]",
                        {"input": x, "target": t}, dict(log_input=log_input, full=full, reduction=reduction)))
    specials = [float("nan"), float("inf"), float("-inf"), 0.0, 1.0]
    x, t = _grid(specials, specials, dtype)
    for log_input in (True, False):
        out.append((f"special[log_input={log_input},full=True]", {"input": x, "target": t},
                    dict(log_input=log_input, full=True, reduction="none")))
    x, t = _grid([0.0, 1e-3, 2.0], [0.0, 1.0, 3.0], dtype)
    for eps in (0.0, 1e-3, 1.0):
        out.append((f"eps[eps={eps}]", {"input": x, "target": t}, dict(log_input=False, eps=eps, reduction="none")))
    a = np.arange(6, dtype=np.float64).reshape(2, 3) / 4
    out.append(("broadcast[(2,3)+(3,)]", {"input": a.astype(dtype), "target": np.array([0.0, 1.0, 5.0], dtype)},
                dict(reduction="none")))
    out.append(("broadcast[(2,1)+(1,3),mean]", {"input": np.array([[0.5], [-1.0]], dtype),
                                                "target": np.array([[0.0, 2.0, 4.0]], dtype)}, dict(reduction="mean")))
    for reduction in ("none", "mean", "sum"):
        out.append((f"empty[reduction={reduction}]", {"input": np.zeros(0, dtype), "target": np.zeros(0, dtype)},
                    dict(reduction=reduction)))
    out.append(("error[reduction=bogus]", {"input": a.astype(dtype), "target": a.astype(dtype)},
                dict(reduction="bogus")))
    out.append(("error[shapes (2,3)+(4,)]", {"input": a.astype(dtype), "target": np.zeros(4, dtype)},
                dict(reduction="none")))
    return out


def _gaussian_calls(dtype):
    out = []
    ds = [-3.0, -0.5, 0.0, 1e-3, 2.0]
    vs = [0.0, 1e-7, 1e-6, 1e-3, 0.5, 1.0, 10.0]
    d, v = _grid(ds, vs, dtype)
    x = (np.linspace(-1, 1, d.size).astype(dtype))
    y = (x.astype(np.float64) - d.astype(np.float64)).astype(dtype)
    for full in (False, True):
        for reduction in ("none", "mean", "sum"):
            out.append((f"grid[full={full},reduction={reduction}]", {"input": x, "target": y, "var": v},
                        dict(full=full, reduction=reduction)))
    s = [float("nan"), float("inf"), float("-inf"), 0.0, 1.0]
    xs, ys = _grid(s, s, dtype)
    out.append(("special[var=1]", {"input": xs, "target": ys, "var": np.ones_like(xs)}, dict(reduction="none")))
    out.append(("special[var]", {"input": np.zeros(4, dtype), "target": np.ones(4, dtype),
                                 "var": np.array([0.0, float("inf"), float("nan"), 1e-8], dtype)},
                dict(reduction="none")))
    for eps in (0.0, 1e-3):
        out.append((f"eps[eps={eps}]", {"input": x, "target": y, "var": v}, dict(eps=eps, reduction="none")))
    a = (np.arange(6, dtype=np.float64).reshape(2, 3) / 4).astype(dtype)
    b = np.zeros((2, 3), dtype)
    out.append(("var_shape[(2,3),(2,1)]", {"input": a, "target": b, "var": np.array([[0.5], [2.0]], dtype)},
                dict(reduction="none")))
    out.append(("var_shape[(2,3),(2,)]", {"input": a, "target": b, "var": np.array([0.5, 2.0], dtype)},
                dict(reduction="sum")))
    out.append(("broadcast[target (3,)]", {"input": a, "target": np.array([0.0, 1.0, -1.0], dtype),
                                           "var": np.full((2, 3), 0.25, dtype)}, dict(reduction="none")))
    for reduction in ("none", "mean", "sum"):
        out.append((f"empty[reduction={reduction}]", {"input": np.zeros(0, dtype), "target": np.zeros(0, dtype),
                                                      "var": np.ones(0, dtype)}, dict(reduction=reduction)))
    out.append(("error[negative var]", {"input": a, "target": b, "var": np.full((2, 3), -1.0, dtype)},
                dict(reduction="none")))
    out.append(("error[var shape (2,3),(3,2)]", {"input": a, "target": b, "var": np.ones((3, 2), dtype)},
                dict(reduction="none")))
    out.append(("error[reduction=bogus]", {"input": a, "target": b, "var": np.ones((2, 3), dtype)},
                dict(reduction="bogus")))
    return out


def _normal_calls(dtype):
    ds = [-40.0, -3.0, -0.5, 0.0, 1e-3, 2.0]
    ss = [1e-3, 0.5, 1.0, 10.0]
    d, sc = _grid(ds, ss, dtype)
    loc = np.linspace(-1, 1, d.size).astype(dtype)
    value = (loc.astype(np.float64) + d.astype(np.float64)).astype(dtype)
    inf = float("inf")
    return [
        ("grid", {"loc": loc, "scale": sc, "value": value}, {}),
        ("special", {"loc": np.array([0.0, 0.0, inf, 0.0], dtype), "scale": np.array([1.0, 1.0, 1.0, inf], dtype),
                     "value": np.array([inf, -inf, 0.0, 1.0], dtype)}, {}),
        ("broadcast[(2,1)+(1,3)+(2,3)]", {"loc": np.array([[0.0], [1.0]], dtype), "scale": np.array([[0.5, 1.0, 2.0]], dtype),
                                          "value": np.array([[0.0, 1.0, -1.0], [2.0, 0.5, 1.0]], dtype)}, {}),
        ("empty", {"loc": np.zeros(0, dtype), "scale": np.ones(0, dtype), "value": np.zeros(0, dtype)}, {}),
        ("error[scale=0]", {"loc": np.zeros(2, dtype), "scale": np.array([1.0, 0.0], dtype), "value": np.zeros(2, dtype)},
         {}),
    ]


def _poissonpmf_calls(dtype):
    rate, value = _grid([1e-3, 0.5, 1.0, 3.0, 30.0, 1000.0], [0.0, 1.0, 2.0, 5.0, 30.0, 1000.0], dtype)
    inf = float("inf")
    return [
        ("grid", {"rate": rate, "value": value}, {}),
        ("zero_rate", {"rate": np.zeros(3, dtype), "value": np.array([0.0, 1.0, 4.0], dtype)}, {}),
        ("special", {"rate": np.array([inf, inf], dtype), "value": np.array([0.0, 3.0], dtype)}, {}),
        ("broadcast[(1,3)+(2,3)]", {"rate": np.array([[0.5, 2.0, 10.0]], dtype),
                                    "value": np.array([[0.0, 1.0, 7.0], [3.0, 2.0, 12.0]], dtype)}, {}),
        ("empty", {"rate": np.ones(0, dtype), "value": np.zeros(0, dtype)}, {}),
        ("error[value=1.5]", {"rate": np.ones(2, dtype), "value": np.array([1.0, 1.5], dtype)}, {}),
        ("error[rate<0]", {"rate": np.array([1.0, -1.0], dtype), "value": np.ones(2, dtype)}, {}),
    ]


CORPUS = {"poisson": _poisson_calls, "gaussian": _gaussian_calls, "normal": _normal_calls,
          "poissonpmf": _poissonpmf_calls}


def signature(loss: str) -> str:
    """The function as a file describes it: its name, its operands in call order, its options."""
    m, options = LOSSES[loss], options_of(loss)
    return f"{m.FUNCTIONAL}({', '.join(m.OPERANDS)}{', {' + ', '.join(options) + '}' if options else ''})"


def case(loss: str, cid: str, operands: dict, options: dict) -> dict:
    """One vector: the call and what the spec requires of it."""
    names = tuple(n for n in operands if n in LOSSES[loss].DIFFERENTIABLE)
    call = Call(loss, "functional", dict(operands), kwargs=dict(options), grad_wrt=names)
    exp = expect(call)
    out = {"id": cid, "operands": {n: _operand(a) for n, a in operands.items()}, "options": dict(options)}
    if exp.error is not None:
        e = exp.error
        out["error"] = {"clause": e.clause, "type": e.type, "message": e.message}
        return out
    out["output"] = _quantity(exp.output, exp)
    out["grads"] = {n: _quantity(q, exp) for n, q in exp.grads.items()}
    return out


def build(loss: str) -> dict:
    cases = []
    for dtype in DTYPES:
        for cid, ops, opts in CORPUS[loss](dtype):
            cases.append(case(loss, f"{loss}.{cid}[{dtype}]", ops, opts))
    m = LOSSES[loss]
    return {"schema": SCHEMA, "version": VERSION, "loss": loss, "signature": signature(loss),
            "function": m.FUNCTIONAL, "operands": list(m.OPERANDS), "cases": cases}


def write(out_dir) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for loss in CORPUS:
        p = out / f"{loss}.json"
        p.write_text(json.dumps(build(loss), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        paths.append(p)
    return paths


def conforms(got: float, q: dict, i: int) -> bool:
    """The comparison every runner implements (docs/vectors-schema.md), written here for the suite's
    own test of the vectors: `got` (a float64 holding the implementation's value) conforms for
    element `i` of quantity `q`."""
    val = float  # a number, or "nan", "inf", "-inf"
    if any((math.isnan(got) and math.isnan(val(a))) or got == val(a) for a in q["admitted"][i]):
        return True
    hi, lo, allow = val(q["hi"][i]), q["lo"][i], q["allowance"][i]
    if math.isnan(hi):
        return math.isnan(got)
    if math.isinf(hi):
        return got == hi
    if not math.isfinite(got):
        return got == val(q["rounded"][i])  # the exact value overflows the format
    return abs((got - hi) - lo) <= allow
