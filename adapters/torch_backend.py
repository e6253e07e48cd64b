"""PyTorch adapter: `torch` (CPU) and `torch-cuda`, optionally with a user's torch-compatible function.

Functional form calls `torch.nn.functional.poisson_nll_loss` / `gaussian_nll_loss` (or the user's
function given with --poisson-fn / --gaussian-fn); module form constructs `torch.nn.PoissonNLLLoss`
/ `GaussianNLLLoss` and calls it. Gradients come from torch.autograd with the upstream gradient the
call names. A user function has no module form: those checks are NA for it.
"""

from __future__ import annotations

import numpy as np

from .base import Adapter, Capabilities, array_literal, layout_view, repro_operands
from .userfn import import_lines

FUNCTIONAL = {"poisson": "poisson_nll_loss", "gaussian": "gaussian_nll_loss"}
MODULE = {"poisson": "PoissonNLLLoss", "gaussian": "GaussianNLLLoss"}
# distribution subjects: the log-density as torch.distributions computes it (validated arguments)
DISTRIBUTIONS = {"normal": ("torch.distributions.Normal(loc, scale).log_prob(value)",
                            lambda torch: lambda loc, scale, value: torch.distributions.Normal(loc, scale).log_prob(value)),
                 "poissonpmf": ("torch.distributions.Poisson(rate).log_prob(value)",
                                lambda torch: lambda rate, value: torch.distributions.Poisson(rate).log_prob(value))}


