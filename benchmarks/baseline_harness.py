"""The baseline: how a loss is tested today, without lossconform.

A small differential harness of the kind a library author writes: hypothesis draws random shapes,
values and arguments, the candidate and PyTorch's own function are called on copies of the same
operands, and `torch.testing.assert_close` (default per-dtype tolerances, dtype and shape checked,
NaN equal to NaN) compares the outputs and the gradients with respect to input, target and var
under a random upstream gradient. An exception must be matched by an exception of the same type.
It is meant to be fair and reasonably strong, not a straw man:

* dtypes float32, float64 and float16; shapes of 0 to 3 dimensions with sides 0 to 5 (so 0-d and
  empty operands), same-shape and mutually broadcastable operands;
* every argument of the signature: Poisson log_input, full, eps (omitted, 1e-8, 1e-3, 0, 0.5),
  reduction (none, mean, sum, and now and then an invalid one), the legacy size_average/reduce;
  Gaussian full, eps (omitted, 1e-6, 1e-3, 0), reduction, var of input's shape, of
  input.shape[:-1], with a size-1 dimension, or a Python float, and now and then a negative var;
  arguments passed by keyword or, now and then, positionally in PyTorch's order;
* values in the ranges that matter (log-rates in [-20, 20], rates in [0, 100] with tiny ones,
  integer and non-integer counts, var from 0 to 10 with values below eps) plus, in about a third of
  the examples, one element set to NaN, +inf or -inf.

Calibration. Out of the box (`--no-workarounds`, no `--half-tol`) the harness fails correct
from-scratch implementations: PyTorch's own NaN gradients (`_without_torch_quirks`) and float16
results two ulps away from PyTorch's (assert_close allows rtol 1e-3, atol 1e-5 for float16).
A user would adjust it until their correct implementation passes: by default the quirks' elements
are not compared, and `--half-tol RTOL,ATOL` loosens float16 only (benchmarks/bench_baseline.py
uses 2e-3,1e-3, the least step that lets poisson_correct pass).

What it does not do, as such harnesses don't: it has no notion of an accuracy allowance (it trusts
assert_close's tolerances and PyTorch's own values, NaN included), checks no warnings, no memory
layouts, no mutation of operands, no module form, no bfloat16, no large reductions.

    python benchmarks/baseline_harness.py --loss poisson --fn tests/mistakes/candidates.py:poisson_correct

prints one JSON line: {"killed": bool, "failure": str|null, "example": hypothesis's falsifying
example|null, "examples": int, "seconds": float, "wall_seconds": float}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = ("float32", "float64", "float16")
SPECIALS = (float("nan"), float("inf"), float("-inf"))


# --- drawing ---------------------------------------------------------------------------------
def _shapes(draw):
    """(input shape, target shape): the same shape, or two mutually broadcastable ones."""
    if draw(st.integers(0, 3)) == 0:
        pair = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4))
        return tuple(pair.input_shapes[0]), tuple(pair.input_shapes[1])
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    return tuple(shape), tuple(shape)


def _array(draw, shape, elements):
    a = draw(hnp.arrays(np.float64, shape, elements=elements))
    return np.array(a, dtype=np.float64)


def _maybe_special(draw, arrays):
    """In about a third of the examples, one element of one operand becomes NaN or +-inf."""
    arrays = [a for a in arrays if a.size]
    if arrays and draw(st.integers(0, 2)) == 0:
        a = arrays[draw(st.integers(0, len(arrays) - 1))]
        a.reshape(-1)[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from(SPECIALS))


def _counts():
    return st.one_of(st.integers(0, 20).map(float), st.floats(0.0, 50.0))


def draw_poisson(draw):
    import torch

    dtype = draw(st.sampled_from(DTYPES))
    sx, st_ = _shapes(draw)
    log_input, full = draw(st.booleans()), draw(st.booleans())
    x = _array(draw, sx, st.floats(-20.0, 20.0) if log_input else
               st.one_of(st.floats(0.0, 100.0), st.floats(0.0, 1e-6), st.sampled_from([0.0, 1e-8, 1.0])))
    t = _array(draw, st_, _counts())
    _maybe_special(draw, [x, t])
    kw = {"log_input": log_input, "full": full}
    eps = draw(st.sampled_from([None, 1e-8, 1e-3, 0.0, 0.5]))
    if eps is not None:
        kw["eps"] = eps
    kw["reduction"] = draw(st.sampled_from(["none", "mean", "sum", "none", "mean", "sum", "bogus"]))
    if draw(st.integers(0, 3)) == 0:  # the legacy arguments, now and then
        kw["size_average"] = draw(st.sampled_from([None, True, False]))
        kw["reduce"] = draw(st.sampled_from([None, True, False]))
    positional = draw(st.integers(0, 4)) == 0
    dt = getattr(torch, dtype)
    operands = {"input": torch.tensor(x, dtype=dt), "target": torch.tensor(t, dtype=dt)}
    order = (("log_input", True), ("full", False), ("size_average", None), ("eps", 1e-8), ("reduce", None),
             ("reduction", "mean"))
    return dtype, operands, kw, order if positional else None


def draw_gaussian(draw):
    import torch

    dtype = draw(st.sampled_from(DTYPES))
    sx, sy = _shapes(draw)
    x = _array(draw, sx, st.floats(-10.0, 10.0))
    y = _array(draw, sy, st.floats(-10.0, 10.0))
    kind = draw(st.sampled_from(["same", "same", "shorter", "size-1", "float"]))
    var_elems = st.one_of(st.floats(0.0, 10.0), st.floats(0.0, 1e-5), st.sampled_from([0.0, 1e-6, 1.0]))
    if kind == "float":
        var = draw(var_elems)
    else:
        vshape = sx
        if kind == "shorter" and len(sx) >= 1:
            vshape = sx[:-1]
        elif kind == "size-1" and len(sx) >= 1:
            i = draw(st.integers(0, len(sx) - 1))
            vshape = sx[:i] + (1,) + sx[i + 1:]
        var = _array(draw, vshape, var_elems)
    _maybe_special(draw, [x, y] + ([var] if isinstance(var, np.ndarray) else []))
    if draw(st.integers(0, 9)) == 0:  # a negative var, now and then
        if isinstance(var, np.ndarray) and var.size:
            var.reshape(-1)[0] = -draw(st.floats(1e-3, 5.0))
        elif not isinstance(var, np.ndarray):
            var = -draw(st.floats(1e-3, 5.0))
    kw = {"full": draw(st.booleans())}
    eps = draw(st.sampled_from([None, 1e-6, 1e-3, 0.0]))
    if eps is not None:
        kw["eps"] = eps
    kw["reduction"] = draw(st.sampled_from(["none", "mean", "sum", "none", "mean", "sum", "bogus"]))
    positional = draw(st.integers(0, 4)) == 0
    dt = getattr(torch, dtype)
    operands = {"input": torch.tensor(x, dtype=dt), "target": torch.tensor(y, dtype=dt),
                "var": torch.tensor(var, dtype=dt) if isinstance(var, np.ndarray) else float(var)}
    return dtype, operands, kw, (("full", False), ("eps", 1e-6), ("reduction", "mean")) if positional else None


# --- comparing ---------------------------------------------------------------------------------
class Outcome:
    def __init__(self):
        self.exc = None
        self.out = None
        self.grads = None


def _call(fn, operands, kw, order, upstream):
    """Call fn on fresh leaf copies of the operands, by keyword or (order: (name, default) pairs)
    positionally; then backward with `upstream(out)`."""
    import torch

    ops = {}
    for k, v in operands.items():
        ops[k] = v.detach().clone().requires_grad_(True) if isinstance(v, torch.Tensor) else v
    o = Outcome()
    args, kwargs = [], dict(kw)
    if order is not None:  # every argument by position, in PyTorch's order (omitted ones at their default)
        args = [kwargs.pop(k) if k in kwargs else default for k, default in order]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn(*ops.values(), *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            o.exc = exc
            return o
        o.out = out
        leaves = [v for v in ops.values() if isinstance(v, torch.Tensor)]
        try:
            if not out.requires_grad:
                o.grads = [None] * len(leaves)
            else:
                o.grads = list(torch.autograd.grad(out, leaves, upstream(out), allow_unused=True))
        except Exception as exc:  # noqa: BLE001
            o.exc = exc
    return o


def compare(candidate, reference, operands, kw, order, seed, workarounds=True, half_tol=None):
    """Raise AssertionError where the candidate and PyTorch differ."""
    import torch

    def upstream(out):
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)

    ref = _call(reference, operands, kw, order, upstream)
    got = _call(candidate, operands, kw, order, upstream)
    if ref.exc is not None or got.exc is not None:
        assert ref.exc is not None and got.exc is not None and type(ref.exc) is type(got.exc), (
            f"torch: {type(ref.exc).__name__ if ref.exc else 'no exception'}, "
            f"candidate: {type(got.exc).__name__ + ': ' + str(got.exc)[:80] if got.exc else 'no exception'}")
        return
    tol = {}
    if half_tol is not None and ref.out.dtype == torch.float16:
        tol = {"rtol": half_tol[0], "atol": half_tol[1]}
    torch.testing.assert_close(got.out, ref.out, equal_nan=True, msg=lambda m: "output: " + m, **tol)
    names = [k for k, v in operands.items() if isinstance(v, torch.Tensor)]
    for name, a, b in zip(names, got.grads, ref.grads):
        assert (a is None) == (b is None), f"grad {name}: candidate {'None' if a is None else 'a tensor'}, torch {'None' if b is None else 'a tensor'}"
        if a is None:
            continue
        if workarounds:
            a, b = _without_torch_quirks(name, a, b, operands, kw)
        torch.testing.assert_close(a, b, equal_nan=True, msg=lambda m, name=name: f"grad {name}: " + m, **tol)


def _without_torch_quirks(name, a, b, operands, kw):
    """What a user adds once a correct implementation fails the harness on PyTorch's own NaN
    gradients: those elements are not compared (the candidate's value is taken as torch's).

    * Poisson, full=True: torch's target gradient is NaN at t <= 0 (the masked Stirling term's
      backward multiplies 0 by log(t); expectations/torch.toml);
    * Gaussian with an empty input: torch's var gradient goes through log(v) of a var that
      broadcast to nothing, 0/0 = NaN at v = 0, where the sum over no element is 0."""
    import torch

    if "log_input" in kw and name == "target" and kw.get("full"):
        t = operands["target"]
        quirk = torch.isnan(b) & ~torch.isnan(a) & (t.detach() <= 0)
        return a, torch.where(quirk, a, b)
    if "log_input" not in kw and name == "var" and operands["input"].numel() == 0:
        return a, torch.where(torch.isnan(b) & ~torch.isnan(a), a, b)
    return a, b


def _describe(operands) -> str:
    import torch

    return ", ".join(f"{k}={v.tolist() if isinstance(v, torch.Tensor) else v!r}" for k, v in operands.items())


# --- running -----------------------------------------------------------------------------------
def run(loss: str, candidate, max_examples: int = 300, seed: int = 0, workarounds: bool = True,
        half_tol=None) -> dict:
    """Run the harness on one candidate: {"killed", "failure", "examples", "seconds"}."""
    import torch.nn.functional as F

    reference = F.poisson_nll_loss if loss == "poisson" else F.gaussian_nll_loss
    drawer = draw_poisson if loss == "poisson" else draw_gaussian
    count = [0]

    # deterministic (derandomize) and stateless (no database); the suppressed health checks are about
    # speed and data size, which a loss test with array strategies trips without being wrong
    @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None, print_blob=False,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(data=st.data(), case_seed=st.integers(0, 2**31 - 1))
    def check(data, case_seed):
        count[0] += 1
        dtype, operands, kw, order = drawer(data.draw)
        note(f"{dtype} {_describe(operands)} {kw}{' positional' if order else ''}")
        compare(candidate, reference, operands, kw, order, case_seed + seed, workarounds, half_tol)

    t0 = time.perf_counter()
    failure = None
    try:
        check()
    except Exception as exc:  # noqa: BLE001 - hypothesis re-raises the (shrunk) failure
        failure = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        example = " ".join(" ".join(getattr(exc, "__notes__", [])).split())
    return {"killed": failure is not None, "failure": failure, "example": example if failure else None,
            "examples": count[0], "seconds": round(time.perf_counter() - t0, 2)}


def load(spec: str):
    sys.path.insert(0, ROOT)
    from adapters.userfn import load_user_function

    return load_user_function(spec)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--loss", required=True, choices=("poisson", "gaussian"))
    p.add_argument("--fn", required=True, help="MOD:ATTR or path/to/file.py:ATTR")
    p.add_argument("--max-examples", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-workarounds", action="store_true",
                   help="compare PyTorch's own NaN gradients too (see _without_torch_quirks)")
    p.add_argument("--half-tol", default=None, help="RTOL,ATOL for float16 instead of assert_close's defaults")
    args = p.parse_args(argv)
    half_tol = tuple(float(v) for v in args.half_tol.split(",")) if args.half_tol else None
    t0 = time.perf_counter()
    res = run(args.loss, load(args.fn), args.max_examples, args.seed, not args.no_workarounds, half_tol)
    res["wall_seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
