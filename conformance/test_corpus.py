"""The replay corpus: counterexamples found by --explore (or on real backends) that every gate
replays. Each file in conformance/corpus/ holds {"check", "clause", "call"[, "note"]}; add one with
`python -m conformance run ... --explore --save-counterexamples conformance/corpus`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .checking import conform
from .serialize import call_from_json

CORPUS = Path(__file__).resolve().parent / "corpus"
FILES = sorted(CORPUS.glob("*.json"))


@pytest.mark.parametrize("case", [f.stem for f in FILES] or ["(empty)"])
def test_any_corpus(chk, case):
    if case == "(empty)":
        pytest.skip("NA: the replay corpus is empty")
    entry = json.loads((CORPUS / f"{case}.json").read_text(encoding="utf-8"))
    chk.clause = entry.get("clause") or "REF-EXACT"
    call = call_from_json(entry["call"])
    conform(chk, call, value_clause=chk.clause, grad_clause=lambda name, i: chk.clause)
