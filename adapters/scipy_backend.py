"""SciPy adapter: `scipy.stats.norm.logpdf` for the normal log-density subject (SPEC chapter 14).

Values only: SciPy has no autodiff, so gradients are NA. The subject's operands (loc, scale, value)
are passed as SciPy orders them, `norm.logpdf(value, loc, scale)`; nothing else is translated. SciPy
computes in float64 whatever the operands' dtype, and returns NaN for a scale that is not positive
(no error): what the suite then reports is SciPy's. The losses are NA (SciPy has neither).

Natural level: core (SciPy's call surface is not PyTorch's).
"""

from __future__ import annotations

import numpy as np

from .base import Adapter, Capabilities, array_literal, importable, operand_names


class ScipyAdapter(Adapter):
    name = "scipy"

    def __init__(self, user_fns=None, user_specs=None):
        if user_fns:
            raise ValueError("the scipy backend validates SciPy's own functions; it takes no user functions")
        self.caps = Capabilities(losses=("normal",), forms=("functional",), dtypes=("float16", "float32", "float64"),
                                 grad_wrt={"normal": ()}, int_dtypes=(), layouts=("contiguous", "transposed",
                                                                                    "strided", "expanded"))

    def available(self):
        return importable("scipy", "test")

    def version(self):
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
        from scipy.stats import norm

        return lambda loc, scale, value: norm.logpdf(value, loc, scale)

    def gradients(self, call, callee, y, ops, wrt):
        raise RuntimeError("SciPy has no autodiff")

    def repro(self, call) -> str:
        lines = ["import numpy as np", "from scipy.stats import norm"]
        for n in operand_names(call.loss):
            a = np.asarray(call.operands[n])
            lines.append(f"{n} = np.array({array_literal(a)}).reshape({a.shape!r}).astype({str(a.dtype)!r})")
        lines += ["out = norm.logpdf(value, loc, scale)", "print(out.dtype, out.shape, out.tolist())"]
        return "\n".join(lines)
