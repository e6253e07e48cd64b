"""The results document (docs/results-schema.md): its name, version, statuses and verdict, in one
place. The CLI writes it (`document`), the reports read it (reports/render.py imports from here).
"""

from __future__ import annotations

from reference.floats import FLOAT_DTYPES

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
