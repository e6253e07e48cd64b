"""Probe the installed PyTorch for PoissonNLLLoss / GaussianNLLLoss behaviour.

Run with the project's virtualenv python:

    .venv/bin/python observations/observe_torch.py > observations/torch-<version>.txt

Every observation is one line:

    OBS-NNN | what is being checked | expression evaluated | where <operands> | -> outcome | warnings: ...

The expression column is the exact Python source that was evaluated (with
``torch``, ``F = torch.nn.functional``, ``nn = torch.nn``, ``math`` and the
named operands in scope).  Outcomes are printed as

* a float:    repr (float.hex)
* a tensor:   dtype shape [each element as repr (float.hex)], row-major;
              "all v" when more than 8 elements are all equal
* operands:   like tensors but repr only (repr of a float round-trips)
* an error:   raises <ExceptionType>: <repr of the exact message>

Warnings are recorded with ``warnings.simplefilter("always")`` (so each
emission is counted) unless a line says otherwise.  Lines starting with ``#``
are section headers and notes.  No random data is used; the output is
deterministic for a given torch build.
"""

import inspect
import math
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)

f16, bf16, f32, f64 = torch.float16, torch.bfloat16, torch.float32, torch.float64
i32, i64 = torch.int32, torch.int64

_counter = 0


# ---------------------------------------------------------------- formatting


def fmt_scalar(v):
    if isinstance(v, bool):
        return repr(v)
    if isinstance(v, float):
        return f"{v!r} ({float.hex(v)})"
    return repr(v)


def fmt_tensor(t, with_hex=True):
    """dtype, shape and the elements in row-major order."""
    t = t.detach()
    dtype = str(t.dtype).replace("torch.", "")
    shape = "(" + ",".join(str(s) for s in t.shape) + ("," if t.dim() == 1 else "") + ")"
    items = t.reshape(-1).tolist()
    one = fmt_scalar if with_hex else repr
    if len(items) > 8 and len(set(map(repr, items))) == 1:
        return f"{dtype} {shape} all {one(items[0])}"
    return f"{dtype} {shape} [{', '.join(one(v) for v in items)}]"


def fmt_operand(v):
    """Operands are shown with repr only (repr of a float round-trips exactly)."""
    if isinstance(v, torch.Tensor):
        return fmt_tensor(v, with_hex=False)
    return repr(v)


def fmt_module(m):
    names = ["log_input", "full", "eps", "reduction"]
    attrs = ", ".join(f"{n}={getattr(m, n)!r}" for n in names if hasattr(m, n))
    return f"{type(m).__name__} instance with {attrs}"


def fmt(v):
    if isinstance(v, torch.Tensor):
        return fmt_tensor(v)
    if isinstance(v, nn.Module):
        return fmt_module(v)
    if isinstance(v, torch.Size):
        return f"torch.Size({list(v)})"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x) for x in v) + "]"
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    return fmt_scalar(v)


def fmt_exc(e):
    return f"raises {type(e).__name__}: {str(e)!r}"


def fmt_warnings(caught):
    if not caught:
        return "warnings: none"
    items = "; ".join(f"{w.category.__name__}: {str(w.message)!r}" for w in caught)
    return f"warnings({len(caught)}): {items}"


def next_id():
    global _counter
    _counter += 1
    return f"OBS-{_counter:03d}"


def section(title):
    print()
    print(f"# {title}")


def note(text):
    print(f"#   {text}")


def namespace(env):
    ns = {"torch": torch, "F": F, "nn": nn, "math": math}
    ns.update(env)
    return ns


def where(env):
    if not env:
        return ""
    return " | where " + ", ".join(f"{k}={fmt_operand(v)}" for k, v in env.items())


# ---------------------------------------------------------------- observers


