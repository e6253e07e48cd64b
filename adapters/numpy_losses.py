"""A portable, readable NumPy implementation of both losses, written from the spec (the subject
of the NumPy backend; its adapter is numpy_backend.py).

Each loss is the spec's formula applied elementwise, forward and analytic backward (NumPy has no
autodiff), behind PyTorch's API (`poisson_nll_loss`, `gaussian_nll_loss`, `PoissonNLLLoss`,
`GaussianNLLLoss`, legacy size_average/reduce, the same errors and warnings); gradients come from
`*_backward` functions and the modules' `backward` methods. Nothing from reference/, no torch.

Numerics (a straightforward evaluation): operands are converted to the result dtype (PyTorch's
promotion, `result_dtype`) and broadcast; every operation runs in that dtype, constants (eps, 0.5,
2*pi, ...) cast to it first so that nothing upcasts. Reductions use NumPy's pairwise sum in the result
dtype, float16/bfloat16 accumulating in float32 and rounding once (as PyTorch's CPU sum and mean
do); mean is sum / N. A gradient is the analytic partial times the upstream factor (grad_output,
ones by default; / N for 'mean'), summed over broadcast dimensions, in the operand's dtype.
Where the spec and PyTorch 2.13 differ this follows the spec (SPEC chapter 13 and mixed dtypes):
with full=True the masked Stirling term adds exactly 0 to d/dtarget where target <= 1 (PyTorch:
NaN at target <= 0); mixed dtypes are computed in the result dtype (PyTorch evaluates some
sub-expressions in an operand's own dtype); a var such as (2, 1, 0) for input (2, 3, 4) is refused
(PyTorch's size check lets zero-size dimensions through)."""

from __future__ import annotations

import math
import numbers
import warnings

import ml_dtypes
import numpy as np

BF16 = np.dtype(ml_dtypes.bfloat16)
F16, F32 = np.dtype(np.float16), np.dtype(np.float32)
_FLOAT_RANK = {F16: 1, BF16: 1, F32: 2, np.dtype(np.float64): 3}


# --- dtypes, shapes, reductions -------------------------------------------------------------------
def _category(dt: np.dtype) -> int:
    """bool < integer < floating."""
    return 2 if dt in _FLOAT_RANK else (0 if dt == np.bool_ else 1)


def _promote(dts: list) -> np.dtype | None:
    best = None
    for dt in dts:
        if best is None or _category(dt) > _category(best):
            best = dt
        elif _category(dt) == _category(best) == 2 and dt != best:
            if {dt, best} == {F16, BF16}:
                best = F32
            elif _FLOAT_RANK[dt] > _FLOAT_RANK[best]:
                best = dt
    return best


def result_dtype(operands) -> np.dtype:
    """PyTorch's promotion of (dtype, ndim) pairs: dimensioned operands decide; a 0-d operand counts
    only where its category is higher than theirs. An integral or bool result becomes float32."""
    dimmed = _promote([dt for dt, nd in operands if nd > 0])
    zero = _promote([dt for dt, nd in operands if nd == 0])
    res = zero if dimmed is None or (zero is not None and _category(zero) > _category(dimmed)) else dimmed
    return res if _category(res) == 2 else F32


def _broadcast_shape(*shapes) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"operand shapes {', '.join(map(str, shapes))} are not broadcastable") from None


def _sum(a: np.ndarray, axis=None) -> np.ndarray:
    """NumPy's pairwise sum in a's dtype; float16/bfloat16 accumulate in float32 and round once."""
    if a.dtype in (F16, BF16):
        return np.asarray(np.sum(a, axis=axis, dtype=np.float32)).astype(a.dtype)
    return np.asarray(np.sum(a, axis=axis), dtype=a.dtype)


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _sum(loss)
    n = loss.size  # mean: sum / N (NaN when empty)
    if loss.dtype in (F16, BF16):
        return np.asarray(np.sum(loss, dtype=np.float32) / np.float32(n)).astype(loss.dtype)
    return np.asarray(_sum(loss) / np.asarray(n, loss.dtype))


def _upstream(grad_output, shape: tuple, reduction: str, dt: np.dtype) -> np.ndarray:
    """The gradient reaching each loss element: grad_output (ones by default), / N for 'mean'."""
    out_shape = shape if reduction == "none" else ()
    g = np.ones(out_shape, dt) if grad_output is None else np.asarray(grad_output).astype(dt)
    if g.shape != out_shape:
        raise RuntimeError(f"grad_output has shape {g.shape}, the output has shape {out_shape}")
    if reduction == "mean":  # one correctly rounded division (float64 -> dt rounds innocuously)
        g = (g.astype(np.float64) / int(np.prod(shape, dtype=np.int64))).astype(dt)
    return np.broadcast_to(g, shape)


