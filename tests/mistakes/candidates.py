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

Two kinds of mistakes do not fit that mould and say so: a wrong signature (`poisson_lucid_order`,
`gaussian_default_eps`: the correct body behind another parameter list) and a hand-written backward
(`gaussian_fused_*`: `_gaussian(..., fused=True)` runs the loss as one `autograd.Function`, whose
defect-free twin is `gaussian_fused_correct`).

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


def _running_total(loss, block=32):
    """Blocks of `block` elements (a warp) summed by torch (wide accumulator), each block's partial
    sum then added into a running total of the loss's dtype, as a kernel whose warps atomically add
    into a one-element output buffer does. Harmless in float32/float64 at these sizes; in float16
    and bfloat16 the running total stops growing once its ulp exceeds twice a block's sum."""
    flat = loss.reshape(-1)
    total = flat[:0].sum()
    for part in flat.split(block):
        total = total + part.sum()
    return total


def _check_bool_args(log_input, full):
    if not isinstance(log_input, bool) or not isinstance(full, bool):
        raise TypeError("poisson_nll_loss(): arguments 'log_input' and 'full' must be bool")


_MAX_LOG_RATE = 80.0  # exp(80) is finite in float32 and float64


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
        msg = f"size_average and reduce args will be deprecated, please use reduction='{legacy}' instead."
        if "legacy_deprecation_category" in mistakes:
            warnings.warn(msg, DeprecationWarning, stacklevel=2)  # "it is a deprecation, after all"
        elif "legacy_warns_at_caller" in mistakes:  # "point the user at their own line"
            warnings.warn(msg, UserWarning, stacklevel=3)
        elif "legacy_no_warning" not in mistakes:
            warnings.warn(msg, UserWarning, stacklevel=2)  # the candidate's line, as PyTorch's functional.py
        if "legacy_warns_twice" in mistakes:  # the mapping helper warns as well as its caller
            warnings.warn(msg, UserWarning, stacklevel=2)
    # --- reduction and argument validation (RED-VALID, API-BOOL-ARGS, ERR-ORDER) ---------------
    if "bool_args_first" in mistakes:  # the flags' types are checked before the reduction
        _check_bool_args(log_input, full)
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be a string, got {type(reduction).__name__}")
    if reduction not in _VALID and "no_reduction_check" not in mistakes:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    _check_bool_args(log_input, full)
    if "eps_validated" in mistakes and eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    if "same_shape_only" in mistakes and input.shape != target.shape:
        raise ValueError(f"input and target must have the same shape, got {tuple(input.shape)} and "
                         f"{tuple(target.shape)}")

    if "detach_target" in mistakes:
        target = target.detach()
    if "clamp_negative_target" in mistakes:
        target = target.clamp(min=0)  # "counts are never negative"
    if "int_to_float64" in mistakes:  # integral operands computed in double ("exact for large counts")
        input = input if input.is_floating_point() else input.double()
        target = target if target.is_floating_point() else target.double()
    if "mixed_in_input_dtype" in mistakes and input.is_floating_point() and target.is_floating_point():
        out_dtype = torch.result_type(input, target)
        target = target.to(input.dtype)  # "one dtype inside the kernel"; the result is promoted after
    else:
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
        if "log_via_rate" in mistakes:  # log mode turned into rate mode: exp first, then the rate formula
            rate = torch.exp(input)
            loss = rate - target * torch.log(rate + eps)
        elif "detach_rate" in mistakes:
            loss = torch.exp(input).detach() - target * input  # "no gradient through exp, for stability"
        elif "clamp_log_input" in mistakes:
            loss = torch.exp(torch.clamp(input, max=_MAX_LOG_RATE)) - target * input  # "exp must not overflow"
        else:
            loss = torch.exp(input) - target * input
    elif "log_plus_eps" in mistakes:
        loss = input - target * (torch.log(input) + eps)
    elif "eps_clamp" in mistakes:
        loss = input - target * torch.log(torch.clamp(input, min=eps))
    else:
        loss = input - target * torch.log(input + eps)

    # --- Stirling term (PNLL-STIRLING, PNLL-STIRLING-MASK, PNLL-GRAD-STIRLING-MASK) -----------
    if full and "warn_full" in mistakes:
        warnings.warn("full=True uses Stirling's approximation, which is inaccurate for small targets",
                      UserWarning, stacklevel=3)
    if full and "ignore_full" not in mistakes:
        if "stirling_mask_lt" in mistakes:
            masked = target < 1
        elif "stirling_mask_pos" in mistakes:
            masked = target <= 0  # "the mask only keeps log(0) away"
        else:
            masked = target <= 1  # NaN t: not masked
        keep = ~masked
        # evaluate the term on a safe target where it is masked, so its gradient there is exactly 0
        t = torch.where(keep, target, torch.ones_like(target))
        stirling = t * torch.log(t) - t
        if "stirling_no_half_log" not in mistakes:
            stirling = stirling + 0.5 * torch.log(2 * math.pi * t)
        loss += torch.where(keep, stirling, torch.zeros_like(stirling))

    if shape is not None:
        loss = loss.view(shape)
    if "nan_as_zero" in mistakes:
        loss = torch.where(torch.isnan(loss), torch.zeros_like(loss), loss)  # "NaN-safe loss"

    # --- reduction (RED-NONE, RED-SUM, RED-MEAN) ----------------------------------------------
    if reduction == "mean":
        if "mean_over_batch" in mistakes:
            loss = loss.sum() / input.shape[0]
        elif "mean_over_input_numel" in mistakes:
            loss = loss.sum_to_size(input.shape).mean()  # broadcast target dimensions summed, input's averaged
        elif "empty_mean_zero" in mistakes and loss.numel() == 0:
            loss = loss.sum()  # "no division by zero": the mean of nothing is 0
        elif "sequential_sum" in mistakes:
            loss = _sequential_sum(loss) / loss.numel()
        elif "mean_as_sum_over_n" in mistakes:
            loss = loss.sum() / loss.numel()  # a float16 sum past 65504 is inf before the division
        elif "running_total" in mistakes:
            loss = _running_total(loss) / loss.numel()
        else:
            loss = loss.mean()
    elif reduction == "sum":
        if "sequential_sum" in mistakes:
            loss = _sequential_sum(loss)
        elif "running_total" in mistakes:
            loss = _running_total(loss)
        else:
            loss = loss.sum()

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