def obs(what, src, **env):
    """Evaluate the expression `src` and print its value, error and warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = "-> " + fmt(eval(src, namespace(env)))
        except Exception as e:  # noqa: BLE001 - the exception is the observation
            outcome = "-> " + fmt_exc(e)
    print(f"{next_id()} | {what} | {src}{where(env)} | {outcome} | {fmt_warnings(caught)}")


def obs_grad(what, src, wrt, **env):
    """Evaluate scalar `src` with autograd on the operands named in `wrt`; print value and gradients."""
    env = {k: (v.detach().clone().requires_grad_(True) if k in wrt else v) for k, v in env.items()}
    shown = where({k: v.detach() for k, v in env.items()})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = eval(src, namespace(env))
            out.backward()
            parts = [f"value={fmt(out)}"]
            for k in wrt:
                g = env[k].grad
                parts.append(f"d/d{k}={fmt(g) if g is not None else 'None'}")
            outcome = "-> " + "; ".join(parts)
        except Exception as e:  # noqa: BLE001
            outcome = "-> " + fmt_exc(e)
    print(f"{next_id()} | {what} | {src}.backward(){shown} | {outcome} | {fmt_warnings(caught)}")


def obs_module_legacy(what, ctor_src, call_src, **env):
    """Construct a module and call it, reporting the warnings of each step separately."""
    ns = namespace(env)
    with warnings.catch_warnings(record=True) as at_init:
        warnings.simplefilter("always")
        try:
            m = eval(ctor_src, ns)
            init = fmt(m)
        except Exception as e:  # noqa: BLE001
            m, init = None, fmt_exc(e)
    fwd = "not called"
    with warnings.catch_warnings(record=True) as at_fwd:
        warnings.simplefilter("always")
        if m is not None:
            ns["m"] = m
            try:
                fwd = fmt(eval(call_src, ns))
            except Exception as e:  # noqa: BLE001
                fwd = fmt_exc(e)
    print(
        f"{next_id()} | {what} | m = {ctor_src}; {call_src}{where(env)} | "
        f"-> construct: {init}; {fmt_warnings(at_init)} | forward: {fwd}; {fmt_warnings(at_fwd)}"
    )


def T(values, dtype=f64):
    return torch.tensor(values, dtype=dtype)


# ---------------------------------------------------------------- header

print(f"torch.__version__ = {torch.__version__!r}")
print(f"python = {sys.version!r}")
print("# torch.set_num_threads(1); all operands below are built with torch.tensor(..., dtype=...) unless shown inline")

# ================================================================ 1. Poisson values
section("1. Poisson NLL values (float64 unless stated)")
x05, t2 = T([0.5]), T([2.0])
obs("log_input=True default", "F.poisson_nll_loss(x, t, reduction='none')", x=x05, t=t2)
obs("log_input=True equals exp(x) - t*x exactly",
    "torch.equal(F.poisson_nll_loss(x, t, reduction='none'), torch.exp(x) - t * x)", x=T([0.5, -1.0, 3.0]), t=T([2.0, 0.0, 7.0]))
obs("log_input=True: eps has no effect (eps in 0, 1e-8, 0.5, 100, -1)",
    "[F.poisson_nll_loss(x, t, eps=e, reduction='none').item() for e in (0.0, 1e-8, 0.5, 100.0, -1.0)]", x=x05, t=t2)
obs("log_input=False default eps=1e-8", "F.poisson_nll_loss(x, t, log_input=False, reduction='none')", x=x05, t=t2)
obs("log_input=False equals x - t*log(x + eps) exactly",
    "torch.equal(F.poisson_nll_loss(x, t, log_input=False, eps=1e-8, reduction='none'), x - t * torch.log(x + 1e-8))",
    x=T([0.5, 1e-9, 3.0]), t=T([2.0, 0.0, 7.0]))
obs("log_input=False, x=0: log(0 + eps)", "F.poisson_nll_loss(x, t, log_input=False, reduction='none')", x=T([0.0]), t=t2)
obs("log_input=False, x=0, eps=0 -> log(0)", "F.poisson_nll_loss(x, t, log_input=False, eps=0.0, reduction='none')", x=T([0.0]), t=t2)
obs("log_input=False, x=0, t=0, eps=0 (0*log(0))", "F.poisson_nll_loss(x, t, log_input=False, eps=0.0, reduction='none')", x=T([0.0]), t=T([0.0]))
obs("log_input=False, x=1e-9: eps added (value)", "F.poisson_nll_loss(x, t, log_input=False, reduction='none')", x=T([1e-9]), t=t2)
obs("  candidate: x - t*log(x + eps)", "x - t * torch.log(x + 1e-8)", x=T([1e-9]), t=t2)
obs("  candidate: x - t*log(max(x, eps)) (clamp)", "x - t * torch.log(torch.clamp(x, min=1e-8))", x=T([1e-9]), t=t2)
obs("log_input=False, negative x -> NaN, no error", "F.poisson_nll_loss(x, t, log_input=False, reduction='none')", x=T([-1.0]), t=t2)
obs("log_input=False, x = -eps -> log(0)", "F.poisson_nll_loss(x, t, log_input=False, reduction='none')", x=T([-1e-8]), t=t2)

tfull64 = T([0.0, 0.5, 1.0, math.nextafter(1.0, 2.0), 2.0, -3.0])
tfull32 = torch.tensor([0.0, 0.5, 1.0, 2.0, -3.0], dtype=f32)
tfull32 = torch.cat([tfull32[:3], torch.nextafter(T([1.0], f32), T([2.0], f32)), tfull32[3:]])
for dt, tt in ((f64, tfull64), (f32, tfull32)):
    xx = torch.full_like(tt, 0.5)
    obs(f"full=True, log_input=True, {dt}", "F.poisson_nll_loss(x, t, full=True, reduction='none')", x=xx, t=tt)
    obs(f"full=True minus full=False = term added, {dt}",
        "F.poisson_nll_loss(x, t, full=True, reduction='none') - F.poisson_nll_loss(x, t, reduction='none')", x=xx, t=tt)
obs("Stirling term t*log(t) - t + 0.5*log(2*pi*t) at t = nextafter(1,2), 2 (float64)",
    "t * torch.log(t) - t + 0.5 * torch.log(2 * math.pi * t)", t=T([math.nextafter(1.0, 2.0), 2.0]))
obs("full=True, log_input=False adds same term",
    "F.poisson_nll_loss(x, t, log_input=False, full=True, reduction='none') - F.poisson_nll_loss(x, t, log_input=False, reduction='none')",
    x=torch.full_like(tfull64, 0.5), t=tfull64)
obs("issue #28575 case, float64", "F.poisson_nll_loss(x, t, log_input=False, eps=0.0, full=True, reduction='none')", x=T([3.0]), t=T([5.0]))
obs("issue #28575 case, float32", "F.poisson_nll_loss(x, t, log_input=False, eps=0.0, full=True, reduction='none')", x=T([3.0], f32), t=T([5.0], f32))

tspecial = T([math.nan, math.inf, -math.inf])
xspecial = T([0.5, 0.5, 0.5])
for li in (True, False):
    for full in (False, True):
        obs(f"NaN/+inf/-inf targets, log_input={li}, full={full}",
            f"F.poisson_nll_loss(x, t, log_input={li}, full={full}, reduction='none')", x=xspecial, t=tspecial)
obs("inf target with x=0 and x=-1 (0*inf, -inf*-1)", "F.poisson_nll_loss(x, t, reduction='none')", x=T([0.0, -1.0]), t=T([math.inf, math.inf]))

obs("module == functional (log_input=False, full=True, eps=0)",
    "torch.equal(nn.PoissonNLLLoss(log_input=False, full=True, eps=0.0, reduction='none')(x, t), "
    "F.poisson_nll_loss(x, t, log_input=False, full=True, eps=0.0, reduction='none'))", x=T([3.0, 0.5]), t=T([5.0, 2.0]))
obs("module forward's first parameter is named log_input, not input",
    "nn.PoissonNLLLoss()(input=x, target=t)", x=x05, t=t2)
obs("module forward by keyword log_input=", "nn.PoissonNLLLoss(reduction='none')(log_input=x, target=t)", x=x05, t=t2)
obs("log_input given as int 0", "F.poisson_nll_loss(x, t, log_input=0, reduction='none')", x=x05, t=t2)
obs("full given as int 1", "F.poisson_nll_loss(x, t, full=1, reduction='none')", x=x05, t=T([2.0]))
obs("log_input given as None", "F.poisson_nll_loss(x, t, log_input=None, reduction='none')", x=x05, t=t2)
obs("eps given as int 0", "F.poisson_nll_loss(x, t, log_input=False, eps=0, reduction='none')", x=x05, t=t2)
obs("input (3,) target (2,3): broadcast silently", "F.poisson_nll_loss(x, t, reduction='none')", x=T([0.0, 1.0, 2.0]), t=T([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
obs("input (2,1) target (1,3): broadcast to (2,3)", "F.poisson_nll_loss(x, t, reduction='none').shape", x=T([[0.0], [1.0]]), t=T([[1.0, 2.0, 3.0]]))
obs("input (2,1) target (1,3), full=True (in-place add in composite)", "F.poisson_nll_loss(x, t, full=True, reduction='none').shape", x=T([[0.0], [1.0]]), t=T([[1.0, 2.0, 3.0]]))
obs("input (2,3) target (4,3): not broadcastable", "F.poisson_nll_loss(x, t)", x=torch.zeros(2, 3, dtype=f64), t=torch.zeros(4, 3, dtype=f64))
obs("input (2,3) target (3,), mean divides by broadcast numel", "F.poisson_nll_loss(x, t, reduction='mean') * 6 - F.poisson_nll_loss(x, t, reduction='sum')",
    x=T([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]), t=T([1.0, 2.0, 3.0]))

# ================================================================ 2. Reductions
section("2. Reductions")
x22 = T([[0.5, 1.0], [-0.5, 2.0]])
t22 = T([[1.0, 0.0], [2.0, 3.0]])
for r in ("none", "mean", "sum"):
    obs(f"Poisson reduction={r!r}", f"F.poisson_nll_loss(x, t, reduction={r!r})", x=x22, t=t22)
obs("Poisson mean == sum/numel", "F.poisson_nll_loss(x, t) == F.poisson_nll_loss(x, t, reduction='sum') / 4", x=x22, t=t22)
empty = torch.zeros(0, dtype=f64)
for r in ("mean", "sum", "none"):
    obs(f"Poisson empty input, reduction={r!r}", f"F.poisson_nll_loss(x, t, reduction={r!r})", x=empty, t=empty)
for r in ("mean", "sum", "none"):
    obs(f"Gaussian empty input, tensor var, reduction={r!r}", f"F.gaussian_nll_loss(x, y, v, reduction={r!r})", x=empty, y=empty, v=empty)
obs("Gaussian empty input, float var, mean", "F.gaussian_nll_loss(x, y, 1.0)", x=empty, y=empty)
for bad in ("bogus", "elementwise_mean", "MEAN", ""):
    obs(f"Poisson functional invalid reduction {bad!r}", f"F.poisson_nll_loss(x, t, reduction={bad!r})", x=x22, t=t22)
obs("Poisson functional reduction=None", "F.poisson_nll_loss(x, t, reduction=None)", x=x22, t=t22)
obs("Poisson module invalid reduction: construction", "nn.PoissonNLLLoss(reduction='bogus')")
obs("Poisson module invalid reduction: forward", "nn.PoissonNLLLoss(reduction='bogus')(x, t)", x=x22, t=t22)
obs("Poisson module 'elementwise_mean': forward", "nn.PoissonNLLLoss(reduction='elementwise_mean')(x, t)", x=x22, t=t22)
obs("aten op directly, reduction enum 0/1/2",
    "[torch.poisson_nll_loss(x, t, True, False, 1e-8, r) for r in (0, 1, 2)]", x=x22, t=t22)
obs("aten op directly, reduction enum 5 (out of range)", "torch.poisson_nll_loss(x, t, True, False, 1e-8, 5)", x=x22, t=t22)
obs("aten op directly, reduction enum -1", "torch.poisson_nll_loss(x, t, True, False, 1e-8, -1)", x=x22, t=t22)
for bad in ("bogus", "elementwise_mean"):
    obs(f"Gaussian functional invalid reduction {bad!r}", f"F.gaussian_nll_loss(x, y, v, reduction={bad!r})", x=x22, y=t22, v=torch.ones(2, 2, dtype=f64))
obs("Gaussian functional reduction=None", "F.gaussian_nll_loss(x, y, v, reduction=None)", x=x22, y=t22, v=torch.ones(2, 2, dtype=f64))
obs("Gaussian module invalid reduction: construction", "nn.GaussianNLLLoss(reduction='bogus')")
obs("Gaussian module invalid reduction: forward", "nn.GaussianNLLLoss(reduction='bogus')(x, y, v)", x=x22, y=t22, v=torch.ones(2, 2, dtype=f64))

# ================================================================ 3. Legacy args
section("3. Legacy size_average / reduce (Poisson), warnings recorded with simplefilter('always')")
legacy_values = (None, True, False, 0)
for reduction in ("sum", "bogus"):
    for sa in legacy_values:
        for rd in legacy_values:
            obs(f"functional size_average={sa!r}, reduce={rd!r}, reduction={reduction!r}",
                f"F.poisson_nll_loss(x, t, size_average={sa!r}, reduce={rd!r}, reduction={reduction!r})", x=x22, t=t22)
for reduction in ("sum", "bogus"):
    for sa in legacy_values:
        for rd in legacy_values:
            obs_module_legacy(f"module size_average={sa!r}, reduce={rd!r}, reduction={reduction!r}",
                              f"nn.PoissonNLLLoss(size_average={sa!r}, reduce={rd!r}, reduction={reduction!r})",
                              "m(x, t)", x=x22, t=t22)
obs_module_legacy("module positional PoissonNLLLoss(True, False, 1e-3): third positional is size_average",
                  "nn.PoissonNLLLoss(True, False, 1e-3)", "m(x, t)", x=x22, t=t22)
obs_module_legacy("module positional PoissonNLLLoss(False, False, None, 0.5): fourth positional is eps",
                  "nn.PoissonNLLLoss(False, False, None, 0.5, reduction='none')", "m(x, t)", x=T([0.0]), t=T([2.0]))
obs("functional positional F.poisson_nll_loss(x, t, False, False, 0.5): fifth positional is size_average",
    "F.poisson_nll_loss(x, t, False, False, 0.5)", x=T([0.0]), t=T([2.0]))
obs("functional positional F.poisson_nll_loss(x, t, False, False, None, 0.5, None, 'none'): sixth positional is eps",
    "F.poisson_nll_loss(x, t, False, False, None, 0.5, None, 'none')", x=T([0.0]), t=T([2.0]))
obs("functional legacy size_average=1e-3 (truthy float)", "F.poisson_nll_loss(x, t, size_average=1e-3)", x=x22, t=t22)
obs("functional legacy size_average='' (falsy string)", "F.poisson_nll_loss(x, t, size_average='')", x=x22, t=t22)

# Warning frequency under Python's *default* filter action (not 'always').
for label, src in (
    ("functional, two calls", "[F.poisson_nll_loss(x, t, reduce=False) for _ in range(2)]"),
    ("module, two constructions", "[nn.PoissonNLLLoss(reduce=False) for _ in range(2)]"),
):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        eval(src, namespace({"x": x22, "t": t22}))
    print(f"{next_id()} | legacy warning under simplefilter('default'): {label} | {src} | "
          f"-> {len(caught)} warning(s) recorded; filename={[w.filename.split('site-packages/')[-1] for w in caught]!r} | "
          f"{fmt_warnings(caught)}")

section("3b. Signatures")
for name, fn in (
    ("F.poisson_nll_loss", F.poisson_nll_loss),
    ("F.gaussian_nll_loss", F.gaussian_nll_loss),
    ("nn.PoissonNLLLoss.__init__", nn.PoissonNLLLoss.__init__),
    ("nn.PoissonNLLLoss.forward", nn.PoissonNLLLoss.forward),
    ("nn.GaussianNLLLoss.__init__", nn.GaussianNLLLoss.__init__),
    ("nn.GaussianNLLLoss.forward", nn.GaussianNLLLoss.forward),
):
    print(f"{next_id()} | signature | inspect.signature({name}) | -> {inspect.signature(fn)} | warnings: none")
print(f"{next_id()} | ATen schema | torch._C._jit_get_schemas_for_operator('aten::poisson_nll_loss') | "
      f"-> {[str(s) for s in torch._C._jit_get_schemas_for_operator('aten::poisson_nll_loss')]} | warnings: none")

# ================================================================ 4. Gaussian
section("4. Gaussian NLL values, var handling, shapes, check order (float64 unless stated)")
gx, gy = T([1.0, 2.0]), T([0.0, 5.0])
obs("value", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=gx, y=gy, v=T([0.5, 2.0]))
obs("equals 0.5*(log(v) + (x-y)**2/v)",
    "torch.equal(F.gaussian_nll_loss(x, y, v, reduction='none'), 0.5 * (torch.log(v) + (x - y) ** 2 / v))", x=gx, y=gy, v=T([0.5, 2.0]))
obs("full=True minus full=False (0.5*log(2*pi) =)",
    "F.gaussian_nll_loss(x, y, v, full=True, reduction='none') - F.gaussian_nll_loss(x, y, v, reduction='none')", x=gx, y=gy, v=T([0.5, 2.0]))
obs("0.5*log(2*pi) for reference", "0.5 * math.log(2 * math.pi)")
obs("var=1e-8 clamped to default eps 1e-6", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=T([0.0]), y=T([1e-3]), v=T([1e-8]))
obs("  same as var=1e-6", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=T([0.0]), y=T([1e-3]), v=T([1e-6]))
obs("  eps=1e-9 lets var=1e-8 through", "F.gaussian_nll_loss(x, y, v, eps=1e-9, reduction='none')", x=T([0.0]), y=T([1e-3]), v=T([1e-8]))
obs("var=0, eps=0, x==y -> log(0) + 0/0", "F.gaussian_nll_loss(x, y, v, eps=0.0, reduction='none')", x=T([1.0]), y=T([1.0]), v=T([0.0]))
obs("var=0, eps=0, x!=y", "F.gaussian_nll_loss(x, y, v, eps=0.0, reduction='none')", x=T([1.0]), y=T([2.0]), v=T([0.0]))
obs("var as python float (broadcast to input shape)", "F.gaussian_nll_loss(x, y, 2.0, reduction='none')", x=torch.zeros(2, 3, dtype=f64), y=torch.ones(2, 3, dtype=f64))
obs("var as python int", "F.gaussian_nll_loss(x, y, 2, reduction='none')", x=gx, y=gy)
obs("var as python bool", "F.gaussian_nll_loss(x, y, True, reduction='none')", x=gx, y=gy)
obs("var as negative python float", "F.gaussian_nll_loss(x, y, -1.0)", x=gx, y=gy)
obs("var as python float -0.0", "F.gaussian_nll_loss(x, y, -0.0, reduction='none')", x=gx, y=gy)
obs("var as python float nan", "F.gaussian_nll_loss(x, y, float('nan'), reduction='none')", x=gx, y=gy)
obs("var tensor with a negative entry", "F.gaussian_nll_loss(x, y, v)", x=gx, y=gy, v=T([1.0, -1e-300]))
obs("var tensor -0.0", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=gx, y=gy, v=T([-0.0, 1.0]))
obs("var tensor NaN", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=gx, y=gy, v=T([math.nan, 1.0]))
obs("var tensor +inf", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=gx, y=gy, v=T([math.inf, 1.0]))
obs("var 0-d tensor with 2-D input", "F.gaussian_nll_loss(x, y, torch.tensor(2.0, dtype=torch.float64))", x=torch.zeros(2, 3, dtype=f64), y=torch.ones(2, 3, dtype=f64))

obs("input (3,3), var (3,): per row (var[i] applies to row i)",
    "F.gaussian_nll_loss(x, y, v, reduction='none')", x=torch.zeros(3, 3, dtype=f64), y=torch.ones(3, 3, dtype=f64), v=T([1.0, 2.0, 4.0]))
obs("  compare: var.unsqueeze(-1) (per row)", "F.gaussian_nll_loss(x, y, v.unsqueeze(-1).expand(3, 3), reduction='none')",
    x=torch.zeros(3, 3, dtype=f64), y=torch.ones(3, 3, dtype=f64), v=T([1.0, 2.0, 4.0]))
obs("  compare: var.unsqueeze(0) (per column)", "F.gaussian_nll_loss(x, y, v.unsqueeze(0).expand(3, 3), reduction='none')",
    x=torch.zeros(3, 3, dtype=f64), y=torch.ones(3, 3, dtype=f64), v=T([1.0, 2.0, 4.0]))

for vshape in ((2, 3, 4), (2, 3), (2, 3, 1), (2, 1, 4), (1, 3, 4), (2, 1, 1), (1, 1, 4), (4,), (3, 4), (1,), (),
               (2, 3, 4, 1), (2, 3, 5), (1, 3, 1), (2, 1, 0), (2, 3, 0)):
    obs(f"input (2,3,4), var shape {vshape}", f"F.gaussian_nll_loss(x, y, torch.ones({vshape}, dtype=torch.float64), reduction='none').shape",
        x=torch.zeros(2, 3, 4, dtype=f64), y=torch.zeros(2, 3, 4, dtype=f64))
for xshape, vshape in (((2, 1, 4), (2, 3, 4)), ((2, 1, 4), (1, 1, 4)), ((3,), ()), ((3,), (1,)), ((), ()), ((), (1,)),
                       ((2, 3, 1), (2, 3)), ((2, 0, 4), (2, 1, 4))):
    obs(f"input {xshape}, var shape {vshape}",
        f"F.gaussian_nll_loss(torch.zeros({xshape}, dtype=torch.float64), torch.zeros({xshape}, dtype=torch.float64), "
        f"torch.ones({vshape}, dtype=torch.float64), reduction='none').shape")

for yshape in ((2, 3), (2, 1), (3,), (1, 3), (1,), (), (4, 3), (2, 2, 3)):
    obs(f"input (2,3), var (2,3), target shape {yshape}",
        f"F.gaussian_nll_loss(x, torch.zeros({yshape}, dtype=torch.float64), v, reduction='none').shape",
        x=torch.ones(2, 3, dtype=f64), v=torch.ones(2, 3, dtype=f64))
obs("input (1,3) smaller than target (2,3), var (1,3)", "F.gaussian_nll_loss(x, y, v, reduction='none')",
    x=T([[1.0, 2.0, 3.0]]), y=torch.zeros(2, 3, dtype=f64), v=torch.ones(1, 3, dtype=f64))
obs("input (1,3), target (2,3), float var", "F.gaussian_nll_loss(x, y, 1.0, reduction='none').shape", x=T([[1.0, 2.0, 3.0]]), y=torch.zeros(2, 3, dtype=f64))
obs("input (1,3), target (2,3), var (2,3) (var sized like target)", "F.gaussian_nll_loss(x, y, v)",
    x=T([[1.0, 2.0, 3.0]]), y=torch.zeros(2, 3, dtype=f64), v=torch.ones(2, 3, dtype=f64))
obs("input (1,3), target (2,3), mean divides by 6", "F.gaussian_nll_loss(x, y, v) * 6 - F.gaussian_nll_loss(x, y, v, reduction='sum')",
    x=T([[1.0, 2.0, 3.0]]), y=torch.zeros(2, 3, dtype=f64), v=torch.ones(1, 3, dtype=f64))

obs("check order: negative var + wrong var size + bad reduction", "F.gaussian_nll_loss(x, y, v, reduction='bogus')",
    x=torch.zeros(2, 3, dtype=f64), y=torch.zeros(2, 3, dtype=f64), v=T([-1.0, 1.0, 1.0, 1.0, 1.0]))
obs("check order: wrong var size + bad reduction", "F.gaussian_nll_loss(x, y, v, reduction='bogus')",
    x=torch.zeros(2, 3, dtype=f64), y=torch.zeros(2, 3, dtype=f64), v=torch.ones(5, dtype=f64))
obs("check order: negative float var + bad reduction", "F.gaussian_nll_loss(x, y, -1.0, reduction='bogus')",
    x=torch.zeros(2, 3, dtype=f64), y=torch.zeros(2, 3, dtype=f64))
obs("check order: bad reduction alone", "F.gaussian_nll_loss(x, y, v, reduction='bogus')",
    x=torch.zeros(2, 3, dtype=f64), y=torch.zeros(2, 3, dtype=f64), v=torch.ones(2, 3, dtype=f64))
obs("check order: good var, non-broadcastable target (4,3) + bad reduction", "F.gaussian_nll_loss(x, y, v, reduction='bogus')",
    x=torch.zeros(2, 3, dtype=f64), y=torch.zeros(4, 3, dtype=f64), v=torch.ones(2, 3, dtype=f64))

obs("GaussianNLLLoss positional arg", "nn.GaussianNLLLoss(True)")
obs("GaussianNLLLoss keywords", "nn.GaussianNLLLoss(full=True, eps=1e-3, reduction='sum')")
obs("GaussianNLLLoss(size_average=True)", "nn.GaussianNLLLoss(size_average=True)")
obs("GaussianNLLLoss(reduce=False)", "nn.GaussianNLLLoss(reduce=False)")
obs("F.gaussian_nll_loss(size_average=True)", "F.gaussian_nll_loss(x, y, 1.0, size_average=True)", x=gx, y=gy)
obs("F.gaussian_nll_loss fully positional (full, eps, reduction)", "F.gaussian_nll_loss(x, y, v, True, 1e-6, 'none')", x=gx, y=gy, v=T([0.5, 2.0]))
obs("module == functional (full=True, eps=1e-3)",
    "torch.equal(nn.GaussianNLLLoss(full=True, eps=1e-3, reduction='none')(x, y, v), F.gaussian_nll_loss(x, y, v, full=True, eps=1e-3, reduction='none'))",
    x=gx, y=gy, v=T([1e-4, 2.0]))
obs("Gaussian negative eps (clamp min<0) with var=0", "F.gaussian_nll_loss(x, y, v, eps=-1.0, reduction='none')", x=T([1.0]), y=T([2.0]), v=T([0.0]))

# ================================================================ 5. Gradients
section("5. Gradients (float64; losses reduced with reduction='sum')")
tg = T([0.0, 0.5, 1.0, math.nextafter(1.0, 2.0), 2.0, -1.0])
xg = torch.full_like(tg, 0.5)
for li in (True, False):
    for full in (False, True):
        obs_grad(f"Poisson log_input={li}, full={full}, t in (0, 0.5, 1, 1+ulp, 2, -1)",
                 f"F.poisson_nll_loss(x, t, log_input={li}, full={full}, reduction='sum')", ("x", "t"), x=xg, t=tg)
obs("  expected d/dt of Stirling term for t>1: log(t) + 1/(2t)", "torch.log(t) + 0.5 / t", t=T([math.nextafter(1.0, 2.0), 2.0]))
obs_grad("Poisson log_input=False, x=0, eps=0", "F.poisson_nll_loss(x, t, log_input=False, eps=0.0, reduction='sum')", ("x", "t"),
         x=T([0.0, 0.0]), t=T([0.0, 2.0]))
obs_grad("Poisson log_input=True, NaN and inf targets", "F.poisson_nll_loss(x, t, reduction='sum')", ("x", "t"),
         x=T([0.5, 0.5]), t=T([math.nan, math.inf]))

obs_grad("Gaussian heteroscedastic", "F.gaussian_nll_loss(x, y, v, reduction='sum')", ("x", "y", "v"),
         x=T([1.0, 2.0]), y=T([0.0, 5.0]), v=T([0.5, 2.0]))
obs("  expected d/dx=(x-y)/v, d/dv=0.5*(1/v-(x-y)**2/v**2)", "[(x - y) / v, 0.5 * (1 / v - (x - y) ** 2 / v ** 2)]",
    x=T([1.0, 2.0]), y=T([0.0, 5.0]), v=T([0.5, 2.0]))
obs_grad("Gaussian var below eps (1e-8, 0, -0.0): gradient at clamped value, x==y", "F.gaussian_nll_loss(x, y, v, reduction='sum')", ("x", "y", "v"),
         x=T([1.0, 1.0, 1.0]), y=T([1.0, 1.0, 1.0]), v=T([1e-8, 0.0, -0.0]))
obs_grad("Gaussian var below eps, x-y=1e-3 (gradient 0.5*(1/eps - 1e-6/eps**2) = 0)", "F.gaussian_nll_loss(x, y, v, reduction='sum')", ("x", "y", "v"),
         x=T([1e-3]), y=T([0.0]), v=T([1e-8]))
obs_grad("Gaussian var below eps, x-y=1", "F.gaussian_nll_loss(x, y, v, reduction='sum')", ("v",),
         x=T([1.0]), y=T([0.0]), v=T([1e-8]))
hx = torch.arange(12, dtype=f64).reshape(3, 4) / 4
hy = torch.zeros(3, 4, dtype=f64)
hv = T([[0.5], [1.0], [2.0]])
obs_grad("Gaussian homoscedastic var (3,1), input (3,4)", "F.gaussian_nll_loss(x, y, v, reduction='sum')", ("v",), x=hx, y=hy, v=hv)
obs("  expected: elementwise d/dv summed over the broadcast dim 1",
    "(0.5 * (1 / v - (x - y) ** 2 / v ** 2)).sum(dim=1)", x=hx, y=hy, v=hv)
obs_grad("Gaussian var (3,) with input (3,4) (unsqueezed)", "F.gaussian_nll_loss(x, y, v, reduction='sum')", ("v",), x=hx, y=hy, v=hv.reshape(3))
obs_grad("Gaussian mean reduction (grad divided by numel=12)", "F.gaussian_nll_loss(x, y, v)", ("v",), x=hx, y=hy, v=hv)

# ================================================================ 6. Dtypes
section("6. Dtypes")
dtypes = (f16, bf16, f32, f64, i64, i32)
for dx in dtypes:
    row = []
    for dt in dtypes:
        xa = torch.tensor([1.0, 2.0]).to(dx)
        ta = torch.tensor([0.0, 3.0]).to(dt)
        try:
            row.append(f"{fmt(dt)}->{fmt(F.poisson_nll_loss(xa, ta, reduction='none').dtype)}")
        except Exception as e:  # noqa: BLE001
            row.append(f"{fmt(dt)}->{fmt_exc(e)}")
    print(f"{next_id()} | Poisson output dtype, input {fmt(dx)}, for each target dtype | "
          f"F.poisson_nll_loss(x.to(input_dtype), t.to(target_dtype), reduction='none').dtype | where x=[1.0, 2.0], t=[0.0, 3.0] | "
          f"-> {', '.join(row)} | warnings: none")
for li, full in ((False, False), (True, True), (False, True)):
    obs(f"Poisson int64 input, int64 target, log_input={li}, full={full}",
        f"F.poisson_nll_loss(x, t, log_input={li}, full={full}, reduction='none')", x=T([1, 2], i64), t=T([0, 3], i64))
obs("Poisson int32 input, int32 target, log_input=False", "F.poisson_nll_loss(x, t, log_input=False, reduction='none')", x=T([1, 2], i32), t=T([0, 3], i32))
obs("Poisson float16 on CPU", "F.poisson_nll_loss(x, t, reduction='none')", x=T([0.5, 2.0], f16), t=T([2.0, 3.0], f16))
obs("Poisson float16 on CPU, full=True, log_input=False", "F.poisson_nll_loss(x, t, log_input=False, full=True, reduction='none')",
    x=T([0.5, 2.0], f16), t=T([2.0, 3.0], f16))
obs("Poisson bfloat16 on CPU", "F.poisson_nll_loss(x, t, reduction='none')", x=T([0.5, 2.0], bf16), t=T([2.0, 3.0], bf16))
obs("Poisson bfloat16 mean", "F.poisson_nll_loss(x, t)", x=T([0.5, 2.0], bf16), t=T([2.0, 3.0], bf16))
obs("Poisson float16 input, int64 target, full=True", "F.poisson_nll_loss(x, t, full=True, reduction='none')", x=T([0.5, 2.0], f16), t=T([2, 3], i64))
obs("Poisson f32 (2,) input, 0-d f64 target: no promotion", "F.poisson_nll_loss(x, t, reduction='none')", x=T([0.5, 2.0], f32), t=torch.tensor(3.0, dtype=f64))
obs("Poisson 0-d f64 input, f32 (2,) target: no promotion", "F.poisson_nll_loss(x, t, reduction='none')", x=torch.tensor(0.5, dtype=f64), t=T([2.0, 3.0], f32))
obs("Poisson 0-d f64 input, 0-d f32 target", "F.poisson_nll_loss(x, t, reduction='none')", x=torch.tensor(0.5, dtype=f64), t=torch.tensor(3.0, dtype=f32))
obs("Poisson f16 (2,) input, 0-d f64 target, full=True", "F.poisson_nll_loss(x, t, full=True, reduction='none')", x=T([0.5, 2.0], f16), t=torch.tensor(3.0, dtype=f64))
obs("Poisson f32 (2,) input, 1-element (1,) f64 target: promotes", "F.poisson_nll_loss(x, t, reduction='none').dtype", x=T([0.5, 2.0], f32), t=T([3.0], f64))
obs("Poisson bool input and target", "F.poisson_nll_loss(x, t, reduction='none')", x=T([True, False], torch.bool), t=T([True, True], torch.bool))

gcases = (
    ("f32,f32,f64 var", T([1.0, 2.0], f32), T([0.0, 5.0], f32), T([0.5, 2.0], f64)),
    ("f32,f64,f32 var", T([1.0, 2.0], f32), T([0.0, 5.0], f64), T([0.5, 2.0], f32)),
    ("f16,f16,float var", T([1.0, 2.0], f16), T([0.0, 5.0], f16), 2.0),
    ("f16,f16,f16 var", T([1.0, 2.0], f16), T([0.0, 5.0], f16), T([0.5, 2.0], f16)),
    ("bf16,bf16,bf16 var", T([1.0, 2.0], bf16), T([0.0, 5.0], bf16), T([0.5, 2.0], bf16)),
    ("f16,f16,f32 var", T([1.0, 2.0], f16), T([0.0, 5.0], f16), T([0.5, 2.0], f32)),
    ("i64,i64,float var", T([1, 2], i64), T([0, 5], i64), 2.0),
    ("i64,i64,f32 var", T([1, 2], i64), T([0, 5], i64), T([0.5, 2.0], f32)),
    ("i64,i64,i64 var", T([1, 2], i64), T([0, 5], i64), T([1, 2], i64)),
    ("f32,f32,i64 var", T([1.0, 2.0], f32), T([0.0, 5.0], f32), T([1, 2], i64)),
    ("f32 (2,),f32,0-d f64 var (unsqueezed to (1,))", T([1.0, 2.0], f32), T([0.0, 5.0], f32), torch.tensor(2.0, dtype=f64)),
    ("f32,0-d f64 target,f32 var", T([1.0, 2.0], f32), torch.tensor(0.0, dtype=f64), T([0.5, 2.0], f32)),
)
for label, a, b, c in gcases:
    obs(f"Gaussian dtypes {label}", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=a, y=b, v=c)
obs("Gaussian f16 with var 1e-7 (f16 subnormal) clamped to eps=1e-6", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=T([0.0], f16), y=T([0.0], f16), v=T([1e-7], f16))
obs("  compare: 0.5*log(eps) with eps rounded to f16", "0.5 * torch.log(torch.tensor([1e-6], dtype=torch.float16))")

# ================================================================ 7. Special values
section("7. Special input values")
sp = T([math.inf, -math.inf, math.nan, -0.0, 0.0])
for tv in (0.0, 2.0):
    for li in (True, False):
        obs(f"Poisson input +inf,-inf,nan,-0.0,0.0; t={tv}, log_input={li}, eps=0",
            f"F.poisson_nll_loss(x, t, log_input={li}, eps=0.0, reduction='none')", x=sp, t=torch.full_like(sp, tv))
sub = T([1e-45], f32)
obs("float32 subnormal 1e-45 input, log_input=False, eps=0", "F.poisson_nll_loss(x, t, log_input=False, eps=0.0, reduction='none')", x=sub, t=T([2.0], f32))
obs("float32 subnormal 1e-45 input, log_input=True", "F.poisson_nll_loss(x, t, reduction='none')", x=sub, t=T([2.0], f32))
obs("float32 subnormal 1e-45 target, full=True", "F.poisson_nll_loss(x, t, full=True, reduction='none')", x=T([0.5], f32), t=sub)
obs("exp overflow float32 x=88, 89; t=0, 1", "F.poisson_nll_loss(x, t, reduction='none')", x=T([88.0, 89.0, 89.0], f32), t=T([0.0, 0.0, 1.0], f32))
obs("same in float64 (no overflow)", "F.poisson_nll_loss(x, t, reduction='none')", x=T([88.0, 89.0, 89.0]), t=T([0.0, 0.0, 1.0]))
obs("exp overflow float16 x=11, 12; t=0, 1", "F.poisson_nll_loss(x, t, reduction='none')", x=T([11.0, 12.0, 12.0], f16), t=T([0.0, 0.0, 1.0], f16))
obs("exp overflow bfloat16 x=88, 89", "F.poisson_nll_loss(x, t, reduction='none')", x=T([88.0, 89.0], bf16), t=T([0.0, 0.0], bf16))
obs("float32 mean of finite losses that overflow on sum", "F.poisson_nll_loss(x, t)", x=T([88.0, 88.0, 88.0], f32), t=T([0.0, 0.0, 0.0], f32))

obs("Gaussian input +inf,-inf,nan,-0.0,0.0; y=0, var=1", "F.gaussian_nll_loss(x, y, 1.0, reduction='none')", x=sp, y=torch.zeros_like(sp))
obs("Gaussian target +inf,-inf,nan,-0.0,0.0; x=0, var=1", "F.gaussian_nll_loss(x, y, 1.0, reduction='none')", x=torch.zeros_like(sp), y=sp)
obs("Gaussian x=y=+inf", "F.gaussian_nll_loss(x, y, 1.0, reduction='none')", x=T([math.inf]), y=T([math.inf]))
obs("Gaussian var=+inf with x-y=inf", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=T([math.inf]), y=T([0.0]), v=T([math.inf]))
obs("Gaussian float32 subnormal var 1e-45, default eps", "F.gaussian_nll_loss(x, y, v, reduction='none')", x=T([0.0], f32), y=T([0.0], f32), v=sub)
obs("Gaussian float32 subnormal var 1e-45, eps=0", "F.gaussian_nll_loss(x, y, v, eps=0.0, reduction='none')", x=T([0.0], f32), y=T([0.0], f32), v=sub)
obs("Gaussian float32 subnormal input 1e-45", "F.gaussian_nll_loss(x, y, 1.0, reduction='none')", x=sub, y=T([0.0], f32))
obs("Gaussian float32 (x-y)**2 overflow", "F.gaussian_nll_loss(x, y, 1.0, reduction='none')", x=T([2e19], f32), y=T([0.0], f32))
obs("Gaussian float16 (x-y)**2 overflow", "F.gaussian_nll_loss(x, y, 1.0, reduction='none')", x=T([300.0], f16), y=T([0.0], f16))

# ================================================================ 8. Memory layout
section("8. Non-contiguous, transposed, expanded operands")
base = (torch.arange(12, dtype=f64).reshape(3, 4) - 4) / 3
tgt = torch.arange(12, dtype=f64).reshape(4, 3) / 2
obs("Poisson transposed input == contiguous copy",
    "torch.equal(F.poisson_nll_loss(a.t(), b, full=True, reduction='none'), F.poisson_nll_loss(a.t().contiguous(), b, full=True, reduction='none'))",
    a=base, b=tgt)
obs("Poisson strided slice input [:, ::2] and expanded target (stride 0)",
    "torch.equal(F.poisson_nll_loss(a[:, ::2], b.expand(3, 2), log_input=False, reduction='none'), "
    "F.poisson_nll_loss(a[:, ::2].contiguous(), b.expand(3, 2).contiguous(), log_input=False, reduction='none'))",
    a=base.abs(), b=T([[1.0, 3.0]]))
obs("Poisson non-contiguous input is_contiguous", "a.t().is_contiguous()", a=base)
obs("Gaussian transposed input, expanded var",
    "torch.equal(F.gaussian_nll_loss(a.t(), b, v.expand(4, 3), reduction='none'), "
    "F.gaussian_nll_loss(a.t().contiguous(), b, v.expand(4, 3).contiguous(), reduction='none'))",
    a=base, b=tgt, v=T([[0.5, 1.0, 2.0]]))
obs("Gaussian transposed var (heteroscedastic)",
    "torch.equal(F.gaussian_nll_loss(a, b.t(), v.t(), reduction='none'), F.gaussian_nll_loss(a, b.t().contiguous(), v.t().contiguous(), reduction='none'))",
    a=base, b=tgt, v=tgt + 1)
