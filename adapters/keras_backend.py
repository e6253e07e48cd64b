"""Keras adapter: `keras` (Keras 3 on its TensorFlow backend, CPU), the Poisson loss
`keras.losses.poisson(y_true, y_pred)` and the class `keras.losses.Poisson`.

Keras' Poisson loss is the plain-rate form averaged over the last axis,
`mean(y_pred - y_true * log(y_pred + epsilon), axis=-1)` with `epsilon = keras.config.epsilon()`,
and the class reduces those row means with its `reduction` (default `'sum_over_batch_size'`: their
sum divided by their count). It has no log-input form, no Stirling term, no `eps` argument and none
of PyTorch's reductions by name. The adapter maps a call to Keras only where Keras says the same
thing, with Keras' public API and nothing computed on its behalf; everything else is NA:

* `log_input=False` and `full=False`, with the spec's input as `y_pred` and its target as `y_true`;
* `eps` is Keras' epsilon: the loss adds `keras.config.epsilon()`, read at each call, which the
  adapter sets to the call's `eps` (the spec's default, 1e-8, where the call omits it; Keras' own
  default is 1e-7) with `keras.config.set_epsilon` for that call and restores afterwards;
* the spec's `reduction='mean'` only, where some operand has a dimension (0-d operands have no last
  axis: both Keras forms raise), said by
  - the function, in the functional form where every operand is 0-d or 1-D: the mean over the last
    axis of a 1-D broadcast shape is the mean over all elements;
  - the class constructed with its defaults, `keras.losses.Poisson()(y_true, y_pred)`, in the module
    form and in the functional form on more dimensions (where the function returns one mean per
    row, which no spec reduction is): the sum of the row means divided by their count is the mean
    over all elements (rows of equal length). That is how Keras reduces a loss to a scalar (it is
    also what `model.compile(loss="poisson")` uses);
* NA: `log_input=True`, `full=True`, an `eps` that is not a real number, `'none'` and `'sum'` (and
  an invalid reduction), the legacy `size_average` / `reduce`, module forward by keyword, a call
  PyTorch's signature refuses, layouts other than contiguous (TensorFlow tensors have no strides).

What Keras then does is judged, not repaired: the class converts both operands to its dtype
policy's compute dtype (`keras.config.floatx()`, float32) before computing; it squeezes or expands
a trailing dimension of 1 where the operands' ranks differ by one; the function converts `y_true`
and `epsilon` to `y_pred`'s dtype; an empty batch comes back unreduced.

Operands are TensorFlow tensors (Keras' TensorFlow backend takes and returns them); gradients with
`tf.GradientTape`, as in the TensorFlow adapter. Natural level: core.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from .base import Capabilities, importable, repro_operands
from .base import given_arguments
from .tensorflow_backend import TapeAdapter, tf_array_line, tf_gradient_lines


def uses_class(form: str, ndims) -> bool:
    """Does Keras say the spec's 'mean' with the class (not the function), for a call of this form
    on operands of these numbers of dimensions?"""
    return form == "module" or max(ndims) > 1


class _Loss:
    """A Keras Poisson loss called the spec's way, `f(input, target)`, i.e. Keras' `(y_true=target,
    y_pred=input)`: the function where the operands are at most 1-D, else the class constructed with
    its defaults (`uses_class`); a module's attributes are the Keras object's."""

    def __init__(self, keras, form: str):
        self._keras, self._form = keras, form
        self._loss = keras.losses.Poisson() if form == "module" else None

    def __call__(self, input, target):
        if uses_class(self._form, (len(input.shape), len(target.shape))):
            return (self._loss or self._keras.losses.Poisson())(target, input)
        return self._keras.losses.poisson(target, input)

    def __getattr__(self, name):
        loss = self.__dict__.get("_loss")
        if loss is None:
            raise AttributeError(name)
        return getattr(loss, name)


class KerasAdapter(TapeAdapter):
    name = "keras"

    def __init__(self, user_fns: dict | None = None, user_specs: dict | None = None):
        if user_fns:
            raise ValueError("the keras backend validates Keras' own loss; it takes no user functions")
        super().__init__()
        self.caps = Capabilities(losses=("poisson",), forms=("functional", "module"), layouts=("contiguous",),
                                 device="cpu", grad_wrt={"poisson": ("input", "target")})
        self._keras = None

    @property
    def keras(self):
        """keras on its TensorFlow backend, imported on first use (the backend is chosen before the
        import; a keras already imported on another backend is reported by `available`)."""
        if self._keras is None:
            os.environ["KERAS_BACKEND"] = "tensorflow"
            self.tf  # noqa: B018 - TensorFlow's quiet import first
            import keras

            self._keras = keras
        return self._keras

    def _load(self):
        backend = self.keras.backend.backend()
        if backend != "tensorflow":
            raise RuntimeError(f"keras runs on its {backend} backend, not tensorflow")

    def available(self):
        ok, why = importable("tensorflow", "keras")
        if not ok:
            return ok, why
        return importable("keras", "keras", self._load)

    def version_text(self):
        return f"{self.keras.__version__} (tensorflow {self.tf.__version__}, cpu)"

    # -- what Keras cannot express -------------------------------------------------------------------
    def cannot_express(self, call):
        why = super().cannot_express(call) or self.foreign_surface(call, "Keras' Poisson loss")
        if why:
            return why
        given = given_arguments(call)
        if given.get("log_input", True) is not False:
            return "Keras' Poisson loss takes the rate itself (log_input=False) only"
        if given.get("full", False) is not False:
            return "Keras' Poisson loss has no Stirling term (full=False only)"
        if type(self._eps(given)) not in (int, float):
            return f"eps={given['eps']!r} is not a real number (keras.config.set_epsilon takes a float)"
        reduction = given.get("reduction", "mean")
        if not (isinstance(reduction, str) and reduction == "mean"):
            return f"Keras' Poisson loss gives the spec's 'mean' only, not reduction={reduction!r}"
        if max(np.ndim(a) for a in call.operands.values()) == 0:
            return "Keras' Poisson loss averages over the last axis: 0-d operands have none"
        return None

    @staticmethod
    def _eps(given: dict):
        """The call's eps: as given, else the spec's default (PyTorch's 1e-8, not Keras' 1e-7)."""
        from reference.rules import SIGNATURES

        return given.get("eps", SIGNATURES[("poisson", "functional")].parameters["eps"].default)

    # -- the hooks of base.Adapter's template ----------------------------------------------------
    def function(self, loss):
        return _Loss(self.keras, "functional")

    def module(self, loss, args, kwargs):
        return _Loss(self.keras, "module")

    def _run(self, call, out):
        """The template, under a tape, with Keras' epsilon set to the call's eps for the call; no
        argument reaches the loss itself (the rest is what Keras does by itself)."""
        config = self.keras.config
        before = config.epsilon()
        config.set_epsilon(self._eps(given_arguments(call) or {}))
        try:
            self._taped(dataclasses.replace(call, args=(), kwargs={}), out)
        finally:
            config.set_epsilon(before)

    # -- reproduction ------------------------------------------------------------------------------
    def repro(self, call) -> str:
        ops, names = repro_operands(call, tf_array_line)
        wrt = [n for n in call.grad_wrt if isinstance(call.operands[n], np.ndarray)]
        eps = self._eps(given_arguments(call) or {})
        lines = ["import os", "os.environ['KERAS_BACKEND'] = 'tensorflow'", "import numpy as np", "import ml_dtypes",
                 "import tensorflow as tf", "import keras", f"keras.config.set_epsilon({eps!r})  # the call's eps",
                 *ops, "with tf.GradientTape() as tape:"]
        lines += [f"    tape.watch({n})" for n in wrt]
        if uses_class(call.form, [np.ndim(a) for a in call.operands.values()]):
            lines.append("    out = keras.losses.Poisson()(target, input)  # (y_true, y_pred)")
        else:
            lines.append("    out = keras.losses.poisson(target, input)  # (y_true, y_pred)")
        lines.append("print(out.dtype.name, out.shape, tf.cast(out, tf.float64).numpy().tolist())")
        if wrt:
            lines += tf_gradient_lines(call, wrt)
        return "\n".join(lines)