def poisson_log_via_rate(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                         reduction="mean"):
    """Mistake: log mode is reduced to rate mode, `rate = exp(x)` then `rate - t*log(rate + eps)`,
    so eps leaks into log mode and log(exp(x)) is not x where exp(x) is near or below eps (x < -15).
    Violates PNLL-VALUE-LOG ("eps has no effect")."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="log_via_rate")


def poisson_stirling_mask_pos(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                              reduction="mean"):
    """Mistake: the Stirling term is masked with `t <= 0` (only to keep log(0) away) instead of
    `t <= 1`, so it is added for 0 < t <= 1. Violates PNLL-STIRLING-MASK."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="stirling_mask_pos")


def poisson_same_shape_only(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                            reduction="mean"):
    """Mistake: input and target must have the same shape (ValueError otherwise), as the
    documentation pages describe; broadcasting operands are refused. Violates SHAPE-BROADCAST."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="same_shape_only")


def poisson_mean_over_input_numel(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                                  reduction="mean"):
    """Mistake: 'mean' sums the losses over the dimensions target broadcasts and averages over
    input's elements (`loss.sum_to_size(input.shape).mean()`), i.e. divides by `input.numel()`
    instead of the element count N of the broadcast shape. Violates RED-MEAN ("not of input")."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="mean_over_input_numel")


def poisson_empty_mean_zero(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                            reduction="mean"):
    """Mistake: 'mean' of an empty input returns the (empty) sum, 0, instead of NaN ("no division
    by zero"). Violates RED-EMPTY."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="empty_mean_zero")


def poisson_running_total(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                          reduction="mean"):
    """Mistake: 'sum' and 'mean' add 32-element (warp) sums into a running total of the loss's
    dtype (a kernel atomically adding warp partials into its output): fine in float32/float64 at
    these sizes, but a float16/bfloat16 total stops growing long before 10^5 elements.
    Violates RED-ACCURACY (ALLOW-SUM, half-precision accumulation)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="running_total")


