"""Legacy size_average / reduce (Poisson only): mapping, override, warnings, module construction.

Spec chapter 6.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from .checking import conform
from .test_values import gaussian_call, poisson_call

LEGACY_VALUES = (None, True, False, 0, 1)
REDUCTIONS = ("mean", "sum", "none", "bogus")


def _operands():
    x = np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.25]], dtype=np.float32)
    t = np.array([[1.0, 0.0, 3.0], [2.0, 5.0, 1.0]], dtype=np.float32)
    return x, t


@pytest.mark.parametrize("form", ["functional", "module"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_poisson_legacy(chk, reduction, form):
    """LEGACY-MAP / LEGACY-OVERRIDE / LEGACY-WARN: every combination, against every reduction."""
    chk.clause = "LEGACY-MAP"
    x, t = _operands()
    for sa, rd in itertools.product(LEGACY_VALUES, LEGACY_VALUES):
        kw = {"reduction": reduction}
        if sa is not None:
            kw["size_average"] = sa
        if rd is not None:
            kw["reduce"] = rd
        call = poisson_call(x, t, True, False, None, form=form, kwargs=kw, grad_wrt=("input",))
        call.kwargs.pop("log_input"), call.kwargs.pop("full")
        conform(chk, call, value_clause="LEGACY-OVERRIDE", shape_clause="LEGACY-MAP")


def test_poisson_positional_pitfall(chk):
    """API-POSITIONAL-PITFALL: PoissonNLLLoss(True, False, 1e-3) sets size_average, not eps."""
    chk.clause = "API-POSITIONAL-PITFALL"
    x, t = _operands()
    from reference.engine import Call

    conform(chk, Call("poisson", "module", {"input": x, "target": t}, args=(True, False, 1e-3)),
            value_clause="API-POSITIONAL-PITFALL")
    conform(chk, Call("poisson", "functional", {"input": x, "target": t}, args=(True, False, 1e-3)),
            value_clause="API-POSITIONAL-PITFALL")


@pytest.mark.parametrize("form", ["functional", "module"])
def test_gaussian_no_legacy(chk, form):
    """API-NO-LEGACY-GAUSSIAN: the Gaussian loss has no size_average / reduce."""
    chk.clause = "API-NO-LEGACY-GAUSSIAN"
    x = np.zeros((2, 2), dtype=np.float32)
    conform(chk, gaussian_call(x, x.copy(), np.ones((2, 2), np.float32), False, None, form=form,
                               kwargs={"size_average": False}))
