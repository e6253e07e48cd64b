"""The clause index of reference/SPEC.md: clause id -> level (the one place levels live)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent / "reference" / "SPEC.md"
LEVELS = ("core", "api", "strict")
_LINE = re.compile(r"^\s*- \*\*([A-Z0-9][A-Z0-9-]*)\*\* \[(core|api|strict)\]")


@lru_cache(maxsize=1)
def clauses() -> dict:
    out = {}
    if SPEC.exists():
        for line in SPEC.read_text(encoding="utf-8").splitlines():
            m = _LINE.match(line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def level_of(clause: str) -> str:
    """The clause's level; an unknown clause counts as core (and the suite's own tests flag it)."""
    return clauses().get(clause, "core")


def counts(clause: str, run_level: str) -> bool:
    """Does a clause count at this run level? Each level includes the ones before it."""
    return LEVELS.index(level_of(clause)) <= LEVELS.index(run_level)