def poisson_mean_as_sum_over_n(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                               reduction="mean"):
    """Mistake: 'mean' is `loss.sum() / N`: in float16 and bfloat16 the sum is rounded to the
    format before the division, so a sum past 65504 (float16) is inf although the mean is finite
    (PyTorch's mean accumulates half precision in float32). Violates RED-MEAN / RED-ACCURACY (the
    accumulator rule of SPECIAL-OVERFLOW: a total inside the accumulator's range comes back finite)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="mean_as_sum_over_n")


def poisson_legacy_no_warning(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                              reduction="mean"):
    """Mistake (strict): size_average/reduce are mapped and override the reduction, but no
    deprecation warning is emitted. Violates LEGACY-WARN (missing warning)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="legacy_no_warning")


def poisson_legacy_warns_twice(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                               reduction="mean"):
    """Mistake (strict): the deprecation warning is emitted twice per call (the mapping helper and its
    caller both warn). Violates LEGACY-WARN ("exactly one")."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="legacy_warns_twice")


def poisson_legacy_warns_at_caller(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                                   reduce=None, reduction="mean"):
    """Mistake (strict): the deprecation warning is attributed to the caller's line (a stacklevel one
    too high, "so the user sees where they passed it"). Violates LEGACY-WARN-LOCATION: under the
    'default' filter it then shows once per call site, not once."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction,
                    mistake="legacy_warns_at_caller")


def poisson_legacy_deprecation_category(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                                        reduction="mean"):
    """Mistake (strict): the deprecation is reported as a DeprecationWarning (hidden by Python's
    default filters) instead of a UserWarning. Violates LEGACY-WARN (category)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="legacy_deprecation_category")


def poisson_warns_full(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                       reduction="mean"):
    """Mistake (strict): `full=True` emits a UserWarning about Stirling's approximation on every
    call. Violates ERR-NO-WARNINGS (a spurious warning)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="warn_full")


def poisson_bool_args_first(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                            reduction="mean"):
    """Mistake (strict): the types of log_input/full are checked before the reduction, so
    `log_input=0, reduction='bogus'` raises TypeError instead of the reduction's ValueError.
    Violates ERR-ORDER."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="bool_args_first")


def poisson_no_reduction_check(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                               reduction="mean"):
    """Mistake: an invalid reduction string is not rejected; anything but 'mean' and 'sum' returns
    the unreduced losses. Violates RED-VALID."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="no_reduction_check")


def poisson_eps_validated(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                          reduction="mean"):
    """Mistake: eps <= 0 is rejected with ValueError ("eps must be positive"), although eps is used
    as given and zero is a valid eps. Violates API-EPS-ANY (ERR-NO-EXCEPTION-ON-VALUES)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="eps_validated")


def poisson_int_to_float64(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                           reduction="mean"):
    """Mistake: integral operands are converted to float64 ("exact for large counts"), so an
    integral (or integral + float32) call returns float64 instead of float32. Violates
    DTYPE-INT-TO-FLOAT (DTYPE-RESULT)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="int_to_float64")


def poisson_mixed_in_input_dtype(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                                 reduction="mean"):
    """Mistake: with mixed floating dtypes the target is cast to the input's dtype before the
    formula ("one dtype inside the kernel") and only the result is promoted: a float64 target with a
    float16 input is rounded to float16. Violates DTYPE-CONVERT / ALLOW-MIXED (the formula runs on
    the operands converted to the result dtype)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="mixed_in_input_dtype")


def poisson_detached_rate(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                          reduction="mean"):
    """Mistake: log mode detaches `exp(x)` ("no gradient through exp, for stability"), so d/dx
    is `-t` instead of `exp(x) - t`. Violates PNLL-GRAD-INPUT."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="detach_rate")


