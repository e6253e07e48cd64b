"""The spec is the one source of clause ids and levels: every id the code cites is defined once."""

from __future__ import annotations

import re
from pathlib import Path

from conformance import specindex

ROOT = Path(__file__).resolve().parent.parent
# a quoted id with the prefix of a clause the spec defines (a chapter's prefix: PNLL, GNLL, NLP, ...)
CITED = re.compile(r'"((?:' + "|".join(sorted({c.split("-")[0] for c in specindex.clauses()})) + r')-[A-Z0-9-]+)"')


def _cited():
    out = {}
    for folder in ("conformance", "reference", "adapters"):
        for p in (ROOT / folder).glob("*.py"):
            for m in CITED.finditer(p.read_text(encoding="utf-8")):
                out.setdefault(m.group(1), p.name)
    for p in (ROOT / "conformance" / "corpus").glob("*.json"):
        for m in CITED.finditer(p.read_text(encoding="utf-8")):
            out.setdefault(m.group(1), p.name)
    return out


def test_every_cited_clause_is_defined():
    known = specindex.clauses()
    missing = {cid: where for cid, where in _cited().items() if cid not in known}
    assert not missing, f"clause ids cited but not defined in reference/SPEC.md: {missing}"


def test_clause_ids_are_unique_and_levelled():
    lines = (ROOT / "reference" / "SPEC.md").read_text(encoding="utf-8").splitlines()
    ids = [m.group(1) for m in (re.match(r"^\s*- \*\*([A-Z0-9][A-Z0-9-]*)\*\* \[(core|api|strict)\]", ln) for ln in lines) if m]
    assert len(ids) == len(set(ids)), "duplicate clause ids"
    assert len(ids) >= 80
    bold = [m.group(1) for ln in lines for m in [re.match(r"^\s*- \*\*([A-Z][A-Z0-9-]+)\*\*", ln)] if m and m.group(1) != "CLAUSE-ID"]
    assert set(bold) == set(ids), f"clause lines without a level: {sorted(set(bold) - set(ids))}"


def test_expectations_name_defined_clauses():
    from conformance import expectations

    for path in (ROOT / "expectations").glob("*.toml"):
        for e in expectations.load(path):
            assert e.clause is None or e.clause in specindex.clauses(), (path.name, e.clause)
