"""MLX adapter: `mlx` (CPU), the Gaussian loss `mlx.nn.losses.gaussian_nll_loss`.

MLX ships `gaussian_nll_loss(inputs, targets, vars, full=False, eps=1e-6, reduction='mean')`: the
keywords and their order are PyTorch's (only the operands are named differently, and they are
passed by position), so calls go through unchanged and the natural level is `api`. It has no
Poisson NLL loss and no module form (both NA), and its arrays have no strides (layouts NA).

* Operands become `mx.array`s of the same dtype, named explicitly (MLX turns a NumPy float64 array
  into float32 unless told); bfloat16 comes in from `ml_dtypes` and goes out through float32, both
  exact. A Gaussian var given as a Python number is passed as one.
* Gradients: `mx.vjp` of the function with respect to the operands the call names, pulled back
  with the call's upstream gradient in the output's dtype.
"""

from __future__ import annotations

import numpy as np

from .base import Adapter, Capabilities, array_literal, importable, operand_names, repro_operands


class MlxAdapter(Adapter):
    name = "mlx"

    def __init__(self, user_fns: dict | None = None, user_specs: dict | None = None):
        if user_fns:
            raise ValueError("the mlx backend validates MLX's own loss; it takes no user functions")
        self.caps = Capabilities(losses=("gaussian",), forms=("functional",), layouts=("contiguous",), device="cpu",
                                 grad_wrt={"gaussian": ("input", "target", "var")})
        self._mx = None

    @property
    def mx(self):
        if self._mx is None:
            import mlx.core as mx

            mx.set_default_device(mx.cpu)
            self._mx = mx
        return self._mx

    def available(self):
        return importable("mlx", "mlx", lambda: self.mx)

    def version_text(self):
        from importlib import metadata

        return f"{metadata.version('mlx')} (cpu)"

    # -- the hooks of base.Adapter's template ----------------------------------------------------
    def to_backend(self, a, layout=None, grad=False):
        if layout not in (None, "contiguous"):
            raise ValueError(f"MLX arrays have no strides: no {layout!r} layout")
        mx = self.mx
        a = np.array(a, copy=True)
        tag = str(a.dtype)
        y = mx.array(a, dtype=getattr(mx, tag)) if hasattr(mx, tag) else mx.array(a)
        if self.dtype_tag(y) != tag:  # never silently
            raise TypeError(f"mlx converted a {tag} array to {self.dtype_tag(y)}")
        return y

    def to_numpy(self, y):
        if self.dtype_tag(y) == "bfloat16":
            import ml_dtypes

            return np.array(y.astype(self.mx.float32)).astype(ml_dtypes.bfloat16)
        return np.array(y, copy=True)

    def dtype_tag(self, y) -> str:
        return str(y.dtype).rsplit(".", 1)[-1]

    def is_tensor(self, v) -> bool:
        return isinstance(v, self.mx.array)

    def function(self, loss):
        import mlx.nn.losses

        return mlx.nn.losses.gaussian_nll_loss

    def gradients(self, call, callee, y, ops, wrt):
        names = operand_names(call.loss)

        def f(*diff):
            vals = dict(ops, **dict(zip(wrt, diff)))
            return callee(*[vals[n] for n in names], *call.args, **call.kwargs)

        g = self.to_backend(self.upstream(call, y))
        _, grads = self.mx.vjp(f, [ops[n] for n in wrt], [g])
        return dict(zip(wrt, grads))

    def repro(self, call) -> str:
        def array_line(name, a):
            to = "ml_dtypes.bfloat16" if str(a.dtype) == "bfloat16" else repr(str(a.dtype))
            return (f"{name} = mx.array(np.array({array_literal(a)}, dtype=np.float64)"
                    f".reshape({tuple(a.shape)!r}).astype({to}), dtype=mx.{a.dtype})")

        ops, names = repro_operands(call, array_line)
        lines = ["import numpy as np", "import ml_dtypes", "import mlx.core as mx", "import mlx.nn.losses", *ops]
        argtxt = ", ".join([repr(v) for v in call.args] + [f"{k}={v!r}" for k, v in call.kwargs.items()])
        lines.append(f"out = mlx.nn.losses.gaussian_nll_loss({', '.join(names + ([argtxt] if argtxt else []))})")
        lines.append("print(out.dtype, out.shape, out.astype(mx.float64).tolist())")
        wrt = [n for n in call.grad_wrt if isinstance(call.operands[n], np.ndarray)]
        if wrt:
            lines.append(f"f = lambda {', '.join(wrt)}: mlx.nn.losses.gaussian_nll_loss({', '.join(names + ([argtxt] if argtxt else []))})")
            lines.append(f"_, grads = mx.vjp(f, [{', '.join(wrt)}], [mx.ones_like(out)])")
            lines.append(f"for n, gr in zip({wrt!r}, grads):\n    print(n, gr.astype(mx.float64).tolist())")
        return "\n".join(lines)
