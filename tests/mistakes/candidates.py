"""A catalogue of torch-compatible Poisson/Gaussian NLL implementations: correct ones and classic mistakes.

Each public function has the signature of `torch.nn.functional.poisson_nll_loss` or
`gaussian_nll_loss` and is passed to the suite with `--poisson-fn` / `--gaussian-fn`
(`tests/mistakes/candidates.py:NAME`); tests/test_mistakes.py runs every one and checks the verdict.

The from-scratch implementations share one body per loss (`_poisson`, `_gaussian`) written with
plain torch operations, the way someone re-implementing the loss would write it. A mistake is one
`"..." in mistakes` branch next to the line it replaces, so a mistaken candidate differs from the
correct one (`poisson_correct`, `gaussian_correct`) in exactly that place and any failure the suite
reports is attributable to it. Every docstring names the mistake and the clause of
reference/SPEC.md it violates.

Nothing here calls `torch.nn.functional.poisson_nll_loss` / `gaussian_nll_loss` except the
`*_wraps_torch` candidates, whose point is to be judged exactly like torch itself.
"""

from __future__ import annotations

import math
import warnings

import torch
import torch.nn.functional as F

_VALID = ("none", "mean", "sum")


# ------------------------------------------------------------------------------------------------
# Poisson
# ------------------------------------------------------------------------------------------------
def _sequential_sum(loss):
    """Left-to-right accumulation in the loss's own dtype (a Python loop, as a hand-written kernel)."""
    flat = loss.reshape(-1)
    total = flat[:0].sum()  # an empty sum: a zero of the loss's dtype, on the autograd graph
    for v in flat:
        total = total + v
    return total


def _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, *, mistake=()):
    mistakes = {mistake} if isinstance(mistake, str) else set(mistake)
    # --- legacy arguments (LEGACY-MAP, LEGACY-OVERRIDE, LEGACY-WARN) ---------------------------
    if size_average is not None or reduce is not None:
        sa = True if size_average is None else size_average
        rd = True if reduce is None else reduce
        if "legacy_is_false" in mistakes:
            legacy = "none" if rd is False else ("sum" if sa is False else "mean")
        else:
            legacy = "mean" if (sa and rd) else ("sum" if rd else "none")
        if "legacy_no_override" not in mistakes or reduction == "mean":
            reduction = legacy
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{legacy}' instead.",
                      UserWarning, stacklevel=3)
    # --- reduction and argument validation (RED-VALID, API-BOOL-ARGS, ERR-ORDER) ---------------
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be a string, got {type(reduction).__name__}")
    if reduction not in _VALID:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if not isinstance(log_input, bool) or not isinstance(full, bool):
        raise TypeError("poisson_nll_loss(): arguments 'log_input' and 'full' must be bool")

    if "detach_target" in mistakes:
        target = target.detach()
    out_dtype = None
    if "float32_compute" in mistakes and (input.dtype == torch.float64 or target.dtype == torch.float64):
        out_dtype = torch.float64
        input, target = input.float(), target.float()
    if "view_flatten" in mistakes and input.shape == target.shape:
        shape = input.shape
        input, target = input.view(-1), target.view(-1)  # "flatten for speed"
    else:
        shape = None

    # --- elementwise loss (PNLL-VALUE-LOG, PNLL-VALUE-RATE) -----------------------------------
    if log_input:
        loss = torch.exp(input) - target * input
    elif "log_plus_eps" in mistakes:
        loss = input - target * (torch.log(input) + eps)
    elif "eps_clamp" in mistakes:
        loss = input - target * torch.log(torch.clamp(input, min=eps))
    else:
        loss = input - target * torch.log(input + eps)

    # --- Stirling term (PNLL-STIRLING, PNLL-STIRLING-MASK, PNLL-GRAD-STIRLING-MASK) -----------
    if full and "ignore_full" not in mistakes:
        masked = target < 1 if "stirling_mask_lt" in mistakes else target <= 1  # NaN t: not masked
        keep = ~masked
        # evaluate the term on a safe target where it is masked, so its gradient there is exactly 0
        t = torch.where(keep, target, torch.ones_like(target))
        stirling = t * torch.log(t) - t
        if "stirling_no_half_log" not in mistakes:
            stirling = stirling + 0.5 * torch.log(2 * math.pi * t)
        loss += torch.where(keep, stirling, torch.zeros_like(stirling))

    if shape is not None:
        loss = loss.view(shape)

    # --- reduction (RED-NONE, RED-SUM, RED-MEAN) ----------------------------------------------
    if reduction == "mean":
        if "mean_over_batch" in mistakes:
            loss = loss.sum() / input.shape[0]
        elif "sequential_sum" in mistakes:
            loss = _sequential_sum(loss) / loss.numel()
        else:
            loss = loss.mean()
    elif reduction == "sum":
        loss = _sequential_sum(loss) if "sequential_sum" in mistakes else loss.sum()

    if out_dtype is not None:
        loss = loss.to(out_dtype)
    if "keep_input_dtype" in mistakes:
        loss = loss.to(input.dtype)
    return loss


