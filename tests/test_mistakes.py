"""The suite catches realistic mistakes and raises no false alarm.

Every candidate of tests/mistakes/candidates.py is run through the real command line,
`python -m conformance run --backend torch --poisson-fn/--gaussian-fn tests/mistakes/candidates.py:NAME`,
and its results JSON is checked:

* correct candidates (from scratch, or wrapping torch) exit 0; a torch wrapper, run with torch's
  expectations file, gets the same status on every check as `--backend torch` itself;
* each mistake exits 1, and its results hold a FAIL or ERROR naming the check and the clause the
  mistake violates, with a small minimal counterexample and a repro snippet that loads the candidate.

A mistake no check catches yet is still listed, its test marked `xfail(strict=True)` with the
clause that lacks a check: it turns into a failure (XPASS) as soon as a check catches it.

Runtime. Each mistake run is narrowed, besides `--loss`/`--dtype`, to the checks its expectation
is about: with the CLI's `--check` patterns (most cases), or with a pytest `-k` expression handed
to the suite's worker processes through PYTEST_ADDOPTS (`select`). Correct candidates run
unnarrowed: that is where a false alarm would show. All runs this session needs are started together on a small thread
pool (one subprocess per core), longest first, and each test waits for its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

try:
    import torch  # noqa: F401
except Exception as exc:  # noqa: BLE001 - not installed, or installed but broken (ImportError, OSError)
    pytest.skip(f"torch is not importable ({type(exc).__name__}: {exc}): the candidates are torch functions",
                allow_module_level=True)

pytestmark = [pytest.mark.slow, pytest.mark.torch]

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = "tests/mistakes/candidates.py"
TORCH_EXPECTATIONS = "expectations/torch.toml"
WORKERS = max(1, min(4, os.cpu_count() or 1))
RUN_TIMEOUT = 900  # seconds for one CLI run (a safety net; the slowest takes about 40 s)
BAD = ("FAIL", "ERROR", "CRASH", "TIMEOUT", "XPASS")


# --- the catalogue ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Expect:
    """A FAIL/ERROR record the run must contain."""

    check: str  # substring of the check id
    clauses: tuple = ()  # the record's clause is one of these (empty: any)
    status: tuple = ("FAIL",)
    small: bool = False  # the minimal counterexample has at most MAX_SMALL elements per operand
    where: object = None  # predicate on failure["call"] (the counterexample): what makes it one
    got: str | None = None  # substring of failure["got"]


MAX_SMALL = 8


@dataclasses.dataclass(frozen=True)
class Case:
    name: str  # the function in candidates.py
    loss: str  # "poisson" | "gaussian": which --*-fn flag and --loss
    exit: int  # expected exit code
    args: tuple = ()  # extra CLI arguments
    select: str | None = None  # -k expression for the child pytest (runtime only; see module docstring)
    expect: tuple = ()  # Expect entries (mistakes)
    only: bool = False  # every FAIL/ERROR record is under one of the expected clauses (no collateral)
    same_as_torch: bool = False  # compare every record's status with a --backend torch run
    cost: float = 10.0  # rough seconds, to start the longest runs first
    label: str | None = None  # test id suffix
    xfail: str | None = None  # why no check catches it yet (the test is xfail(strict=True))

    @property
    def id(self):
        return self.name + (f"@{self.label}" if self.label else "")


def _vals(call, name):
    op = call["operands"].get(name) or {}
    return [float(v) for v in op.get("values", [])]


def _kw(call):
    return call.get("kwargs") or {}


def _legacy_int_zero(call):
    """size_average or reduce given as the int 0 (JSON 0, not false): falsy, but not `False`."""
    return any(type(_kw(call).get(k)) is int and _kw(call)[k] == 0 for k in ("size_average", "reduce"))


def _legacy_with_explicit_reduction(call):
    kw = _kw(call)
    return ("size_average" in kw or "reduce" in kw) and kw.get("reduction") != "mean"


def _mean_over_more_than_first_dim(call):
    """A 'mean' whose element count N differs from input.shape[0] (the batch size)."""
    import numpy as np

    shapes = [tuple(call["operands"][k]["shape"]) for k in ("input", "target")]
    n = int(np.prod(np.broadcast_shapes(*shapes)))
    return _kw(call).get("reduction") == "mean" and (not shapes[0] or shapes[0][0] != n)


def _any(call, name, pred):
    return any(pred(v) for v in _vals(call, name))


def _check(*patterns):
    """CLI arguments selecting the checks whose ids match any of the patterns (* is a wildcard)."""
    return ("--check", ",".join(patterns))


STRICT = ("--level", "strict")
F32 = ("--dtype", "float32")

CASES = [
    # --- correct: no false alarm, over the whole loss and every dtype ------------------------------
    Case("poisson_correct", "poisson", 0, cost=40),
    Case("gaussian_correct", "gaussian", 0, cost=40),
    Case("gaussian_fused_correct", "gaussian", 0, cost=40),  # the twin of the gaussian_fused_* mistakes
    Case("poisson_wraps_torch", "poisson", 0, ("--expectations", TORCH_EXPECTATIONS), same_as_torch=True, cost=40),
    Case("gaussian_wraps_torch", "gaussian", 0, ("--expectations", TORCH_EXPECTATIONS), same_as_torch=True, cost=40),
    # --- Poisson mistakes ------------------------------------------------------------------------
    Case("poisson_stirling_mask_lt", "poisson", 1, ("--dtype", "float32"),
         select="test_poisson_values or test_poisson_edge_values", cost=14, only=True,
         expect=(Expect("poisson.values[", ("PNLL-STIRLING-MASK",), small=True,
                        where=lambda c: _kw(c).get("full") is True and 1.0 in _vals(c, "target")),
                 Expect("poisson.edge_values[", ("PNLL-STIRLING-MASK",)))),
    Case("poisson_log_plus_eps", "poisson", 1, ("--dtype", "float32"), select="test_poisson_values", cost=8,
         expect=(Expect("poisson.values[log_input=False,full=False", ("PNLL-VALUE-RATE",), small=True,
                        where=lambda c: _kw(c).get("log_input") is False),)),
    Case("poisson_eps_clamp", "poisson", 1, ("--dtype", "float32"), select="test_poisson_values", cost=20,
         expect=(Expect("poisson.values[log_input=False,full=False", ("PNLL-VALUE-RATE",), small=True,
                        where=lambda c: _kw(c).get("log_input") is False),)),
    Case("poisson_stirling_no_half_log", "poisson", 1, ("--dtype", "float32"), select="test_poisson_values",
         cost=14, only=True, expect=(Expect("poisson.values[", ("PNLL-STIRLING",), small=True,
                                            where=lambda c: any(t > 1 for t in _vals(c, "target"))),)),
    Case("poisson_ignores_full", "poisson", 1, ("--dtype", "float32"), select="test_poisson_values", cost=14,
         only=True, expect=(Expect("poisson.values[", ("PNLL-STIRLING",), small=True,
                                   where=lambda c: _kw(c).get("full") is True
                                   and any(t > 1 for t in _vals(c, "target"))),)),
    Case("poisson_mean_over_batch", "poisson", 1, ("--dtype", "float32"), select="test_poisson_reductions",
         cost=10, only=True, expect=(Expect("poisson.reductions[", ("RED-MEAN",), small=True,
                                            where=_mean_over_more_than_first_dim),)),
    Case("poisson_legacy_no_override", "poisson", 1, ("--dtype", "float32"), select="test_poisson_legacy", cost=5,
         expect=(Expect("poisson.legacy[reduction=sum", ("LEGACY-OVERRIDE",), small=True,
                        where=_legacy_with_explicit_reduction),
                 Expect("poisson.legacy[reduction=bogus", status=("ERROR",), where=_legacy_with_explicit_reduction,
                        got="is not a valid value for reduction"))),
    Case("poisson_legacy_is_false", "poisson", 1, ("--dtype", "float32"), select="test_poisson_legacy", cost=5,
         expect=(Expect("poisson.legacy[", ("LEGACY-MAP", "LEGACY-OVERRIDE", "SHAPE-OUTPUT"), small=True,
                        where=_legacy_int_zero),)),
    Case("poisson_float32_compute", "poisson", 1, ("--dtype", "float64"), select="test_poisson_values", cost=16,
         expect=(Expect("poisson.values[log_input=True,full=False,float64]", ("PNLL-VALUE-LOG",), small=True),
                 Expect("poisson.values[log_input=False,full=False,float64]", ("PNLL-VALUE-RATE",), small=True))),
    Case("poisson_sequential_sum", "poisson", 1, ("--dtype", "float32"), select="test_reductions", cost=12,
         only=True, expect=(Expect("poisson.large_reduction[reduction=sum,float32]", ("RED-ACCURACY",)),
                            Expect("poisson.large_reduction[reduction=mean,float32]", ("RED-ACCURACY",)))),
    Case("poisson_view_flatten", "poisson", 1, ("--dtype", "float32"), select="test_poisson_layouts and expanded",
         cost=25, only=True, expect=(Expect("poisson.layouts[layout=expanded,float32]", ("SHAPE-LAYOUT",),
                                            status=("ERROR",), small=True, got="view"),)),
    Case("poisson_detached_target", "poisson", 1, ("--dtype", "float32"), select="test_poisson_defaults", cost=5,
         only=True, expect=(Expect("poisson.defaults[form=functional]", ("GRAD-PRESENT",), small=True,
                                   where=lambda c: "target" in c["grad_wrt"]),)),
    Case("poisson_keeps_input_dtype", "poisson", 1, ("--dtype", "float32"), select="promotion", cost=5, only=True,
         expect=(Expect("poisson.promotion[pair=int64+int64]", ("DTYPE-RESULT",), small=True, got="int64"),
                 Expect("poisson.promotion[pair=float32+float64]", ("DTYPE-RESULT",), small=True, got="float32"))),
    # --- Gaussian mistakes -----------------------------------------------------------------------
    Case("gaussian_differentiable_clamp", "gaussian", 1, ("--dtype", "float32"),
         select="test_gaussian_gradients and False-none-float32", cost=25, only=True,
         expect=(Expect("gaussian.gradients[full=False,reduction=none,float32]",
                        ("GNLL-GRAD-VAR-CLAMP", "GNLL-GRAD-VAR"), small=True, got="0.0",
                        where=lambda c: any(v < 1e-6 for v in _vals(c, "var"))),)),
    Case("gaussian_var_plus_eps", "gaussian", 1, ("--dtype", "float32"),
         select="test_gaussian_values or test_gaussian_edge_values", cost=8,
         expect=(Expect("gaussian.values[full=False,float32]", ("GNLL-VALUE",), small=True),
                 Expect("gaussian.edge_values[full=False,float32]", ("GNLL-CLAMP",)))),
    Case("gaussian_var_per_column", "gaussian", 1, ("--dtype", "float32"), select="square_var_per_row", cost=5,
         only=True, expect=(Expect("gaussian.square_var_per_row[float32]", ("GNLL-VAR-UNSQUEEZE",)),)),
    Case("gaussian_no_negative_check", "gaussian", 1, ("--dtype", "float32"), select="test_gaussian_negative_var",
         cost=5, only=True,
         expect=(Expect("gaussian.negative_var[form=functional]", ("GNLL-VAR-NONNEG",), small=True,
                        where=lambda c: any(v < 0 for v in _vals(c, "var"))
                        or c["operands"]["var"].get("python", "").startswith("-")),)),
    # the message text is strict-only: caught at --level strict, conformant at the default (api)
    Case("gaussian_wrong_message", "gaussian", 1, ("--dtype", "float32", "--level", "strict"),
         select="test_gaussian_negative_var", cost=5, only=True, label="strict",
         expect=(Expect("gaussian.negative_var[form=functional]", ("ERR-MESSAGES",), small=True,
                        got="var must be non-negative"),)),
    Case("gaussian_wrong_message", "gaussian", 0, ("--dtype", "float32"), select="test_gaussian_negative_var",
         cost=5, label="default-level"),
    Case("gaussian_full_log_2pi", "gaussian", 1, ("--dtype", "float32"), select="test_gaussian_values", cost=8,
         only=True, expect=(Expect("gaussian.values[full=True,float32]", ("GNLL-FULL",), small=True,
                                   where=lambda c: _kw(c).get("full") is True),)),
    # --- Poisson mistakes, second batch (issue 8: every chapter) ---------------------------------
    Case("poisson_log_via_rate", "poisson", 1, F32 + _check("poisson.values[log_input=True*]",
                                                            "poisson.edge_values[log_input=True*]"),
         cost=8, only=True,
         expect=(Expect("poisson.edge_values[log_input=True,full=False,float32]", ("PNLL-VALUE-LOG",),
                        where=lambda c: _any(c, "input", lambda x: x < -15)),
                 Expect("poisson.values[log_input=True,full=False,float32]", ("PNLL-VALUE-LOG",), small=True))),
    Case("poisson_stirling_mask_pos", "poisson", 1, F32 + _check("poisson.edge_values[*full=True*]"), cost=6,
         only=True, expect=(Expect("poisson.edge_values[", ("PNLL-STIRLING-MASK",), small=True,
                                   where=lambda c: _any(c, "target", lambda t: 0 < t <= 1)),)),
    Case("poisson_same_shape_only", "poisson", 1, F32 + _check("poisson.broadcasting*"), cost=5, only=True,
         expect=(Expect("poisson.broadcasting[reduction=none,float32]", ("SHAPE-BROADCAST",), status=("ERROR",),
                        got="same shape"),)),
    Case("poisson_mean_over_input_numel", "poisson", 1, F32 + _check("poisson.reductions*", "poisson.broadcasting*"),
         cost=6, expect=(Expect("poisson.", ("RED-MEAN",)),)),
    Case("poisson_empty_mean_zero", "poisson", 1, F32 + _check("poisson.empty*"), cost=4, only=True,
         expect=(Expect("poisson.empty[float32,reduction=mean]", ("RED-EMPTY",), got="0.0"),)),
    Case("poisson_mean_as_sum_over_n", "poisson", 1, ("--dtype", "float16") + _check("poisson.reductions[*mean*]"),
         cost=5, only=True,
         expect=(Expect("reduction=mean,float16]",
                        ("RED-MEAN", "RED-ACCURACY", "SPECIAL-OVERFLOW"), got="inf"),)),
    Case("poisson_running_total", "poisson", 1, ("--dtype", "float16,bfloat16") + _check("poisson.large_reduction*"),
         cost=6, expect=(Expect("poisson.large_reduction[reduction=sum,bfloat16]", ("RED-ACCURACY",)),)),
    Case("poisson_legacy_no_warning", "poisson", 1, STRICT + F32 + _check("poisson.legacy*"), cost=5, only=True,
         expect=(Expect("poisson.legacy[reduction=sum,form=functional]", ("LEGACY-WARN",), got="no warning",
                        where=lambda c: "size_average" in _kw(c) or "reduce" in _kw(c)),)),
    Case("poisson_legacy_warns_twice", "poisson", 1, STRICT + F32 + _check("poisson.legacy*"), cost=5, only=True,
         expect=(Expect("poisson.legacy[reduction=sum,form=functional]", ("LEGACY-WARN",), got="2"),)),
    Case("poisson_legacy_warns_at_caller", "poisson", 1, STRICT + F32 + _check("poisson.legacy*"), cost=5, only=True,
         expect=(Expect("poisson.legacy[reduction=sum,form=functional]", ("LEGACY-WARN-LOCATION",)),)),
    Case("poisson_legacy_deprecation_category", "poisson", 1, STRICT + F32 + _check("poisson.legacy*"), cost=5,
         only=True, expect=(Expect("poisson.legacy[reduction=sum,form=functional]", ("LEGACY-WARN",),
                                   got="DeprecationWarning"),
                            Expect("poisson.legacy[reduction=sum,form=functional]", ("ERR-NO-WARNINGS",)))),
    Case("poisson_warns_full", "poisson", 1, STRICT + F32 + _check("poisson.values[*full=True*]"), cost=6, only=True,
         expect=(Expect("poisson.values[log_input=True,full=True,float32]", ("ERR-NO-WARNINGS",), got="Stirling"),)),
    Case("poisson_bool_args_first", "poisson", 1, STRICT + _check("poisson.error_order*"), cost=4, only=True,
         expect=(Expect("poisson.error_order[reduction+bool-arg]", ("ERR-ORDER", "ERR-TYPES"), got="TypeError"),)),
    Case("poisson_no_reduction_check", "poisson", 1, _check("poisson.invalid_reduction*"), cost=4, only=True,
         expect=(Expect("poisson.invalid_reduction[reduction=bogus,form=functional]", ("RED-VALID",)),)),
    Case("poisson_eps_validated", "poisson", 1, _check("poisson.eps_any*"), cost=4, only=True,
         expect=(Expect("poisson.eps_any[eps=0]", ("API-EPS-ANY", "ERR-NO-EXCEPTION-ON-VALUES"), status=("ERROR",),
                        got="eps must be positive"),)),
    Case("poisson_int_to_float64", "poisson", 1, _check("poisson.promotion[pair=int*]"), cost=4, only=True,
         expect=(Expect("poisson.promotion[pair=int64+int64]", ("DTYPE-RESULT", "DTYPE-INT-TO-FLOAT"), got="float64"),
                 Expect("poisson.promotion[pair=int32+float32]", ("DTYPE-RESULT", "DTYPE-INT-TO-FLOAT"),
                        got="float64"))),
    Case("poisson_mixed_in_input_dtype", "poisson", 1,
         _check("poisson.mixed_values*", "poisson.promotion*", "poisson.zero_dim_promotion*"), cost=8, only=True,
         expect=(Expect("poisson.mixed_values[log_input=True,pair=float16+float64]",
                        ("PNLL-VALUE-LOG", "DTYPE-CONVERT", "PNLL-TARGET-ANY")),
                 Expect("poisson.mixed_values[log_input=False,pair=float16+float64]",
                        ("PNLL-VALUE-RATE", "DTYPE-CONVERT", "PNLL-TARGET-ANY")))),
    Case("poisson_detached_rate", "poisson", 1, F32 + _check("poisson.gradients[log_input=True,*]"), cost=8,
         only=True, expect=(Expect("poisson.gradients[log_input=True,full=False,reduction=none,float32]",
                                   ("PNLL-GRAD-INPUT",), small=True),)),
    Case("poisson_clamp_log_input", "poisson", 1,
         F32 + _check("poisson.overflow*", "poisson.special_values[log_input=True*]"), cost=5, only=True,
         expect=(Expect("poisson.overflow[reduction=none,float32]", ("SPECIAL-OVERFLOW",),
                        where=lambda c: _any(c, "input", lambda x: x > 80)),
                 Expect("poisson.special_values[log_input=True,full=False,float32]", ("SPECIAL-INF",)))),
    Case("poisson_nan_as_zero", "poisson", 1, F32 + _check("poisson.special_values*"), cost=5, only=True,
         expect=(Expect("poisson.special_values[log_input=True,full=False,float32]", ("SPECIAL-NAN", "SPECIAL-INF"), got="0.0",
                        where=lambda c: _any(c, "input", math.isnan) or _any(c, "target", math.isnan)),)),
    Case("poisson_clamps_negative_target", "poisson", 1, F32 + _check("poisson.values*"), cost=8,
         expect=(Expect("poisson.values[", ("PNLL-TARGET-ANY",), small=True,
                        where=lambda c: _any(c, "target", lambda t: t < 0)),)),
    Case("poisson_lucid_order", "poisson", 1, _check("poisson.positional*"), cost=4, only=True,
         expect=(Expect("poisson.positional[form=functional]", ("API-SIGNATURE", "API-POSITIONAL-PITFALL"),
                        status=("FAIL", "ERROR")),)),
    # --- Gaussian mistakes, second batch --------------------------------------------------------
    Case("gaussian_default_eps", "gaussian", 1, _check("gaussian.defaults*"), cost=4,
         expect=(Expect("gaussian.defaults[form=functional]", ("API-DEFAULTS",)),)),
    Case("gaussian_no_half", "gaussian", 1, F32 + _check("gaussian.values*"), cost=6, only=True,
         expect=(Expect("gaussian.values[full=False,float32]", ("GNLL-VALUE", "GNLL-CLAMP", "GNLL-FULL"), small=True),)),
    Case("gaussian_clamp_log_only", "gaussian", 1, F32 + _check("gaussian.edge_values*"), cost=5, only=True,
         expect=(Expect("gaussian.edge_values[full=False,float32]", ("GNLL-CLAMP",),
                        where=lambda c: _any(c, "var", lambda v: v < 1e-6)),)),
    Case("gaussian_var_shape_lenient", "gaussian", 1, F32 + _check("gaussian.var_shapes*"), cost=5, only=True,
         expect=(Expect("gaussian.var_shapes[float32]", ("GNLL-VAR-SHAPE",)),)),
    Case("gaussian_assumes_contiguous", "gaussian", 1, F32 + _check("gaussian.layouts*"), cost=6,
         expect=(Expect("gaussian.layouts[layout=transposed,float32]", ("SHAPE-LAYOUT",)),
                 Expect("gaussian.layouts[layout=expanded,float32]", ("SHAPE-LAYOUT",), status=("ERROR",)))),
    Case("gaussian_reduction_first", "gaussian", 1, STRICT + _check("gaussian.error_order*"), cost=4, only=True,
         expect=(Expect("gaussian.error_order[neg+size+reduction]", ("ERR-ORDER", "ERR-MESSAGES", "ERR-TYPES"),
                        got="is not valid"),)),
    Case("gaussian_reduction_keyerror", "gaussian", 1, STRICT + _check("gaussian.invalid_reduction*"), cost=4,
         only=True, expect=(Expect("gaussian.invalid_reduction[reduction=bogus,form=functional]", ("ERR-TYPES",),
                                   got="KeyError"),)),
    Case("gaussian_float_var_float32", "gaussian", 1, _check("gaussian.float_var*"), cost=4, only=True,
         expect=(Expect("gaussian.float_var[float16]", ("DTYPE-RESULT", "GNLL-VAR-FLOAT"), got="float32"),)),
    Case("gaussian_half_in_bfloat16", "gaussian", 1, ("--dtype", "float16") + _check("gaussian.values*"), cost=5,
         only=True, expect=(Expect("gaussian.values[full=False,float16]", ("GNLL-VALUE", "GNLL-FULL", "DTYPE-HALF")),)),
    Case("gaussian_nanmean", "gaussian", 1, F32 + _check("gaussian.special_values*", "gaussian.reductions*", "gaussian.nan_reduction*"), cost=5,
         expect=(Expect("gaussian.", ("SPECIAL-NAN",)),)),
    Case("gaussian_inplace_clamp", "gaussian", 1, F32 + _check("gaussian.edge_values*"), cost=5, only=True,
         expect=(Expect("gaussian.edge_values[full=False,float32]", ("SHAPE-NO-MUTATION",)),)),
    Case("gaussian_fused_ignores_upstream", "gaussian", 1, F32 + _check("gaussian.gradients[*reduction=none*]"),
         cost=6, expect=(Expect("gaussian.gradients[full=False,reduction=none,float32]", ("GRAD-CHAIN",)),)),
    Case("gaussian_fused_mean_no_1_over_n", "gaussian", 1, F32 + _check("gaussian.gradients[*reduction=mean*]"),
         cost=6, only=True,
         expect=(Expect("gaussian.gradients[full=False,reduction=mean,float32]", ("GRAD-REDUCTION",)),)),
    Case("gaussian_fused_var_grad_mean", "gaussian", 1, F32 + _check("gaussian.homoscedastic_gradients*"), cost=8,
         only=True, expect=(Expect("gaussian.homoscedastic_gradients[var_kind=shorter,reduction=sum,float32]",
                                   ("GRAD-BROADCAST",)),)),
    # --- the normal log-density subject ---------------------------------------------------------
    Case("normal_correct", "normal", 0, cost=15),
    Case("normal_wraps_torch", "normal", 0, cost=15),
    Case("normal_two_pi", "normal", 1, F32 + _check("normal.values[*]"), cost=5, only=True,
         expect=(Expect("normal.values[float32]", ("NLP-VALUE",), small=True),)),
    Case("normal_var_is_scale", "normal", 1, F32 + _check("normal.values[*]"), cost=5,
         expect=(Expect("normal.values[float32]", ("NLP-VALUE", "NLP-GRAD")),)),
    Case("normal_no_validation", "normal", 1, F32 + _check("normal.invalid_arguments[*]"), cost=5, only=True,
         expect=(Expect("normal.invalid_arguments[float32,bad=scale=0]", ("NLP-ARGS",)),)),
    # --- the Poisson log-pmf subject -----------------------------------------------------------
    Case("poissonpmf_correct", "poissonpmf", 0, cost=15),
    Case("poissonpmf_wraps_torch", "poissonpmf", 0, cost=15),
    Case("poissonpmf_lgamma_of_value", "poissonpmf", 1, F32 + _check("poissonpmf.values[*]"), cost=5, only=True,
         expect=(Expect("poissonpmf.values[float32]", ("PLP-VALUE",), small=True),)),
    Case("poissonpmf_no_xlogy", "poissonpmf", 1, F32 + _check("poissonpmf.edge_values[*]"), cost=5, only=True,
         expect=(Expect("poissonpmf.edge_values[float32]", ("PLP-VALUE",), got="nan"),)),
    Case("poissonpmf_stirling", "poissonpmf", 1, F32 + _check("poissonpmf.values[*]"), cost=5, only=True,
         expect=(Expect("poissonpmf.values[float32]", ("PLP-VALUE",), small=True),)),
    Case("poissonpmf_no_validation", "poissonpmf", 1, F32 + _check("poissonpmf.invalid_arguments[*]"), cost=5,
         only=True, expect=(Expect("poissonpmf.invalid_arguments[float32,bad=value=1.5]", ("PLP-ARGS",)),)),
    Case("gaussian_fused_var_grad_typo", "gaussian", 1, F32 + _check("gaussian.gradients[*reduction=none*]"),
         cost=6, only=True,
         expect=(Expect("gaussian.gradients[full=False,reduction=none,float32]", ("GNLL-GRAD-VAR", "GNLL-GRAD-VAR-CLAMP"),
                        where=lambda c: "var" in c["grad_wrt"]),)),
]


# --- running the CLI -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunKey:
    loss: str
    fn: str | None  # candidate name, or None for --backend torch itself
    args: tuple = ()
    select: str | None = None


@dataclasses.dataclass
class RunResult:
    key: RunKey
    cmd: list
    returncode: int
    stdout: str
    stderr: str
    results: dict | None

    def describe(self) -> str:
        return (f"$ {' '.join(self.cmd)}\nexit {self.returncode}\n--- stdout\n{self.stdout[-3000:]}\n"
                f"--- stderr\n{self.stderr[-3000:]}")


def run_key(case: Case) -> RunKey:
    return RunKey(case.loss, case.name, case.args, case.select)


def torch_key(case: Case) -> RunKey:
    """The same selection on --backend torch itself, at the user functions' level (api)."""
    return RunKey(case.loss, None, case.args + ("--level", "api"), case.select)


