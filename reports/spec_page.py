"""spec.html: reference/SPEC.md as a page the run pages' clause links point at (`render_spec`,
`write_spec`)."""

from __future__ import annotations

import re
from pathlib import Path

try:  # the clause texts and the spec page; without the suite's conformance package, ids only
    from conformance import specindex
except ImportError:  # pragma: no cover - reports used outside the repository
    specindex = None

from .document import SPEC_PAGE
from .page import _env, _md_inline, _spec_clauses

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