def poisson_correct(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                    reduction="mean"):
    """Correct: a from-scratch re-implementation with the legacy arguments, their warning and the
    reduction validation; the masked Stirling term is evaluated on a safe target, so its target
    gradient at t <= 0 is the finite value PNLL-GRAD-STIRLING-MASK requires (torch gives NaN)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction)


def poisson_wraps_torch(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                        reduction="mean"):
    """Correct (as torch is): a thin wrapper around torch.nn.functional.poisson_nll_loss."""
    return F.poisson_nll_loss(input, target, log_input=log_input, full=full, size_average=size_average, eps=eps,
                              reduce=reduce, reduction=reduction)


def poisson_stirling_mask_lt(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                             reduction="mean"):
    """Mistake: the Stirling term is masked with `t < 1` instead of `t <= 1`, so it is added at t = 1
    (where it is -1 + 0.5*log(2*pi) = -0.081, not 0). Violates PNLL-STIRLING-MASK."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="stirling_mask_lt")


def poisson_two_bugs(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Two unrelated mistakes in one function: the Stirling mask `t < 1` (PNLL-STIRLING-MASK) and
    `log(x) + eps` in rate mode (PNLL-VALUE-RATE). The suite must report both, each under its clause."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction,
                    mistake=("stirling_mask_lt", "log_plus_eps"))


def poisson_log_plus_eps(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                         reduction="mean"):
    """Mistake: rate mode computes `log(x) + eps` instead of `log(x + eps)`. Violates PNLL-VALUE-RATE."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="log_plus_eps")


def poisson_eps_clamp(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                      reduction="mean"):
    """Mistake: eps is used as a clamp, `log(max(x, eps))`, instead of being added inside the log.
    Violates PNLL-VALUE-RATE ("it is not a clamp")."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="eps_clamp")


def poisson_stirling_no_half_log(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                                 reduce=None, reduction="mean"):
    """Mistake: the Stirling term lacks `0.5*log(2*pi*t)` (only `t*log(t) - t`). Violates PNLL-STIRLING."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction,
                    mistake="stirling_no_half_log")


def poisson_ignores_full(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                         reduction="mean"):
    """Mistake: `full` is accepted and ignored: no Stirling term is ever added. Violates PNLL-STIRLING."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="ignore_full")


def poisson_mean_over_batch(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                            reduction="mean"):
    """Mistake: 'mean' divides the sum by the batch size `input.shape[0]` instead of the element count
    N of the broadcast shape (right for 1-D operands only; a 0-d input even raises IndexError).
    Violates RED-MEAN."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="mean_over_batch")


def poisson_legacy_no_override(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                               reduce=None, reduction="mean"):
    """Mistake: size_average/reduce only apply while `reduction` is left at its default 'mean'; an
    explicit reduction (even an invalid one) wins over them. Violates LEGACY-OVERRIDE."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction,
                    mistake="legacy_no_override")


def poisson_legacy_is_false(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                            reduction="mean"):
    """Mistake: the legacy mapping tests `reduce is False` / `size_average is False` (identity) instead
    of truthiness, so `size_average=0` or `reduce=0` is not mapped. Violates LEGACY-MAP."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="legacy_is_false")


def poisson_float32_compute(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                            reduction="mean"):
    """Mistake: float64 operands are computed in float32 ("for speed") and the result is cast back to
    float64, so a float64 result carries float32 accuracy. Violates PNLL-VALUE-LOG / PNLL-VALUE-RATE
    (REF-EXACT / ALLOW-ELEMENT at float64)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="float32_compute")


def poisson_sequential_sum(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                           reduction="mean"):
    """Mistake: 'sum' and 'mean' accumulate left to right in the result dtype (a Python loop), so a
    long float32 sum drifts beyond the summation allowance. Violates RED-ACCURACY (ALLOW-SUM)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="sequential_sum")


def poisson_view_flatten(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                         reduction="mean"):
    """Mistake: same-shape operands are flattened with `.view(-1)`, which raises RuntimeError for
    transposed, strided or expanded tensors. Violates SHAPE-LAYOUT (ERR-NO-EXCEPTION-ON-VALUES)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="view_flatten")


