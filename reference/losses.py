"""The losses under test: a registry of loss modules, each a declarative description.

A loss is one module (reference/poisson.py, gaussian.py) that declares:

* `NAME`, `FUNCTIONAL` (the functional's name), `OPERANDS` (call order), `FORWARD_NAMES` (the
  module forward's parameter names), `PARAMS` (the formula's parameters, the module's attributes),
  `LEGACY` (arguments LEGACY-MAP applies to; empty: none), `SIGNATURES` (PyTorch's parameters of
  the functional and the module: name, kind, default), `REDUCTION_MESSAGE` (RED-VALID's text and
  its clause), `ACCURACY_AXES` (what the reports' accuracy maps plot);
* `before_reduction` / `after_reduction`: its validation steps in ERR-ORDER around RED-VALID;
* `operand_dtypes`: the dtypes its operands take part in promotion with;
* `DIFFERENTIABLE`: the operands with a derivative (default: every operand);
* what `OPTIONAL` lists may be left out (a distribution subject leaves out most of it).
* `element(A, *operands, g, **params)`: the formula and its derivatives, written once against an
  algebra; `clause(quantity, *point, **params)`: the region clause of an element.

The engine (engine.py, rules.py, elementwise.py), the checks, the CLI and the reports iterate
`LOSSES` and ask these; none of them names a loss. A new loss is one module here, one SPEC chapter
and its checks.
"""

from __future__ import annotations

from . import gaussian, normal, poisson, poissonpmf

# what a subject need not declare: no module form, parameters, legacy arguments or term flags, no
# validation after RED-VALID, and operands that promote as they are
OPTIONAL = {
    "FORWARD_NAMES": (),
    "PARAMS": (),
    "LEGACY": (),
    "TERM_FLAGS": {},
    "after_reduction": lambda params, operands, shapes, dtypes: None,
    "operand_dtypes": dict,
}


def _declared(m):
    for name, default in OPTIONAL.items():
        if not hasattr(m, name):
            setattr(m, name, default)
    if not hasattr(m, "DIFFERENTIABLE"):  # the operands it has derivatives with respect to: all
        m.DIFFERENTIABLE = m.OPERANDS
    return m


LOSSES = {m.NAME: _declared(m) for m in (poisson, gaussian, normal, poissonpmf)}


def options_of(name: str) -> tuple:
    """The keyword options a subject's function takes besides its operands (its parameters, and
    `reduction` where it reduces): what a foreign surface passes as one options object."""
    m = LOSSES[name]
    return tuple(m.PARAMS) + (("reduction",) if m.REDUCTION_MESSAGE is not None else ())


__all__ = ["LOSSES", "OPTIONAL", "options_of"]
