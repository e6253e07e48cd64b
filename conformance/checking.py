"""Comparing what a backend did (adapters.Outcome) with what the spec requires (reference.Expected).

`conform(chk, call)` runs one call on the backend, asks the reference what it must do, and checks
every aspect whose clause counts at the run's level: the error (type, text, when), the warnings,
the output's dtype, shape and values, and every requested gradient. Every deviation becomes a
payload (the data a report needs) filed under the most specific clause:

* an element's value is judged under the clause of the formula's region it falls in (the loss
  module's `clause`, through `Expected.clause_of`): the Stirling mask, the var clamp, a NaN operand;
* a call that departs from its canonical form (module form, positional, legacy or omitted
  arguments, non-contiguous operands) is also run with each departure undone
  (`reference.engine.twins`). An element that a twin gets right is that departure's deviation; one
  that is wrong in every form is the formula's. A layout and a module call must also give their
  twin's bits (SHAPE-LAYOUT, API-MODULE-FUNCTIONAL);
* a wrong reduced value whose elements are themselves wrong is filed under the elements' clause.

The check context decides what a deviation does (`CheckContext.fail`): an expected one (the
backend's expectations file) is noted; otherwise, in the *survey* mode every distinct deviation
is recorded and the check goes on, so one run reports all of them; in the *minimise* mode a
deviation with a target signature raises, so that hypothesis shrinks exactly that one (one
exception class per signature: hypothesis keeps distinct failures apart and cannot slide from one
bug to another while shrinking).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from adapters.base import Adapter
from reference.allowance import judge
from reference.engine import DEPARTURE_CLAUSES, Call, Expected, Quantity, canonical, expect, module_attrs, twins
from reference.floats import FORMATS, any_subnormal

from . import specindex
from .serialize import call_to_json, value_str

# clause for each aspect that is not the check's own value clause
CLAUSE_DTYPE = "DTYPE-RESULT"
CLAUSE_SHAPE = "SHAPE-OUTPUT"
CLAUSE_GRAD_PRESENT = "GRAD-PRESENT"
CLAUSE_GRAD_DTYPE = "GRAD-DTYPE"
CLAUSE_NO_RAISE = "ERR-NO-EXCEPTION-ON-VALUES"
# a reduced output is attributed to its elements when there are at most this many
ATTRIBUTE_MAX_ELEMENTS = 4096


def signature(p: dict) -> str:
    """What makes two failures the same finding: loss, clause, quantity and kind, and whether
    PyTorch 2.13 itself gives the same wrong result there (`p["pytorch"]`)."""
    sig = "|".join((p.get("loss") or "any", p["clause"], p["quantity"], p.get("kind") or "value"))
    return sig + "|pytorch" if p.get("pytorch") else sig


@dataclass
class PytorchReference:
    """PyTorch 2.13 itself, to tell a candidate's own deviations from the ones PyTorch shares: an
    element is shared when PyTorch's expectations list the deviation (check and clause) and
    PyTorch gives the same bits there. `expect`: such elements count as expected failures."""

    make: object  # () -> the torch CPU adapter (made on first use) or None
    expectations: list
    expect: bool = False
    _adapter: object = False

    @property
    def adapter(self):
        if self._adapter is False:
            try:
                a = self.make()
                self._adapter = a if a is not None and a.available()[0] else None
            except Exception:  # noqa: BLE001 - without torch nothing is marked as shared
                self._adapter = None
        return self._adapter

    def entry(self, check: str, clause: str):
        return next((e for e in self.expectations if e.matches(check, clause)), None)


class Mismatch(AssertionError):
    def __init__(self, payload: dict):
        self.payload = payload
        super().__init__(payload.get("message", "mismatch"))


class BackendRaised(Mismatch):
    pass


_ERROR_TYPES: dict = {}


def error_type(sig: str, raised: bool) -> type:
    """One exception class per failure signature (hypothesis tells failures apart by class)."""
    key = (sig, raised)
    if key not in _ERROR_TYPES:
        base = BackendRaised if raised else Mismatch
        _ERROR_TYPES[key] = type(f"{base.__name__}[{sig}]", (base,), {})
    return _ERROR_TYPES[key]


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
    mode: str = "survey"  # "survey": record every deviation; "minimise": raise the target signatures
    targets: frozenset = frozenset()  # signatures to raise in minimise mode ("*": every one)
    observed: dict = field(default_factory=dict)  # clause -> (Expectation, payload) expected deviations
    found: dict = field(default_factory=dict)  # signature -> payload of an unexpected deviation
    samples: list = field(default_factory=list)  # accuracy samples (a, b, normalized, admission)
    calls: int = 0  # calls made on the backend (progress)
    notes: list = field(default_factory=list)  # parts of the check that were not applicable
    on_call: object = None  # called after each backend call (progress)
    pytorch: PytorchReference | None = None  # for a candidate that is not PyTorch itself
    steered: tuple = (None, {})  # (hypothesis example, labels targeted in it): see steer()

    def counts(self, clause: str) -> bool:
        return specindex.counts(clause, self.level)

    def expected(self, clause: str, payload: dict | None = None):
        for e in self.expectations:
            if e.matches(self.check, clause, payload):
                return e
        return None

    def fail(self, payload: dict) -> None:
        """Report a deviation: noted if expected, recorded (survey) or raised (minimise)."""
        e = self.expected(payload["clause"], payload)
        if e is None and payload.get("pytorch") and self.pytorch is not None and self.pytorch.expect:
            e = self.pytorch.entry(self.check, payload["clause"])
        if e is not None:
            self.observed.setdefault(payload["clause"], (e, payload))
            return
        sig = signature(payload)
        if self.mode == "minimise" and (sig in self.targets or "*" in self.targets):
            raise error_type(sig, payload["status"] == "ERROR")(payload)
        self.found.setdefault(sig, payload)

    def require_form(self, call: Call) -> Call:
        """NA where the backend cannot express the call (capabilities, never behaviour).

        Gradients the backend cannot take are dropped from the call (noted), so that a check of
        another rule does not depend on them; a call that is only about those gradients is NA.
        """
        import pytest

        caps = self.adapter.caps
        if call.loss not in caps.losses:
            pytest.skip(f"NA: the backend does not provide the {call.loss} loss")
        if call.form not in caps.forms:
            pytest.skip(f"NA: the backend has no {call.form} form")
        for a in call.operands.values():
            tag = str(np.asarray(a).dtype) if isinstance(a, np.ndarray) else None
            if tag and tag not in caps.dtypes and tag not in caps.int_dtypes:
                pytest.skip(f"NA: the backend does not support {tag}")
        for name, layout in call.layout.items():
            if layout not in (None, "contiguous") and layout not in caps.layouts:
                pytest.skip(f"NA: the backend cannot build a {layout} operand")
        why = getattr(self.adapter, "cannot_express", lambda c: None)(call)
        if why:
            pytest.skip(f"NA: {why}")
        drop = [n for n in call.grad_wrt if n not in caps.differentiates(call.loss)]
        if drop:
            if self.chapter == "gradients" and len(drop) == len(call.grad_wrt):
                pytest.skip(f"NA: the backend does not differentiate {call.loss} with respect to {', '.join(drop)}")
            note = f"not differentiated with respect to {', '.join(drop)} (the backend cannot)"
            if note not in self.notes:
                self.notes.append(note)
            call = replace(call, grad_wrt=tuple(n for n in call.grad_wrt if n not in drop))
        return call


def _text(v) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return value_str(v) if isinstance(v, float) else str(v)


def _base(call: Call, out, clause: str, quantity: str, kind: str, message: str, raised=False) -> dict:
    return {
        "clause": clause,
        "level": specindex.level_of(clause),
        "loss": call.loss,
        "quantity": quantity,
        "kind": kind,
        "status": "ERROR" if raised else "FAIL",
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
        "subnormal": involves_subnormal(call),
    }


def involves_subnormal(call: Call) -> bool:
    """Does an operand element or the upstream gradient hold a subnormal (or flushed-to-zero)
    magnitude of its own format? An expectation with `when = "subnormal"` (a backend that flushes
    subnormals) applies only where this, or for a value failure the reference's straightforward
    evaluation meeting a subnormal (Expected.meets_subnormal), holds."""
    arrays = list(call.operands.values()) + ([call.grad_output] if call.grad_output is not None else [])
    return any(isinstance(a, np.ndarray) and str(a.dtype) in FORMATS and any_subnormal(a, FORMATS[str(a.dtype)])
               for a in arrays)


def _raised_text(r) -> str:
    return f"{r.type}: {r.message}" if r else "nothing raised"


def conform(chk: CheckContext, call: Call, *, value_clause=None, grad_clause=None, sample_axes=None,
            shape_clause=CLAUSE_SHAPE, raise_clause=None) -> Expected:
    """Run `call` on the backend and check it against the reference (see module docstring).

    value_clause / grad_clause: the clause of the aspect the check is about (a clause id, or a
    function (flat_index) / (operand name, flat_index) -> clause id). An element's deviation is
    filed under it where the call's twin (its plainest equivalent) gives a different value, or
    where the reference knows no region clause; otherwise under the region's clause. A layout or a
    module call must also give its twin's bits (BITWISE). raise_clause: the clause of a raise where
    a result is required. sample_axes: a function (flat_index) -> (a, b) giving accuracy-map coordinates.
    """
    call = chk.require_form(call)
    devs, exp = evaluate(chk, call, value_clause=value_clause, grad_clause=grad_clause, sample_axes=sample_axes,
                         shape_clause=shape_clause, raise_clause=raise_clause)
    for p in devs:
        if chk.expected(p["clause"], p) is None and (
                (chk.mode == "survey" and signature(p) not in chk.found)
                or (chk.mode == "minimise" and (signature(p) in chk.targets or "*" in chk.targets))):
            p = _isolate(chk, call, p)
        chk.fail(p)
    return exp


def evaluate(chk: CheckContext, call: Call, *, value_clause=None, grad_clause=None, sample_axes=None,
             shape_clause=CLAUSE_SHAPE, raise_clause=None, attribute=True) -> tuple[list, Expected]:
    """Every deviation of `call` on the backend, as payloads (nothing is recorded or raised)."""
    exp = expect(call)
    out = chk.adapter.run(call)
    chk.calls += 1
    if chk.on_call is not None:
        chk.on_call()
    devs: list = []
    when_ok = chk.counts("ERR-MODULE-FORWARD")

    # --- warnings (LEGACY-WARN and friends) --------------------------------------------------
    _check_warnings(chk, call, exp, out, devs)
    for name in out.mutated:  # SHAPE-NO-MUTATION, whatever else happened
        if chk.counts("SHAPE-NO-MUTATION"):
            p = _base(call, out, "SHAPE-NO-MUTATION", name, "mutation", f"the call changed the values of {name}")
            p["expected"], p["got"] = f"{name} unchanged", f"{name} changed in place"
            devs.append(p)
    want_attrs = module_attrs(call)
    if want_attrs is not None and out.module_attrs is not None and chk.counts("API-MODULE-ATTRS"):
        bad = {k: out.module_attrs.get(k, "<absent>") for k, v in want_attrs.items()
               if not _same_attr(out.module_attrs.get(k, "<absent>"), v)}
        if bad:
            p = _base(call, out, "API-MODULE-ATTRS", "module", "attribute",
                      f"the module exposes {', '.join(f'{k}={v!r}' for k, v in bad.items())}")
            p["expected"] = ", ".join(f"{k}={want_attrs[k]!r}" for k in bad)
            p["got"] = ", ".join(f"{k}={v!r}" for k, v in bad.items())
            devs.append(p)

    # --- a required error --------------------------------------------------------------------
    if exp.error is not None:
        e = exp.error
        if out.raised is None:
            if chk.counts(e.clause):
                p = _base(call, out, e.clause, "error", "error",
                          f"expected {e.type} ({e.message or 'any message'}), but the call succeeded")
                p["expected"] = f"{e.type}: {e.message}" if e.message else e.type
                p["got"] = "returned " + _describe(out)
                devs.append(p)
            return devs, exp
        if out.raised.type != e.type and chk.counts("ERR-TYPES") and chk.counts(e.clause):
            p = _base(call, out, "ERR-TYPES", "error", "error", f"expected {e.type}, got {out.raised.type}")
            p["expected"], p["got"] = e.type, _raised_text(out.raised)
            devs.append(p)
        elif e.message is not None and chk.counts(e.message_clause or "ERR-MESSAGES") and out.raised.message != e.message:
            p = _base(call, out, e.message_clause or "ERR-MESSAGES", "error", "message",
                      "the exception's message differs from PyTorch's")
            p["expected"], p["got"] = f"{e.type}: {e.message}", _raised_text(out.raised)
            devs.append(p)
        if when_ok and call.form == "module" and out.raised.where != e.when:
            p = _base(call, out, "ERR-MODULE-FORWARD", "error", "when",
                      f"expected the error at {e.when}, it came at {out.raised.where}")
            p["expected"], p["got"] = f"{e.type} at {e.when}", f"{_raised_text(out.raised)} at {out.raised.where}"
            devs.append(p)
        return devs, exp

    if out.raised is not None:
        # a raise where a result is required: filed under the aspect the call exercises when its
        # plainest twin does not raise (e.g. a broadcasting or layout failure), else generally
        clause = CLAUSE_NO_RAISE
        tws = _twins(chk, call)
        aspect = value_clause if isinstance(value_clause, str) else None
        fixed = next((c for c, o in tws if o.raised is None), None)
        if raise_clause:
            clause = raise_clause
        elif fixed is not None:
            clause = fixed  # undoing that departure, the call returns: the departure raised
        elif aspect and aspect not in DEPARTURE_CLAUSES and not tws:
            clause = aspect  # an aspect no twin changes (broadcasting, a var shape, 0-d, empty)
        p = _base(call, out, clause, "error", "raised",
                  f"the backend raised {out.raised.type} at {out.raised.where} where the spec requires a result",
                  raised=True)
        p["expected"], p["got"] = "a result", _raised_text(out.raised)
        devs.append(p)
        return devs, exp

    tws = [(c, o) for c, o in _twins(chk, call) if o.raised is None]
    ref = _LazyPytorch(chk, call)

    # --- the output ------------------------------------------------------------------------------
    _check_quantity(chk, call, out, exp, exp.output, out.output, out.output_dtype, value_clause, sample_axes, devs,
                    shape_clause=shape_clause, twins=[(c, o.output) for c, o in tws], pytorch=ref)
    for name in call.grad_wrt:
        q = exp.grads.get(name)
        if q is None:
            continue
        if name not in out.grads:
            p = _base(call, out, CLAUSE_GRAD_PRESENT, f"grad_{name}", "missing", f"no gradient reached {name}")
            p["expected"], p["got"] = f"a gradient of shape {q.shape}", "None"
            devs.append(p)
            continue
        clause = (lambda i, name=name: grad_clause(name, i)) if callable(grad_clause) else grad_clause
        _check_quantity(chk, call, out, exp, q, out.grads[name], out.grad_dtypes.get(name), clause, None, devs,
                        dtype_clause=CLAUSE_GRAD_DTYPE, twins=[(c, o.grads.get(name)) for c, o in tws], pytorch=ref)
    if attribute:  # never inside an attribution's own sub-evaluation (no recursion)
        _attribute_reduction(chk, call, exp, devs)
        _attribute_term(chk, call, devs)
        _attribute_upstream(chk, call, exp, devs)
    _add_expected_to_repro(devs, chk.adapter)
    return devs, exp


def _attribute_upstream(chk, call, exp, devs) -> None:
    """A wrong gradient element that is right when its upstream factor is handed to it directly
    (the element alone, reduction 'none', that factor as its upstream gradient) is the reduction's
    backward (GRAD-REDUCTION: the scalar, or the scalar over N, of 'sum' and 'mean') or the chain
    rule's (GRAD-CHAIN: an upstream gradient other than ones under 'none')."""
    grads = [p for p in devs if p["quantity"].startswith("grad_") and p.get("kind") == "value"
             and p["clause"] != "GRAD-BROADCAST" and p.get("index") is not None]
    if not grads or exp.output is None or "functional" not in chk.adapter.caps.forms:
        return
    # the variant keeps the call's own arguments (an omitted default stays omitted, a layout stays),
    # so that a departure is never mistaken for the upstream factor; only the reduction and the
    # upstream gradient change, which needs them passed by keyword in the functional form
    if (call.form != "functional" or call.args or any(k in call.kwargs for k in ("size_average", "reduce"))
            or canonical(call) is None):
        return
    if any(not isinstance(v, np.ndarray) for v in call.operands.values()):
        return
    shapes = {np.shape(v) for v in call.operands.values()}
    if len(shapes) != 1:
        return  # broadcast operands: their gradients are sums (GRAD-BROADCAST)
    shape = next(iter(shapes))
    from conformance.strategies import np_dtype

    dtype = np_dtype(exp.output.dtype)
    if exp.reduction in ("mean", "sum"):
        g = 1.0 if call.grad_output is None else float(np.asarray(call.grad_output, dtype=np.float64))
        n = int(np.prod(shape)) if exp.reduction == "mean" else 1
        up, clause = np.full(shape, g / max(n, 1)).astype(dtype), "GRAD-REDUCTION"
    elif call.grad_output is not None and np.any(np.asarray(call.grad_output, dtype=np.float64) != 1):
        up, clause = np.ones(shape).astype(dtype), "GRAD-CHAIN"
    else:
        return
    if not chk.counts(clause):
        return
    variant = replace(call, kwargs=dict(call.kwargs, reduction="none"), grad_output=up)
    for p in grads:
        small = _element_call(variant, p) if shape else variant
        if small is None:
            continue
        try:
            sub, _ = evaluate(chk, small, attribute=False)
        except Exception:  # noqa: BLE001
            continue
        if not any(q["quantity"] == p["quantity"] and q.get("kind") == "value" for q in sub):
            p["clause"], p["level"] = clause, specindex.level_of(clause)
            p["message"] += f" (right when the upstream factor is given directly: {clause})"


