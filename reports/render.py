"""HTML reports from results JSON (docs/results-schema.md): one page per run, and a matrix of runs.

Everything read from a results document is untrusted text. The pages are rendered by Jinja2 with
autoescaping on, and nothing that came from the JSON is ever marked safe: only markup this module
builds itself (the inline CSS and script, the Content-Security-Policy, and `data:` URIs of PNG bytes
that `reports.plots` drew) goes through `Markup`. Links taken from the JSON (an XFAIL's upstream
`link`) become an `<a href>` only when they are plain http(s) URLs, and are shown as text otherwise.

The pages are self-contained: no external stylesheet, script, font or image; a CSP `<meta>` limits
scripts to the one inline script (by hash), styles to the inline stylesheet (by hash) and images to
`data:` URIs, so even a rendering mistake could not make the page load or run anything else.

The renderers never crash on a document that is valid JSON but not valid results: a missing or
ill-typed field is shown as missing, with a note, and the rest of the page is still rendered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from . import plots

try:  # the clause texts and the spec page; without the suite's conformance package, ids only
    from conformance import specindex
except ImportError:  # pragma: no cover - reports used outside the repository
    specindex = None

__all__ = [
    "STATUSES",
    "clause_anchor",
    "finding_anchor",
    "page_name",
    "render_matrix",
    "render_run",
    "render_spec",
    "write_matrix",
    "write_run",
    "write_spec",
]

# the document's name, versions and statuses are owned by conformance/results.py
from conformance.results import FAILING, NOT_RUN, SCHEMA, SCHEMA_VERSION, STATUSES  # noqa: E402,F401
from conformance.results import READABLE_VERSIONS as SCHEMA_VERSIONS  # noqa: E402
from conformance.specindex import LEVELS  # noqa: E402
from reference.floats import FLOAT_DTYPES as DTYPE_ORDER  # noqa: E402

# How bad a status is, for "worst status" and for ordering: failures first.
SEVERITY = {"NA": 0, "SKIP": 1, "PASS": 2, "XFAIL": 3, "XPASS": 4, "TIMEOUT": 5, "FAIL": 6,
            "ERROR": 7, "CRASH": 8}
UNKNOWN_SEVERITY = 5.5  # a status the schema does not define: shown, flagged, ranked with failures
CHAPTERS = ("values", "shapes", "reductions", "legacy", "errors", "dtypes", "gradients", "api",
            "corpus")
ENV_KEYS = ("subject", "suite_commit", "backend", "backend_version", "device", "python", "platform",
            "hypothesis", "seed", "profile", "level", "explore", "shrink", "workers", "losses",
            "dtypes", "poisson_fn", "gaussian_fn", "cannot", "expectations", "started", "duration_s",
            "timings")
from reference.losses import LOSSES  # noqa: E402

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
# accuracy points: the 4th element says what accepted the value (reference.allowance.Verdict.via)
# (v1 points do not say: judged by the allowance); the names and their rules: reference/tolerance.py
from reference.tolerance import ADMISSIONS, JUDGED  # noqa: E402

_TEMPLATES = Path(__file__).resolve().parent / "templates"

# --- own markup: inline CSS and JS, allowed by hash in the page's CSP --------------------------

_CSS = (_TEMPLATES / "style.css").read_text(encoding="utf-8")

# Copy buttons: never throws, whether or not the Clipboard API exists or is allowed.
_JS = """
(function () {
  "use strict";
  function say(btn, text) {
    btn.textContent = text;
    window.setTimeout(function () { btn.textContent = "Copy"; }, 2000);
  }
  function byHand(btn, pre) {
    var ok = false;
    try {
      var range = document.createRange();
      range.selectNodeContents(pre);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { ok = !!(document.execCommand && document.execCommand("copy")); } catch (e) { ok = false; }
    } catch (e) { ok = false; }
    say(btn, ok ? "Copied" : "Selected: copy by hand");
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target && ev.target.closest ? ev.target.closest("button.copy") : null;
    if (!btn) { return; }
    var pre = document.getElementById(btn.getAttribute("data-target") || "");
    if (!pre) { return; }
    var text = pre.textContent;
    try {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(
          function () { say(btn, "Copied"); },
          function () { byHand(btn, pre); });
        return;
      }
    } catch (e) { /* fall through */ }
    byHand(btn, pre);
  });
})();
"""


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


_CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_sha256(_CSS)}'; "
    f"script-src 'sha256-{_sha256(_JS)}'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_env = Environment(
    loader=FileSystemLoader(str(_TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "j2"),
                                 default_for_string=True, default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_env.globals.update(
    own_css=Markup(_CSS), own_js=Markup(_JS), csp=_CSP, STATUSES=STATUSES,
)


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


def _spec_clauses() -> dict:
    if specindex is None:
        return {}
    try:
        return specindex.spec_clauses()
    except (OSError, ValueError):  # an unreadable SPEC.md: the pages show ids only
        return {}


def _spec_href(clause) -> str | None:
    """spec.html#ID for a clause the spec defines (the spec page has one anchor per clause)."""
    if isinstance(clause, str) and _ANCHOR_OK.match(clause) and clause in _spec_clauses():
        return f"{SPEC_PAGE}#{quote(clause, safe='._-')}"
    return None


