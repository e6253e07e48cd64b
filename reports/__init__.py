"""HTML reports for lossconform results documents (docs/results-schema.md).

    from reports import render_run, render_matrix, write_run, write_matrix
"""

from .render import (
    clause_anchor,
    page_name,
    render_matrix,
    render_run,
    write_matrix,
    write_run,
)

__all__ = [
    "clause_anchor",
    "page_name",
    "render_matrix",
    "render_run",
    "write_matrix",
    "write_run",
]