def _attribute_term(chk, call, devs) -> None:
    """A wrong element under the clause of a term a flag switches on (the Stirling term, full's
    constant) is re-filed under the rest of the formula's clause when the same element is wrong
    with the flag off too: then the term is not what is wrong."""
    from reference.elementwise import LOSSES

    flags = LOSSES[call.loss].TERM_FLAGS
    for p in devs:
        if p.get("kind") != "value" or p["quantity"] != "output" or p.get("index") is None:
            continue
        for flag, clauses in flags.items():
            if p["clause"] not in clauses or "functional" not in chk.adapter.caps.forms:
                continue
            small = _element_call(call, p) or (call if _one_element(call) else None)
            c = canonical(small) if small is not None else None
            if c is None:
                continue
            off = Call(c.loss, "functional", c.operands, (), dict(c.kwargs, **{flag: False}))
            try:
                sub, _ = evaluate(chk, off, attribute=False)
            except Exception:  # noqa: BLE001
                continue
            base = [q for q in sub if q["quantity"] == "output" and q.get("kind") == "value"]
            if base:
                p["clause"], p["level"] = base[0]["clause"], base[0]["level"]
                p["message"] += f" (wrong with {flag}=False too)"


class _LazyPytorch:
    """PyTorch's result for the same call, computed only when an element fails."""

    def __init__(self, chk, call):
        self.chk, self.call, self.out = chk, call, False

    def values(self, qname):
        if self.chk.pytorch is None:
            return None
        if self.out is False:
            a = self.chk.pytorch.adapter
            try:
                self.out = a.run(self.call) if a is not None else None
            except Exception:  # noqa: BLE001
                self.out = None
        o = self.out
        if o is None or o.raised is not None:
            return None
        a = o.output if qname == "output" else o.grads.get(qname[len("grad_"):])
        return None if a is None else np.asarray(a).astype(np.float64).ravel()


