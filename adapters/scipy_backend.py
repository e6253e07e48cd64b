"""SciPy adapter: `scipy.stats.norm.logpdf` and `scipy.stats.poisson.logpmf` for the distribution
subjects (SPEC chapter 14: the normal log-density, the Poisson log-pmf).

Values only: SciPy has no autodiff, so gradients are NA. The subject's operands are passed as SciPy
orders them, `norm.logpdf(value, loc, scale)`, `poisson.logpmf(value, rate)`; nothing else is
translated. SciPy computes in float64 whatever the operands' dtype, and returns NaN or -inf for
arguments outside the support (no error): what the suite then reports is SciPy's. The losses are NA
(SciPy has neither).

Natural level: core (SciPy's call surface is not PyTorch's).
"""

from __future__ import annotations

import numpy as np

from .base import Adapter, Capabilities, array_literal, importable, operand_names


# subject -> (the SciPy call, as a snippet names it, and the function of the subject's operands)
CALLS = {"normal": ("norm.logpdf(value, loc, scale)", lambda st: lambda loc, scale, value: st.norm.logpdf(value, loc, scale)),
         "poissonpmf": ("poisson.logpmf(value, rate)", lambda st: lambda rate, value: st.poisson.logpmf(value, rate))}


class ScipyAdapter(Adapter):
    name = "scipy"

    def __init__(self, user_fns=None, user_specs=None):
        if user_fns:
            raise ValueError("the scipy backend validates SciPy's own functions; it takes no user functions")
        self.caps = Capabilities(losses=tuple(CALLS), forms=("functional",), dtypes=("float16", "float32", "float64"),
                                 grad_wrt={s: () for s in CALLS}, int_dtypes=(), layouts=("contiguous", "transposed",
                                                                                    "strided", "expanded"))

    def available(self):
        return importable("scipy", "test")

    def version_text(self):
        import scipy

        return scipy.__version__

    def to_backend(self, a, layout=None, grad=False):
        from .base import layout_view

        return layout_view(a, layout)

    def to_numpy(self, y):
        return np.array(y, copy=True)

    def is_tensor(self, v) -> bool:
        return isinstance(v, np.ndarray)

    def result(self, y):
        return super().result(np.asarray(y) if isinstance(y, np.generic) else y)

    def function(self, loss):
        import scipy.stats

        return CALLS[loss][1](scipy.stats)

    def gradients(self, call, callee, y, ops, wrt):
        raise RuntimeError("SciPy has no autodiff")

    def repro(self, call) -> str:
        lines = ["import numpy as np", "from scipy.stats import norm, poisson"]
        for n in operand_names(call.loss):
            a = np.asarray(call.operands[n])
            lines.append(f"{n} = np.array({array_literal(a)}).reshape({a.shape!r}).astype({str(a.dtype)!r})")
        lines += [f"out = {CALLS[call.loss][0]}", "print(out.dtype, out.shape, out.tolist())"]
        return "\n".join(lines)
