"""HTML reports for lossconform results documents (docs/results-schema.md).

    from reports import render_run, render_matrix, write_run, write_matrix
"""

from . import render
from .render import *  # noqa: F401,F403 - the public functions, listed once in render.__all__

__all__ = render.__all__