def poisson_clamp_log_input(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                            reduction="mean"):
    """Mistake: log mode computes `exp(min(x, 80))` so that exp cannot overflow: a float32 or
    float64 x above 80 gives a finite loss where the formula overflows (and x = +inf gives a
    finite value). Violates SPECIAL-OVERFLOW / SPECIAL-INF."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="clamp_log_input")


def poisson_nan_as_zero(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                        reduction="mean"):
    """Mistake: NaN elements of the loss are replaced by 0 ("a NaN-safe loss"), so a NaN operand or
    an out-of-domain rate gives 0. Violates SPECIAL-NAN."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="nan_as_zero")


def poisson_clamps_negative_target(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                                   reduction="mean"):
    """Mistake: the target is clamped to >= 0 ("counts are never negative"), so a negative target
    is evaluated as 0. Violates PNLL-TARGET-ANY."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction, mistake="clamp_negative_target")


def poisson_lucid_order(input, target, log_input=True, full=False, eps=1e-8, reduction="mean", size_average=None,
                        reduce=None):
    """Mistake (in the signature, the body is the correct one): the parameters after the operands
    follow lucid's order `(log_input, full, eps, reduction)` with the legacy ones last, so a
    positional `eps` or `reduction` lands in the wrong parameter. Violates API-SIGNATURE
    (API-POSITIONAL-PITFALL)."""
    return _poisson(input, target, log_input, full, size_average, eps, reduce, reduction)


# ------------------------------------------------------------------------------------------------
# Gaussian
# ------------------------------------------------------------------------------------------------
def _row_major(t):
    """`t` read as if it were stored row-major from its storage offset, whatever its strides (a kernel
    that indexes the raw buffer and ignores strides): right for contiguous tensors only."""
    strides, step = [], 1
    for n in reversed(t.shape):
        strides.append(step)
        step *= n
    return t.as_strided(t.shape, tuple(reversed(strides)), t.storage_offset())


def _check_reduction(reduction, mistakes):
    if "reduction_keyerror" in mistakes:  # a lookup table of reducers: an unknown string is a KeyError
        {"none": None, "mean": None, "sum": None}[reduction]
        return
    if not isinstance(reduction, str):
        raise TypeError(f"reduction must be a string, got {type(reduction).__name__}")
    if reduction not in _VALID:
        raise ValueError(f"{reduction} is not valid")


def _gaussian(input, target, var, full, eps, reduction, *, mistake=(), fused=False):
    mistakes = {mistake} if isinstance(mistake, str) else set(mistake)
    if "reduction_first" in mistakes:  # the reduction is validated before var
        _check_reduction(reduction, mistakes)
    if "assumes_contiguous" in mistakes:
        input, target = _row_major(input), _row_major(target)
        var = _row_major(var) if isinstance(var, torch.Tensor) else var
    # --- var: sign, float, shape (GNLL-VAR-NONNEG, GNLL-VAR-FLOAT, GNLL-VAR-SHAPE) --------------
    neg_msg = "var must be non-negative" if "wrong_message" in mistakes else "var has negative entry/entries"
    if isinstance(var, float):
        if var < 0 and "no_negative_check" not in mistakes:
            raise ValueError(neg_msg)
        if "float_var_float32" in mistakes:
            var = torch.full(input.shape, var)  # the default dtype (float32), not input's
        else:
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
        elif "var_shape_lenient" not in mistakes:  # lenient: whatever broadcasts is accepted
            raise ValueError("var is of incorrect size")
    if "reduction_first" not in mistakes:
        _check_reduction(reduction, mistakes)
    if "half_in_bfloat16" in mistakes and torch.float16 in (input.dtype, target.dtype, var.dtype):
        # "the fast path is bfloat16": half operands are computed in bfloat16, the result cast back
        out_dtype = torch.promote_types(torch.promote_types(input.dtype, target.dtype), var.dtype)
        input, target, var = (a.to(torch.bfloat16) if a.dtype == torch.float16 else a for a in (input, target, var))
    else:
        out_dtype = None
    if fused:
        return _FusedGaussian.apply(input, target, var, full, eps, reduction, frozenset(mistakes))

    # --- the clamp (GNLL-CLAMP, GNLL-GRAD-VAR-CLAMP, SHAPE-NO-MUTATION) -------------------------
    if "differentiable_clamp" in mistakes:
        v = torch.clamp(var, min=eps)
    elif "var_plus_eps" in mistakes:
        v = var + eps
    elif "inplace_clamp" in mistakes:
        v = var  # "no copy needed": the caller's var is clamped in place
        with torch.no_grad():
            v.clamp_(min=eps)
    else:
        v = var.clone()
        with torch.no_grad():
            v.clamp_(min=eps)  # the gradient passes straight through the clamp

    # --- elementwise loss (GNLL-VALUE, GNLL-FULL) ---------------------------------------------
    if "clamp_log_only" in mistakes:
        loss = 0.5 * (torch.log(v) + (input - target) ** 2 / var)  # the clamped v only inside the log
    elif "no_half" in mistakes:
        loss = torch.log(v) + (input - target) ** 2 / v  # "the 0.5 is a constant factor"
    else:
        loss = 0.5 * (torch.log(v) + (input - target) ** 2 / v)
    if full:
        loss += math.log(2 * math.pi) if "full_log_2pi" in mistakes else 0.5 * math.log(2 * math.pi)
    if out_dtype is not None:
        loss = loss.to(out_dtype)

    if reduction == "mean":
        return loss.nanmean() if "nanmean" in mistakes else loss.mean()  # nanmean: "NaN-robust"
    if reduction == "sum":
        return loss.sum()
    return loss


class _FusedGaussian(torch.autograd.Function):
    """The Gaussian loss as one fused operation with a hand-written backward, as a kernel author
    writes it: forward evaluates the same expression as `_gaussian`, backward the partials of
    GNLL-GRAD-* in reverse-mode order (ALLOW-GRAD-ORDER: `(0.5*g/v)*(2*d)`,
    `0.5*g/v - 0.5*g*((d*d/v)/v)`, the 'mean' factor g/N first), each summed back to its operand's
    shape (GRAD-BROADCAST). The clamp is invisible to the var gradient (GNLL-GRAD-VAR-CLAMP)."""

    @staticmethod
    def forward(ctx, input, target, var, full, eps, reduction, mistakes):
        d = input - target
        v = var.clone()
        v.clamp_(min=eps)
        loss = 0.5 * (torch.log(v) + d ** 2 / v)
        if full:
            loss += 0.5 * math.log(2 * math.pi)
        ctx.save_for_backward(d, v)
        ctx.shapes = (input.shape, target.shape, var.shape)
        ctx.reduction, ctx.mistakes, ctx.n = reduction, mistakes, loss.numel()
        if reduction == "mean":
            return loss.mean()
        if reduction == "sum":
            return loss.sum()
        return loss

    @staticmethod
    def backward(ctx, g):
        d, v = ctx.saved_tensors
        mistakes = ctx.mistakes
        if "ignores_upstream" in mistakes:
            g = torch.ones_like(g)  # the local partials only, as if the upstream gradient were 1
        if ctx.reduction == "mean" and "mean_grad_no_1_over_n" not in mistakes:
            g = g / ctx.n
        h = (0.5 * g).expand(d.shape) if ctx.reduction != "none" else 0.5 * g
        gx = (h / v) * (2 * d)
        if "var_grad_typo" in mistakes:
            gv = h / v - h * (d / v / v)  # d instead of d*d
        else:
            gv = h / v - h * ((d * d / v) / v)
        in_shape, t_shape, v_shape = ctx.shapes
        grad_var = gv.sum_to_size(v_shape) if v_shape != gv.shape else gv
        if "var_grad_mean" in mistakes and v_shape != gv.shape and grad_var.numel():
            grad_var = grad_var * (grad_var.numel() / gv.numel())  # averaged over the broadcast dimensions
        return (gx.sum_to_size(in_shape) if ctx.needs_input_grad[0] else None,
                (-gx).sum_to_size(t_shape) if ctx.needs_input_grad[1] else None,
                grad_var if ctx.needs_input_grad[2] else None, None, None, None, None)


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


def gaussian_default_eps(input, target, var, full=False, eps=1e-8, reduction="mean"):
    """Mistake (in the signature, the body is the correct one): the default eps is 1e-8, the
    Poisson loss's, instead of 1e-6, so an omitted eps clamps var at 1e-8. Violates API-DEFAULTS."""
    return _gaussian(input, target, var, full, eps, reduction)


