"""TensorFlow adapter: `tensorflow` (CPU), the Poisson loss `tf.nn.log_poisson_loss`.

TensorFlow ships `tf.nn.log_poisson_loss(targets, log_input, compute_full_loss=False, name=None)`:
the Poisson loss in log-input form, elementwise, `exp(log_input) - log_input * targets`, plus
Stirling's term where `compute_full_loss`. Its operands come in the other order (targets first) and
it has no other argument of PyTorch's. The adapter translates, nothing else:

* operands are passed by TensorFlow's names (`targets=target, log_input=input`); the call's
  arguments are bound against PyTorch's signature and `full` becomes `compute_full_loss`, passed
  only where the call gave it, so TensorFlow's own default is what the default checks see;
* `eps` is dropped: in log-input form the spec gives it no effect (PNLL-VALUE-LOG), so a call with
  `log_input=True` means the same whatever its `eps`, and TensorFlow has nothing to pass it to;
* not expressible, so NA: the Gaussian loss, the module form, `log_input=False` (no rate form), a
  reduction other than `'none'` (the op is elementwise; the adapter never reduces on its behalf:
  an invalid or omitted reduction, whose default is `'mean'`, is NA too), the legacy
  `size_average` / `reduce`, a `full` or `log_input` that is not a Python bool (PyTorch's are
  bool-only; `compute_full_loss` takes any truthy value), a call PyTorch's signature refuses, and
  memory layouts other than contiguous (TensorFlow tensors have no strides);
* shapes are passed as they are: TensorFlow requires equal shapes where the spec broadcasts, and
  the suite judges that (the adapter does not broadcast for it);
* dtypes: float16, bfloat16, float32 and float64 all run on the CPU; operands come in and out
  exactly (`tf.constant` of the NumPy array; bfloat16 through `ml_dtypes`);
* gradients with `tf.GradientTape`: the forward call runs under a tape watching the operands the
  call names, and `tape.gradient(..., output_gradients=upstream)`; an operand the tape does not
  reach comes back without a gradient (reported as such, never filled in).

Natural level: core (the argument names and order are TensorFlow's, so the API clauses are not its
contract).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from .base import Adapter, array_literal, Capabilities, given_arguments, importable, repro_operands

RENAME = {"full": "compute_full_loss"}  # PyTorch's keyword -> TensorFlow's


def import_tensorflow():
    """tensorflow, quietly: its C++ start-up notices (oneDNN, CPU instructions) go to stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


class TapeAdapter(Adapter):
    """The template with TensorFlow tensors and `tf.GradientTape`: shared by the TensorFlow and
    Keras (TensorFlow backend) adapters."""

    def __init__(self):
        self._tf = None
        self._tape = None

    @property
    def tf(self):
        if self._tf is None:
            self._tf = import_tensorflow()
        return self._tf

    def _taped(self, call, out):
        """Run the template with a tape recording the forward call (the operands the call
        differentiates are watched as they are built, in to_backend)."""
        with self.tf.GradientTape(watch_accessed_variables=False) as tape:
            self._tape = tape
            try:
                super()._run(call, out)
            finally:
                self._tape = None

    # -- the hooks of base.Adapter's template ----------------------------------------------------
    def to_backend(self, a, layout=None, grad=False):
        if layout not in (None, "contiguous"):
            raise ValueError(f"TensorFlow tensors have no strides: no {layout!r} layout")
        a = np.array(a, copy=True)
        t = self.tf.constant(a)
        if self.dtype_tag(t) != str(a.dtype):  # never silently
            raise TypeError(f"tensorflow converted a {a.dtype} array to {self.dtype_tag(t)}")
        if grad and self._tape is not None:
            self._tape.watch(t)
        return t

    def to_numpy(self, t):
        return np.array(t.numpy(), copy=True)

    def dtype_tag(self, t) -> str:
        return t.dtype.name

    def is_tensor(self, v) -> bool:
        return isinstance(v, self.tf.Tensor)

    def gradients(self, call, callee, y, ops, wrt):
        g = self.to_backend(self.upstream(call, y))
        grads = self._tape.gradient(y, [ops[n] for n in wrt], output_gradients=g)
        return dict(zip(wrt, grads))