def _to_operand(g: np.ndarray, eff_shape: tuple, operand: np.ndarray, dt: np.dtype) -> np.ndarray:
    """Sum a gradient over the dimensions broadcasting added or stretched, back to the operand."""
    lead = g.ndim - len(eff_shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(eff_shape) if s == 1 and g.shape[lead + i] != 1)
    if axes:
        g = _sum(g, axes)
    gdt = operand.dtype if _category(operand.dtype) == 2 else dt
    return np.asarray(g).reshape(operand.shape).astype(gdt)


def _typename(v) -> str:
    t = type(v)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def _legacy_reduction(size_average, reduce, reduction):
    """size_average/reduce (deprecated) override reduction: None counts as True, truthiness decides.

    The warning is attributed to the calling line in this module (one location per API, as PyTorch's
    is to torch/nn/functional.py or torch/nn/modules/loss.py), so Python's 'default' filter shows it
    once per API."""
    if size_average is None and reduce is None:
        return reduction
    sa = True if size_average is None else bool(size_average)
    rd = True if reduce is None else bool(reduce)
    reduction = "mean" if sa and rd else ("sum" if rd else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                  UserWarning, stacklevel=2)
    return reduction


# --- Poisson NLL -----------------------------------------------------------------------------------
def _poisson(input, target, log_input, full, eps, reduction, grad_output=None, wrt=()):
    """Validated arguments in; (output, {operand: gradient}) out."""
    if reduction != "none" and reduction != "mean" and reduction != "sum":
        raise ValueError(reduction + " is not a valid value for reduction")
    for pos, name, flag in ((3, "log_input", log_input), (4, "full", full)):
        if not isinstance(flag, bool):  # a Python bool (PyTorch's argument parser takes nothing else)
            raise TypeError(f"poisson_nll_loss(): argument '{name}' (position {pos}) must be bool, "
                            f"not {_typename(flag)}")
    if not isinstance(eps, numbers.Real):
        raise TypeError(f"poisson_nll_loss(): argument 'eps' (position 5) must be float, not {_typename(eps)}")
    x, t = np.asarray(input), np.asarray(target)
    if x.dtype == np.bool_ and t.dtype == np.bool_:  # as PyTorch, which refuses '-' on bool tensors
        raise RuntimeError("poisson_nll_loss: bool input and target are not supported")
    # an integral input goes through exp() or `+ eps` first: it meets the target as float32
    dt = result_dtype([(x.dtype if _category(x.dtype) == 2 else F32, x.ndim), (t.dtype, t.ndim)])
    shape = _broadcast_shape(x.shape, t.shape)
    X, T = (np.broadcast_to(a.astype(dt), shape) for a in (x, t))

    def c(v):
        return np.asarray(v, dtype=dt)

    with np.errstate(all="ignore"):
        if log_input:  # exp(x) - t*x (eps unused)
            ex = np.exp(X)
            loss = ex - T * X
        else:  # x - t*log(x + eps)
            xe = X + c(eps)
            lg = np.log(xe)
            loss = X - T * lg
        if full:  # Stirling term t*log(t) - t + 0.5*log(2*pi*t), masked (exactly 0) where t <= 1
            kept = ~(T <= c(1))  # a NaN t is not masked
            loss = loss + np.where(kept, T * np.log(T) - T + c(0.5) * np.log(c(2 * math.pi) * T), c(0))
        out = _reduce(loss, reduction)

        grads = {}
        if wrt:
            G = _upstream(grad_output, shape, reduction, dt)
            if "input" in wrt:
                dx = ex - T if log_input else c(1) - T / xe
                grads["input"] = _to_operand(dx * G, x.shape, x, dt)
            if "target" in wrt:
                dtt = -X if log_input else -lg
                if full:  # the masked region contributes exactly 0
                    dtt = dtt + np.where(kept, np.log(T) + c(1) / (c(2) * T), c(0))
                grads["target"] = _to_operand(dtt * G, t.shape, t, dt)
    return out, grads


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Like torch.nn.functional.poisson_nll_loss, on NumPy arrays."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _poisson(input, target, log_input, full, eps, reduction)[0]