def gaussian_no_half(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: each element is `log(v) + (x - y)**2/v`, without the factor 0.5 ("a constant factor
    does not change the minimiser"). Violates GNLL-VALUE."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="no_half")


def gaussian_clamp_log_only(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: the clamped variance is used inside the log only; the quotient divides by the raw
    var, so var = 0 gives inf/NaN and var < eps a huge loss. Violates GNLL-CLAMP."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="clamp_log_only")


def gaussian_var_shape_lenient(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: any var shape that broadcasts with input is accepted ("let broadcasting decide"),
    e.g. var of shape (1,) or (3,) for a (2, 3) input. Violates GNLL-VAR-SHAPE."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="var_shape_lenient")


def gaussian_assumes_contiguous(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: operands are read as row-major buffers from their storage offset, ignoring strides
    (a kernel that indexes raw memory): transposed or sliced operands give permuted values, expanded
    ones read out of bounds. Violates SHAPE-LAYOUT."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="assumes_contiguous")


def gaussian_reduction_first(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake (strict): the reduction is validated before var, so a negative or wrongly sized var
    with reduction='bogus' raises the reduction's error. Violates ERR-ORDER."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="reduction_first")


def gaussian_reduction_keyerror(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake (strict): the reduction is looked up in a table of reducers, so an invalid reduction
    raises KeyError instead of ValueError (TypeError for a non-string). Violates ERR-TYPES."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="reduction_keyerror")


def gaussian_float_var_float32(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: a Python float var becomes `torch.full(input.shape, var)`, a tensor of the default
    dtype (float32) instead of input's, so float16/bfloat16 inputs give a float32 result.
    Violates GNLL-VAR-FLOAT (DTYPE-RESULT)."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="float_var_float32")


def gaussian_half_in_bfloat16(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: float16 operands are computed in bfloat16 ("the fast path") and the result cast
    back to float16, losing 3 bits. Violates DTYPE-HALF (the float16 allowance of GNLL-VALUE)."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="half_in_bfloat16")


def gaussian_nanmean(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: 'mean' is `nanmean` ("NaN-robust"): NaN elements are left out instead of making the
    mean NaN. Violates SPECIAL-NAN ("a reduction over a NaN element is NaN")."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="nanmean")


def gaussian_inplace_clamp(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: var is clamped in place (`var.clamp_(min=eps)` on the caller's tensor, "no copy
    needed"): values and gradients are right, but the caller's var is changed. Violates
    SHAPE-NO-MUTATION."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="inplace_clamp")


def gaussian_fused_correct(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Correct: the fused twin of the `gaussian_fused_*` mistakes: one autograd.Function with a
    hand-written backward (reverse-mode order, straight-through clamp, sums over broadcast
    dimensions)."""
    return _gaussian(input, target, var, full, eps, reduction, fused=True)


def gaussian_fused_ignores_upstream(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: the hand-written backward returns the local partials without multiplying by the
    upstream gradient (right only for an upstream gradient of 1). Violates GRAD-CHAIN."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="ignores_upstream", fused=True)


def gaussian_fused_mean_no_1_over_n(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: the hand-written backward of 'mean' forgets the factor 1/N, so every gradient is N
    times too large. Violates GRAD-REDUCTION."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="mean_grad_no_1_over_n", fused=True)


def gaussian_fused_var_grad_mean(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: a broadcast var's gradient is averaged over the broadcast dimensions instead of
    summed. Violates GRAD-BROADCAST."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="var_grad_mean", fused=True)


def gaussian_fused_var_grad_typo(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Mistake: the hand-written var gradient is `0.5*g*(1/v - d/v**2)`, d instead of d**2.
    Violates GNLL-GRAD-VAR."""
    return _gaussian(input, target, var, full, eps, reduction, mistake="var_grad_typo", fused=True)


# --- the normal log-density subject (SPEC chapter 14) ----------------------------------------------
def _normal(loc, scale, value, mistake=()):
    mistakes = {mistake} if isinstance(mistake, str) else set(mistake)
    if "no_validation" not in mistakes:  # NLP-ARGS, as torch.distributions validates by default
        if bool(torch.isnan(loc).any()) or bool(torch.isnan(value).any()) or not bool((scale > 0).all()):
            raise ValueError("Expected loc, value real and scale > 0")
    var = scale if "var_is_scale" in mistakes else scale ** 2
    const = math.log(2 * math.pi) if "two_pi" in mistakes else 0.5 * math.log(2 * math.pi)
    return -((value - loc) ** 2) / (2 * var) - torch.log(scale) - const


def normal_correct(loc, scale, value):
    """Correct: the normal log-density from scratch, validating its arguments like torch.distributions."""
    return _normal(loc, scale, value)


def normal_wraps_torch(loc, scale, value):
    """Correct: torch.distributions.Normal(loc, scale).log_prob(value) itself."""
    return torch.distributions.Normal(loc, scale).log_prob(value)


def normal_two_pi(loc, scale, value):
    """Mistake: the constant is log(2*pi), not 0.5*log(2*pi) ("the normalizer is 2*pi"). Violates NLP-VALUE."""
    return _normal(loc, scale, value, mistake="two_pi")


def normal_var_is_scale(loc, scale, value):
    """Mistake: the argument is taken as the variance (scale not squared). Violates NLP-VALUE / NLP-GRAD."""
    return _normal(loc, scale, value, mistake="var_is_scale")


def normal_no_validation(loc, scale, value):
    """Mistake (api): no argument validation, so scale <= 0 gives NaN instead of ValueError. Violates NLP-ARGS."""
    return _normal(loc, scale, value, mistake="no_validation")


# --- the Poisson log-pmf subject (SPEC chapter 14) -------------------------------------------------
def _poissonpmf(rate, value, mistake=()):
    mistakes = {mistake} if isinstance(mistake, str) else set(mistake)
    if "no_validation" not in mistakes:  # PLP-ARGS, as torch.distributions validates by default
        if not bool((rate >= 0).all()) or not bool(((value >= 0) & (value % 1 == 0)).all()):
            raise ValueError("Expected rate >= 0 and value a non-negative integer")
    if "stirling" in mistakes:  # log(k!) by Stirling's series (no lgamma at hand), k! = 1 below 1
        k = value.clamp(min=1)
        log_fact = torch.where(value > 1, k * torch.log(k) - k + 0.5 * torch.log(2 * math.pi * k), torch.zeros_like(k))
    else:
        log_fact = torch.lgamma(value if "lgamma_of_value" in mistakes else value + 1)
    term = value * torch.log(rate) if "no_xlogy" in mistakes else torch.xlogy(value, rate)
    return term - rate - log_fact


def poissonpmf_correct(rate, value):
    """Correct: the Poisson log-pmf from scratch, validating its arguments like torch.distributions."""
    return _poissonpmf(rate, value)


def poissonpmf_wraps_torch(rate, value):
    """Correct: torch.distributions.Poisson(rate).log_prob(value) itself."""
    return torch.distributions.Poisson(rate).log_prob(value)


def poissonpmf_lgamma_of_value(rate, value):
    """Mistake: log(k!) written lgamma(k), not lgamma(k + 1). Violates PLP-VALUE."""
    return _poissonpmf(rate, value, mistake="lgamma_of_value")


def poissonpmf_no_xlogy(rate, value):
    """Mistake: value*log(rate) for xlogy(value, rate): a zero count at rate 0 gives NaN (0*-inf), not 0.
    Violates PLP-VALUE."""
    return _poissonpmf(rate, value, mistake="no_xlogy")


def poissonpmf_stirling(rate, value):
    """Mistake: log(k!) by Stirling's formula (the full=True loss's term), off by up to 1/(12k). Violates PLP-VALUE."""
    return _poissonpmf(rate, value, mistake="stirling")


def poissonpmf_no_validation(rate, value):
    """Mistake (api): no argument validation, so a fractional count gives a number instead of ValueError.
    Violates PLP-ARGS."""
    return _poissonpmf(rate, value, mistake="no_validation")
