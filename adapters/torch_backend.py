"""PyTorch adapter: `torch` (CPU) and `torch-cuda`, optionally with a user's torch-compatible function.

Functional form calls `torch.nn.functional.poisson_nll_loss` / `gaussian_nll_loss` (or the user's
function given with --poisson-fn / --gaussian-fn); module form constructs `torch.nn.PoissonNLLLoss`
/ `GaussianNLLLoss` and calls it. Gradients come from torch.autograd with the upstream gradient the
call names. A user function has no module form: those checks are NA for it.
"""

from __future__ import annotations

import warnings

import numpy as np

from .base import Adapter, Capabilities, Outcome, Raised, array_literal, changed, layout_view, read_module_attrs
from .userfn import import_lines

OPERANDS = {"poisson": ("input", "target"), "gaussian": ("input", "target", "var")}
FUNCTIONAL = {"poisson": "poisson_nll_loss", "gaussian": "gaussian_nll_loss"}
MODULE = {"poisson": "PoissonNLLLoss", "gaussian": "GaussianNLLLoss"}


class TorchAdapter(Adapter):
    def __init__(self, device: str = "cpu", user_fns: dict | None = None, user_specs: dict | None = None):
        self.device = device
        self.user_fns = user_fns or {}
        self.user_specs = user_specs or {}
        self.name = "torch" if device == "cpu" else f"torch-{device}"
        losses = tuple(self.user_fns) if self.user_fns else ("poisson", "gaussian")
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

    def version(self):
        try:
            v = self.torch.__version__
            if self.device == "cuda" and self.torch.cuda.is_available():
                v += f" ({self.torch.cuda.get_device_name(0)}, CUDA {self.torch.version.cuda})"
            return v
        except Exception:  # noqa: BLE001
            return "unavailable"

    # -- conversion ---------------------------------------------------------------------------
    def to_backend(self, a, layout=None):
        """A tensor with `a`'s dtype and values, on the device, in the named memory layout."""
        torch = self.torch
        a = np.asarray(a)

        def convert(arr):
            arr = np.array(arr, order="C", copy=True)  # (ascontiguousarray would make 0-d 1-d)
            if str(arr.dtype) == "bfloat16":  # NumPy has no bfloat16: widen exactly, then narrow
                return torch.from_numpy(arr.astype(np.float32)).to(torch.bfloat16).to(self.device)
            return torch.from_numpy(arr).to(self.device)

        if not layout or layout == "contiguous" or a.ndim == 0:
            return convert(a)
        if layout == "transposed":
            return convert(a.T).T
        if layout == "strided":
            big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
            big[..., ::2] = a
            return convert(big)[..., ::2]
        if layout == "expanded":
            view = layout_view(a, "expanded")  # stride 0 where a is constant along a dimension
            keep = tuple(slice(0, 1) if st == 0 else slice(None) for st in view.strides)
            return convert(view[keep]).expand(*a.shape)
        raise ValueError(f"unknown layout {layout!r}")

    @staticmethod
    def dtype_tag(t) -> str:
        return str(t.dtype).replace("torch.", "")

    def to_numpy(self, t):
        import ml_dtypes

        t = t.detach().cpu()
        if t.dtype == self.torch.bfloat16:
            return t.to(self.torch.float32).numpy().astype(ml_dtypes.bfloat16)
        return t.numpy().copy()

    # -- calling --------------------------------------------------------------------------------
    def _function(self, loss):
        if loss in self.user_fns:
            return self.user_fns[loss]
        return getattr(self.torch.nn.functional, FUNCTIONAL[loss])

    def _run(self, call, out: Outcome) -> None:
        torch = self.torch
        tensors = {}
        for name in OPERANDS[call.loss]:
            a = call.operands[name]
            if isinstance(a, (float, int, bool)) and not isinstance(a, np.ndarray):
                tensors[name] = a  # Gaussian var given as a Python number
                continue
            t = self.to_backend(a, call.layout.get(name))
            if name in call.grad_wrt:
                t = _leaf(t)
            tensors[name] = t
        operands = [tensors[n] for n in OPERANDS[call.loss]]

        stage = "construction"
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if call.form == "module":
                    module = getattr(torch.nn, MODULE[call.loss])(*call.args, **call.kwargs)
                    _take(caught, out, "construction")
                    out.module_attrs = read_module_attrs(module, call.loss)
                    stage = "call"
                    if call.forward_names:
                        y = module(**dict(zip(call.forward_names, operands)))
                    else:
                        y = module(*operands)
                else:
                    stage = "call"
                    y = self._function(call.loss)(*operands, *call.args, **call.kwargs)
                _take(caught, out, stage)
            if not isinstance(y, torch.Tensor):
                raise TypeError(f"the loss returned {type(y).__name__}, not a tensor")
            out.output = self.to_numpy(y)
            out.output_dtype = self.dtype_tag(y)
            if call.grad_wrt:
                stage = "backward"
                if call.grad_output is None:
                    g = torch.ones_like(y)
                else:
                    g = self.to_backend(np.asarray(call.grad_output)).to(y.dtype)
                names = [n for n in call.grad_wrt if isinstance(tensors[n], torch.Tensor)]
                wrt = [tensors[n] for n in names]  # a Python-number var takes no gradient
                if not y.requires_grad:
                    raise RuntimeError("the output does not require grad: no gradient reaches the operands")
                grads = torch.autograd.grad(y, wrt, grad_outputs=g, allow_unused=True)
                for n, gr in zip(names, grads):
                    if gr is not None:
                        out.grads[n] = self.to_numpy(gr)
                        out.grad_dtypes[n] = self.dtype_tag(gr)
        except Exception as exc:  # noqa: BLE001 - recorded, never raised
            out.raised = Raised(type(exc).__name__, str(exc), stage)
        for name in OPERANDS[call.loss]:  # SHAPE-NO-MUTATION: the operands' values afterwards
            t = tensors[name]
            if isinstance(t, torch.Tensor) and changed(np.asarray(call.operands[name]), self.to_numpy(t)):
                out.mutated.append(name)

    # -- reproduction ---------------------------------------------------------------------------
    def repro(self, call) -> str:
        lines = ["import torch"]
        if call.loss in self.user_fns:
            lines += import_lines(self.user_specs.get(call.loss, "?:?"))
        dev = f", device={self.device!r}" if self.device != "cpu" else ""
        names = []
        for name in OPERANDS[call.loss]:
            a = call.operands[name]
            if not isinstance(a, np.ndarray):
                lines.append(f"{name} = {a!r}")
            else:
                grad = ".requires_grad_()" if name in call.grad_wrt else ""
                lines.append(
                    f"{name} = torch.tensor({array_literal(a)}, dtype=torch.float64{dev})"
                    f".reshape({tuple(a.shape)!r}).to(torch.{a.dtype}){grad}"
                )
            names.append(name)
        argtxt = ", ".join([repr(v) for v in call.args] + [f"{k}={v!r}" for k, v in call.kwargs.items()])
        if call.form == "module":
            lines.append(f"loss = torch.nn.{MODULE[call.loss]}({argtxt})")
            fwd = (", ".join(f"{k}={n}" for k, n in zip(call.forward_names, names)) if call.forward_names
                   else ", ".join(names))
            lines.append(f"out = loss({fwd})")
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


def _take(caught, out: Outcome, where: str) -> None:
    for w in caught:
        out.warnings.append((w.category.__name__, str(w.message), where))
        out.warning_files.append(str(w.filename))
    caught.clear()