def _same_attr(got, want) -> bool:
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return float(got) == want
    return type(got) is type(want) and got == want


def _twins(chk, call) -> list:
    """[(clause, outcome)] of the call's twins the backend can run (reference.engine.twins): each
    undoes one departure from the canonical form. Memoised on the call object."""
    cached = getattr(call, "_lossconform_twins", None)
    if cached is not None:
        return cached
    res = [(clause, chk.adapter.run(tw)) for clause, tw in twins(call) if tw.form in chk.adapter.caps.forms
           and all(v in (None, "contiguous") or v in chk.adapter.caps.layouts for v in tw.layout.values())]
    try:
        object.__setattr__(call, "_lossconform_twins", res)
    except AttributeError:
        pass
    return res


# the departures whose twin must give the same bits, not only a conforming value (SPEC)
BITWISE = ("SHAPE-LAYOUT", "API-MODULE-FUNCTIONAL")


def _describe(out) -> str:
    if out.output is None:
        return "nothing"
    a = np.asarray(out.output)
    vals = ", ".join(_text(float(v)) for v in a.astype(np.float64).ravel()[:6])
    more = ", ..." if a.size > 6 else ""
    return f"{out.output_dtype} tensor of shape {tuple(a.shape)} [{vals}{more}]"


def _check_warnings(chk, call, exp, out, devs) -> None:
    want = [(w.category, w.message, w.when) for w in exp.warnings]
    got = list(out.warnings)
    wanted = {(c, m) for c, m, _ in want}
    extra = [g for g in got if (g[0], g[1]) not in wanted and not any(g[0] == c for c, _, _ in want)]
    if extra and chk.counts("ERR-NO-WARNINGS"):
        p = _base(call, out, "ERR-NO-WARNINGS", "warning", "spurious",
                  f"the call emitted {len(extra)} warning(s) where the spec requires none: {extra[0][0]} at {extra[0][2]}")
        p["expected"], p["got"] = "no warning", "; ".join(f"{c}: {m} (at {w})" for c, m, w in extra)
        devs.append(p)
    for cat, msg, when in want:
        n = sum(1 for g in got if g[0] == cat and g[1] == msg and g[2] == when)
        if n > 1 and chk.counts("LEGACY-WARN"):
            p = _base(call, out, "LEGACY-WARN", "warning", "count", f"the deprecation warning was emitted {n} times at {when}")
            p["expected"], p["got"] = f"exactly one {cat} at {when}", f"{n}"
            devs.append(p)
    for cat, msg, when in want:
        clause = "LEGACY-WARN"
        if not chk.counts(clause):
            continue
        same_cat = [g for g in got if g[0] == cat]
        if not same_cat:
            p = _base(call, out, clause, "warning", "missing", f"expected a {cat} ({msg!r}); none was emitted")
            p["expected"], p["got"] = f"{cat}: {msg}", "; ".join(f"{c}: {m}" for c, m, _ in got) or "no warning"
            devs.append(p)
            continue
        if not any(g[1] == msg for g in same_cat):
            p = _base(call, out, clause, "warning", "message", "the deprecation warning's text differs")
            p["expected"], p["got"] = f"{cat}: {msg}", "; ".join(f"{c}: {m}" for c, m, _ in same_cat)
            devs.append(p)
        at_caller = [f for g, f, c in zip(out.warnings, out.warning_files, out.warning_at_caller)
                     if c and g[0] == cat and g[1] == msg]
        if at_caller and chk.counts("LEGACY-WARN-LOCATION"):
            p = _base(call, out, "LEGACY-WARN-LOCATION", "warning", "location",
                      "the deprecation warning is attributed to the caller's code, not to the implementation "
                      "(a stacklevel one too high?)")
            p["expected"] = "a location inside the implementation (PyTorch: torch/nn/functional.py, torch/nn/modules/loss.py)"
            p["got"] = "; ".join(sorted(set(at_caller)))
            devs.append(p)
        if call.form == "module" and chk.counts("LEGACY-MODULE-WARN-ONCE"):
            wheres = sorted({g[2] for g in same_cat})
            if wheres != [when]:
                p = _base(call, out, "LEGACY-MODULE-WARN-ONCE", "warning", "when",
                          f"the module should warn at {when} only; it warned at {', '.join(wheres)}")
                p["expected"], p["got"] = when, ", ".join(wheres)
                devs.append(p)


