"""Comparing what a backend did (adapters.Outcome) with what the spec requires (reference.Expected).

`conform(chk, call)` runs one call on the backend, asks the reference what it must do, and checks
every aspect whose clause counts at the run's level: the error (type, text, when), the warnings,
the output's dtype, shape and values, and every requested gradient. A deviation raises `Mismatch`
(status FAIL) or `BackendRaised` (status ERROR) carrying the data a report needs. A deviation that
the backend's expectations list for this check and clause is recorded on `chk` instead, so the
search goes on for deviations that are not expected.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from reference.allowance import judge
from reference.api import Call, Expected, Quantity, expect
from reference.floats import FORMATS

from . import specindex
from .serialize import call_to_json, value_str

# clause for each aspect that is not the check's own value clause
CLAUSE_DTYPE = "DTYPE-RESULT"
CLAUSE_SHAPE = "SHAPE-OUTPUT"
CLAUSE_GRAD_PRESENT = "GRAD-PRESENT"
CLAUSE_GRAD_DTYPE = "GRAD-DTYPE"
CLAUSE_NO_RAISE = "ERR-NO-EXCEPTION-ON-VALUES"


class Mismatch(AssertionError):
    def __init__(self, payload: dict):
        self.payload = payload
        super().__init__(payload.get("message", "mismatch"))


class BackendRaised(Exception):
    def __init__(self, payload: dict):
        self.payload = payload
        super().__init__(payload.get("message", "backend raised"))


@dataclass
class CheckContext:
    """Per-check state shared by the test body and the results plugin."""

    check: str
    loss: str | None
    chapter: str
    adapter: object
    level: str
    expectations: list
    clause: str | None = None  # the check's primary clause
    observed: dict = field(default_factory=dict)  # clause -> (Expectation, payload) deviations seen
    samples: list = field(default_factory=list)  # accuracy samples

    def counts(self, clause: str) -> bool:
        return specindex.counts(clause, self.level)

    def expected(self, clause: str):
        for e in self.expectations:
            if e.matches(self.check, clause):
                return e
        return None

    def fail(self, payload: dict, raised: bool = False) -> None:
        """Report a deviation: recorded if expected, else raised."""
        e = self.expected(payload["clause"])
        if e is not None:
            self.observed.setdefault(payload["clause"], (e, payload))
            return
        raise (BackendRaised if raised else Mismatch)(payload)

    def require_form(self, call: Call):
        """NA where the backend cannot express the call (capabilities, never behaviour)."""
        import pytest

        caps = self.adapter.caps
        if call.loss not in caps.losses:
            pytest.skip(f"NA: the backend does not provide the {call.loss} loss")
        if call.form not in caps.forms:
            pytest.skip(f"NA: the backend has no {call.form} form")
        for name in call.grad_wrt:
            if name not in caps.grad_wrt.get(call.loss, ()):
                pytest.skip(f"NA: the backend does not differentiate {call.loss} with respect to {name}")
        for a in call.operands.values():
            tag = str(np.asarray(a).dtype) if isinstance(a, np.ndarray) else None
            if tag and tag not in caps.dtypes and tag not in caps.int_dtypes:
                pytest.skip(f"NA: the backend does not support {tag}")


def _text(v) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return value_str(v) if isinstance(v, float) else str(v)


def _base(chk: CheckContext, call: Call, out, clause: str, quantity: str, message: str) -> dict:
    return {
        "clause": clause,
        "level": specindex.level_of(clause),
        "quantity": quantity,
        "message": message,
        "call": call_to_json(call),
        "repro": getattr(out, "repro", ""),
        "index": None,
        "expected": None,
        "expected_rounded": None,
        "got": None,
        "allowance": None,
        "normalized_error": None,
        "ulps": None,
    }


def _raised_text(r) -> str:
    return f"{r.type}: {r.message}" if r else "nothing raised"


def conform(chk: CheckContext, call: Call, *, value_clause=None, grad_clause=None, sample_axes=None,
            shape_clause=CLAUSE_SHAPE) -> Expected:
    """Run `call` on the backend and check it against the reference (see module docstring).

    value_clause: a clause id, or a function (flat_index) -> clause id; grad_clause: a clause id,
    or a function (operand name, flat_index) -> clause id: the clause each output / gradient
    element is judged under. sample_axes: a function
    (flat_index) -> (a, b) giving accuracy-map coordinates for output elements.
    """
    chk.require_form(call)
    exp = expect(call)
    out = chk.adapter.run(call)
    when_ok = chk.counts("ERR-MODULE-FORWARD")

    # --- warnings (LEGACY-WARN and friends) --------------------------------------------------
    _check_warnings(chk, call, exp, out)

    # --- a required error --------------------------------------------------------------------
    if exp.error is not None:
        e = exp.error
        if out.raised is None:
            if chk.counts(e.clause):
                p = _base(chk, call, out, e.clause, "error", f"expected {e.type} ({e.message or 'any message'}), but the call succeeded")
                p["expected"] = f"{e.type}: {e.message}" if e.message else e.type
                p["got"] = "returned " + _describe(out)
                chk.fail(p)
            return exp
        if out.raised.type != e.type and chk.counts("ERR-TYPES") and chk.counts(e.clause):
            p = _base(chk, call, out, "ERR-TYPES", "error", f"expected {e.type}, got {out.raised.type}")
            p["expected"], p["got"] = e.type, _raised_text(out.raised)
            chk.fail(p)
        elif e.message is not None and chk.counts(e.message_clause or "ERR-MESSAGES") and out.raised.message != e.message:
            p = _base(chk, call, out, e.message_clause or "ERR-MESSAGES", "error",
                      "the exception's message differs from PyTorch's")
            p["expected"], p["got"] = f"{e.type}: {e.message}", _raised_text(out.raised)
            chk.fail(p)
        if when_ok and call.form == "module" and out.raised.where != e.when:
            p = _base(chk, call, out, "ERR-MODULE-FORWARD", "error",
                      f"expected the error at {e.when}, it came at {out.raised.where}")
            p["expected"], p["got"] = f"{e.type} at {e.when}", f"{_raised_text(out.raised)} at {out.raised.where}"
            chk.fail(p)
        return exp

    if out.raised is not None:
        p = _base(chk, call, out, CLAUSE_NO_RAISE, "error",
                  f"the backend raised {out.raised.type} at {out.raised.where} where the spec requires a result")
        p["expected"], p["got"] = "a result", _raised_text(out.raised)
        chk.fail(p, raised=True)
        return exp

    # --- the output ------------------------------------------------------------------------------
    _check_quantity(chk, call, out, exp.output, out.output, out.output_dtype, value_clause, sample_axes,
                    shape_clause=shape_clause)
    for name in call.grad_wrt:
        q = exp.grads.get(name)
        if q is None:
            continue
        if name not in out.grads:
            p = _base(chk, call, out, CLAUSE_GRAD_PRESENT, f"grad_{name}", f"no gradient reached {name}")
            p["expected"], p["got"] = f"a gradient of shape {q.shape}", "None"
            chk.fail(p)
            continue
        clause = (lambda i, name=name: grad_clause(name, i)) if callable(grad_clause) else grad_clause
        _check_quantity(chk, call, out, q, out.grads[name], out.grad_dtypes.get(name), clause, None,
                        dtype_clause=CLAUSE_GRAD_DTYPE)
    return exp


def _describe(out) -> str:
    if out.output is None:
        return "nothing"
    a = np.asarray(out.output)
    vals = ", ".join(_text(float(v)) for v in a.astype(np.float64).ravel()[:6])
    more = ", ..." if a.size > 6 else ""
    return f"{out.output_dtype} tensor of shape {tuple(a.shape)} [{vals}{more}]"


def _check_warnings(chk, call, exp, out) -> None:
    want = [(w.category, w.message, w.when) for w in exp.warnings]
    got = list(out.warnings)
    for cat, msg, when in want:
        clause = "LEGACY-WARN"
        if not chk.counts(clause):
            continue
        same_cat = [g for g in got if g[0] == cat]
        if not same_cat:
            p = _base(chk, call, out, clause, "warning", f"expected a {cat} ({msg!r}); none was emitted")
            p["expected"], p["got"] = f"{cat}: {msg}", "; ".join(f"{c}: {m}" for c, m, _ in got) or "no warning"
            chk.fail(p)
            continue
        if not any(g[1] == msg for g in same_cat):
            p = _base(chk, call, out, clause, "warning", "the deprecation warning's text differs")
            p["expected"], p["got"] = f"{cat}: {msg}", "; ".join(f"{c}: {m}" for c, m, _ in same_cat)
            chk.fail(p)
        if call.form == "module" and chk.counts("LEGACY-MODULE-WARN-ONCE"):
            wheres = sorted({g[2] for g in same_cat})
            if wheres != [when]:
                p = _base(chk, call, out, "LEGACY-MODULE-WARN-ONCE", "warning",
                          f"the module should warn at {when} only; it warned at {', '.join(wheres)}")
                p["expected"], p["got"] = when, ", ".join(wheres)
                chk.fail(p)


def _check_quantity(chk, call, out, q: Quantity, got_arr, got_dtype, clause, sample_axes,
                    dtype_clause=CLAUSE_DTYPE, shape_clause=CLAUSE_SHAPE) -> None:
    qname = q.name
    if got_arr is None:
        p = _base(chk, call, out, CLAUSE_SHAPE, qname, "the backend returned no output")
        chk.fail(p)
        return
    got_arr = np.asarray(got_arr)
    if got_dtype != q.dtype and chk.counts(dtype_clause):
        p = _base(chk, call, out, dtype_clause, qname, f"{qname} has dtype {got_dtype}, the spec requires {q.dtype}")
        p["expected"], p["got"] = q.dtype, str(got_dtype)
        chk.fail(p)
        if got_dtype not in FORMATS:
            return
    if tuple(got_arr.shape) != tuple(q.shape):
        p = _base(chk, call, out, shape_clause, qname, f"{qname} has shape {tuple(got_arr.shape)}, the spec requires {tuple(q.shape)}")
        p["expected"], p["got"] = str(tuple(q.shape)), str(tuple(got_arr.shape))
        chk.fail(p)
        return
    fmt = FORMATS[q.dtype]
    flat = got_arr.astype(np.float64).ravel()
    worst = None
    for i, g in enumerate(flat):
        v = judge(float(g), q.exact[i], q.allow[i], fmt, q.naive[i])
        if sample_axes is not None:
            a, b = sample_axes(i)
            chk.samples.append((a, b, v.normalized))
        if v.ok:
            continue
        cl = clause(i) if callable(clause) else clause
        if not chk.counts(cl):
            continue
        score = v.normalized if math.isfinite(v.normalized) else math.inf
        if chk.expected(cl) is not None:
            # an expected deviation: note it once, keep looking for unexpected ones
            p = _element_payload(chk, call, out, q, i, g, v, cl, fmt)
            chk.fail(p)
            continue
        if worst is None or score > worst[0]:
            worst = (score, i, g, v, cl)
    if worst is not None:
        _, i, g, v, cl = worst
        chk.fail(_element_payload(chk, call, out, q, i, g, v, cl, fmt))


def _element_payload(chk, call, out, q, i, g, v, cl, fmt) -> dict:
    idx = [int(k) for k in np.unravel_index(i, q.shape)] if q.shape else []
    exact = q.exact[i]
    p = _base(chk, call, out, cl, q.name,
              f"{q.name}{idx if idx else ''}: got {_text(float(g))}, expected {_num(exact)} "
              f"(normalized error {_num(v.normalized)}, {_num(v.ulps)} ulp)")
    p["index"] = [int(k) for k in idx]
    p["expected"] = _num(exact)
    p["expected_rounded"] = _text(float(fmt.round(exact)))
    p["got"] = _text(float(g))
    p["allowance"] = _num(q.allow[i])
    p["normalized_error"] = _num(v.normalized)
    p["ulps"] = _num(v.ulps)
    p["precision_bits"] = q.precision
    return p


def _num(x) -> str:
    import mpmath

    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(f):
        return "nan" if f != f else ("inf" if f > 0 else "-inf")
    if isinstance(x, mpmath.mpf):
        return mpmath.nstr(x, 17)
    return f"{f:.6g}"