# inline markdown of SPEC.md: `code`, **bold**, and clause ids (linked when the spec defines them)
_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|(?<![A-Za-z0-9-])([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)(?![A-Za-z0-9-])")


def _md_inline(text: str, prefix: str = SPEC_PAGE) -> Markup:
    """Inline markdown as HTML; every piece of text is escaped, only our own tags are markup."""
    known = _spec_clauses()
    out = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(Markup("<code>%s</code>") % m.group(1))
        elif m.group(2) is not None:
            out.append(Markup("<strong>%s</strong>") % _md_inline(m.group(2), prefix))
        elif m.group(3) in known:
            out.append(Markup('<a href="%s#%s" class="cref">%s</a>') % (prefix, m.group(3), m.group(3)))
        else:
            out.append(escape(m.group(3)))
        pos = m.end()
    out.append(escape(text[pos:]))
    return Markup("").join(out)


def _clause_text_view(clause) -> dict | None:
    """A defined clause's level, chapter and text (HTML built here from SPEC.md), or None."""
    c = _spec_clauses().get(clause) if isinstance(clause, str) else None
    if c is None:
        return None
    return {"id": c.id, "level": c.level, "chapter": f"{c.chapter} {c.chapter_title}".strip(),
            "html": _md_inline(c.text), "sub": [_md_inline(it) for it in c.items]}


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


# --- the spec page ---------------------------------------------------------------------------------

_SPEC_CLAUSE = re.compile(r"^- \*\*([A-Z0-9][A-Z0-9-]*)\*\* \[(core|api|strict)\]")
_SPEC_CHAPTER = re.compile(r"^## (\d+) (.+?)\s*$")


def _spec_blocks(lines) -> list[dict]:
    """SPEC.md's markdown subset as blocks: headings, paragraphs, bullet lists, clauses (one anchor
    each, from specindex), indented code and the pipe table. All text goes through _md_inline."""
    known = _spec_clauses()
    blocks: list[dict] = []
    i, n = 0, len(lines)

    def starts_block(line: str) -> bool:
        return (not line.strip() or line.startswith(("#", "|", "- ", "* ", "    "))
                or bool(_SPEC_CLAUSE.match(line)))

    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _SPEC_CHAPTER.match(line)
        if m:
            blocks.append({"type": "chapter", "id": f"chapter-{m.group(1)}", "number": m.group(1),
                           "title": _md_inline(m.group(2))})
            i += 1
        elif line.startswith("#"):
            level = min(4, len(line) - len(line.lstrip("#")))
            blocks.append({"type": "heading", "level": level,
                           "html": _md_inline(line.lstrip("#").strip())})
            i += 1
        elif line.startswith("    "):
            code = []
            while i < n and (lines[i].startswith("    ") or not lines[i].strip()):
                code.append(lines[i][4:])
                i += 1
            blocks.append({"type": "code", "text": "\n".join(code).rstrip()})
        elif _SPEC_CLAUSE.match(line) and _SPEC_CLAUSE.match(line).group(1) in known:
            c = known[_SPEC_CLAUSE.match(line).group(1)]
            i += 1
            while i < n and lines[i].startswith("  ") and lines[i].strip():
                i += 1  # its sub-list, which specindex has read
            if not blocks or blocks[-1]["type"] != "clauses":
                blocks.append({"type": "clauses", "clauses": []})
            blocks[-1]["clauses"].append({"id": c.id, "level": c.level, "html": _md_inline(c.text, ""),
                                          "sub": [_md_inline(it, "") for it in c.items]})
        elif line.startswith("|"):
            rows = []
            while i < n and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                    rows.append([_md_inline(c, "") for c in cells])
                i += 1
            blocks.append({"type": "table", "head": rows[0] if rows else [], "rows": rows[1:]})
        elif line.startswith(("- ", "* ")):
            items = []
            while i < n and (lines[i].startswith(("- ", "* ")) or
                             (lines[i].startswith("  ") and lines[i].strip() and items)):
                if lines[i].startswith(("- ", "* ")):
                    items.append(lines[i][2:].strip())
                else:
                    items[-1] += " " + lines[i].strip()
                i += 1
            blocks.append({"type": "list", "entries": [_md_inline(it, "") for it in items]})
        else:
            para = [line.strip()]
            i += 1
            while i < n and not starts_block(lines[i]):
                para.append(lines[i].strip())
                i += 1
            blocks.append({"type": "para", "html": _md_inline(" ".join(para), "")})
    return blocks


def render_spec() -> str:
    """reference/SPEC.md as one self-contained HTML page, one anchor per clause id (spec.html#ID)."""
    lines = ()
    if specindex is not None:
        try:
            lines = specindex.spec_lines()
        except OSError:
            lines = ()
    chapters = [{"id": f"chapter-{num}", "number": num, "title": title}
                for num, title in (specindex.chapters() if specindex is not None and lines else ())]
    blocks = _spec_blocks(list(lines))
    title_html = None
    if blocks and blocks[0]["type"] == "heading" and blocks[0]["level"] == 1:
        title_html = blocks.pop(0)["html"]
    return _env.get_template("spec.html.j2").render(m={
        "title": "lossconform: specification", "blocks": blocks, "title_html": title_html,
        "chapters": chapters, "n_clauses": len(_spec_clauses()), "available": bool(lines),
    })


def write_spec(out_dir) -> Path:
    """Write spec.html into `out_dir` (the pages' clause links point at it). Returns the path."""
    p = Path(out_dir) / SPEC_PAGE
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_spec(), encoding="utf-8")
    return p


# --- files -----------------------------------------------------------------------------------------

def write_run(results: dict, out_path) -> Path:
    """Render `results` and write the page to `out_path` (directories created), and spec.html
    beside it. Returns the page's path."""
    p = Path(out_path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_run(results), encoding="utf-8")
    write_spec(p.parent)
    return p


def write_matrix(results_list: list, out_path) -> Path:
    """Render the matrix of `results_list` and write it to `out_path`, and spec.html beside it.
    Returns the page's path."""
    p = Path(out_path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_matrix(results_list), encoding="utf-8")
    write_spec(p.parent)
    return p