def tf_array_line(name, a) -> str:
    """The reproduction's constructor of one operand: the exact values, in their dtype."""
    to = "ml_dtypes.bfloat16" if str(a.dtype) == "bfloat16" else repr(str(a.dtype))
    return (f"{name} = tf.constant(np.array({array_literal(a)}, dtype=np.float64)"
            f".reshape({tuple(a.shape)!r}).astype({to}))")


def tf_gradient_lines(call, wrt) -> list:
    """The reproduction's backward pass: the call's upstream gradient, then tape.gradient."""
    if call.grad_output is None:
        lines = ["g = tf.ones_like(out)"]
    else:
        ga = np.asarray(call.grad_output)
        lines = [f"g = tf.cast(tf.constant(np.array({array_literal(ga)}, dtype=np.float64)"
                 f".reshape({tuple(ga.shape)!r})), out.dtype)"]
    lines.append(f"grads = tape.gradient(out, [{', '.join(wrt)}], output_gradients=g)")
    lines.append(f"for n, gr in zip({wrt!r}, grads):\n    print(n, None if gr is None else "
                 "tf.cast(gr, tf.float64).numpy().tolist())")
    return lines


class TensorflowAdapter(TapeAdapter):
    name = "tensorflow"

    def __init__(self, user_fns: dict | None = None, user_specs: dict | None = None):
        if user_fns:
            raise ValueError("the tensorflow backend validates TensorFlow's own loss; it takes no user functions")
        super().__init__()
        self.caps = Capabilities(losses=("poisson",), forms=("functional",), layouts=("contiguous",), device="cpu",
                                 grad_wrt={"poisson": ("input", "target")})

    def available(self):
        return importable("tensorflow", "tensorflow", lambda: self.tf)

    def version_text(self):
        return f"{self.tf.__version__} (cpu)"

    # -- what TensorFlow cannot express ------------------------------------------------------------
    def cannot_express(self, call):
        why = super().cannot_express(call) or self.foreign_surface(call, "tf.nn.log_poisson_loss")
        if why:
            return why
        given = given_arguments(call)
        log_input = given.get("log_input", True)
        if log_input is not True:
            return ("tf.nn.log_poisson_loss has the log-input form only" if log_input is False
                    else f"log_input={log_input!r} is not a bool (tf.nn.log_poisson_loss has no log_input)")
        reduction = given.get("reduction", "mean")
        if not (isinstance(reduction, str) and reduction == "none"):
            return f"tf.nn.log_poisson_loss is elementwise: no reduction={reduction!r}"
        if not isinstance(given.get("full", False), bool):
            return f"full={given['full']!r} is not a bool (compute_full_loss takes any truthy value)"
        return None

    def _kwargs(self, call) -> dict:
        """TensorFlow's keywords for the call: `full` renamed, everything else dropped (eps has no
        effect in log-input form; reduction is 'none', the op's only behaviour)."""
        given = given_arguments(call) or {}
        return {RENAME[k]: v for k, v in given.items() if k in RENAME}

    # -- the hooks of base.Adapter's template ----------------------------------------------------
    def function(self, loss):
        tf = self.tf

        def log_poisson_loss(input, target, **kwargs):  # the spec's operand order -> TensorFlow's names
            return tf.nn.log_poisson_loss(targets=target, log_input=input, **kwargs)

        return log_poisson_loss

    def _run(self, call, out):
        """The template, under a tape, with the call's arguments in TensorFlow's names."""
        self._taped(dataclasses.replace(call, args=(), kwargs=self._kwargs(call)), out)

    # -- reproduction ------------------------------------------------------------------------------
    def repro(self, call) -> str:
        ops, names = repro_operands(call, tf_array_line)
        kw = "".join(f", {k}={v!r}" for k, v in self._kwargs(call).items())
        wrt = [n for n in call.grad_wrt if isinstance(call.operands[n], np.ndarray)]
        lines = ["import numpy as np", "import ml_dtypes", "import tensorflow as tf", *ops,
                 "with tf.GradientTape() as tape:"]
        lines += [f"    tape.watch({n})" for n in wrt]
        lines.append(f"    out = tf.nn.log_poisson_loss(targets=target, log_input=input{kw})")
        lines.append("print(out.dtype.name, out.shape, tf.cast(out, tf.float64).numpy().tolist())")
        if wrt:
            lines += tf_gradient_lines(call, wrt)
        return "\n".join(lines)