def _same_bits(a, b) -> bool:
    return (a == b and (a != 0 or math.copysign(1, a) == math.copysign(1, b))) or (a != a and b != b)


def _check_quantity(chk, call, out, exp, q: Quantity, got_arr, got_dtype, clause, sample_axes, devs,
                    dtype_clause=CLAUSE_DTYPE, shape_clause=CLAUSE_SHAPE, twins=(), pytorch=None) -> None:
    qname = q.name
    if got_arr is None:
        devs.append(_base(call, out, shape_clause, qname, "missing", "the backend returned no output"))
        return
    got_arr = np.asarray(got_arr)
    if got_dtype != q.dtype and chk.counts(dtype_clause):
        p = _base(call, out, dtype_clause, qname, "dtype", f"{qname} has dtype {got_dtype}, the spec requires {q.dtype}")
        p["expected"], p["got"] = q.dtype, str(got_dtype)
        devs.append(p)
        if got_dtype not in FORMATS:
            return
    if tuple(got_arr.shape) != tuple(q.shape):
        p = _base(call, out, shape_clause, qname, "shape",
                  f"{qname} has shape {tuple(got_arr.shape)}, the spec requires {tuple(q.shape)}")
        p["expected"], p["got"] = str(tuple(q.shape)), str(tuple(got_arr.shape))
        devs.append(p)
        return
    fmt = FORMATS[q.dtype]
    flat = got_arr.astype(np.float64).ravel()
    tflats = [(c, np.asarray(a).astype(np.float64).ravel()) for c, a in twins
              if a is not None and tuple(np.shape(a)) == tuple(got_arr.shape)]
    worst: dict = {}  # (clause, shared with PyTorch) -> (score, i, g, verdict)
    failing = []
    reduced = qname == "output" and exp.reduction != "none"
    bits: dict = {}  # departure clause -> (first element whose bits differ from its twin, twin value)
    peak = 0.0  # the largest finite normalized error: what hypothesis is steered to increase
    for i, g in enumerate(flat):
        v = judge(float(g), q.exact[i], q.allow[i], fmt, q.straightforward[i])
        if math.isfinite(v.normalized) and v.normalized > peak:
            peak = v.normalized
        if sample_axes is not None:
            a, b = sample_axes(i)
            chk.samples.append((a, b, v.normalized, v.via))
        differs = [(c, t) for c, t in tflats if not _same_bits(float(g), float(t[i]))]
        for c, t in differs:  # a reduced value's summation order may follow the layout (SHAPE-LAYOUT)
            if c in BITWISE and c not in bits and chk.counts(c) and not (reduced and c == "SHAPE-LAYOUT"):
                bits[c] = (i, float(t[i]))
        if v.ok:
            continue
        region = exp.clause_of(qname, i)
        aspect = clause(i) if callable(clause) else clause
        # the twin that undoes one departure is right where the call is wrong: that departure
        blame = next((c for c, t in differs if judge(float(t[i]), q.exact[i], q.allow[i], fmt, q.straightforward[i]).ok), None)
        if blame is not None:
            cl = blame
        elif aspect and aspect not in DEPARTURE_CLAUSES:  # an aspect the twins do not change
            cl = aspect
        else:
            cl = region or aspect
        if cl is None or not chk.counts(cl):
            continue
        score = v.normalized if math.isfinite(v.normalized) else math.inf
        failing.append((score, i, g, v, cl))
    steer(chk, qname, peak)
    shared_at = set()
    if failing and pytorch is not None and chk.pytorch is not None:
        tv = pytorch.values(qname)
        if tv is not None and len(tv) == len(flat):
            shared_at = {i for _, i, g, _, cl in failing
                         if _same_bits(float(g), float(tv[i])) and chk.pytorch.entry(chk.check, cl) is not None}
    for score, i, g, v, cl in failing:
        key = (cl, i in shared_at)
        if key not in worst or score > worst[key][0]:
            worst[key] = (score, i, g, v)
    for (cl, shared), (_, i, g, v) in worst.items():
        p = _element_payload(call, out, exp, q, i, g, v, cl, fmt)
        if shared:
            e = chk.pytorch.entry(chk.check, cl)
            p["pytorch"] = {"reason": e.reason, "link": e.link}
        devs.append(p)
    for c, (i, tv) in bits.items():
        if any(k[0] == c for k in worst):
            continue
        p = _base(call, out, c, qname, "bits",
                  f"{qname}[{i}]: {_text(float(flat[i]))} here, {_text(tv)} from the same call with that "
                  "departure undone: the spec requires the same bits")
        p["index"] = [int(k) for k in np.unravel_index(i, q.shape)] if q.shape else []
        p["expected"], p["got"] = _text(tv), _text(float(flat[i]))
        devs.append(p)


