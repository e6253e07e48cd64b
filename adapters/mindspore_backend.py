"""MindSpore adapter: `mindspore` (CPU, PyNative mode), both losses, functional and module forms.

MindSpore 2.10 ships `mindspore.ops.gaussian_nll_loss(x, target, var, full=False, eps=1e-6,
reduction='mean')`, the cell `mindspore.nn.GaussianNLLLoss(*, full=False, eps=1e-6,
reduction='mean')` (forward `(logits, labels, var)`) and the cell `mindspore.nn.PoissonNLLLoss(
log_input=True, full=False, eps=1e-8, reduction='mean')` (forward `(input, target)`); it has no
functional Poisson NLL loss (neither `mindspore.ops` nor `mindspore.mint` has one). The keyword
names are PyTorch's; the signatures are not (no `size_average`/`reduce`, so `eps` is
`PoissonNLLLoss`'s third positional parameter). The adapter translates, nothing else:

* the call's arguments are bound against PyTorch's signature and only those the call gave are
  passed, by keyword (the names need no renaming); an omitted argument stays omitted, so
  MindSpore's own defaults are what the default checks see;
* the Poisson loss's functional form is MindSpore's only way to say it: the cell constructed with
  the call's arguments and applied to the operands, `nn.PoissonNLLLoss(**kwargs)(input, target)`,
  in the same call (a construction error is the call's error);
* not expressible, so NA: the legacy `size_average` / `reduce` (MindSpore has neither), module
  forward by keyword (the cells' forward names are MindSpore's: `logits`, `labels`), a call
  PyTorch's signature refuses (its TypeError is an API-SIGNATURE question, and MindSpore's
  signature is not PyTorch's), bfloat16 (MindSpore 2.10 registers no CPU kernel for bfloat16 in
  `Exp`, `Log` or `Maximum`: TypeError "Select CPU operator[...] fail! Unsupported data type!");
* operands become `mindspore.Tensor`s of the same dtype; the transposed, strided and expanded
  layouts are MindSpore views (`Tensor.T`, a `[..., ::2]` slice, `broadcast_to`: non-contiguous,
  with the strides PyTorch's would have);
* gradients with `mindspore.vjp` of the loss with respect to the operands the call names, pulled
  back with the call's upstream gradient in the output's dtype; an operand MindSpore gives no
  gradient for comes back without one (reported, never filled in).

Natural level: core (MindSpore's signatures are not PyTorch's: see above).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from .base import Adapter, array_literal, Capabilities, given_arguments, importable, layout_view, operand_names, repro_operands

MODULE = {"poisson": "PoissonNLLLoss", "gaussian": "GaussianNLLLoss"}


class MindsporeAdapter(Adapter):
    name = "mindspore"

    def __init__(self, user_fns: dict | None = None, user_specs: dict | None = None):
        if user_fns:
            raise ValueError("the mindspore backend validates MindSpore's own losses; it takes no user functions")
        self.caps = Capabilities(dtypes=("float16", "float32", "float64"), device="cpu")
        self._ms = None

    @property
    def ms(self):
        """mindspore, imported on first use, in PyNative mode on the CPU; its C++ log (glog) is
        kept to errors, as its warnings go to stderr, not through Python's warnings."""
        if self._ms is None:
            os.environ.setdefault("GLOG_v", "3")
            import mindspore

            mindspore.set_context(mode=mindspore.PYNATIVE_MODE)
            mindspore.set_device("CPU")
            self._ms = mindspore
        return self._ms

    def available(self):
        return importable("mindspore", "mindspore", lambda: self.ms)

    def version_text(self):
        return f"{self.ms.__version__} (cpu)"

    # -- what MindSpore cannot express -------------------------------------------------------------
    def cannot_express(self, call):
        return super().cannot_express(call) or self.foreign_surface(call, "MindSpore")

    def _kwargs(self, call) -> dict:
        return dict(given_arguments(call) or {})

    # -- the hooks of base.Adapter's template ----------------------------------------------------
    def to_backend(self, a, layout=None, grad=False):
        ms = self.ms
        a = np.asarray(a)

        def convert(arr):
            t = ms.Tensor(np.array(arr, order="C", copy=True))
            if self.dtype_tag(t) != str(arr.dtype):  # never silently
                raise TypeError(f"mindspore converted a {arr.dtype} array to {self.dtype_tag(t)}")
            return t

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
            return convert(view[keep]).broadcast_to(a.shape)
        raise ValueError(f"unknown layout {layout!r}")

    def to_numpy(self, t):
        if self.dtype_tag(t) == "bfloat16":
            import ml_dtypes

            return t.astype(self.ms.float32).asnumpy().astype(ml_dtypes.bfloat16)
        return np.array(t.asnumpy(), copy=True)

    def dtype_tag(self, t) -> str:
        return str(t.dtype).lower()

    def is_tensor(self, v) -> bool:
        return isinstance(v, self.ms.Tensor)

    def function(self, loss):
        ms = self.ms
        if loss == "gaussian":
            return ms.ops.gaussian_nll_loss

        def poisson_nll_loss(input, target, **kwargs):  # noqa: A002 - PyTorch's name
            return ms.nn.PoissonNLLLoss(**kwargs)(input, target)

        return poisson_nll_loss

    def module(self, loss, args, kwargs):
        return getattr(self.ms.nn, MODULE[loss])(*args, **kwargs)

    def _run(self, call, out):
        """The template, on the call with its arguments all by keyword."""
        super()._run(dataclasses.replace(call, args=(), kwargs=self._kwargs(call)), out)

    def gradients(self, call, callee, y, ops, wrt):
        if not wrt:
            return {}
        names = operand_names(call.loss)
        extra = {} if call.form == "module" else call.kwargs

        def f(*diff):
            vals = dict(ops, **dict(zip(wrt, diff)))
            return callee(*[vals[n] for n in names], **extra)

        g = self.to_backend(self.upstream(call, y))
        _, pull = self.ms.vjp(f, *[ops[n] for n in wrt])
        grads = pull(g)
        if not isinstance(grads, (tuple, list)):
            grads = (grads,)
        return dict(zip(wrt, grads))

    # -- reproduction ------------------------------------------------------------------------------
    def repro(self, call) -> str:
        def array_line(name, a):
            return (f"{name} = ms.Tensor(np.array({array_literal(a)}, dtype=np.float64)"
                    f".reshape({tuple(a.shape)!r}).astype({str(a.dtype)!r}))")

        ops, names = repro_operands(call, array_line)
        lines = ["import numpy as np", "import mindspore as ms", *ops]
        argtxt = ", ".join(f"{k}={v!r}" for k, v in self._kwargs(call).items())
        if call.form == "module" or call.loss == "poisson":
            lines.append(f"loss = lambda {', '.join(names)}: ms.nn.{MODULE[call.loss]}({argtxt})({', '.join(names)})")
        else:
            lines.append(f"loss = lambda {', '.join(names)}: ms.ops.gaussian_nll_loss({', '.join(names + ([argtxt] if argtxt else []))})")
        lines.append(f"out = loss({', '.join(names)})")
        lines.append("print(out.dtype, out.shape, out.asnumpy().tolist())")
        wrt = [n for n in call.grad_wrt if isinstance(call.operands[n], np.ndarray)]
        if wrt:
            if call.grad_output is None:
                lines.append("g = ms.ops.ones_like(out)")
            else:
                ga = np.asarray(call.grad_output)
                lines.append(f"g = ms.Tensor(np.array({array_literal(ga)}, dtype=np.float64)"
                             f".reshape({tuple(ga.shape)!r})).astype(out.dtype)")
            rest = {n: n for n in names}
            params = ", ".join(f"{n}_" for n in wrt)
            argv = ", ".join(f"{n}_" if n in wrt else rest[n] for n in names)
            lines.append(f"_, pull = ms.vjp(lambda {params}: loss({argv}), {', '.join(wrt)})")
            lines.append(f"for n, gr in zip({wrt!r}, pull(g)):\n    print(n, gr.asnumpy().tolist())")
        if call.layout and any(v not in (None, "contiguous") for v in call.layout.values()):
            lines.insert(2, f"# the suite passed these operands as non-contiguous views: {call.layout!r}")
        return "\n".join(lines)
