"""The run page: view models of one results document (records, failures, findings, accuracy maps)
and `render_run`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

from markupsafe import Markup

from conformance.results import FAILING, NOT_RUN, SCHEMA, STATUSES
from conformance.results import READABLE_VERSIONS as SCHEMA_VERSIONS
from reference.floats import FLOAT_DTYPES as DTYPE_ORDER
from reference.tolerance import ADMISSIONS, JUDGED

from . import plots

from .document import (
    DEFAULT_AXES, ENV_KEYS, LOSS_ORDER, MAX_CHECKS_SHOWN, MAX_VALUES, REFERENCE_NAME, SEVERITY, TOP_KEYS,
    UNKNOWN_SEVERITY, WORST_ROWS, _VERDICT_CLASS, _chapter_key, _dict, _fmt_err, _list, _num, _safe_url,
    _status_info, _text, clause_anchor, finding_anchor,
)
from .page import _clause_text_view, _env, _spec_href

# --- view models ---------------------------------------------------------------------------------

def _operand_view(name, op) -> dict:
    op_d = _dict(op)
    values = op_d.get("values")
    shown, n, more = None, None, 0
    if isinstance(values, list):
        size = op_d.get("size")  # a packed array: `values` is its preview
        n = size if isinstance(size, int) and not isinstance(size, bool) and size >= len(values) else len(values)
        head = values[:MAX_VALUES]
        shown = "[" + ", ".join(_text(v, 60) if v is not None else "null" for v in head) + "]"
        more = max(0, n - MAX_VALUES)
    elif values is not None:
        shown = _text(values, 2000)
    shape = op_d.get("shape")
    if isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        shape_t = "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    else:
        shape_t = _text(shape, 200)
    return {
        "name": _text(name, 100),
        "dtype": _text(op_d.get("dtype"), 100) if op_d else None,
        "shape": shape_t,
        "vals": shown,
        "n": n,
        "more": more,
        "raw": None if isinstance(op, dict) else _text(op, 2000),
    }


def _shape_text(shape) -> str | None:
    if shape is None:
        return None
    if isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in shape):
        return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
    return _text(shape, 200)


def _call_view(call) -> dict | None:
    if call is None:
        return None
    if not isinstance(call, dict):
        return {"malformed": _text(call, 2000)}
    ops = call.get("operands")
    operands = []
    if isinstance(ops, dict):
        operands = [_operand_view(k, v) for k, v in ops.items()]
    elif isinstance(ops, list):
        operands = [_operand_view(f"#{i}", v) for i, v in enumerate(ops)]
    return {
        "malformed": None,
        "loss": _text(call.get("loss"), 100),
        "form": _text(call.get("form"), 100),
        "operands": operands,
        "operands_missing": ops is None,
        "args": _text(call.get("args"), 4000),
        "kwargs": _text(call.get("kwargs"), 4000),
        "grad_wrt": _text(call.get("grad_wrt"), 400),
        "grad_output": _text(call.get("grad_output"), 4000),
    }


_FAILURE_KEYS = ("clause", "spec_href", "kind", "finding", "finding_href", "message", "quantity",
                 "normalized_error_value", "reason", "link_href", "link_text")


def _failure_view(f, rid: str, expected: bool = False) -> dict | None:
    if f is None:
        return None
    if not isinstance(f, dict):
        return dict(dict.fromkeys(_FAILURE_KEYS), malformed=_text(f, 4000), is_expected=expected)
    ne = _num(f.get("normalized_error"))
    ul = _num(f.get("ulps"))
    missing = [k for k in ("quantity", "expected", "got", "call", "repro") if f.get(k) is None]
    repro = f.get("repro")
    clause = f.get("clause")
    return {
        "malformed": None,
        "is_expected": expected,
        "clause": _text(clause, 200),
        "spec_href": _spec_href(clause),
        "kind": _text(f.get("kind"), 100),
        # a value comparison: its allowance and errors are expected, and said missing when absent
        "numeric": (f.get("kind") in (None, "value")
                    and (f.get("quantity") == "output" or str(f.get("quantity") or "").startswith("grad_"))),
        "finding": _text(f.get("finding"), 100),
        "finding_href": None,  # set by _run_model when the finding is on the page
        "message": _text(f.get("message")),
        "quantity": _text(f.get("quantity"), 200),
        "index": _text(f.get("index"), 400),
        "expected": _text(f.get("expected")),
        "expected_rounded": _text(f.get("expected_rounded")),
        "got": _text(f.get("got")),
        "allowance": _text(f.get("allowance"), 200),
        "normalized_error": _fmt_err(ne, f.get("normalized_error")) if f.get("normalized_error") is not None else None,
        "normalized_error_value": ne,
        "ne_class": "" if ne is None else ("bad" if (ne > 1 or math.isnan(ne)) else "fine"),
        "ulps": _fmt_err(ul, f.get("ulps")) if f.get("ulps") is not None else None,
        "reason": _text(f.get("reason")),  # an expected failure's, from the expectations
        "precision_bits": _text(f.get("precision_bits"), 40),
        "isolated_from": _shape_text(f.get("isolated_from")),
        "link_href": _safe_url(f.get("link")), "link_text": _text(f.get("link"), 2000),
        "call": _call_view(f.get("call")),
        "repro": _text(repro, 100000) if repro is not None else None,
        "repro_id": f"repro-{rid}",
        "missing": missing,
    }


def _record_view(i: int, r) -> dict | None:
    if not isinstance(r, dict):
        return None
    label, css, sev = _status_info(r.get("status"))
    rid = f"r{i}"
    clause = r.get("clause")
    link = r.get("link")
    dur = _num(r.get("duration_s"))
    # schema v2: every distinct failure of the check; `failure` (v1) is the first of them.
    # `expected_failures`: deviations the expectations list (an XFAIL's, or seen beside failures)
    fails_raw = r.get("failures")
    exp_raw = r.get("expected_failures")
    exp_raw = exp_raw if isinstance(exp_raw, list) else []
    if isinstance(fails_raw, list) and fails_raw:
        failures = [_failure_view(f, rid if j == 0 else f"{rid}-{j}") for j, f in enumerate(fails_raw[:50])]
        failures = [f for f in failures if f is not None]
    elif exp_raw and label == "XFAIL":  # its `failure` repeats the first expected failure
        failures = []
    else:
        one = _failure_view(r.get("failure"), rid)
        failures = [one] if one is not None else []
    expected = [_failure_view(f, f"{rid}-x{j}", expected=True) for j, f in enumerate(exp_raw[:50])]
    expected = [f for f in expected if f is not None]
    failure = failures[0] if failures else (expected[0] if expected else None)
    notes_raw = r.get("notes")
    return {
        "id": rid,
        "index": i,
        "check": _text(r.get("check"), 1000) or "(no check id)",
        "loss": _text(r.get("loss"), 100),
        "chapter": _text(r.get("chapter"), 100),
        "clause": _text(clause, 200),
        "clause_anchor": clause_anchor(clause),
        "spec_href": _spec_href(clause),
        "level": _text(r.get("level"), 100),
        "status": label,
        "status_class": css,
        "severity": sev,
        "known_status": isinstance(r.get("status"), str) and r.get("status") in SEVERITY,
        "message": _text(r.get("message")),
        "reason": _text(r.get("reason")),
        "link_href": _safe_url(link),
        "link_text": _text(link, 2000),
        "duration": None if dur is None else f"{dur:.3g} s",
        "failure": failure,
        "failures": failures,
        "expected_failures": expected,
        "all_failures": failures + expected,
        "notes": [_text(n, 2000) for n in notes_raw[:20]] if isinstance(notes_raw, list) else [],
        "more_failures": max(0, len(fails_raw) - 50) if isinstance(fails_raw, list) else 0,
        "failure_expected": label in ("FAIL", "XFAIL", "ERROR"),
        "clause_text": _clause_text_view(clause),
    }


def _env_view(env) -> list[tuple[str, str | None]]:
    items = []
    keys = [k for k in ENV_KEYS if k in env] + [k for k in env if k not in ENV_KEYS]
    for k in keys:
        v = env[k]
        if isinstance(v, list) and all(isinstance(x, (str, int, float)) and not isinstance(x, bool)
                                       for x in v):
            t = ", ".join(str(x) for x in v) if v else "(none)"
        elif v is None:
            t = None
        else:
            t = _text(v, 2000)
        items.append((_text(k, 100), t))
    return items


def _via(p) -> str | None:
    """The admission that accepted an accuracy point (its 4th element, schema v2), or None."""
    if len(p) >= 4 and isinstance(p[3], str):
        return p[3][:40]
    return None


def _is_bad(e: float, via) -> bool:
    """A point judged by the allowance that is beyond it (or rejected outright)."""
    return via == "fail" or not (math.isfinite(e) and e <= 1)


def _accuracy_groups(acc, notes: list[str], record_ids: dict | None = None) -> list[dict]:
    """Merge accuracy entries by (loss, dtype), parse points, draw the figures.

    A point accepted by an admission rule (4th element "straightforward-ieee" or "exact-special")
    is not judged by the allowance: it is counted and listed apart, and never in the worst or
    median figures, whatever its normalized error.
    """
    record_ids = record_ids or {}
    groups: dict[tuple, dict] = {}
    bad_entries = 0
    odd_via: Counter = Counter()
    for entry in acc:
        if not isinstance(entry, dict):
            bad_entries += 1
            continue
        loss = _text(entry.get("loss"), 100) or "(no loss)"
        dtype = _text(entry.get("dtype"), 100) or "(no dtype)"
        g = groups.setdefault((loss, dtype), {"loss": loss, "dtype": dtype, "points": [],
                                              "bad_points": 0, "checks": [], "axes": None,
                                              "axes_conflict": False})
        check = _text(entry.get("check"), 1000)
        if check and check not in g["checks"]:
            g["checks"].append(check)
        axes = entry.get("axes")
        if isinstance(axes, list) and len(axes) >= 2:
            axes = (_text(axes[0], 100), _text(axes[1], 100))
            if g["axes"] is None:
                g["axes"] = axes
            elif g["axes"] != axes:
                g["axes_conflict"] = True
        pts = entry.get("points")
        if not isinstance(pts, list):
            if pts is not None:
                g["bad_points"] += 1
            continue
        for p in pts:
            if isinstance(p, list) and len(p) >= 3:
                x, y, e = _num(p[0]), _num(p[1]), _num(p[2])
                if x is not None and y is not None and e is not None:
                    via = _via(p)
                    if via is not None and via not in JUDGED and via not in ADMISSIONS:
                        odd_via[via] += 1
                    g["points"].append((x, y, e, check, via))
                    continue
            g["bad_points"] += 1
    if bad_entries:
        notes.append(f"{bad_entries} accuracy entr{'y is not an object and was' if bad_entries == 1 else 'ies are not objects and were'} "
                     "left out.")
    if odd_via:
        notes.append("accuracy points with an admission this report does not know (judged by the "
                     "allowance): " + ", ".join(f"{_text(k, 40)} ({n})" for k, n in odd_via.most_common(5)) + ".")

    out = []

    def group_key(kv):
        (loss, dtype), _ = kv
        return (LOSS_ORDER.index(loss) if loss in LOSS_ORDER else len(LOSS_ORDER), loss,
                DTYPE_ORDER.index(dtype) if dtype in DTYPE_ORDER else len(DTYPE_ORDER), dtype)

    def worst_key(p):
        e = p[2]
        return (2, 0.0) if math.isnan(e) else ((1, 0.0) if math.isinf(e) else (0, e))

    def row(p):
        x, y, e, c, via = p
        adm = ADMISSIONS.get(via)
        return {"x": _fmt_coord(x), "y": _fmt_coord(y), "err": _fmt_err(e),
                "bad": adm is None and _is_bad(e, via), "check": c,
                "href": f"#{record_ids[c]}" if c in record_ids else None,
                "admitted": adm["what"] if adm else None,
                "admitted_clause": adm["clauses"][0] if adm else None,
                "admitted_href": _spec_href(adm["clauses"][0]) if adm else None}

    for (loss, dtype), g in sorted(groups.items(), key=group_key):
        axes = g["axes"] or DEFAULT_AXES.get(loss, ("axis 0", "axis 1"))
        pts = g["points"]
        judged = [p for p in pts if p[4] not in ADMISSIONS]
        admitted = [p for p in pts if p[4] in ADMISSIONS]
        errs = [p[2] for p in judged]
        fin = [e for e in errs if math.isfinite(e)]
        n_inf = sum(1 for e in errs if math.isinf(e))
        n_nan = sum(1 for e in errs if math.isnan(e))
        n_beyond = sum(1 for p in judged if _is_bad(p[2], p[4]))

        worst = sorted(judged, key=worst_key, reverse=True)[:WORST_ROWS]
        worst_adm = sorted(admitted, key=worst_key, reverse=True)[:WORST_ROWS]
        by_rule = Counter(p[4] for p in admitted)
        plot_errors = []
        try:
            hist = plots.error_histogram(errs, title=f"{loss} {dtype}: normalized error",
                                         admitted=[p[2] for p in admitted])
        except Exception as e:  # noqa: BLE001 -- a figure must never take the report down
            hist = None
            plot_errors.append(f"histogram not drawn: {type(e).__name__}: {e}")
        try:
            emap = plots.error_map([(x, y, e) for x, y, e, _, _ in judged], axes,
                                   title=f"{loss} {dtype}: normalized error over "
                                         f"({axes[0]}, {axes[1]})",
                                   admitted=[(x, y, e) for x, y, e, _, _ in admitted])
        except Exception as e:  # noqa: BLE001
            emap = None
            plot_errors.append(f"map not drawn: {type(e).__name__}: {e}")
        worst_v = max(fin) if fin else None
        if n_nan or n_inf:
            worst_t = "inf" if n_inf else "nan"
        else:
            worst_t = _fmt_err(worst_v) if worst_v is not None else "—"
        out.append({
            "loss": loss, "dtype": dtype, "axes": axes, "axes_conflict": g["axes_conflict"],
            "checks": g["checks"], "n": len(pts), "n_judged": len(judged),
            "bad_points": g["bad_points"], "n_inf": n_inf, "n_nan": n_nan,
            "n_beyond": n_beyond,
            "n_exact": sum(1 for e in fin if e == 0),
            "median": _fmt_err(sorted(fin)[len(fin) // 2]) if fin else "—",
            "worst": worst_t,
            "worst_rows": [row(p) for p in worst],
            "n_admitted": len(admitted),
            "admitted_rules": [{"label": ADMISSIONS[k]["label"], "n": n,
                                "clause": ADMISSIONS[k]["clauses"][0],
                                "href": _spec_href(ADMISSIONS[k]["clauses"][0])}
                               for k, n in sorted(by_rule.items())],
            "admitted_rows": [row(p) for p in worst_adm],
            "plot_errors": plot_errors,
            "hist_uri": Markup(plots.data_uri(hist)) if hist else None,
            "map_uri": Markup(plots.data_uri(emap)) if emap else None,
        })
    return out


def _fmt_coord(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return _fmt_err(v)
    return f"{v:.6g}"


def _counts_title(counts: Counter) -> str:
    return ", ".join(f"{s} {counts[s]}" for s in sorted(counts, key=lambda s: -SEVERITY.get(s, UNKNOWN_SEVERITY)))


def _worst(statuses) -> tuple[str, str, float]:
    best = None
    for label, css, sev in statuses:
        if best is None or sev > best[2]:
            best = (label, css, sev)
    return best or ("—", "st-none", -1)


def _findings_model(raw, notes: list[str], record_ids: dict) -> list[dict] | None:
    """Schema v2 `findings`, own deviations first (the producer's order kept within each group).
    None when the document has no findings list (v1): the page then lists failing records."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        notes.append("findings is not a list: the failing checks are listed instead.")
        return None
    out = []
    used: set[str] = set()
    bad = 0
    for i, f in enumerate(raw):
        if not isinstance(f, dict):
            bad += 1
            continue
        fid = _text(f.get("id"), 60) or f"#{i + 1}"
        anchor = finding_anchor(f.get("id") if f.get("id") is not None else f"#{i + 1}")
        n = 2
        base = anchor
        while anchor in used:
            anchor = f"{base}-{n}"
            n += 1
        used.add(anchor)
        label, css, sev = _status_info(f.get("status"))
        clause = f.get("clause")
        checks_raw = f.get("checks")
        checks = []
        for c in _list(checks_raw)[:2000]:
            t = _text(c, 1000)
            checks.append({"check": t, "href": f"#{record_ids[t]}" if t in record_ids else None})
        minimal = f.get("minimal")
        link = f.get("pytorch_link")
        out.append({
            "id": fid, "anchor": anchor, "index": i,
            "clause": _text(clause, 200), "spec_href": _spec_href(clause),
            "clause_text": _clause_text_view(clause),
            "level": _text(f.get("level"), 100),
            "loss": _text(f.get("loss"), 100),
            "quantity": _text(f.get("quantity"), 100),
            "kind": _text(f.get("kind"), 100),
        # a value comparison: its allowance and errors are expected, and said missing when absent
        "numeric": (f.get("kind") in (None, "value")
                    and (f.get("quantity") == "output" or str(f.get("quantity") or "").startswith("grad_"))),
            "status": label, "status_class": css, "severity": sev,
            "origin": _text(f.get("origin"), 100),
            "pytorch": f.get("origin") == "pytorch",
            "pytorch_reason": _text(f.get("pytorch_reason")),
            "link_href": _safe_url(link), "link_text": _text(link, 2000),
            "checks": checks[:MAX_CHECKS_SHOWN], "checks_more": checks[MAX_CHECKS_SHOWN:],
            "n_checks": len(checks),
            "minimal": minimal if isinstance(minimal, bool) else None,
            "message": _text(f.get("message")),
            "message_short": _text(f.get("message"), 160),
            "example": _failure_view(f.get("example"), f"f{i}"),
        })
    if bad:
        notes.append(f"{bad} finding{' is not an object and was' if bad == 1 else 's are not objects and were'} left out.")
    # own deviations first; anything not marked "pytorch" counts as the candidate's own
    return [f for f in out if not f["pytorch"]] + [f for f in out if f["pytorch"]]


def _run_model(results) -> dict:
    notes: list[str] = []
    if not isinstance(results, dict):
        notes.append(f"The results document is a JSON {type(results).__name__}, not an object: "
                     "nothing in it can be read.")
        results = {}
    if results.get("schema") != SCHEMA:
        notes.append(f"schema is {_text(results.get('schema'), 100) or 'missing'}, "
                     f"expected {SCHEMA}.")
    version_raw = results.get("schema_version")
    if version_raw not in SCHEMA_VERSIONS or isinstance(version_raw, bool):
        notes.append(f"schema_version is {_text(version_raw, 100) or 'missing'}, "
                     f"this report reads versions {', '.join(map(str, SCHEMA_VERSIONS))}.")
    env_raw = results.get("environment")
    if not isinstance(env_raw, dict):
        notes.append("environment is missing." if env_raw is None else
                     "environment is not an object.")
    env = _dict(env_raw)
    backend = _text(env.get("backend"), 200) or "(unknown backend)"
    subject = _text(env.get("subject"), 200) or backend
    version = _text(env.get("backend_version"), 200)
    device = _text(env.get("device"), 200)
    complete = results.get("complete")
    if complete is not None and not isinstance(complete, bool):
        notes.append("complete is not true or false: the run is taken as complete.")

    recs_raw = results.get("records")
    if recs_raw is None:
        notes.append("records is missing.")
    elif not isinstance(recs_raw, list):
        notes.append("records is not a list: no record can be shown.")
    records = []
    bad_recs = 0
    for i, r in enumerate(_list(recs_raw)):
        v = _record_view(i, r)
        if v is None:
            bad_recs += 1
        else:
            records.append(v)
    if bad_recs:
        notes.append(f"{bad_recs} record{' is not an object and was' if bad_recs == 1 else 's are not objects and were'} "
                     "left out.")
    unknown = Counter(r["status"] for r in records if not r["known_status"])
    if unknown:
        notes.append("records with a status the schema does not define: "
                     + ", ".join(f"{k} ({n})" for k, n in unknown.items()) + ".")

    # summary: the document's own, and the one counted from the records
    counted = Counter(r["status"] for r in records)
    summary_raw = results.get("summary")
    summary = []
    mismatch = False
    for s in STATUSES:
        doc = _dict(summary_raw).get(s)
        doc_n = doc if isinstance(doc, int) and not isinstance(doc, bool) else None
        if isinstance(summary_raw, dict) and doc_n != counted.get(s, 0) and not (doc_n is None and counted.get(s, 0) == 0):
            mismatch = True
        summary.append({"status": s, "css": "st-" + s.lower(),
                        "n": doc_n if doc_n is not None else counted.get(s, 0),
                        "counted": counted.get(s, 0)})
    if summary_raw is None:
        notes.append("summary is missing: the counts shown are counted from the records.")
    elif not isinstance(summary_raw, dict):
        notes.append("summary is not an object: the counts shown are counted from the records.")
    elif mismatch and records:
        notes.append("summary disagrees with the records (the records' counts are in the "
                     "summary table's tooltips).")

    # chapter x loss x status
    table: dict[tuple, Counter] = defaultdict(Counter)
    for r in records:
        table[(r["chapter"] or "(no chapter)", r["loss"] or "—")][r["status"]] += 1
    extra_statuses = sorted(unknown)
    cols = list(STATUSES) + extra_statuses
    chapter_rows = []
    failing_chapters = set()
    for (ch, loss), c in table.items():
        worst = max((SEVERITY.get(s, UNKNOWN_SEVERITY) for s in c), default=-1)
        if worst >= SEVERITY["TIMEOUT"]:
            failing_chapters.add(ch)
        chapter_rows.append({"chapter": ch, "loss": loss, "counts": [c.get(s, 0) for s in cols],
                             "total": sum(c.values()), "failing": worst >= SEVERITY["TIMEOUT"]})
    # chapters with a failure first (each chapter kept together), then in spec order
    chapter_rows.sort(key=lambda row: (row["chapter"] not in failing_chapters,
                                       _chapter_key(row["chapter"]), row["loss"]))
    totals = [counted.get(s, 0) for s in cols]

    # clauses: the anchors the matrix links to
    by_clause: dict[str, list] = defaultdict(list)
    for r in records:
        by_clause[r["clause_anchor"]].append(r)
    clauses = []
    for anchor, rs in by_clause.items():
        label, css, sev = _worst((r["status"], r["status_class"], r["severity"]) for r in rs)
        c = Counter(r["status"] for r in rs)
        chapters = sorted({r["chapter"] or "(no chapter)" for r in rs}, key=_chapter_key)
        clauses.append({
            "anchor": anchor, "clause": rs[0]["clause"] or "(no clause)",
            "spec_href": rs[0]["spec_href"], "level": rs[0]["level"],
            "chapters": ", ".join(chapters), "status": label, "status_class": css,
            "counts": _counts_title(c), "n": len(rs), "text": rs[0]["clause_text"],
            "links": [r for r in rs if r["severity"] >= SEVERITY["XFAIL"]][:20],
            "key": (-sev, _chapter_key(chapters[0]), rs[0]["clause"] or ""),
        })
    clauses.sort(key=lambda c: c["key"])

    def fail_key(r):
        ne = (r["failure"] or {}).get("normalized_error_value")
        ne = -1.0 if ne is None else (math.inf if math.isnan(ne) else ne)
        return (-r["severity"], -ne, r["check"])

    failures = sorted((r for r in records
                       if r["status"] in FAILING or not r["known_status"]), key=fail_key)
    xpass = [r for r in records if r["status"] == "XPASS"]
    xfail = sorted((r for r in records if r["status"] == "XFAIL"), key=fail_key)
    passes = [r for r in records if r["status"] == "PASS"]
    not_run = defaultdict(list)
    for r in records:
        if r["status"] in NOT_RUN:
            not_run[(r["status"], r["reason"] or "(no reason given)")].append(r)
    not_run_groups = [{"status": s, "status_class": "st-" + s.lower(), "reason": reason,
                       "records": rs}
                      for (s, reason), rs in sorted(not_run.items(), key=lambda kv: (kv[0][0], -len(kv[1])))]

    stale_raw = results.get("stale_expectations")
    stale = []
    if stale_raw is not None and not isinstance(stale_raw, list):
        notes.append("stale_expectations is not a list.")
    for s in _list(stale_raw):
        if isinstance(s, dict):
            stale.append({"check": _text(s.get("check"), 1000), "clause": _text(s.get("clause"), 200),
                          "why": _text(s.get("why"), 4000), "raw": None})
        else:
            stale.append({"check": None, "clause": None, "why": None, "raw": _text(s, 4000)})

    record_ids: dict[str, str] = {}
    for r in records:
        record_ids.setdefault(r["check"], r["id"])
    findings = _findings_model(results.get("findings"), notes, record_ids)
    if findings is not None:
        by_id = {}
        for f in findings:
            by_id.setdefault(f["id"], f["anchor"])
        for r in records:
            for fv in r["all_failures"]:
                if fv.get("finding") in by_id:
                    fv["finding_href"] = "#" + by_id[fv["finding"]]
    for r in records:  # findings mode: a check whose failures all have a finding is a table row
        r["grouped"] = bool(r["all_failures"]) and all(
            fv.get("finding_href") for fv in r["all_failures"] if fv.get("malformed") is None)
    for c in clauses:  # what the "see" column links to, in words
        c["see"] = [{"href": "#" + r["id"], "status": r["status"], "check": r["check"]}
                    for r in c["links"]]

    acc_raw = results.get("accuracy")
    if acc_raw is not None and not isinstance(acc_raw, list):
        notes.append("accuracy is not a list: no accuracy data can be shown.")
    accuracy = _accuracy_groups(_list(acc_raw), notes, record_ids)

    verdict = results.get("verdict")
    verdict_t = _text(verdict, 100) if verdict is not None else "(no verdict)"
    verdict_class = _VERDICT_CLASS.get(verdict if isinstance(verdict, str) else "", "v-unknown")
    extra_top = [(_text(k, 100), _text(v, 4000)) for k, v in results.items() if k not in TOP_KEYS]
    raw_problems = results.get("problems")
    problems = [_text(p, 4000) for p in raw_problems] if isinstance(raw_problems, list) else []

    title_bits = [subject] + ([f"({backend})"] if subject != backend else []) \
        + [b for b in (version, device) if b]
    own = [f for f in findings or [] if not f["pytorch"]]
    return {
        "title": "lossconform: " + " ".join(title_bits),
        "subject": subject, "backend": backend, "version": version, "device": device,
        "incomplete": complete is False,
        "schema_version": version_raw if version_raw in SCHEMA_VERSIONS else None,
        "findings": findings, "findings_own": own,
        "findings_pytorch": [f for f in findings or [] if f["pytorch"]],
        "reference_name": REFERENCE_NAME,
        "img_w": int(plots.FIGSIZE[0] * plots.DPI), "img_h": int(plots.FIGSIZE[1] * plots.DPI),
        "verdict": verdict_t, "verdict_class": verdict_class,
        "exit_code": _text(results.get("exit_code"), 100),
        "env": _env_view(env), "notes": notes, "extra_top": extra_top, "problems": problems,
        "summary": summary, "n_records": len(records),
        "cols": cols, "chapter_rows": chapter_rows, "totals": totals,
        "clauses": clauses, "failures": failures, "xpass": xpass, "xfail": xfail,
        "passes": passes, "not_run_groups": not_run_groups,
        "n_not_run": sum(len(g["records"]) for g in not_run_groups),
        "stale": stale, "accuracy": accuracy, "accuracy_missing": acc_raw is None,
    }


def render_run(results: dict) -> str:
    """One self-contained HTML page for one backend run's results document."""
    return _env.get_template("run.html.j2").render(m=_run_model(results))
