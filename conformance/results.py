"""The results document (docs/results-schema.md): its name, version, statuses and verdict, the
record's fields, and its assembly from the workers' records, in one place. The CLI writes it
(`assemble`, `document`), the reports read it (reports/document.py imports from here).
"""

from __future__ import annotations

import math

from reference.floats import FLOAT_DTYPES
from reference.losses import LOSSES

SCHEMA = "lossconform-results"
SCHEMA_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)  # what the reports accept (3: arrays past 256 elements packed)
STATUSES = ("PASS", "FAIL", "XFAIL", "XPASS", "ERROR", "CRASH", "TIMEOUT", "NA", "SKIP")
BAD = ("FAIL", "XPASS", "ERROR", "CRASH", "TIMEOUT")  # statuses that make a run nonconformant
FAILING = ("CRASH", "ERROR", "TIMEOUT", "FAIL")  # statuses of a check that went wrong
NOT_RUN = ("NA", "SKIP")
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
VERDICTS = ("conformant", "nonconformant", "unavailable", "error", "incomplete")
DTYPES = FLOAT_DTYPES


def empty_summary() -> dict:
    return {s: 0 for s in STATUSES}


def verdict(summary: dict, problems: list, stale: list, complete: bool = True) -> tuple[str, int]:
    """(verdict, exit code) of a run."""
    if problems:
        return "error", EXIT_FAIL
    if not complete:
        return "incomplete", EXIT_INTERRUPTED
    if any(summary.get(s) for s in BAD) or stale:
        return "nonconformant", EXIT_FAIL
    return "conformant", EXIT_OK


def document(environment: dict, *, verdict_code: tuple, summary: dict, problems: list, stale: list,
             findings: list, records: list, accuracy: list, complete: bool = True) -> dict:
    """The results document, every key of the schema in its order."""
    v, code = verdict_code
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "environment": environment, "verdict": v,
            "exit_code": code, "complete": complete, "summary": summary, "problems": problems,
            "stale_expectations": stale, "findings": findings, "records": records, "accuracy": accuracy}


RECORD_FIELDS = ("check", "loss", "chapter", "params", "clause", "level", "status", "message", "reason", "link", "duration_s",
                 "failure", "failures", "expected_failures", "notes")


def jsonable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def assemble(env, records, exp_paths, problems, selective, complete=True) -> dict:
    """The results document (docs/results-schema.md) from the child's records."""
    from conformance import expectations as expmod
    from conformance import findings as fnd

    records = sorted(records, key=lambda r: (r.get("order", 0), r["check"]))
    summary = empty_summary()
    out_records, accuracy = [], {}
    findings = fnd.group(records)
    fnd.link(records, findings)
    for r in records:
        summary[r["status"]] = summary.get(r["status"], 0) + 1
        samples = r.get("samples") or []
        if samples and r.get("loss"):
            dtype = (r.get("params") or {}).get("dtype")
            key = (r["loss"], dtype)
            acc = accuracy.setdefault(key, {"loss": r["loss"], "dtype": dtype, "check": r["check"],
                                            "axes": list(LOSSES[r["loss"]].ACCURACY_AXES),
                                            "points": []})
            acc["points"].extend(samples)
        out_records.append({k: r.get(k) for k in RECORD_FIELDS})
    stale = []
    if complete:
        for e in expmod.load_all(exp_paths or []):
            hits = [r for r in records if e.pattern().match(r["check"])]
            if not hits and not selective:
                stale.append({"check": e.check, "clause": e.clause, "why": "matched no check"})
            elif hits and e.when is None and not e.flaky and all(r["status"] == "XPASS" for r in hits):
                stale.append({"check": e.check, "clause": e.clause, "why": "every matching check passed"})
    return jsonable(document(
        env, verdict_code=verdict(summary, problems, stale, complete), summary=summary, problems=problems,
        stale=stale, findings=[{k: v for k, v in f.items() if k != "signature"} for f in findings],
        records=out_records, accuracy=[dict(v, points=v["points"][:3000]) for v in accuracy.values()],
        complete=complete))
