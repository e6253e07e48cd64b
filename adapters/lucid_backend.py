"""lucid adapter: `lucid.nn.PoissonNLLLoss` (lucid-dl, the seed's second framework). NOT VERIFIED.

lucid's releases with this loss build only on macOS arm64 (its 2.x line needs Python >= 3.14 and has
no NLL losses), so this adapter has never run against the real package. It is written against
lucid's documented API (the seed page: `PoissonNLLLoss(log_input=True, full=False, eps=1e-08,
reduction='mean')`, attributes of the same names, `forward(x, target)`), and against the
PyTorch-like tensor API lucid describes (`lucid.tensor(data, requires_grad=..., dtype=...)`,
`Tensor.data`, `Tensor.backward()`, `Tensor.grad`), which is an assumption. tests/test_lucid_adapter.py
drives it through an in-process stand-in of that API (tests/lucid_standin/), which checks the
translation, not lucid. The matrix and README say so; no result of this backend is a verification.

What the adapter translates: PyTorch's module arguments (bound by PyTorch's signature) to lucid's
keywords. lucid documents no functional form: a functional call is expressed as constructing the
module with the call's arguments and calling it, inside the call (API-MODULE-FUNCTIONAL makes the two
one meaning; the module's own checks are then not independent of the functional ones). Not
expressible, so NA: the Gaussian loss (not documented), the legacy size_average / reduce, forward by keyword (lucid names forward's operands x, target), layouts
other than contiguous, integral operands. Gradients: `(y * g).sum().backward()` with the call's
upstream gradient g.

Natural level: core (lucid's signature is not PyTorch's: no legacy arguments, its own order).
"""

from __future__ import annotations

import numpy as np

from .base import Adapter, Capabilities, array_literal, given_arguments, importable, repro_operands

DTYPES = {"float32": "Float32", "float64": "Float64"}


class LucidAdapter(Adapter):
    name = "lucid"

    def __init__(self, user_fns=None, user_specs=None):
        if user_fns:
            raise ValueError("the lucid backend validates lucid's own loss; it takes no user functions")
        self.caps = Capabilities(losses=("poisson",), forms=("functional", "module"), dtypes=tuple(DTYPES),
                                 grad_wrt={"poisson": ("input", "target")}, int_dtypes=(),
                                 layouts=("contiguous",), device="cpu")

    @property
    def lucid(self):
        import lucid

        return lucid

    def available(self):
        ok, why = importable("lucid", "lucid", lambda: self.lucid.nn.PoissonNLLLoss)
        if not ok and "not installed" in why:
            why = ("lucid is not installed: lucid-dl's releases with PoissonNLLLoss build only on macOS arm64 "
                   "(tests/test_lucid_adapter.py runs this adapter through a stand-in; never a verification)")
        return ok, why

    def version_text(self):
        v = getattr(self.lucid, "__version__", "?")
        return f"{v} (NOT VERIFIED: lucid stand-in)" if getattr(self.lucid, "STANDIN", False) else str(v)

    def cannot_express(self, call):
        return super().cannot_express(call) or self.foreign_surface(call, "lucid")

    @staticmethod
    def _kwargs(call):
        """The arguments the call gave, as keywords (lucid's names are PyTorch's; its positional
        order is not)."""
        return given_arguments(call)

    # -- the hooks of base.Adapter's template ----------------------------------------------------
    def _run(self, call, out):
        import dataclasses

        super()._run(dataclasses.replace(call, args=(), kwargs=self._kwargs(call) or {}), out)

    def to_backend(self, a, layout=None, grad=False):
        if layout not in (None, "contiguous"):
            raise ValueError(f"the lucid adapter builds contiguous tensors only, not {layout!r}")
        a = np.array(a, copy=True)
        return self.lucid.tensor(a, requires_grad=grad, dtype=getattr(self.lucid, DTYPES[str(a.dtype)]))

    def to_numpy(self, t):
        return np.array(t.data, copy=True)

    def dtype_tag(self, t) -> str:
        return str(np.asarray(t.data).dtype)

    def is_tensor(self, v) -> bool:
        return isinstance(v, self.lucid.Tensor)

    def module(self, loss, args, kwargs):
        return self.lucid.nn.PoissonNLLLoss(*args, **kwargs)

    def function(self, loss):
        """The functional form, through the module: construct with the arguments, call, in one step."""
        return lambda input, target, **kwargs: self.lucid.nn.PoissonNLLLoss(**kwargs)(input, target)

    def gradients(self, call, callee, y, ops, wrt):
        g = self.lucid.tensor(self.upstream(call, y), dtype=getattr(self.lucid, DTYPES[self.dtype_tag(y)]))
        (y * g).sum().backward()
        return {n: (None if ops[n].grad is None else self.lucid.tensor(np.asarray(ops[n].grad), dtype=ops[n].dtype))
                for n in wrt}

    def repro(self, call) -> str:
        def array_line(name, a):
            return (f"{name} = lucid.tensor(np.array({array_literal(a)}).reshape({tuple(a.shape)!r}), "
                    f"requires_grad={name in call.grad_wrt}, dtype=lucid.{DTYPES.get(str(a.dtype), '?')})")

        ops, names = repro_operands(call, array_line)
        argtxt = ", ".join(f"{k}={v!r}" for k, v in (self._kwargs(call) or {}).items())
        lines = ["# lucid (NOT VERIFIED against the real package; a functional call is the module's)",
                 "import numpy as np", "import lucid", *ops,
                 f"loss = lucid.nn.PoissonNLLLoss({argtxt})", f"out = loss({', '.join(names)})", "print(out.data)"]
        return "\n".join(lines)
