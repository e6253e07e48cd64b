"""Every normative clause of reference/SPEC.md is enforced by some check, or says why not.

A clause is *cited* when a check can file a failure under it: its id appears as a string in the
conformance checks (conformance/*.py) or in the reference's rules that name clauses for them
(every loss module of the registry, engine.py, rules.py: region clauses, errors, departures). The
numerics chapters (11, 12) are the reference's own definitions, tested by the reference's
self-tests, not by checks of a backend.
"""

from __future__ import annotations

import re
from pathlib import Path

from conformance import specindex
from reference.losses import LOSSES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "conformance").glob("*.py")) + [Path(m.__file__) for m in LOSSES.values()] + [
    ROOT / "reference" / n for n in ("engine.py", "rules.py")]
REFERENCE_INTERNAL_CHAPTERS = ("11", "12")
# clauses that grant a permission or fix a scope: there is nothing a backend can do to violate them
NOT_VIOLABLE = {
    "API-SCOPE": "fixes which functions are under test (the ATen operator is out of scope)",
    "LEGACY-SCOPE": "says which loss takes legacy arguments; enforced through LEGACY-MAP and API-NO-LEGACY-GAUSSIAN",
    "SPECIAL-ZERO-SIGN": "a permission: the sign of a zero result is unspecified (judge compares zeros as equal)",
}
# clauses with no check yet, each with the reason (a gap, listed so that it stays visible)
NOT_YET_ENFORCED: dict = {
}


def _cited() -> set:
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES)
    return {c for c in specindex.clauses() if re.search(r"[\"']" + re.escape(c) + r"[\"']", text)}


def test_every_normative_clause_is_enforced_or_declared():
    cited = _cited()
    missing = []
    for c in specindex.clauses():
        chapter = specindex.chapter_of(c)[0] if specindex.chapter_of(c) else ""
        if c in cited or chapter in REFERENCE_INTERNAL_CHAPTERS or c in NOT_VIOLABLE or c in NOT_YET_ENFORCED:
            continue
        missing.append(c)
    assert not missing, f"clauses no check cites (add a check, or declare why): {missing}"


def test_declarations_are_not_stale():
    cited = _cited()
    stale = sorted(c for c in list(NOT_VIOLABLE) + list(NOT_YET_ENFORCED) if c in cited or c not in specindex.clauses())
    assert not stale, f"declared as unenforced but cited (or not in the spec): {stale}"


def test_checks_cite_only_clauses_of_the_spec():
    text = "\n".join(p.read_text(encoding="utf-8") for p in SOURCES)
    ids = set(re.findall(r"[\"']((?:PNLL|GNLL|NLP|API|SHAPE|RED|LEGACY|ERR|DTYPE|GRAD|SPECIAL)-[A-Z0-9-]+)[\"']", text))
    unknown = sorted(i for i in ids if i not in specindex.clauses() and not i.endswith("-"))
    assert not unknown, f"clause ids that SPEC.md does not define: {unknown}"