class TorchAdapter(Adapter):
    def __init__(self, device: str = "cpu", user_fns: dict | None = None, user_specs: dict | None = None):
        self.device = device
        self.user_fns = user_fns or {}
        self.user_specs = user_specs or {}
        self.name = "torch" if device == "cpu" else f"torch-{device}"
        losses = tuple(self.user_fns) if self.user_fns else ("poisson", "gaussian", *DISTRIBUTIONS)
        forms = ("functional",) if self.user_fns else ("functional", "module")
        self.caps = Capabilities(losses=losses, forms=forms, device=device)
        self._torch = None

    # -- availability -------------------------------------------------------------------------
    @property
    def torch(self):
        if self._torch is None:
            import torch

            self._torch = torch
        return self._torch

    def available(self):
        try:
            torch = self.torch
        except Exception as exc:  # noqa: BLE001
            return False, f"torch cannot be imported: {type(exc).__name__}: {exc}"
        if self.device == "cuda" and not torch.cuda.is_available():
            return False, "no CUDA device is visible to torch (torch.cuda.is_available() is False)"
        return True, ""

    def version_text(self):
        v = self.torch.__version__
        if self.device == "cuda" and self.torch.cuda.is_available():
            v += f" ({self.torch.cuda.get_device_name(0)}, CUDA {self.torch.version.cuda})"
        return v

    # -- conversion ---------------------------------------------------------------------------
    def to_backend(self, a, layout=None, grad=False):
        """A tensor with `a`'s dtype and values, on the device, in the named memory layout; a
        differentiable leaf (with that layout) when `grad`."""
        torch = self.torch
        a = np.asarray(a)

        def convert(arr):
            arr = np.array(arr, order="C", copy=True)  # (ascontiguousarray would make 0-d 1-d)
            if str(arr.dtype) == "bfloat16":  # NumPy has no bfloat16: widen exactly, then narrow
                return torch.from_numpy(arr.astype(np.float32)).to(torch.bfloat16).to(self.device)
            return torch.from_numpy(arr).to(self.device)

        if not layout or layout == "contiguous" or a.ndim == 0:
            t = convert(a)
        elif layout == "transposed":
            t = convert(a.T).T
        elif layout == "strided":
            big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
            big[..., ::2] = a
            t = convert(big)[..., ::2]
        elif layout == "expanded":
            view = layout_view(a, "expanded")  # stride 0 where a is constant along a dimension
            keep = tuple(slice(0, 1) if st == 0 else slice(None) for st in view.strides)
            t = convert(view[keep]).expand(*a.shape)
        else:
            raise ValueError(f"unknown layout {layout!r}")
        return _leaf(t) if grad else t

    def dtype_tag(self, t) -> str:
        return str(t.dtype).replace("torch.", "")

    def to_numpy(self, t):
        import ml_dtypes

        t = t.detach().cpu()
        if t.dtype == self.torch.bfloat16:
            return t.to(self.torch.float32).numpy().astype(ml_dtypes.bfloat16)
        return t.numpy().copy()

    def is_tensor(self, v) -> bool:
        return isinstance(v, self.torch.Tensor)

    # -- calling (the hooks of base.Adapter's template) -------------------------------------------
    def function(self, loss):
        if loss in self.user_fns:
            return self.user_fns[loss]
        if loss in DISTRIBUTIONS:
            return DISTRIBUTIONS[loss][1](self.torch)
        return getattr(self.torch.nn.functional, FUNCTIONAL[loss])

    def module(self, loss, args, kwargs):
        return getattr(self.torch.nn, MODULE[loss])(*args, **kwargs)

    def gradients(self, call, callee, y, ops, wrt):
        torch = self.torch
        g = self.to_backend(self.upstream(call, y)).to(y.dtype)
        if not y.requires_grad:
            raise RuntimeError("the output does not require grad: no gradient reaches the operands")
        grads = torch.autograd.grad(y, [ops[n] for n in wrt], grad_outputs=g, allow_unused=True)
        return dict(zip(wrt, grads))

    # -- reproduction ---------------------------------------------------------------------------
    def repro(self, call) -> str:
        lines = ["import torch"]
        if call.loss in self.user_fns:
            lines += import_lines(self.user_specs.get(call.loss, "?:?"))
        dev = f", device={self.device!r}" if self.device != "cpu" else ""

        def array_line(name, a):
            grad = ".requires_grad_()" if name in call.grad_wrt else ""
            return (f"{name} = torch.tensor({array_literal(a)}, dtype=torch.float64{dev})"
                    f".reshape({tuple(a.shape)!r}).to(torch.{a.dtype}){grad}")

        ops, names = repro_operands(call, array_line)
        lines += ops
        argtxt = ", ".join([repr(v) for v in call.args] + [f"{k}={v!r}" for k, v in call.kwargs.items()])
        if call.form == "module":
            lines.append(f"loss = torch.nn.{MODULE[call.loss]}({argtxt})")
            fwd = (", ".join(f"{k}={n}" for k, n in zip(call.forward_names, names)) if call.forward_names
                   else ", ".join(names))
            lines.append(f"out = loss({fwd})")
        else:
            if call.loss in DISTRIBUTIONS and call.loss not in self.user_fns:
                lines.append(f"out = {DISTRIBUTIONS[call.loss][0]}")
            else:
                fn = "loss_fn" if call.loss in self.user_fns else f"torch.nn.functional.{FUNCTIONAL[call.loss]}"
                lines.append(f"out = {fn}({', '.join(names + ([argtxt] if argtxt else []))})")
        lines.append("print(out.dtype, out.shape, out.tolist())")
        if call.grad_wrt:
            if call.grad_output is None:
                lines.append("out.backward(torch.ones_like(out))")
            else:
                g = np.asarray(call.grad_output)
                lines.append(f"out.backward(torch.tensor({array_literal(g)}, dtype=torch.float64{dev}).reshape({tuple(g.shape)!r}).to(out.dtype))")
            for n in call.grad_wrt:
                lines.append(f"print({n!r}, {n}.grad.tolist())")
        return "\n".join(lines)


def _leaf(t):
    """A differentiable leaf with t's layout (a view of a requires-grad base for non-contiguous t)."""
    if t.is_contiguous():
        return t.requires_grad_(True)
    return t.detach().requires_grad_(True)