def poisson_nll_loss_backward(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                              reduce=None, reduction="mean", *, grad_output=None, wrt=("input", "target")):
    """The gradients of poisson_nll_loss(...) with upstream gradient grad_output: {operand: array}."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _poisson(input, target, log_input, full, eps, reduction, grad_output, tuple(wrt))[1]


class PoissonNLLLoss:
    """Like torch.nn.PoissonNLLLoss; the legacy mapping (and its warning) happens at construction."""

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean"):
        self.log_input, self.full, self.eps = log_input, full, eps
        self.reduction = _legacy_reduction(size_average, reduce, reduction)

    def __call__(self, log_input, target):  # PyTorch names forward's first parameter log_input
        return _poisson(log_input, target, self.log_input, self.full, self.eps, self.reduction)[0]

    def backward(self, log_input, target, *, grad_output=None, wrt=("input", "target")):
        return _poisson(log_input, target, self.log_input, self.full, self.eps, self.reduction, grad_output,
                        tuple(wrt))[1]


# --- Gaussian NLL ----------------------------------------------------------------------------------
def _gaussian(input, target, var, full, eps, reduction, grad_output=None, wrt=()):
    x, y = np.asarray(input), np.asarray(target)
    # 1. var must be non-negative (NaN and -0.0 pass); a Python float applies to every element
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        v = np.broadcast_to(np.asarray(var, dtype=x.dtype if _category(x.dtype) == 2 else F32), x.shape)
    elif isinstance(var, numbers.Number) and not isinstance(var, np.generic):
        raise TypeError(f"var must be a float or an array, not {type(var).__name__}")
    else:
        v = np.asarray(var)
        if np.any(v < 0):
            raise ValueError("var has negative entry/entries")
    # 2. var's shape: input's; input's without the last dimension (unsqueezed at the end); or the
    #    same number of dimensions with exactly one that differs, where var has size 1
    if v.shape != x.shape:
        differ = [i for i, (a, b) in enumerate(zip(x.shape, v.shape)) if a != b]
        if x.ndim >= 1 and v.shape == x.shape[:-1]:
            v = v.reshape(v.shape + (1,))
        elif not (v.ndim == x.ndim and len(differ) == 1 and v.shape[differ[0]] == 1):
            raise ValueError("var is of incorrect size")
    # 3. the reduction
    if reduction != "none" and reduction != "mean" and reduction != "sum":
        raise ValueError(reduction + " is not valid")
    # 4. an integral var tensor (PyTorch's in-place clamp cannot store a float in it)
    if _category(v.dtype) < 2:
        raise RuntimeError(f"var has dtype {v.dtype}: result type Float can't be cast to it")
    if not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a real number, not {type(eps).__name__}")
    dt = result_dtype([(a.dtype, a.ndim) for a in (x, y, v)])
    shape = _broadcast_shape(x.shape, y.shape, v.shape)
    X, Y, V = (np.broadcast_to(a.astype(dt), shape) for a in (x, y, v))

    def c(k):
        return np.asarray(k, dtype=dt)

    with np.errstate(all="ignore"):
        vc = np.maximum(V, c(eps))  # clamp; np.maximum propagates NaN (np.fmax would not)
        d = X - Y
        dd = d * d
        loss = c(0.5) * (np.log(vc) + dd / vc)
        if full:
            loss = loss + c(0.5 * math.log(2 * math.pi))
        out = _reduce(loss, reduction)

        grads = {}
        if wrt:
            G = _upstream(grad_output, shape, reduction, dt)
            inv = c(1) / vc  # the chain-rule forms d*(1/v) and 0.5*(1/v - (d^2/v)/v), as autodiff
            dx = d * inv * G  # evaluates them (no v*v, which underflows in float16 near eps)
            if "input" in wrt:
                grads["input"] = _to_operand(dx, x.shape, x, dt)
            if "target" in wrt:
                grads["target"] = _to_operand(-dx, y.shape, y, dt)
            if "var" in wrt and not isinstance(var, float):  # at the clamped v, straight through
                dv = c(0.5) * (inv - dd / vc / vc) * G
                grads["var"] = _to_operand(dv, v.shape, np.asarray(var), dt)  # back to var's own shape
    return out, grads


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Like torch.nn.functional.gaussian_nll_loss, on NumPy arrays."""
    return _gaussian(input, target, var, full, eps, reduction)[0]


def gaussian_nll_loss_backward(input, target, var, full=False, eps=1e-6, reduction="mean", *, grad_output=None,
                               wrt=("input", "target", "var")):
    """The gradients of gaussian_nll_loss(...): {operand: array} (none for a Python float var)."""
    return _gaussian(input, target, var, full, eps, reduction, grad_output, tuple(wrt))[1]


class GaussianNLLLoss:
    """Like torch.nn.GaussianNLLLoss (keyword-only arguments)."""

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        self.full, self.eps, self.reduction = full, eps, reduction

    def __call__(self, input, target, var):
        return _gaussian(input, target, var, self.full, self.eps, self.reduction)[0]

    def backward(self, input, target, var, *, grad_output=None, wrt=("input", "target", "var")):
        return _gaussian(input, target, var, self.full, self.eps, self.reduction, grad_output, tuple(wrt))[1]


FUNCTIONAL = {"poisson": poisson_nll_loss, "gaussian": gaussian_nll_loss}
BACKWARD = {"poisson": poisson_nll_loss_backward, "gaussian": gaussian_nll_loss_backward}
MODULE = {"poisson": PoissonNLLLoss, "gaussian": GaussianNLLLoss}