def steer(chk: CheckContext, quantity: str, score: float) -> None:
    """Feed a quantity's worst normalized error to `hypothesis.target`, so that the search climbs
    towards the inputs a candidate evaluates worst (Phase.target, within the example budget; only
    under --explore: the deterministic gate's cases must not depend on the backend's results).

    One label per quantity and per call of the example: an example that makes several calls has
    one observation each ("output", "output #2", ...), as target() takes a label once per example."""
    from hypothesis import target
    from hypothesis.control import current_build_context, currently_in_test_context

    if not currently_in_test_context():
        return
    ctx = current_build_context()
    if chk.steered[0] is not ctx:
        chk.steered = (ctx, {})
    seen = chk.steered[1]
    n = seen.get(quantity, 0) + 1
    seen[quantity] = n
    target(min(float(score), 1e300), label=quantity if n == 1 else f"{quantity} #{n}")


def merge_widened(loss: str | None, failures: list) -> list:
    """A check's distinct failures, less those under a region that only widens another clause's
    formula when that clause failed too in the same quantity and kind, in any of the check's
    examples (one example may show only negative targets, another the rest): the widening is then
    not what is wrong."""
    from reference.elementwise import LOSSES

    widens = getattr(LOSSES.get(loss), "WIDENS", {}) if loss else {}
    have = {(p["clause"], p["quantity"], p.get("kind")) for p in failures}
    return [p for p in failures
            if not any((w, p["quantity"], p.get("kind")) in have for w in widens.get(p["clause"], ()))]


