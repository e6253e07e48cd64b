"""The JAX adapter (`jax`, `jax-jit`) and its loss module, `adapters/jax_losses.py`.

Skipped where jax is not installed (the `tests` tox environment has none; `pip install '.[jax]'`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

jax = pytest.importorskip("jax")

import adapters  # noqa: E402
from reference.engine import Call  # noqa: E402

BACKENDS = ("jax", "jax-jit")
X = np.array([[0.5, -1.0, 2.0], [0.0, 1.5, 3.0]])
T = np.array([[1.0, 0.0, 3.0], [2.0, 5.0, 1.0]])


def run(backend, call):
    out = adapters.make(backend).run(call)
    return out


def test_registry_and_capabilities():
    for name in BACKENDS:
        assert name in adapters.REGISTRY and name in adapters.ACCEPTS_USER_FUNCTIONS
        a = adapters.make(name)
        assert a.available() == (True, "")
        assert a.caps.forms == ("functional",)  # JAX has no modules
        assert a.caps.layouts == ("contiguous",)  # JAX arrays have no strides
        assert set(a.caps.dtypes) == {"float16", "bfloat16", "float32", "float64"}
        assert a.version().startswith(jax.__version__)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("log_input,full", [(True, False), (True, True), (False, False), (False, True)])
def test_poisson_matches_the_numpy_backend(backend, log_input, full):
    x = np.abs(X) + 0.25 if not log_input else X
    call = Call("poisson", "functional", {"input": x, "target": T},
                kwargs={"log_input": log_input, "full": full, "reduction": "sum"}, grad_wrt=("input", "target"))
    got, want = run(backend, call), run("numpy", call)
    assert got.raised is None, got.raised
    assert got.output_dtype == "float64" and got.grad_dtypes == {"input": "float64", "target": "float64"}
    np.testing.assert_allclose(got.output, want.output, rtol=1e-13)
    for n in ("input", "target"):
        np.testing.assert_allclose(got.grads[n], want.grads[n], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gaussian_matches_the_numpy_backend_with_a_clamped_broadcast_var(backend):
    var = np.array([1e-9, 0.5])  # shape (2,) for input (2, 3): one variance per row, the first clamped
    g = np.arange(6.0).reshape(2, 3)
    call = Call("gaussian", "functional", {"input": X, "target": T, "var": var}, kwargs={"full": True, "reduction": "none"},
                grad_wrt=("input", "target", "var"), grad_output=g)
    got, want = run(backend, call), run("numpy", call)
    assert got.raised is None, got.raised
    np.testing.assert_allclose(got.output, want.output, rtol=1e-13)
    for n in ("input", "target", "var"):
        np.testing.assert_allclose(got.grads[n], want.grads[n], rtol=1e-12)
    assert got.grads["var"].shape == (2,) and got.grads["var"][0] != 0  # the clamp is invisible to d/dvar


@pytest.mark.parametrize("backend", BACKENDS)
def test_stirling_mask_contributes_zero_to_the_target_gradient(backend):
    """The double `where`: d/dt = -x at t <= 0 with full=True (a single where gives NaN there)."""
    x, t = np.array([0.5, 0.5, 0.5]), np.array([0.0, -2.0, 1.0])
    call = Call("poisson", "functional", {"input": x, "target": t}, kwargs={"full": True, "reduction": "sum"},
                grad_wrt=("target",))
    out = run(backend, call)
    np.testing.assert_array_equal(out.grads["target"], -x)

    import jax.numpy as jnp

    def single_where(t):  # the literal port of PyTorch's masked_fill, for contrast
        return jnp.sum(jnp.where(t <= 1, 0.0, t * jnp.log(t) - t + 0.5 * jnp.log(2 * np.pi * t)))

    assert np.isnan(np.asarray(jax.grad(single_where)(jnp.asarray(t)))[:2]).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_legacy_warning_on_every_call(backend):
    """Each call is traced afresh, so under jax.jit too the warning comes with every call."""
    a = adapters.make(backend)
    call = Call("poisson", "functional", {"input": X, "target": T}, kwargs={"reduce": False}, grad_wrt=("input",))
    for _ in range(2):
        out = a.run(call)
        assert out.raised is None and out.output.shape == X.shape
        assert out.warnings == [("UserWarning", "size_average and reduce args will be deprecated, please use "
                                                "reduction='none' instead.", "call")]


@pytest.mark.parametrize("backend", BACKENDS)
def test_errors(backend):
    x = X.astype(np.float32)
    bad = run(backend, Call("poisson", "functional", {"input": x, "target": x}, kwargs={"reduction": "bogus"}))
    assert (bad.raised.type, bad.raised.message) == ("ValueError", "bogus is not a valid value for reduction")
    flag = run(backend, Call("poisson", "functional", {"input": x, "target": x}, kwargs={"full": 1}))
    assert flag.raised.type == "TypeError"
    size = run(backend, Call("gaussian", "functional", {"input": x, "target": x, "var": np.ones(3, np.float32)}))
    assert (size.raised.type, size.raised.message) == ("ValueError", "var is of incorrect size")
    ivar = run(backend, Call("gaussian", "functional", {"input": x, "target": x, "var": 2}))
    assert ivar.raised.type == "TypeError"


def test_negative_var_raises_eagerly_only():
    """A value-dependent error needs concrete values: eagerly it raises, a traced (jitted) call cannot."""
    x = np.zeros(3, np.float32)
    call = Call("gaussian", "functional", {"input": x, "target": x, "var": -np.ones(3, np.float32)})
    eager, jitted = run("jax", call), run("jax-jit", call)
    assert (eager.raised.type, eager.raised.message) == ("ValueError", "var has negative entry/entries")
    assert jitted.raised is None and np.isfinite(jitted.output)  # the clamp makes var eps: no error, a value


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_silent_dtype_change(backend):
    import ml_dtypes

    for dt in (np.float16, ml_dtypes.bfloat16, np.float32):
        x = X.astype(dt)
        out = run(backend, Call("poisson", "functional", {"input": x, "target": T.astype(dt)}, grad_wrt=("input",)))
        assert out.output_dtype == np.dtype(dt).name and out.output.dtype == np.dtype(dt)
        assert out.grad_dtypes == {"input": np.dtype(dt).name}
    # JAX's own promotion is reported as it is: a 0-d float64 target is not weak in JAX
    out = run(backend, Call("poisson", "functional", {"input": X.astype(np.float32), "target": np.array(2.0)}))
    assert out.output_dtype == "float64"


@pytest.mark.parametrize("backend", BACKENDS)
def test_user_function_takes_jax_arrays(backend):
    import jax.numpy as jnp

    seen = []

    def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                         reduction="mean"):
        seen.append(isinstance(input, jax.Array))  # a tracer under jax.vjp / jax.jit
        return jnp.mean(jnp.exp(input) - target * input)

    a = adapters.make(backend, {"poisson": poisson_nll_loss}, {"poisson": "mine.py:poisson_nll_loss"})
    assert a.caps.losses == ("poisson",)
    out = a.run(Call("poisson", "functional", {"input": X, "target": T}, grad_wrt=("input",)))
    assert out.raised is None and seen and all(seen)
    np.testing.assert_allclose(out.grads["input"], (np.exp(X) - T) / X.size, rtol=1e-13)
    assert "loss_fn" in out.repro


@pytest.mark.parametrize("backend", BACKENDS)
def test_repro_runs_standalone(backend, tmp_path):
    call = Call("gaussian", "functional", {"input": X.astype(np.float32), "target": T.astype(np.float32), "var": 0.5},
                kwargs={"reduction": "sum"}, grad_wrt=("input",))
    out = run(backend, call)
    script = tmp_path / "repro.py"
    script.write_text(out.repro)
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    first, second = p.stdout.splitlines()[:2]
    assert first.startswith("float32 () ") and float(first.split(" ", 2)[2]) == float(out.output)
    assert second.startswith("input float32 ")
    assert ("jax.jit" in out.repro) == (backend == "jax-jit")


def test_available_does_not_import_jax():
    """The CLI's parent process forks workers: it must not have started JAX's threads."""
    code = ("import sys; sys.path.insert(0, %r); import adapters; a = adapters.make('jax'); "
            "print(a.available(), a.version(), 'jax' in sys.modules)" % str(ROOT))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith("False"), p.stdout
