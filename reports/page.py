"""The page machinery shared by every page: the Jinja2 environment (autoescape on, StrictUndefined),
the inline stylesheet and script with the Content-Security-Policy that admits exactly them (by
hash), and the links and inline markup of spec clauses (spec.html).

Only markup built here (the CSS, the script, the CSP, clause links) is marked safe; everything from a
results document goes through the templates' autoescaping.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from conformance.results import STATUSES

try:  # the clause texts and the spec page; without the suite's conformance package, ids only
    from conformance import specindex
except ImportError:  # pragma: no cover - reports used outside the repository
    specindex = None

from .document import SPEC_PAGE, _ANCHOR_OK

_TEMPLATES = Path(__file__).resolve().parent / "templates"

# --- own markup: inline CSS and JS, allowed by hash in the page's CSP --------------------------

_CSS = (_TEMPLATES / "style.css").read_text(encoding="utf-8")

# Copy buttons: never throws, whether or not the Clipboard API exists or is allowed.
_JS = (_TEMPLATES / "copy.js").read_text(encoding="utf-8")


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
