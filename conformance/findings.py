"""From check records to findings: one finding per root cause, however many checks show it.

A failure's *signature* (loss, clause, quantity, kind: `checking.signature`) names a root cause:
the same Stirling-mask mistake seen in the values, gradients, reductions and API checks, in every
dtype, is one finding that lists those checks. This module

* picks, for each signature, the check whose counterexample hypothesis should shrink (`targets`):
  one per signature (`auto`) or every failing check (`full`), smallest first, deterministic;
* merges the shrunk counterexamples back into the survey's records (`merge_minimised`);
* groups the records' failures into findings (`group`): the candidate's own deviations first,
  then those PyTorch 2.13 itself shows (its expectations file says so), each with its best
  (minimal, else smallest) example.
"""

from __future__ import annotations

import math

from . import specindex
from .checking import signature
from .serialize import array_size

FAILING = ("FAIL", "ERROR")  # the statuses whose failures can be shrunk


def _size(p: dict) -> int:
    """Elements in a failure's counterexample (operands together)."""
    ops = ((p.get("call") or {}).get("operands") or {}).values()
    return sum(array_size(o) if isinstance(o, dict) else 1 for o in ops)


def _magnitude(p: dict) -> float:
    """Largest absolute operand value in a counterexample (smaller reads better)."""
    best = 0.0
    for o in ((p.get("call") or {}).get("operands") or {}).values():
        for v in (o.get("values", ()) if isinstance(o, dict) else ()):
            try:
                f = abs(float(v))
            except (TypeError, ValueError):
                continue
            if math.isfinite(f):
                best = max(best, f)
    return best


def targets(records: list, mode: str, skip=lambda p, r: False) -> dict:
    """{node id: [signatures]} to shrink. `auto`: for each signature, the shrinkable check with the
    smallest counterexample (ties: collection order); `full`: every shrinkable failing check.
    `skip(payload, record)` leaves a failure out (e.g. one PyTorch itself shows)."""
    if mode == "off":
        return {}
    best: dict = {}
    out: dict = {}
    for r in records:
        if r.get("status") not in FAILING or not r.get("shrinkable"):
            continue
        for p in r.get("failures") or ():
            if p.get("kind") == "internal" or skip(p, r):
                continue
            sig = signature(p)
            if mode == "full":
                out.setdefault(r["nodeid"], []).append(sig)
                continue
            key = (_size(p), len((p.get("call") or {}).get("grad_wrt") or ()), r.get("order", 0))
            if sig not in best or key < best[sig][0]:
                best[sig] = (key, r["nodeid"])
    for sig, (_, nodeid) in best.items():
        out.setdefault(nodeid, []).append(sig)
    return out


def merge_minimised(records: list, minimised: list, wanted: dict) -> int:
    """Replace survey failures by their shrunk counterparts; returns how many were replaced."""
    by_node = {r["nodeid"]: r for r in records}
    n = 0
    for m in minimised:
        r = by_node.get(m.get("nodeid"))
        if r is None:
            continue
        shrunk = {signature(p): p for p in m.get("failures") or () if p.get("minimal")}
        for i, p in enumerate(r.get("failures") or ()):
            sig = signature(p)
            if sig in shrunk and sig in wanted.get(r["nodeid"], ()):
                r["failures"][i] = dict(shrunk[sig], minimal=True)
                n += 1
        if r.get("failures"):
            r["failure"] = r["failures"][0]
    return n


def group(records: list) -> list:
    """Findings from the records' failures (and expected failures), ordered: own deviations first
    (errors, then core before api before strict, then the most checks), then the ones PyTorch
    shares (a failure's `pytorch` entry: PyTorch gives the same bits and lists the deviation)."""
    found: dict = {}
    for r in records:
        failures = [(p, "own") for p in (r.get("failures") or ())]
        failures += [(p, "expected") for p in (r.get("expected_failures") or ())]
        for p, how in failures:
            if not p.get("clause"):
                continue
            sig = signature(p)
            f = found.get(sig)
            if f is None:
                e = p.get("pytorch") or None
                f = found[sig] = {
                    "signature": sig, "clause": p["clause"], "level": p.get("level") or specindex.level_of(p["clause"]),
                    "loss": p.get("loss"), "quantity": p.get("quantity"), "kind": p.get("kind") or "value",
                    "status": "XFAIL" if how == "expected" else p.get("status", "FAIL"),
                    "origin": "pytorch" if e else "own",
                    "pytorch_reason": e.get("reason") if e else None,
                    "pytorch_link": e.get("link") if e else None,
                    "checks": [], "example": p, "minimal": bool(p.get("minimal")), "message": p.get("message", ""),
                }
            if r["check"] not in f["checks"]:
                f["checks"].append(r["check"])
            if how != "expected" and f["status"] == "XFAIL":
                f["status"] = p.get("status", "FAIL")
            if p.get("status") == "ERROR" and f["status"] == "FAIL":
                f["status"] = "ERROR"
            if _better(p, f["example"]):
                f["example"], f["minimal"], f["message"] = p, bool(p.get("minimal")), p.get("message", "")
    out = sorted(found.values(), key=_rank)
    for k, f in enumerate(out, 1):
        f["id"] = f"F{k}"
    return out


def _better(p: dict, q: dict) -> bool:
    """Is p a better example than q: fewer elements, then shrunk, then smaller values."""
    return (_size(p), not p.get("minimal"), _magnitude(p)) < (_size(q), not q.get("minimal"), _magnitude(q))


def _rank(f: dict) -> tuple:
    lvl = specindex.LEVELS.index(f["level"]) if f["level"] in specindex.LEVELS else 0
    return (f["status"] == "XFAIL", f["origin"] != "own", f["status"] != "ERROR", lvl, -len(f["checks"]), f["signature"])


def link(records: list, findings: list) -> None:
    """Name each record failure's finding (`failure["finding"] = "F3"`)."""
    ids = {f["signature"]: f["id"] for f in findings}
    for r in records:
        for p in (r.get("failures") or []) + (r.get("expected_failures") or []) + [r.get("failure") or {}]:
            if p.get("clause") and p.get("quantity"):
                p["finding"] = ids.get(signature(p))


def example_text(p: dict, width: int = 160) -> str:
    """The counterexample as one line: `loss(form): input=[..] target=[..] kw=..`."""
    call = p.get("call") or {}
    parts = []
    for name, op in (call.get("operands") or {}).items():
        if isinstance(op, dict) and "values" in op:
            vals = op["values"]
            shown = ", ".join(vals[:6]) + (", ..." if array_size(op) > 6 else "")
            shape = f"{tuple(op.get('shape', ()))} " if len(op.get("shape", ())) != 1 else ""
            parts.append(f"{name}={shape}{op.get('dtype', '')}[{shown}]")
        else:
            parts.append(f"{name}={op.get('python') if isinstance(op, dict) else op!r}")
    args = call.get("args") or []
    kw = call.get("kwargs") or {}
    parts += [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kw.items()]
    if call.get("grad_wrt"):
        parts.append(f"grad wrt {','.join(call['grad_wrt'])}")
    text = f"{call.get('loss', '?')} {call.get('form', '')}: " + ", ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."
