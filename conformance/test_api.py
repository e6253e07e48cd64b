"""Call surface: defaults, positional order, keyword-only, module vs functional.

Spec chapter 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference.engine import Call

from .checking import conform

X = np.array([[0.5, -1.0, 2.0], [0.0, 1.5, 3.0]], dtype=np.float32)
T = np.array([[1.0, 0.0, 3.0], [2.0, 5.0, 1.0]], dtype=np.float32)
V = np.array([[1.0, 0.5, 2.0], [1e-8, 3.0, 0.25]], dtype=np.float32)


@pytest.mark.parametrize("form", ["functional", "module"])
def test_poisson_defaults(chk, form):
    """API-DEFAULTS: no arguments means log_input=True, full=False, eps=1e-8, reduction='mean'."""
    chk.clause = "API-DEFAULTS"
    conform(chk, Call("poisson", form, {"input": X, "target": T}, grad_wrt=("input", "target")),
            value_clause="API-DEFAULTS", grad_clause=lambda name, i: "API-DEFAULTS")


@pytest.mark.parametrize("form", ["functional", "module"])
def test_gaussian_defaults(chk, form):
    chk.clause = "API-DEFAULTS"
    conform(chk, Call("gaussian", form, {"input": X, "target": T, "var": V}, grad_wrt=("input", "var")),
            value_clause="API-DEFAULTS", grad_clause=lambda name, i: "API-DEFAULTS")


@pytest.mark.parametrize("form", ["functional", "module"])
def test_poisson_positional(chk, form):
    """API-SIGNATURE: positional order log_input, full, size_average, eps, reduce, reduction."""
    chk.clause = "API-SIGNATURE"
    for args in [(False,), (False, True), (False, True, None, 0.5), (False, True, None, 0.5, None, "sum")]:
        conform(chk, Call("poisson", form, {"input": np.abs(X), "target": T}, args=args), value_clause="API-SIGNATURE")


def test_gaussian_positional_functional(chk):
    """API-KEYWORD-ONLY: the functional takes full, eps, reduction positionally."""
    chk.clause = "API-KEYWORD-ONLY"
    conform(chk, Call("gaussian", "functional", {"input": X, "target": T, "var": V}, args=(True, 1e-3, "sum")),
            value_clause="API-SIGNATURE")


def test_gaussian_module_keyword_only(chk):
    """API-KEYWORD-ONLY: GaussianNLLLoss takes no positional arguments."""
    chk.clause = "API-KEYWORD-ONLY"
    conform(chk, Call("gaussian", "module", {"input": X, "target": T, "var": V}, args=(True,)))


@pytest.mark.parametrize("loss", ["poisson", "gaussian"])
def test_any_unknown_keyword(chk, loss):
    """API-SIGNATURE: an unknown keyword raises TypeError."""
    chk.clause = "API-SIGNATURE"
    ops = {"input": X, "target": T} if loss == "poisson" else {"input": X, "target": T, "var": V}
    conform(chk, Call(loss, "functional", ops, kwargs={"reductoin": "sum"}))


@pytest.mark.parametrize("names", ["log_input,target", "input,target"])
def test_poisson_forward_names(chk, names):
    """API-FORWARD-NAMES: PoissonNLLLoss.forward's first parameter is `log_input`, not `input`."""
    chk.clause = "API-FORWARD-NAMES"
    conform(chk, Call("poisson", "module", {"input": X, "target": T}, forward_names=tuple(names.split(","))))


def test_gaussian_forward_names(chk):
    chk.clause = "API-FORWARD-NAMES"
    conform(chk, Call("gaussian", "module", {"input": X, "target": T, "var": V}, forward_names=("input", "target", "var")))


@pytest.mark.parametrize("eps", [1, 0, -1e-3, 2.5], ids=repr)
def test_poisson_eps_any(chk, eps):
    """API-EPS-ANY: eps takes any real, an int included, used as given (no range check)."""
    chk.clause = "API-EPS-ANY"
    conform(chk, Call("poisson", "functional", {"input": np.abs(X) + 0.5, "target": T},
                      kwargs={"log_input": False, "eps": eps, "reduction": "none"}), value_clause="API-EPS-ANY")
