"""Operand domains as data: where a subject's operands live.

A subject (reference/losses.py) may declare `DOMAINS = {operand: Domain(...)}`. One declaration
serves two readers:

* the reference's argument validation: a value outside its operand's domain (NaN included) is an
  invalid argument (`first_outside`), as `torch.distributions` validates its constraints (`real`:
  not NaN; `positive`: > 0; `nonnegative`: >= 0; `nonnegative_integer`);
* the checks' strategies (conformance.strategies.from_domain): draws inside the domain, spread over
  its `window` as far as the format allows, with its `edges` (region boundaries, exact cases)
  always reachable.

The idea is scipy's `_mptestutils.Arg`: a function's argument domain declared once, the test
points built from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Domain:
    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False  # lo itself is outside (a scale > 0)
    integer: bool = False  # a count: finite integers only
    window: tuple = (-1e3, 1e3)  # where draws go (clipped to the format: conformance.strategies)
    edges: tuple = ()  # values the checks always reach

    def contains(self, a) -> np.ndarray:
        """Elementwise: is the value inside the domain? NaN never is."""
        f = np.asarray(a, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            inside = (f > self.lo if self.lo_open else f >= self.lo) & (f <= self.hi)
            if self.integer:
                inside &= np.isfinite(f) & (np.floor(f) == f)
        return inside


REAL = Domain()


def first_outside(domains: dict, operands: dict) -> str | None:
    """The first operand (in the domains' order) holding a value outside its domain, or None.
    Operands that are not floating point (an integer tensor, a Python number) are checked too."""
    for name, dom in domains.items():
        a = operands.get(name)
        if a is None:
            continue
        if not np.all(dom.contains(np.asarray(a).astype(np.float64))):
            return name
    return None
