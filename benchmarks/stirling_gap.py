"""Print the Stirling gap (SPEC PNLL-STIRLING-GAP) as a Markdown table: how far the full=True loss's
Stirling term is from the exact log(t!) that the exact likelihood (PNLL-EXACT) uses, from the
reference's own functions at 50 digits.

    python benchmarks/stirling_gap.py
"""

from __future__ import annotations

import mpmath

from reference import poisson
from reference.algebra import Exact


def gap(t) -> mpmath.mpf:
    """PNLL-EXACT minus the full=True loss at target t (any input: the rate terms cancel)."""
    x = mpmath.mpf(0)
    A = Exact()
    exact = poisson.exact_likelihood(A, x, t, log_input=True, eps=1e-8)
    full = poisson.element(A, x, t, log_input=True, full=True, eps=1e-8)[0]
    return exact - full


def main() -> None:
    with mpmath.workdps(50):
        print("| t | exact log(t!) - Stirling term | 1/(12 t) | ratio |")
        print("| --- | --- | --- | --- |")
        for t in (2, 3, 5, 10, 20, 50, 100, 1000, 10**6):
            g = gap(mpmath.mpf(t))
            b = 1 / (12 * mpmath.mpf(t))
            print(f"| {t:g} | {mpmath.nstr(g, 6)} | {mpmath.nstr(b, 6)} | {mpmath.nstr(g / b, 6)} |")


if __name__ == "__main__":
    main()
