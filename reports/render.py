"""HTML reports from results JSON (docs/results-schema.md): one page per run, and a matrix of runs.

The public functions and the files they write. The work is split by job: `document` reads a
results document (untrusted), `page` holds the Jinja2 environment, the inline CSS/JS and the
CSP, `run_page`, `matrix_page` and `spec_page` build each page's view model, `plots` draws the
accuracy maps.

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

from pathlib import Path

from conformance.results import STATUSES

from .document import clause_anchor, finding_anchor, page_name
from .matrix_page import render_matrix
from .run_page import render_run
from .spec_page import render_spec, write_spec

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
