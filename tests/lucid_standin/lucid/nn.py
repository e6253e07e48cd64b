"""The stand-in's `lucid.nn.PoissonNLLLoss` (see the package docstring: not lucid)."""

from __future__ import annotations

from adapters import numpy_losses

from . import Tensor


class PoissonNLLLoss:
    def __init__(self, log_input=True, full=False, eps=1e-08, reduction="mean"):
        self.log_input, self.full, self.eps, self.reduction = log_input, full, eps, reduction

    def __call__(self, x, target):
        return self.forward(x, target)

    def forward(self, x, target):
        kw = dict(log_input=self.log_input, full=self.full, eps=self.eps, reduction=self.reduction)
        out = numpy_losses.poisson_nll_loss(x.data, target.data, **kw)

        def backward(g):
            grads = numpy_losses.poisson_nll_loss_backward(x.data, target.data, **kw, grad_output=g,
                                                           wrt=("input", "target"))
            return grads["input"], grads["target"]

        return Tensor(out, _parents=(x, target), _backward=backward)