def _element_payload(call, out, exp, q, i, g, v, cl, fmt) -> dict:
    idx = [int(k) for k in np.unravel_index(i, q.shape)] if q.shape else []
    exact = q.exact[i]
    p = _base(call, out, cl, q.name, "value",
              f"{q.name}{idx if idx else ''}: got {_text(float(g))}, expected {_num(exact)} "
              f"(normalized error {_num(v.normalized)}, {_num(v.ulps)} ulp)")
    p["index"] = idx
    # the exact value, the returned one, or a step of the straightforward evaluation is subnormal
    p["subnormal"] = (p["subnormal"] or any_subnormal([float(g), float(exact)], fmt)
                      or exp.meets_subnormal(q.name, i, q.dtype))
    p["expected"] = _num(exact)
    p["expected_rounded"] = _text(float(fmt.round(exact)))
    p["got"] = _text(float(g))
    p["allowance"] = _num(q.allow[i])
    p["normalized_error"] = _num(v.normalized)
    p["ulps"] = _num(v.ulps)
    p["precision_bits"] = q.precision
    return p


def _attribute_reduction(chk, call, exp, devs) -> None:
    """A wrong reduced output whose elements are wrong too is the elements' deviation."""
    red = [p for p in devs if p["quantity"] == "output" and p["kind"] == "value" and p["clause"].startswith("RED-")]
    if not red or exp.reduction == "none" or exp.output is None:
        return
    n = len(next(iter(exp.columns.values()), ()))
    if not n or n > ATTRIBUTE_MAX_ELEMENTS:
        return
    kwargs = dict(canonical(call).kwargs, reduction="none")
    plain = Call(call.loss, "functional", dict(call.operands), (), kwargs)
    if "functional" not in chk.adapter.caps.forms:
        return
    sub, _ = evaluate(chk, plain, attribute=False)
    elem = [p for p in sub if p["quantity"] == "output" and p["kind"] == "value"]
    if not elem:
        return
    worst = max(elem, key=lambda p: _float(p["normalized_error"]))
    for p in red:
        p["clause"], p["level"] = worst["clause"], worst["level"]
        p["message"] += f" (its elements are wrong: {worst['message']})"