class Runner:
    def __init__(self, outdir: Path, workers: int):
        self.outdir = outdir
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lossconform-run")
        self.futures = {}
        self.lock = threading.Lock()
        self.procs = set()

    def submit(self, key: RunKey):
        with self.lock:
            if key not in self.futures:
                self.futures[key] = self.pool.submit(self._run, key)
            return self.futures[key]

    def get(self, key: RunKey) -> RunResult:
        return self.submit(key).result()

    def _run(self, key: RunKey) -> RunResult:
        tag = hashlib.sha1(repr(key).encode()).hexdigest()[:12]
        out = self.outdir / f"{key.fn or 'torch'}-{key.loss}-{tag}.json"
        cmd = [sys.executable, "-m", "conformance", "run", "--backend", "torch", "--loss", key.loss,
               "--profile", "quick", "--quiet", "--json", str(out)]
        if key.fn:
            cmd += [f"--{key.loss}-fn", f"{CANDIDATES}:{key.fn}"]
        cmd += list(key.args)
        env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
        if key.select:
            env["PYTEST_ADDOPTS"] = f"-k '{key.select}'"
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with self.lock:
            self.procs.add(proc)
        try:
            stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        finally:
            with self.lock:
                self.procs.discard(proc)
        results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
        return RunResult(key, cmd, proc.returncode, stdout, stderr, results)

    def close(self):
        """Cancel what has not started; interrupt what runs (the CLI then stops its own child)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self.lock:
            procs = list(self.procs)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


@pytest.fixture(scope="module")
def runner(request, tmp_path_factory):
    r = Runner(tmp_path_factory.mktemp("mistakes"), WORKERS)
    # start every run the selected tests of this module need, the longest first
    here = sys.modules[__name__]
    wanted = []
    for item in request.session.items:
        case = getattr(getattr(item, "callspec", None), "params", {}).get("case")
        if getattr(item, "module", None) is here and isinstance(case, Case):
            wanted.append((case.cost, run_key(case)))
            if case.same_as_torch:
                wanted.append((case.cost, torch_key(case)))
    for _, key in sorted(wanted, key=lambda w: -w[0]):
        r.submit(key)
    yield r
    r.close()


# --- checks --------------------------------------------------------------------------------------
def _params():
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
            for c in CASES]


def _bad(results):
    return [r for r in results["records"] if r["status"] in BAD]


def _summary(results) -> str:
    lines = [f"verdict {results['verdict']}, summary {results['summary']}, problems {results['problems']}"]
    for r in _bad(results)[:30]:
        lines.append(f"  {r['status']} {r['check']} [{r['clause']}] {(r['message'] or '')[:150]}")
    return "\n".join(lines)


def _operand_sizes(call) -> dict:
    return {k: (len(v["values"]) if "values" in v else 1) for k, v in call["operands"].items()}


def _clauses(r) -> set:
    """Every clause a record failed under (a check reports each distinct failure)."""
    return {f.get("clause") for f in (r.get("failures") or [])} | {r.get("clause")}


def _check_expect(case: Case, e: Expect, results):
    def matches(r):
        return (r["status"] in e.status and e.check in r["check"]
                and (not e.clauses or _clauses(r) & set(e.clauses)))

    hits = [r for r in results["records"] if matches(r)]
    assert hits, (f"{case.name}: no {'/'.join(e.status)} record for {e.check!r} under {e.clauses}\n"
                  + _summary(results))
    findings = {f["id"]: f for f in results.get("findings", [])}
    for r in hits:
        fs = [f for f in (r.get("failures") or [r.get("failure")]) if f and (not e.clauses or f.get("clause") in e.clauses)]
        assert fs, f"{r['check']}: a {r['status']} record without its failure: {r}"
        f = fs[0]
        call = f.get("call")
        assert call and call.get("loss") == case.loss, f"{r['check']}: no counterexample call: {f}"
        if e.small:
            # the finding's counterexample (each distinct failure is shrunk once per run)
            best = findings.get(f.get("finding"), {}).get("example") or f
            sizes = _operand_sizes(best["call"])
            assert all(n <= MAX_SMALL for n in sizes.values()), f"{r['check']}: counterexample not minimal: {sizes}"
        if e.where is not None:
            assert any(e.where(x["call"]) for x in fs), f"{r['check']}: the counterexample does not show the mistake: {call}"
        if e.got is not None:
            assert any(e.got in str(x.get("got")) for x in fs), f"{r['check']}: got {f.get('got')!r}, wanted {e.got!r} in it"
        repro = f.get("repro") or ""
        assert repro.strip(), f"{r['check']}: empty repro"
        assert case.name in repro and "candidates.py" in repro, (
            f"{r['check']}: the repro does not load the candidate:\n{repro}")


def _compare_with_torch(case: Case, mine, ref):
    """Every check has the status --backend torch gets, except NA where a user function cannot
    express the check (module form, or the other loss inside an `any.*` check)."""
    a = {r["check"]: r for r in mine["records"]}
    b = {r["check"]: r for r in ref["records"]}
    assert set(a) == set(b), (f"different checks ran: only with the wrapper {sorted(set(a) - set(b))}, "
                              f"only with torch {sorted(set(b) - set(a))}")
    diffs = []
    for cid, r in a.items():
        s, t = r["status"], b[cid]["status"]
        if s == t:
            continue
        if s == "NA" and t in ("PASS", "XFAIL", "NA") and (
                "no module form" in (r["reason"] or "") or "does not provide the" in (r["reason"] or "")):
            continue
        diffs.append(f"{cid}: {s} with the wrapper, {t} with --backend torch ({r['message'] or r['reason']})")
    assert not diffs, "verdicts differ from --backend torch:\n" + "\n".join(diffs)


@pytest.mark.parametrize("case", _params())
def test_candidate(case: Case, runner):
    res = runner.get(run_key(case))
    assert res.results is not None, "no results JSON\n" + res.describe()
    results = res.results
    env = results["environment"]
    assert env[f"{case.loss}_fn"] == f"{CANDIDATES}:{case.name}"
    if "--level" not in case.args:
        assert env["level"] == "api", "user functions are judged at api level by default"
    assert res.returncode == results["exit_code"], res.describe()

    assert res.returncode == case.exit, (f"{case.name}: exit {res.returncode}, expected {case.exit}\n"
                                         + _summary(results))
    assert not results["problems"], results["problems"]
    if case.exit == 0:
        assert results["verdict"] == "conformant"
        assert not _bad(results), _summary(results)
        assert results["summary"]["PASS"] > 0
    else:
        assert results["verdict"] == "nonconformant"
        for e in case.expect:
            _check_expect(case, e, results)
        if case.only:
            clauses = {c for e in case.expect for c in e.clauses}
            stray = [r for r in _bad(results) if not _clauses(r) <= clauses | {None}]
            assert not stray, f"{case.name}: failures beyond the mistake's clauses {sorted(clauses)}\n" + _summary(
                {**results, "records": stray})

    if case.name == "poisson_correct":
        # the from-scratch candidate is right where torch is not (PNLL-GRAD-STIRLING-MASK): those pass
        grads = [r for r in results["records"]
                 if r["check"].startswith("poisson.gradients[") and "full=True" in r["check"]]
        assert grads and all(r["status"] == "PASS" for r in grads), _summary(results)
    if case.same_as_torch:
        ref = runner.get(torch_key(case))
        assert ref.results is not None, "no results JSON from the torch run\n" + ref.describe()
        _compare_with_torch(case, results, ref.results)
