"""Reading a results document (docs/results-schema.md) for the pages: every value in it is untrusted.

The schema's name, versions and statuses are owned by conformance/results.py; this module holds what
the pages need to read a document defensively: text and numbers taken from any JSON value (cut,
never trusted), anchors and page names made safe, links kept only when they are plain http(s) URLs,
and the ordering of statuses, chapters, losses and dtypes. A missing or ill-typed field reads as
missing; nothing here raises on valid JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from urllib.parse import urlsplit

from reference.losses import LOSSES


# How bad a status is, for "worst status" and for ordering: failures first.
SEVERITY = {"NA": 0, "SKIP": 1, "PASS": 2, "XFAIL": 3, "XPASS": 4, "TIMEOUT": 5, "FAIL": 6,
            "ERROR": 7, "CRASH": 8}
UNKNOWN_SEVERITY = 5.5  # a status the schema does not define: shown, flagged, ranked with failures
CHAPTERS = ("values", "shapes", "reductions", "legacy", "errors", "dtypes", "gradients", "api",
            "corpus")
ENV_KEYS = ("subject", "suite_commit", "backend", "backend_version", "device", "python", "platform",
            "hypothesis", "seed", "profile", "level", "explore", "shrink", "workers", "losses",
            "dtypes", *(f"{name}_fn" for name in LOSSES), "cannot", "expectations", "started", "duration_s",
            "timings")

LOSS_ORDER = tuple(LOSSES)
DEFAULT_AXES = {name: m.ACCURACY_AXES for name, m in LOSSES.items()}
TOP_KEYS = ("schema", "schema_version", "environment", "verdict", "exit_code", "summary",
            "stale_expectations", "records", "accuracy", "_page", "problems", "complete", "findings")

MAX_TEXT = 20000  # characters of one untrusted text field shown on a page
MAX_VALUES = 64  # tensor elements shown per operand
WORST_ROWS = 10  # rows in an accuracy group's worst-cases table
SPEC_PAGE = "spec.html"  # written beside every run page and matrix by write_run / write_matrix
MAX_CHECKS_SHOWN = 6  # checks listed in a finding before the rest are folded away
REFERENCE_NAME = "PyTorch 2.13"  # what a finding of origin "pytorch" is shared with


# --- reading untrusted JSON ---------------------------------------------------------------------

def _text(x, limit: int = MAX_TEXT) -> str | None:
    """Any JSON value as display text (None stays None); long text is cut with a note."""
    if x is None:
        return None
    if isinstance(x, str):
        t = x
    elif isinstance(x, bool):
        t = "true" if x else "false"
    elif isinstance(x, (int, float)):
        t = repr(x)
    else:
        try:
            t = json.dumps(x, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            t = repr(x)
    if limit and len(t) > limit:
        t = t[:limit] + f" … [{len(t) - limit} more characters not shown]"
    return t


def _num(x) -> float | None:
    """A JSON number or numeric string ("nan", "inf", "-inf", "1.5e-3") as a float, else None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        try:
            return float(x)
        except OverflowError:
            return math.inf if x > 0 else -math.inf
    if isinstance(x, str) and len(x) < 400:
        try:
            return float(x.strip())
        except ValueError:
            return None
    return None


def _fmt_err(v: float | None, raw=None) -> str:
    """A normalized error (or ulps) for display: 3 significant digits, inf/nan spelled out."""
    if v is None:
        t = _text(raw, 80)
        return t if t is not None else "—"
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0"
    return f"{v:.3g}"


def _dict(x) -> dict:
    return x if isinstance(x, dict) else {}


def _list(x) -> list:
    return x if isinstance(x, list) else []



_ANCHOR_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
# ids the run page uses for itself: a clause spelled like one gets a hashed anchor instead
_RESERVED_IDS = re.compile(
    r"^(?:top|attention|environment|summary|summary-chips|failures|xfail|accuracy|clauses|"
    r"not-run|passes|no-clause|findings|findings-own|findings-pytorch|incomplete|r\d+|repro-.*|"
    r"acc-\d+|clause-.*|finding-.*)$")


def clause_anchor(clause) -> str:
    """The id of a clause's row in a run page (the clause id itself when it is a plain id)."""
    if clause is None or clause == "":
        return "no-clause"
    clause = _text(clause, 0)
    if _ANCHOR_OK.match(clause) and not _RESERVED_IDS.match(clause):
        return clause
    digest = hashlib.sha1(clause.encode("utf-8", "replace")).hexdigest()[:12]
    return f"clause-{digest}"


def finding_anchor(finding_id) -> str:
    """The id of a finding's card in a run page: "finding-<id>" for a plain id, else hashed."""
    t = _text(finding_id, 0) if finding_id is not None else ""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,60}", t):
        return f"finding-{t}"
    return "finding-h" + hashlib.sha1(t.encode("utf-8", "replace")).hexdigest()[:12]


def _safe_url(link) -> str | None:
    """An untrusted link usable as href: only absolute http(s) URLs with a host, else None."""
    if not isinstance(link, str) or len(link) > 2000:
        return None
    if any(c.isspace() or ord(c) < 32 for c in link):
        return None
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return link


_PAGE_OK = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]*/)*[A-Za-z0-9_][A-Za-z0-9._-]*$")


def _safe_name(x, default: str = "run") -> str:
    t = re.sub(r"[^A-Za-z0-9._-]+", "_", x if isinstance(x, str) else "")
    t = t.strip("._")
    return t[:100] or default


_OWN_PAGES = ("index.html", SPEC_PAGE)  # the matrix and the spec: never a run page's name


def page_name(results) -> str:
    """The file name of a run's page, as the matrix links to it: results["_page"] when it is a
    plain relative path, else "<subject>.html" (environment.subject, schema v2: a user-function
    run is named after its function, so it never overwrites torch.html), else "<backend>.html";
    the name is reduced to [A-Za-z0-9._-], and never index.html or spec.html."""
    r = _dict(results)
    page = r.get("_page")
    if isinstance(page, str) and _PAGE_OK.match(page) and ".." not in page.split("/") \
            and page.rsplit("/", 1)[-1] not in _OWN_PAGES:
        return page
    env = _dict(r.get("environment"))
    subject = env.get("subject")
    name = _safe_name(subject, "") if isinstance(subject, str) else ""
    name = name or _safe_name(env.get("backend"), "backend")
    if f"{name}.html" in _OWN_PAGES:
        name += "-run"
    return name + ".html"


_VERDICT_CLASS = {"conformant": "v-ok", "nonconformant": "v-bad", "unavailable": "v-na", "error": "v-err",
                  "incomplete": "v-incomplete"}


def _status_info(raw) -> tuple[str, str, float]:
    """(label, css class, severity) of a record's status."""
    if isinstance(raw, str) and raw in SEVERITY:
        return raw, "st-" + raw.lower(), SEVERITY[raw]
    if raw is None:
        return "(missing)", "st-unknown", UNKNOWN_SEVERITY
    return _text(raw, 40), "st-unknown", UNKNOWN_SEVERITY


def _chapter_key(ch: str) -> tuple:
    return (CHAPTERS.index(ch), "") if ch in CHAPTERS else (len(CHAPTERS), ch)
