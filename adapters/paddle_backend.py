"""PaddlePaddle adapter: `paddle` (CPU), both losses, functional and module forms.

Paddle ships both losses under PyTorch's names with its own parameter names:
`paddle.nn.functional.poisson_nll_loss(input, label, log_input, full, epsilon, reduction)`,
`gaussian_nll_loss(input, label, variance, full, epsilon, reduction)` and the layers
`paddle.nn.PoissonNLLLoss` / `GaussianNLLLoss`. The adapter translates names, nothing else:

* the call's arguments are bound against PyTorch's signature and only those the call gave are
  passed, renamed (`eps` -> `epsilon`); an omitted argument stays omitted, so Paddle's own defaults
  are what the default checks see;
* not expressible, so NA: the legacy `size_average` / `reduce` (Paddle has neither), module forward
  by keyword (PyTorch's forward names), a call PyTorch's signature refuses (its TypeError is an
  API-SIGNATURE question, and Paddle's signature is not PyTorch's), memory layouts other than
  contiguous (the adapter builds dense tensors only), float16 and bfloat16 (Paddle 3.3 registers
  no CPU kernels for them: `multiply`/`exp` are "not registered", the Gaussian loss refuses them);
* gradients with `paddle.grad` and the call's upstream gradient; an operand Paddle's graph does
  not reach comes back without a gradient (reported as such, never filled in).

Natural level: core (the argument names are Paddle's, so the API clauses are not its contract).
"""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np

from .base import Adapter, Capabilities, array_literal, given_arguments, importable, repro_operands

FUNCTIONAL = {"poisson": "poisson_nll_loss", "gaussian": "gaussian_nll_loss"}
MODULE = {"poisson": "PoissonNLLLoss", "gaussian": "GaussianNLLLoss"}
RENAME = {"eps": "epsilon"}  # PyTorch's keyword -> Paddle's


class PaddleAdapter(Adapter):
    name = "paddle"

    def __init__(self, user_fns: dict | None = None, user_specs: dict | None = None):
        if user_fns:
            raise ValueError("the paddle backend validates Paddle's own losses; it takes no user functions")
        self.caps = Capabilities(dtypes=("float32", "float64"), layouts=("contiguous",), device="cpu")
        self._paddle = None

    @property
    def paddle(self):
        """paddle, imported on first use, quietly: its import warns that ccache is missing (a
        build-tool notice) and its mixed-dtype promotion logs through glog to stderr."""
        if self._paddle is None:
            os.environ.setdefault("GLOG_minloglevel", "2")
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="No ccache found")
                import paddle

            paddle.set_device("cpu")
            self._paddle = paddle
        return self._paddle

    def available(self):
        return importable("paddle", "paddle", lambda: self.paddle)

    def version_text(self):
        return f"{self.paddle.__version__} (cpu)"

    # -- what Paddle cannot express ----------------------------------------------------------------
    def cannot_express(self, call):
        return super().cannot_express(call) or self.foreign_surface(call, "Paddle")

    def _kwargs(self, call) -> dict:
        return {RENAME.get(k, k): v for k, v in (given_arguments(call) or {}).items()}

    # -- the hooks of base.Adapter's template ----------------------------------------------------
    def to_backend(self, a, layout=None, grad=False):
        if layout not in (None, "contiguous"):
            raise ValueError(f"the paddle adapter builds contiguous tensors only, not {layout!r}")
        a = np.array(a, copy=True)
        if str(a.dtype) == "bfloat16":  # Paddle takes bfloat16 as its uint16 bits
            t = self.paddle.to_tensor(a.view(np.uint16))
        else:
            t = self.paddle.to_tensor(a)
        if self.dtype_tag(t) != str(a.dtype):  # never silently
            raise TypeError(f"paddle converted a {a.dtype} array to {self.dtype_tag(t)}")
        if grad:
            t.stop_gradient = False
        return t

    def to_numpy(self, t):
        a = t.numpy()
        if self.dtype_tag(t) == "bfloat16":
            import ml_dtypes

            return a.view(ml_dtypes.bfloat16).copy()
        return np.array(a, copy=True)

    def dtype_tag(self, t) -> str:
        return str(t.dtype).replace("paddle.", "")

    def is_tensor(self, v) -> bool:
        return isinstance(v, self.paddle.Tensor)

    def function(self, loss):
        return getattr(self.paddle.nn.functional, FUNCTIONAL[loss])

    def _run(self, call, out):
        """The template, on the call with its arguments in Paddle's names (all by keyword)."""
        super()._run(dataclasses.replace(call, args=(), kwargs=self._kwargs(call)), out)

    def module(self, loss, args, kwargs):
        return getattr(self.paddle.nn, MODULE[loss])(*args, **kwargs)

    def gradients(self, call, callee, y, ops, wrt):
        paddle = self.paddle
        g = self.to_backend(self.upstream(call, y))
        grads = paddle.grad(outputs=[y], inputs=[ops[n] for n in wrt], grad_outputs=[g], allow_unused=True)
        return dict(zip(wrt, grads))

    # -- reproduction ------------------------------------------------------------------------------
    def repro(self, call) -> str:
        def array_line(name, a):
            grad = f"\n{name}.stop_gradient = False" if name in call.grad_wrt else ""
            return (f"{name} = paddle.to_tensor(np.array({array_literal(a)}, dtype=np.float64)"
                    f".reshape({tuple(a.shape)!r}).astype({str(a.dtype)!r})){grad}")

        ops, names = repro_operands(call, array_line)
        lines = ["import numpy as np", "import paddle", *ops]
        argtxt = ", ".join(f"{k}={v!r}" for k, v in self._kwargs(call).items())
        if call.form == "module":
            lines.append(f"loss = paddle.nn.{MODULE[call.loss]}({argtxt})")
            lines.append(f"out = loss({', '.join(names)})")
        else:
            lines.append(f"out = paddle.nn.functional.{FUNCTIONAL[call.loss]}({', '.join(names + ([argtxt] if argtxt else []))})")
        lines.append("print(out.dtype, out.shape, out.numpy().tolist())")
        wrt = [n for n in call.grad_wrt if isinstance(call.operands[n], np.ndarray)]
        if wrt:
            if call.grad_output is None:
                lines.append("g = paddle.ones_like(out)")
            else:
                ga = np.asarray(call.grad_output)
                lines.append(f"g = paddle.to_tensor(np.array({array_literal(ga)}, dtype=np.float64)"
                             f".reshape({tuple(ga.shape)!r})).astype(out.dtype)")
            lines.append(f"grads = paddle.grad([out], [{', '.join(wrt)}], [g], allow_unused=True)")
            lines.append(f"for n, gr in zip({wrt!r}, grads):\n    print(n, None if gr is None else gr.numpy().tolist())")
        return "\n".join(lines)
