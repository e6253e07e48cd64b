"""The losses under test: a registry of loss modules, each a declarative description.

A loss is one module (reference/poisson.py, gaussian.py) that declares:

* `NAME`, `FUNCTIONAL` (the functional's name), `OPERANDS` (call order), `FORWARD_NAMES` (the
  module forward's parameter names), `PARAMS` (the formula's parameters, the module's attributes),
  `LEGACY` (arguments LEGACY-MAP applies to; empty: none), `SIGNATURES` (PyTorch's parameters of
  the functional and the module: name, kind, default), `REDUCTION_MESSAGE` (RED-VALID's text and
  its clause), `ACCURACY_AXES` (what the reports' accuracy maps plot);
* `before_reduction` / `after_reduction`: its validation steps in ERR-ORDER around RED-VALID;
* `operand_dtypes`: the dtypes its operands take part in promotion with;
* `element(A, *operands, g, **params)`: the formula and its derivatives, written once against an
  algebra; `clause(quantity, *point, **params)`: the region clause of an element.

The engine (engine.py, rules.py, elementwise.py), the checks, the CLI and the reports iterate
`LOSSES` and ask these; none of them names a loss. A new loss is one module here, one SPEC chapter
and its checks.
"""

from __future__ import annotations

from . import gaussian, normal, poisson, poissonpmf

LOSSES = {m.NAME: m for m in (poisson, gaussian, normal, poissonpmf)}

__all__ = ["LOSSES"]
