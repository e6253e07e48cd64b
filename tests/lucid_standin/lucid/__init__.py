"""An in-process STAND-IN for lucid (lucid-dl), for tests/test_lucid_adapter.py only.

It is not lucid. It provides the documented surface the lucid adapter uses: `lucid.tensor`,
`lucid.Tensor` (data, requires_grad, grad, dtype, `*`, `sum`, `backward`), `lucid.Float32`,
`lucid.Float64` and `lucid.nn.PoissonNLLLoss(log_input=True, full=False, eps=1e-08,
reduction='mean')` with its attributes and `forward(x, target)`. Its numerics are the suite's own
NumPy implementation (adapters/numpy_losses.py), so a run through it checks the adapter's
translation, never lucid's numerics.
"""

from __future__ import annotations

import numpy as np

STANDIN = True
__version__ = "stand-in"
Float32, Float64 = np.float32, np.float64


class Tensor:
    def __init__(self, data, requires_grad=False, dtype=None, _parents=(), _backward=None):
        self.data = np.array(data, dtype=dtype) if dtype is not None else np.array(data)
        self.requires_grad = requires_grad or any(p.requires_grad for p in _parents)
        self.grad = None
        self.dtype = self.data.dtype.type
        self._parents, self._backward = _parents, _backward

    def __mul__(self, other):
        other = other if isinstance(other, Tensor) else Tensor(other)
        return Tensor(self.data * other.data, _parents=(self, other),
                      _backward=lambda g: (g * other.data, g * self.data))

    def sum(self):
        shape = self.data.shape
        return Tensor(np.sum(self.data), _parents=(self,), _backward=lambda g: (np.broadcast_to(g, shape),))

    def backward(self, grad=None):
        self._accumulate(np.ones_like(self.data) if grad is None else np.asarray(grad))

    def _accumulate(self, g):
        if self._backward is None:
            if self.requires_grad:
                self.grad = g if self.grad is None else self.grad + g
            return
        for p, gp in zip(self._parents, self._backward(g)):
            if gp is not None and p.requires_grad:
                p._accumulate(np.asarray(gp))


def tensor(data, requires_grad=False, dtype=None):
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


from . import nn  # noqa: E402,F401
