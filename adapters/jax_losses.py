"""The Poisson and Gaussian NLL losses written in `jax.numpy`, behind PyTorch's functional API.

JAX ships neither loss: there is no Poisson or Gaussian NLL loss in `jax`, `jax.nn`, optax
(`optax.losses` has squared_error, l2, huber, log_cosh, cross-entropies, ...) or flax (which
relies on optax); `jax.scipy.stats.poisson.logpmf` / `norm.logpdf` are distributions, not these
losses. So the `jax` and `jax-jit` backends run this module: the spec written straightforwardly in
`jax.numpy`, as PyTorch 2.13 writes it (`torch/nn/functional.py` and ATen's poisson_nll_loss), so
that what the suite measures is JAX's: its dtype promotion, XLA's elementwise kernels and
reductions, eager and under `jax.jit`, and `jax.vjp` for the gradients.

* Python-level argument handling is PyTorch's: the legacy `size_average`/`reduce` mapping and
  its UserWarning, reduction validation, Python-bool `log_input`/`full`, the Gaussian `var` checks
  (non-negative, size, a Python float var, no Python int var, no integral var tensor), with
  PyTorch's exception types and message texts.
* Nothing is cast: operands meet under JAX's own promotion (`jnp` arithmetic), constants are
  Python numbers (weakly typed: rounded to the operand's dtype), reductions are `jnp.sum` /
  `jnp.mean`. Where JAX's promotion differs from the spec's (PyTorch's), the suite reports it.
* Two places need JAX idioms to mean what the spec says, and nothing else does:
  - the Stirling mask is the "double where" of JAX's FAQ (`t` is replaced by 2.0 where the term is
    masked before the term is evaluated), so the masked term contributes exactly 0 to d/dtarget.
    A single `jnp.where(t <= 1, 0, term)`, the literal port of PyTorch's `masked_fill`, gives
    NaN there (0 * log(t)), as PyTorch 2.13 does (PNLL-GRAD-STIRLING-MASK);
  - the clamp of var is invisible to differentiation (GNLL-GRAD-VAR-CLAMP; PyTorch clamps in place
    under no_grad): a `jax.custom_jvp` whose tangent is the identity.
* Under `jax.jit` the operands are tracers: the value-dependent check (a negative var raises) can
  only run where var's values are concrete, i.e. eagerly (including under `jax.vjp`). Traced, it
  is skipped: a jitted call cannot raise on values (JAX's `checkify` exists for that).
"""

from __future__ import annotations

import math
import numbers
import warnings
from functools import partial

import jax
import jax.numpy as jnp

__all__ = ["poisson_nll_loss", "gaussian_nll_loss"]


def _typename(v) -> str:
    t = type(v)
    return t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"


def _legacy_reduction(size_average, reduce) -> str:
    """PyTorch's `_Reduction.legacy_get_string`: None counts as True, then truthiness decides."""
    sa = True if size_average is None else size_average
    rd = True if reduce is None else reduce
    return "mean" if (sa and rd) else ("sum" if rd else "none")


def _reduce(loss, reduction):
    if reduction == "mean":
        return jnp.mean(loss)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Like torch.nn.functional.poisson_nll_loss, on JAX arrays."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
        # attributed to this line, not the caller's (LEGACY-WARN-LOCATION; PyTorch: torch/nn/functional.py)
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                      UserWarning)
    if reduction != "none" and reduction != "mean" and reduction != "sum":
        raise ValueError(reduction + " is not a valid value for reduction")
    for pos, name, flag in ((3, "log_input", log_input), (4, "full", full)):
        if not isinstance(flag, bool):  # PyTorch's argument parser takes a Python bool only
            raise TypeError(f"poisson_nll_loss(): argument '{name}' (position {pos}) must be bool, "
                            f"not {_typename(flag)}")
    if not isinstance(eps, numbers.Real):
        raise TypeError(f"poisson_nll_loss(): argument 'eps' (position 5) must be float, not {_typename(eps)}")
    x, t = jnp.asarray(input), jnp.asarray(target)
    if log_input:
        loss = jnp.exp(x) - t * x
    else:
        loss = x - t * jnp.log(x + eps)
    if full:
        kept = ~(t <= 1)  # a NaN target is not masked
        ts = jnp.where(kept, t, 2.0)  # double where: the masked positions differentiate at t = 2
        stirling = ts * jnp.log(ts) - ts + 0.5 * jnp.log(2 * math.pi * ts)
        loss = loss + jnp.where(kept, stirling, 0.0)
    return _reduce(loss, reduction)


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _clamp_min(v, eps):
    """max(v, eps), with the identity as its derivative (the clamp is invisible to differentiation)."""
    return jnp.maximum(v, eps)


@_clamp_min.defjvp
def _clamp_min_jvp(eps, primals, tangents):
    (v,), (dv,) = primals, tangents
    return _clamp_min(v, eps), dv


def _concrete_any_negative(var) -> bool | None:
    """Whether var has an entry < 0, or None where its values are not known (traced by jax.jit)."""
    try:
        return bool(jnp.any(var < 0))
    except jax.errors.ConcretizationTypeError:
        return None


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Like torch.nn.functional.gaussian_nll_loss, on JAX arrays (`var` an array or a Python float)."""
    x, y = jnp.asarray(input), jnp.asarray(target)
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * jnp.ones_like(x)
    elif isinstance(var, numbers.Number) and not hasattr(var, "dtype"):  # a Python int or bool
        raise TypeError(f"var must be a float or an array, not {type(var).__name__}")
    else:
        var = jnp.asarray(var)
        if _concrete_any_negative(var):
            raise ValueError("var has negative entry/entries")
    if var.shape != x.shape:
        if x.shape[:-1] == var.shape:  # homoscedastic: one variance per row (0-d var, 1-d input: (1,))
            var = jnp.expand_dims(var, -1)
        elif not (var.ndim == x.ndim
                  and sum(1 for a, b in zip(x.shape, var.shape) if a != b) == 1
                  and all(b == 1 for a, b in zip(x.shape, var.shape) if a != b)):
            raise ValueError("var is of incorrect size")
    if reduction != "none" and reduction != "mean" and reduction != "sum":
        raise ValueError(reduction + " is not valid")
    if not jnp.issubdtype(var.dtype, jnp.floating):  # PyTorch's in-place clamp cannot store a float
        raise RuntimeError(f"result type Float can't be cast to the desired output type {var.dtype}")
    v = _clamp_min(var, eps)
    loss = 0.5 * (jnp.log(v) + (x - y) ** 2 / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def normal_log_prob(loc, scale, value):
    """The normal log-density subject (SPEC chapter 14): JAX's own `jax.scipy.stats.norm.logpdf`,
    called as the subject's signature orders the operands. No argument validation (JAX raises nothing
    on values)."""
    from jax.scipy.stats import norm

    return norm.logpdf(value, loc, scale)


def poisson_log_pmf(rate, value):
    """The Poisson log-pmf subject (SPEC chapter 14): JAX's own `jax.scipy.stats.poisson.logpmf`,
    called as the subject's signature orders the operands. No argument validation (JAX returns -inf
    for a value that is not a non-negative integer)."""
    from jax.scipy.stats import poisson

    return poisson.logpmf(value, rate)
