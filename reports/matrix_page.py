"""The matrix page: one row per run, one column per chapter, and `render_matrix`."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from urllib.parse import quote

from conformance.results import FAILING, NOT_RUN
from conformance.specindex import LEVELS
from reference.tolerance import ADMISSIONS

from .document import (
    SEVERITY, _VERDICT_CLASS, _chapter_key, _dict, _fmt_err, _list, _num, _status_info, _text, clause_anchor,
    page_name,
)
from .page import _env, _spec_href
from .run_page import _counts_title, _via, _worst

# --- matrix ----------------------------------------------------------------------------------------

def _run_headline(results, idx: int) -> dict:
    r = _dict(results)
    env = _dict(r.get("environment"))
    backend = _text(env.get("backend"), 200) or f"run {idx + 1}"
    subject = _text(env.get("subject"), 200) or backend
    page = page_name(r)
    records = _list(r.get("records"))
    per_level = {lv: Counter() for lv in LEVELS}
    other_level = Counter()
    cells: dict[tuple, Counter] = defaultdict(Counter)
    worst_ne, worst_where, worst_href = None, None, None
    rec_of_check: dict = {}

    def see(ne, where, href):
        nonlocal worst_ne, worst_where, worst_href
        if ne is None:
            return
        k = math.inf if math.isnan(ne) else ne
        if worst_ne is None or k > (math.inf if math.isnan(worst_ne) else worst_ne):
            worst_ne, worst_where, worst_href = ne, where, href

    for i, x in enumerate(records):
        if not isinstance(x, dict):
            continue
        label, _, _ = _status_info(x.get("status"))
        lv = x.get("level")
        (per_level[lv] if isinstance(lv, str) and lv in per_level else other_level)[label] += 1
        ch = _text(x.get("chapter"), 100) or "(no chapter)"
        clause = x.get("clause")
        key = clause if isinstance(clause, str) else _text(clause, 200)
        cells[(ch, key or "")][label] += 1
        check = _text(x.get("check"), 200)
        rec_of_check.setdefault(check, i)
        # the worst error among failures that count: an expected failure (XFAIL) does not
        fl = x.get("failures")
        fails = fl if isinstance(fl, list) and fl else [x.get("failure")]
        if label in ("FAIL", "ERROR") or label not in SEVERITY:
            for f in fails[:50]:
                if isinstance(f, dict):
                    see(_num(f.get("normalized_error")), check, f"#r{i}")
    n_admitted = 0
    for a in _list(r.get("accuracy")):
        if not isinstance(a, dict):
            continue
        where = " ".join(t for t in (_text(a.get("loss"), 50), _text(a.get("dtype"), 50)) if t)
        check = _text(a.get("check"), 200)
        href = f"#r{rec_of_check[check]}" if check in rec_of_check else "#accuracy"
        for p in _list(a.get("points")):
            if isinstance(p, list) and len(p) >= 3:
                if _via(p) in ADMISSIONS:  # accepted by an admission rule: not an error
                    n_admitted += 1
                    continue
                see(_num(p[2]), check or where, href)

    def level_cell(c: Counter) -> dict:
        applicable = sum(n for s, n in c.items() if s not in NOT_RUN)
        failing = sum(n for s, n in c.items() if s in FAILING or s == "XPASS" or s not in SEVERITY)
        title = _counts_title(c) or "no records"
        if c.get("XFAIL"):
            title += " (an XFAIL is an expected failure, listed in the expectations: not a failure)"
        return {"passed": c.get("PASS", 0), "applicable": applicable, "xfail": c.get("XFAIL", 0),
                "title": title,
                "css": ("lv-none" if applicable == 0 else "lv-bad" if failing else "lv-ok")}

    verdict = r.get("verdict")
    href_page = quote(page, safe="/._-")
    return {
        "backend": backend,
        "subject": subject,
        "version": _text(env.get("backend_version"), 200),
        "device": _text(env.get("device"), 200),
        "page": page,
        "incomplete": r.get("complete") is False,
        "verdict": _text(verdict, 100) if verdict is not None else "(no verdict)",
        "verdict_class": _VERDICT_CLASS.get(verdict if isinstance(verdict, str) else "", "v-unknown"),
        "levels": [(lv, level_cell(per_level[lv])) for lv in LEVELS],
        "other_level": level_cell(other_level) if other_level else None,
        "n_records": sum(1 for x in records if isinstance(x, dict)),
        "n_failing": sum(n for c in cells.values() for s, n in c.items()
                         if s in FAILING or s not in SEVERITY),
        "n_xfail": sum(c.get("XFAIL", 0) for c in cells.values()),
        "n_xpass": sum(c.get("XPASS", 0) for c in cells.values()),
        "n_stale": len(_list(r.get("stale_expectations"))),
        "worst_ne": _fmt_err(worst_ne) if worst_ne is not None else None,
        "worst_ne_bad": worst_ne is not None and not (worst_ne <= 1),
        "worst_where": worst_where,
        "worst_href": f"{href_page}{worst_href}" if worst_href else None,
        "n_admitted": n_admitted,
        "cells": cells,
        "malformed": not isinstance(results, dict),
    }


def _matrix_model(results_list) -> dict:
    notes = []
    if not isinstance(results_list, (list, tuple)):
        notes.append("The input is not a list of results documents.")
        results_list = []
    runs = [_run_headline(r, i) for i, r in enumerate(results_list)]
    for i, run in enumerate(runs):
        if run["malformed"]:
            notes.append(f"Input #{i + 1} is not a results object.")
    # column labels: subject, plus device/version/index where they would collide
    labels = Counter(run["subject"] for run in runs)
    for i, run in enumerate(runs):
        label = run["subject"]
        if labels[label] > 1:
            label = " ".join(t for t in (label, run["device"], run["version"]) if t)
        run["label"] = label
    labels2 = Counter(run["label"] for run in runs)
    for i, run in enumerate(runs):
        if labels2[run["label"]] > 1:
            run["label"] = f"{run['label']} #{i + 1}"

    keys = set()
    for run in runs:
        keys.update(run["cells"].keys())
    chapters: dict[str, list] = defaultdict(list)
    for ch, clause in keys:
        cells = []
        worst_any = -1.0
        for run in runs:
            c = run["cells"].get((ch, clause))
            if not c:
                cells.append(None)
                continue
            label, css, sev = _worst(_status_info(s) for s in c)
            worst_any = max(worst_any, sev)
            cells.append({"status": label, "css": css, "title": _counts_title(c),
                          "href": f"{quote(run['page'], safe='/._-')}#{quote(clause_anchor(clause or None), safe='._-')}"})
        chapters[ch].append({
            "clause": clause or "(no clause)", "spec_href": _spec_href(clause),
            "cells": cells, "failing": worst_any >= SEVERITY["TIMEOUT"],
            "key": (-worst_any, clause),
        })
    groups = []
    for ch in sorted(chapters, key=_chapter_key):
        rows = sorted(chapters[ch], key=lambda r: r["key"])
        groups.append({"chapter": ch, "rows": rows,
                       "n_failing": sum(1 for r in rows if r["failing"])})
    # chapters with failures first, then in spec order
    groups.sort(key=lambda g: (0 if g["n_failing"] else 1, _chapter_key(g["chapter"])))
    return {"title": "lossconform: conformance matrix", "runs": runs, "groups": groups,
            "notes": notes, "n_rows": sum(len(g["rows"]) for g in groups)}


def render_matrix(results_list: list) -> str:
    """One self-contained HTML page comparing any number of runs: clauses x backends."""
    return _env.get_template("matrix.html.j2").render(m=_matrix_model(results_list))
