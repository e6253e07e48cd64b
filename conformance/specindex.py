"""The clause index of reference/SPEC.md: clause id -> level (the one place levels live), and the
clauses' text and chapters for the reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


# --- the clauses' text and the chapters, for the reports (reports/render.py) --------------------

_CHAPTER = re.compile(r"^## (\d+) (.+?)\s*$")
_ITEM = re.compile(r"^\s+- (.*)$")


@dataclass(frozen=True)
class Clause:
    """One clause of SPEC.md: its id, level, chapter, statement and indented sub-list."""

    id: str
    level: str
    chapter: str  # the chapter number, e.g. "9" ("" before the first chapter)
    chapter_title: str  # e.g. "Gradients"
    text: str  # the statement after "**ID** [level] ", markdown as written
    items: tuple  # the lines of its indented sub-list, without their "- "
    line: str  # the clause's line without the markdown bullet: "**ID** [level] statement"


@lru_cache(maxsize=1)
def spec_lines() -> tuple:
    """SPEC.md's lines (empty when the file is not there, e.g. a report rendered elsewhere)."""
    if not SPEC.exists():
        return ()
    return tuple(SPEC.read_text(encoding="utf-8").splitlines())


@lru_cache(maxsize=1)
def chapters() -> tuple:
    """The numbered chapters as (number, title) pairs, in order: ("9", "Gradients")."""
    return tuple((m.group(1), m.group(2)) for m in map(_CHAPTER.match, spec_lines()) if m)


@lru_cache(maxsize=1)
def spec_clauses() -> dict:
    """Every clause of SPEC.md, by id, as a `Clause`, in the spec's order."""
    out = {}
    lines = spec_lines()
    number, title = "", ""
    for i, line in enumerate(lines):
        ch = _CHAPTER.match(line)
        if ch:
            number, title = ch.group(1), ch.group(2)
            continue
        m = _LINE.match(line)
        if not m or line.startswith("    "):  # an indented example is not a clause
            continue
        items = []
        indent = len(line) - len(line.lstrip())
        for nxt in lines[i + 1:]:
            sub = _ITEM.match(nxt)
            if not sub or len(nxt) - len(nxt.lstrip()) <= indent:
                break
            items.append(sub.group(1).strip())
        body = line.strip()[2:]  # without "- "
        text = body.split("]", 1)[1].strip()  # after "**ID** [level]"
        out[m.group(1)] = Clause(m.group(1), m.group(2), number, title, text, tuple(items), body)
    return out


def clause(clause_id) -> Clause | None:
    """The clause with this id, or None."""
    return spec_clauses().get(clause_id) if isinstance(clause_id, str) else None


def clause_text(clause_id) -> str | None:
    """A clause's text: its line without the markdown bullet, id and level ("With full=True ..."),
    then each line of its sub-list as "- ...", one per line. None for an unknown id."""
    c = clause(clause_id)
    if c is None:
        return None
    return "\n".join([c.text] + [f"- {item}" for item in c.items])


def chapter_of(clause_id) -> tuple | None:
    """(number, title) of the chapter that defines a clause, or None."""
    c = clause(clause_id)
    return (c.chapter, c.chapter_title) if c is not None else None
