"""JAX adapter: `jax` (eager) and `jax-jit` (the call under `jax.jit`), optionally with a user's function.

JAX has no Poisson or Gaussian NLL loss of its own (nor optax or flax): the built-in subject is
`adapters/jax_losses.py`, the spec written in `jax.numpy` behind PyTorch's functional signatures.
A user's function given with --poisson-fn / --gaussian-fn takes `jax.Array`s instead.

* Operands become `jax.Array`s of the same dtype (float64 and int64 need `jax_enable_x64`, which this
  module turns on at import); a Gaussian var given as a Python number stays one. The output and
  gradients come back with the dtype JAX gave them.
* Gradients: `jax.vjp` of the function with respect to the operands the call names, pulled back
  with the call's upstream gradient (ones by default), given in the output's dtype (a cotangent
  must have its primal's dtype in JAX).
* `jax`: the function runs eagerly (each `jnp` operation dispatched on its own). `jax-jit`: the
  function is traced and compiled by XLA as one program, `jax.jit(lambda *arrays: fn(*arrays,
  *args, **kwargs))` for the output and `jax.jit` of the forward and `jax.vjp` together for the
  gradients; non-array arguments are constants of the trace. Each call is traced afresh, so Python
  side effects (the legacy warning) happen on every call, as eagerly; XLA compiles each program
  anew (there is no reuse across calls to make a check's result depend on what ran before it).
* Not expressible, so declared and NA: the module form (JAX has no modules) and memory layouts
  (JAX arrays have no strides: only contiguous operands).
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from reference.losses import LOSSES

from .base import Adapter, Capabilities, Outcome, Raised, array_literal, importable, operand_names, take_warnings
from .userfn import import_lines

# the subjects JAX provides: adapters/jax_losses.py defines each under its functional's name
# (reference.losses' FUNCTIONAL; that module imports jax, so it is not imported here to look)
PROVIDED = ("poisson", "gaussian", "normal", "poissonpmf")
FUNCTIONAL = {name: LOSSES[name].FUNCTIONAL for name in PROVIDED}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class JaxAdapter(Adapter):
    def __init__(self, jit: bool = False, user_fns: dict | None = None, user_specs: dict | None = None):
        self.jit = jit
        self.name = "jax-jit" if jit else "jax"
        self.user_fns = user_fns or {}
        self.user_specs = user_specs or {}
        losses = tuple(self.user_fns) if self.user_fns else tuple(FUNCTIONAL)
        self.caps = Capabilities(losses=losses, forms=("functional",), layouts=("contiguous",), device="cpu")
        self._jax = None

    # -- availability -------------------------------------------------------------------------
    @property
    def jax(self):
        """jax, imported on first use (in the worker that runs the checks: importing it starts
        threads, which the CLI's parent process should not have when it forks the workers)."""
        if self._jax is None:
            import jax

            jax.config.update("jax_platforms", "cpu")  # the device this adapter declares
            jax.config.update("jax_enable_x64", True)  # float64 and int64 arrays
            _persistent_compilation_cache(jax)
            self._jax = jax
        return self._jax

    def available(self):
        for mod in ("jax", "jaxlib"):
            ok, why = importable(mod, "jax")
            if not ok:
                return ok, why
        return True, ""

    def version_text(self):
        from importlib import metadata

        return f"{metadata.version('jax')} (jaxlib {metadata.version('jaxlib')}, cpu)"

    # -- conversion ---------------------------------------------------------------------------
    def to_backend(self, a):
        """A jax.Array with `a`'s dtype and values (bfloat16 arrays are ml_dtypes', as JAX's are)."""
        import jax.numpy as jnp

        a = np.array(a, copy=True)
        y = jnp.asarray(a)
        if y.dtype != a.dtype:  # never silently: a dtype JAX cannot hold is the adapter's error
            raise TypeError(f"jax converted a {a.dtype} array to {y.dtype}")
        return y

    @staticmethod
    def to_numpy(y) -> np.ndarray:
        return np.array(y, copy=True)

    def _function(self, loss):
        if loss in self.user_fns:
            return self.user_fns[loss]
        from . import jax_losses

        return getattr(jax_losses, FUNCTIONAL[loss])

    # -- calling --------------------------------------------------------------------------------
    def _run(self, call, out: Outcome) -> None:
        jax = self.jax
        names = operand_names(call.loss)
        values = {}
        for name in names:
            a = call.operands[name]
            if isinstance(a, (float, int, bool)) and not isinstance(a, np.ndarray):
                values[name] = a  # a Gaussian var given as a Python number
            else:
                values[name] = self.to_backend(a)
        arrays = [n for n in names if not isinstance(values[n], (float, int, bool))]
        wrt = [n for n in call.grad_wrt if n in arrays]  # a Python-number var takes no gradient
        fn, args, kwargs = self._function(call.loss), tuple(call.args), dict(call.kwargs)

        def loss_of(**given):
            return fn(*[given.get(n, values[n]) for n in names], *args, **kwargs)

        def forward(*arrs):
            return loss_of(**dict(zip(arrays, arrs)))

        fixed_names = [n for n in arrays if n not in wrt]

        def forward_backward(fixed, diff, g):
            y, pull = jax.vjp(lambda *d: loss_of(**dict(zip(fixed_names, fixed)), **dict(zip(wrt, d))), *diff)
            return y, pull(g)

        if self.jit:
            forward = jax.jit(forward)
            forward_backward = jax.jit(forward_backward)

        stage = "call"
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                y = forward(*[values[n] for n in arrays])
                take_warnings(caught, out, "call")
            if not isinstance(y, jax.Array):
                raise TypeError(f"the loss returned {type(y).__name__}, not a jax.Array")
            out.output, out.output_dtype = self.to_numpy(y), str(y.dtype)
            if call.grad_wrt:
                stage = "backward"
                if call.grad_output is None:
                    g = jax.numpy.ones(y.shape, y.dtype)
                else:
                    g = self.to_backend(np.asarray(call.grad_output)).astype(y.dtype)
                fixed = [values[n] for n in fixed_names]
                with warnings.catch_warnings():  # the forward call above reported its warnings
                    warnings.simplefilter("ignore")
                    _, grads = forward_backward(fixed, [values[n] for n in wrt], g)
                for n, gr in zip(wrt, grads):
                    out.grads[n], out.grad_dtypes[n] = self.to_numpy(gr), str(gr.dtype)
        except Exception as exc:  # noqa: BLE001 - recorded, never raised
            out.raised = Raised(type(exc).__name__, str(exc), stage)

    # -- reproduction ---------------------------------------------------------------------------
    def repro(self, call) -> str:
        """A standalone script: the same function, arrays rebuilt exactly, eagerly or under jax.jit."""
        user = call.loss in self.user_fns
        lines = ["import jax", 'jax.config.update("jax_enable_x64", True)', "import jax.numpy as jnp",
                 "import numpy as np", "import ml_dtypes"]
        if user:
            lines += import_lines(self.user_specs.get(call.loss, "?:?"))
        else:
            lines += ["import sys", f"sys.path.insert(0, {REPO_ROOT!r})",
                      f"from adapters.jax_losses import {FUNCTIONAL[call.loss]} as loss_fn"]
        names, arrays = operand_names(call.loss), []
        for name in names:
            a = call.operands[name]
            if not isinstance(a, np.ndarray):
                lines.append(f"{name} = {array_literal(np.asarray([a]))[1:-1] if isinstance(a, float) else repr(a)}")
                continue
            arrays.append(name)
            kind = "np.float64" if a.dtype.kind == "f" or str(a.dtype) == "bfloat16" else repr(str(a.dtype))
            to = "ml_dtypes.bfloat16" if str(a.dtype) == "bfloat16" else repr(str(a.dtype))
            lines.append(f"{name} = jnp.asarray(np.array({array_literal(a)}, dtype={kind})"
                         f".reshape({a.shape!r}).astype({to}))")
        argtxt = ", ".join([repr(v) for v in call.args] + [f"{k}={v!r}" for k, v in call.kwargs.items()])
        lines.append(f"def f({', '.join(arrays)}):")
        others = {n: n for n in names}
        lines.append(f"    return loss_fn({', '.join([others[n] for n in names] + ([argtxt] if argtxt else []))})")
        if self.jit:
            lines.append("f = jax.jit(f)")
        lines.append(f"out = f({', '.join(arrays)})")
        lines.append("print(out.dtype, out.shape, np.asarray(out).astype(np.float64).tolist())")
        wrt = [n for n in call.grad_wrt if n in arrays]
        if wrt:
            if call.grad_output is None:
                lines.append("g = jnp.ones(out.shape, out.dtype)")
            else:
                ga = np.asarray(call.grad_output)
                lines.append(f"g = jnp.asarray(np.array({array_literal(ga)}, dtype=np.float64)"
                             f".reshape({ga.shape!r})).astype(out.dtype)")
            fixed = [n for n in arrays if n not in wrt]
            inner = ", ".join(wrt)
            lines.append(f"def fb({', '.join(fixed + ['g'])}):")
            lines.append(f"    return jax.vjp(lambda {inner}: f({', '.join(arrays)}), {inner})[1](g)")
            if self.jit:
                lines.append("fb = jax.jit(fb)")
            lines.append(f"grads = fb({', '.join(fixed + ['g'])})")
            lines.append(f"for name, gr in zip({tuple(wrt)!r}, grads):")
            lines.append("    print(name, gr.dtype, np.asarray(gr).astype(np.float64).tolist())")
        return "\n".join(lines)


def _persistent_compilation_cache(jax) -> None:
    """JAX's own on-disk cache of compiled XLA programs, beside the reference cache (`reference/cache.py`:
    `$LOSSCONFORM_CACHE_DIR` or `.lossconform-cache/`, off with `LOSSCONFORM_CACHE=off`).

    Eagerly, JAX compiles every operation for every shape and dtype it meets (about 60 ms each on
    this project's machine, some 15 per call with its gradients); a program found in the cache is
    the one XLA would compile again (the key is the program, the compile options and the XLA
    version), so the cache changes the run's speed, not its results."""
    from reference import cache

    if not cache.enabled():
        return
    path = os.path.join(cache.directory(), "jax-xla")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