def _float(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.inf


def _element_call(call: Call, p: dict) -> Call | None:
    """The call of the one element a payload points at (same arguments), or None where the call
    is not elementwise (broadcasting, a layout, a Python var) or the element is the whole call."""
    arrays = {k: v for k, v in call.operands.items() if isinstance(v, np.ndarray)}
    if len(arrays) != len(call.operands) or call.layout or p.get("index") is None:
        return None
    shapes = {v.shape for v in arrays.values()}
    if len(shapes) != 1:
        return None
    shape = next(iter(shapes))
    if int(np.prod(shape)) <= 1 or len(p["index"]) != len(shape):
        return None
    flat = int(np.ravel_multi_index(tuple(p["index"]), shape))
    ops = {k: v.reshape(-1)[flat:flat + 1].copy() for k, v in arrays.items()}
    g = call.grad_output
    if g is not None and np.asarray(g).shape == shape:
        g = np.asarray(g).reshape(-1)[flat:flat + 1].copy()
    return replace(call, operands=ops, grad_output=g)


def _one_element(call: Call) -> bool:
    """The call is itself one element: array operands of one element each, in no special layout."""
    return (not call.layout and all(isinstance(v, np.ndarray) and v.size == 1 for v in call.operands.values())
            and len({v.shape for v in call.operands.values()}) == 1)


def _isolate(chk, call: Call, p: dict) -> dict:
    """A smaller counterexample for an element's deviation, where one exists cheaply: the failing
    element alone (a one-element call of the same arguments), kept only if it shows the same
    deviation (same signature). Elementwise calls only: no broadcasting, layout or Python var."""
    if p.get("kind") != "value" or not p.get("index"):
        return p
    small = _element_call(call, p)
    if small is None:
        return p
    shape = next(v.shape for v in call.operands.values())
    try:
        devs, _ = evaluate(chk, small)
    except Exception:  # noqa: BLE001 - a smaller example is a nicety, never a new failure
        return p
    sig = signature(p)
    for q in devs:
        if signature(q) == sig:
            q["isolated_from"] = list(shape)
            return q
    return p


def _add_expected_to_repro(devs, adapter=None) -> None:
    """The reproduction prints what the backend gave; add what the spec expects, in the
    reproduction's own language (the adapter's `repro_expected`)."""
    say = getattr(adapter, "repro_expected", None) or Adapter.repro_expected  # a test double may lack it
    for p in devs:
        if p.get("repro") and p.get("expected") is not None and "expected: " not in p["repro"]:
            where = p["quantity"] + (str(p["index"]) if p.get("index") else "")
            extra = f" (allowance {p['allowance']})" if p.get("allowance") else ""
            p["repro"] += say(where, str(p["expected"]), f"{extra} [{p['clause']}]")


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