def poisson_detached_target(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                            reduction="mean"):
    """Mistake: `target = target.detach()` ("targets are data"), so no gradient reaches a target that
    requires one. Violates GRAD-PRESENT."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="detach_target")


def poisson_keeps_input_dtype(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                              reduction="mean"):
    """Mistake: the result is cast to `input.dtype` ("preserve the caller's dtype"): integral input gives
    an integral result and float32 input with float64 target a float32 one. Violates DTYPE-RESULT
    (DTYPE-PROMOTE, DTYPE-INT-TO-FLOAT)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="keep_input_dtype")


# ------------------------------------------------------------------------------------------------
# Gaussian
# ------------------------------------------------------------------------------------------------
def _gaussian(input, target, var, full, eps, reduction, *, mistake=()):
    mistakes = {mistake} if isinstance(mistake, str) else set(mistake)
    # --- var: sign, float, shape (GNLL-VAR-NONNEG, GNLL-VAR-FLOAT, GNLL-VAR-SHAPE) --------------
    neg_msg = "var must be non-negative" if "wrong_message" in mistakes else "var has negative entry/entries"
    if isinstance(var, float):
        if var < 0 and "no_negative_check" not in mistakes:
            raise ValueError(neg_msg)
        var = var * torch.ones_like(input)
    elif not isinstance(var, torch.Tensor):
        raise TypeError(f"var must be a Tensor or a float, got {type(var).__name__}")
    elif "no_negative_check" not in mistakes and torch.any(var < 0):
        raise ValueError(neg_msg)
    if var.shape != input.shape:
        if var.shape == input.shape[:-1]:
            var = var.unsqueeze(0) if "var_per_column" in mistakes else var.unsqueeze(-1)
        elif var.dim() == input.dim() and sum(v for s, v in zip(input.shape, var.shape) if s != v) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be a string, got {type(reduction).__name__}")
    if reduction not in _VALID:
        raise ValueError(f"{reduction} is not valid")

    # --- the clamp (GNLL-CLAMP, GNLL-GRAD-VAR-CLAMP) ------------------------------------------
    if "differentiable_clamp" in mistakes:
        v = torch.clamp(var, min=eps)
    elif "var_plus_eps" in mistakes:
        v = var + eps
    else:
        v = var.clone()
        with torch.no_grad():
            v.clamp_(min=eps)  # the gradient passes straight through the clamp

    # --- elementwise loss (GNLL-VALUE, GNLL-FULL) ---------------------------------------------
    loss = 0.5 * (torch.log(v) + (input - target) ** 2 / v)
    if full:
        loss += math.log(2 * math.pi) if "full_log_2pi" in mistakes else 0.5 * math.log(2 * math.pi)

    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def gaussian_correct(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Correct: a from-scratch re-implementation (var checks, clamp with a straight-through gradient)."""
    return _gaussian(input, target, var, full, eps, reduction)


def gaussian_wraps_torch(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Correct (as torch is): a thin wrapper around torch.nn.functional.gaussian_nll_loss."""
    return F.gaussian_nll_loss(input, target, var, full=full, eps=eps, reduction=reduction)


def gaussian_differentiable_clamp(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: the clamp is `torch.clamp(var, min=eps)` with autograd, so d/dvar is 0 (not the value at
    v = eps) where var < eps. Violates GNLL-GRAD-VAR-CLAMP."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="differentiable_clamp")


def gaussian_var_plus_eps(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: `var + eps` instead of `max(var, eps)`: every variance is shifted. Violates GNLL-CLAMP."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="var_plus_eps")


def gaussian_var_per_column(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: a homoscedastic var of shape input.shape[:-1] is unsqueezed at 0 (`var.unsqueeze(0)`)
    instead of -1, so it applies per column, not per row (and non-square inputs fail to broadcast).
    Violates GNLL-VAR-UNSQUEEZE."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="var_per_column")


def gaussian_no_negative_check(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: no check for negative var: it is silently clamped to eps. Violates GNLL-VAR-NONNEG."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="no_negative_check")


def gaussian_wrong_message(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake (strict only): a negative var raises ValueError('var must be non-negative') instead of
    PyTorch's 'var has negative entry/entries'. Violates ERR-MESSAGES; conformant at core and api."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="wrong_message")


def gaussian_full_log_2pi(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: full=True adds `log(2*pi)` instead of `0.5*log(2*pi)`. Violates GNLL-FULL."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="full_log_2pi")
