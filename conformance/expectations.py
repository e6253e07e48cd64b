"""Expectations files: a backend's known deviations, recorded as expected failures.

TOML, one table per entry:

    [[expect]]
    check = "poisson.gradients[*full=True*]"  # check id pattern; `*` matches anything, the rest is literal
    clause = "PNLL-GRAD-STIRLING-MASK"        # optional: only failures under this clause
    reason = "d/dt is NaN at t <= 0 with full=True: the masked Stirling term's backward multiplies 0 by log(t)"
    link = "https://github.com/pytorch/pytorch/issues/..."   # optional upstream reference
    when = "subnormal"                        # optional condition, see below
    quantity = "grad_target"                  # optional: only failures of this quantity (output, grad_<operand>)
    flaky = true                              # optional: the deviation comes and goes between runs

A failure matched by an entry is XFAIL. An entry with a condition (`when`) matches only the
failures where it holds, and is never stale: "subnormal" holds where the failing call involves a
subnormal magnitude (an operand element, the upstream gradient, a number argument or eps in an
operand's format, the exact or returned value in the result's format; checking.involves_subnormal),
which is how a backend that flushes subnormals to zero (XLA:CPU) is recorded once instead of per
check, without hiding the checks' other failures.


An unconditional entry whose checks all pass is XPASS (stale), unless it says `flaky = true`: a
deviation the backend shows only in some runs (MindSpore's empty reductions read uninitialised
memory), whose passing run says nothing about the entry; give it a `clause` and a `quantity` so that
it covers no more than the deviation it records. An entry that matches no check that ran is
reported as unmatched.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "expectations"


class ExpectationsError(Exception):
    """A malformed expectations file (usage error, exit code 2)."""


@dataclass(frozen=True)
class Expectation:
    check: str
    reason: str
    clause: str | None = None
    link: str | None = None
    source: str = ""
    when: str | None = None  # a condition on the failure (CONDITIONS)
    flaky: bool = False  # the deviation does not show in every run: never stale
    quantity: str | None = None  # only failures of this quantity ("output", "grad_<operand>")

    def pattern(self):
        return re.compile("^" + ".*".join(re.escape(p) for p in self.check.split("*")) + "$")

    def matches(self, check_id: str, clause: str | None = None, payload: dict | None = None) -> bool:
        """Does the entry cover a failure under `clause` of check `check_id` (its payload, for a
        conditional entry)? Without a payload a conditional entry matches nothing (it is never
        stale)."""
        if not self.pattern().match(check_id):
            return False
        if self.when is not None and not (payload is not None and payload.get(CONDITIONS[self.when])):
            return False
        if self.quantity is not None and payload is not None and payload.get("quantity") != self.quantity:
            return False
        return self.clause is None or clause is None or self.clause == clause


# an entry's `when` -> the failure payload's flag that must be true
CONDITIONS = {"subnormal": "subnormal"}


def split_patterns(text: str | None) -> tuple:
    """Comma-separated check-id patterns; a comma inside [...] belongs to the id."""
    out, cur, depth = [], "", 0
    for ch in text or "":
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "["
        depth -= ch == "]" and depth > 0
        cur += ch
    out.append(cur)
    return tuple(p.strip() for p in out if p.strip())


def load_all(paths) -> list[Expectation]:
    """Entries of several expectations files, in order."""
    out = []
    for p in paths:
        out += load(p)
    return out


def load(path) -> list[Expectation]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExpectationsError(f"{path}: no such expectations file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ExpectationsError(f"{path}: not valid TOML: {exc}") from None
    entries = data.get("expect", [])
    unknown = set(data) - {"expect"}
    if unknown:
        raise ExpectationsError(f"{path}: unknown top-level keys {sorted(unknown)}; use [[expect]] tables")
    if not isinstance(entries, list):
        raise ExpectationsError(f"{path}: 'expect' must be an array of tables ([[expect]])")
    out = []
    for i, e in enumerate(entries, 1):
        if not isinstance(e, dict):
            raise ExpectationsError(f"{path}: entry {i} is not a table")
        extra = set(e) - {"check", "clause", "reason", "link", "when", "flaky", "quantity"}
        if extra:
            raise ExpectationsError(f"{path}: entry {i} has unknown keys {sorted(extra)}")
        for key in ("check", "reason"):
            if not isinstance(e.get(key), str) or not e.get(key).strip():
                raise ExpectationsError(f"{path}: entry {i} needs a non-empty string '{key}'")
        for key in ("clause", "link", "quantity"):
            if key in e and not isinstance(e[key], str):
                raise ExpectationsError(f"{path}: entry {i}: '{key}' must be a string")
        if "when" in e and e["when"] not in CONDITIONS:
            raise ExpectationsError(f"{path}: entry {i}: 'when' must be one of {sorted(CONDITIONS)}, not {e['when']!r}")
        if "flaky" in e and not isinstance(e["flaky"], bool):
            raise ExpectationsError(f"{path}: entry {i}: 'flaky' must be true or false")
        if "quantity" in e and not (e["quantity"] == "output" or e["quantity"].startswith("grad_")):
            raise ExpectationsError(f"{path}: entry {i}: 'quantity' is 'output' or 'grad_<operand>', not {e['quantity']!r}")
        out.append(Expectation(e["check"], e["reason"], e.get("clause"), e.get("link"), str(path), e.get("when"),
                               e.get("flaky", False), e.get("quantity")))
    return out


def default_for(backend: str) -> Path | None:
    p = DEFAULT_DIR / f"{backend}.toml"
    return p if p.exists() else None
