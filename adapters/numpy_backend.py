"""NumPy adapter: runs the NumPy implementation of the losses (numpy_losses.py) or a user's NumPy
function through the template of base.Adapter. NumPy has no autodiff: gradients come from the
implementation's analytic `*_backward` functions and the modules' `backward` methods."""

from __future__ import annotations

import os

import numpy as np

from .base import Adapter, Capabilities, array_literal, layout_view, operand_names
from .numpy_losses import BACKWARD, BF16, FUNCTIONAL, MODULE, _category
from .userfn import import_lines

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- the adapter -----------------------------------------------------------------------------------
class NumpyAdapter(Adapter):
    name = "numpy"

    def __init__(self, user_fns: dict | None = None, user_specs: dict | None = None):
        self.user_fns = user_fns or {}
        self.user_specs = user_specs or {}
        if self.user_fns:  # NumPy has no autodiff: no gradients for a user's function
            self.caps = Capabilities(losses=tuple(self.user_fns), forms=("functional",),
                                     grad_wrt={loss: () for loss in self.user_fns})
        else:
            self.caps = Capabilities()

    def version_text(self):
        return np.__version__

    # -- the hooks of base.Adapter's template ---------------------------------------------------
    def to_backend(self, a, layout=None, grad=False):
        """A copy of `a` in the named memory layout (a NumPy view of the same values)."""
        return layout_view(a, layout)

    def to_numpy(self, y):
        return y

    def is_tensor(self, v) -> bool:
        return isinstance(v, np.ndarray)

    def result(self, y):
        return super().result(np.asarray(y) if isinstance(y, np.generic) else y)

    def function(self, loss):
        return self.user_fns.get(loss) or FUNCTIONAL[loss]

    def module(self, loss, args, kwargs):
        return MODULE[loss](*args, **kwargs)

    def gradients(self, call, callee, y, ops, wrt):
        """The analytic backward (NumPy has no autodiff): the module's `backward`, or the loss's
        `*_backward` function with the call's arguments."""
        if call.loss in self.user_fns:
            raise RuntimeError("a user's NumPy function has no gradients (NumPy has no autodiff)")
        values = [ops[n] for n in operand_names(call.loss)]
        kw = {"grad_output": call.grad_output, "wrt": tuple(wrt)}
        if call.form == "module":
            return callee.backward(*values, **kw)
        return BACKWARD[call.loss](*values, *call.args, **call.kwargs, **kw)

    def repro(self, call) -> str:
        """A standalone script: this module's own functions on the call's operands, rebuilt exactly."""
        lines = ["import sys", "import numpy as np", "import ml_dtypes", f"sys.path.insert(0, {REPO_ROOT!r})"]
        user = call.loss in self.user_fns
        if user:
            lines += import_lines(self.user_specs.get(call.loss, "?:?"))
        elif call.form == "module":
            lines.append(f"from adapters.numpy_losses import {MODULE[call.loss].__name__}")
        else:
            lines.append(f"from adapters.numpy_losses import {FUNCTIONAL[call.loss].__name__}, "
                         f"{BACKWARD[call.loss].__name__}")
        for name in operand_names(call.loss):
            a = call.operands[name]
            if not isinstance(a, np.ndarray):  # a Python number (Gaussian var)
                lines.append(f"{name} = {array_literal(np.asarray([a]))[1:-1] if isinstance(a, float) else repr(a)}")
                continue
            kind = "np.float64" if _category(a.dtype) == 2 else repr(str(a.dtype))
            to = "ml_dtypes.bfloat16" if a.dtype == BF16 else repr(str(a.dtype))
            lines.append(f"{name} = np.array({array_literal(a)}, dtype={kind}).reshape({a.shape!r}).astype({to})")
        ops = ", ".join(operand_names(call.loss))
        argtxt = ", ".join([repr(v) for v in call.args] + [f"{k}={v!r}" for k, v in call.kwargs.items()])
        fargs = ops + (", " + argtxt if argtxt else "")
        if call.form == "module" and not user:
            lines += [f"loss = {MODULE[call.loss].__name__}({argtxt})", f"out = loss({ops})"]
        else:
            lines.append(f"out = {'loss_fn' if user else FUNCTIONAL[call.loss].__name__}({fargs})")
        lines.append("print(out.dtype, out.shape, np.asarray(out).astype(np.float64).tolist())")
        if call.grad_wrt and not user:
            g = "None"
            if call.grad_output is not None:
                ga = np.asarray(call.grad_output)
                g = f"np.array({array_literal(ga)}, dtype=np.float64).reshape({ga.shape!r})"
            kw = f"grad_output={g}, wrt={tuple(call.grad_wrt)!r}"
            if call.form == "module":
                lines.append(f"grads = loss.backward({ops}, {kw})")
            else:
                lines.append(f"grads = {BACKWARD[call.loss].__name__}({fargs}, {kw})")
            lines.append("for name, g in grads.items():\n    print(name, g.dtype, g.astype(np.float64).tolist())")
        return "\n".join(lines)

