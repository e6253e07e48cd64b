"""The adapter protocol: how the suite talks to a backend.

An adapter translates; it never repairs. It

* declares what the backend's API can express (`Capabilities`): which losses, which forms
  (functional, module), which dtypes and devices, which operands take gradients. What is not
  declared is "not applicable" (NA); what is declared and then misbehaves is a failure;
* converts NumPy arrays in and out exactly (no silent dtype change: a float16 array goes in as
  the backend's float16 and the result comes back with the backend's dtype, whatever it is);
* calls the backend's own API (functional: `f(input, target[, var], *args, **kwargs)`; module:
  `M(*args, **kwargs)` then `m(input, target[, var])`), computes gradients with the backend's own
  autodiff, and captures exceptions and warnings as data (`Outcome`), never letting them escape.

Everything an adapter returns is untrusted: reports escape it.
"""

from __future__ import annotations

import base64
import traceback
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np

from reference.floats import FLOAT_DTYPES


@dataclass(frozen=True)
class Capabilities:
    losses: tuple = ("poisson", "gaussian")
    forms: tuple = ("functional", "module")
    dtypes: tuple = FLOAT_DTYPES
    # operands that take gradients, per loss (a loss missing: none; empty: the backend has no
    # autodiff); None: every operand of every loss it provides that has a derivative
    # (the loss's DIFFERENTIABLE: `differentiates`)
    grad_wrt: dict | None = None
    # non-float operand dtypes the backend accepts as tensors (for promotion checks)
    int_dtypes: tuple = ("int32", "int64")
    device: str = "cpu"
    # memory layouts the adapter can build an operand in (SHAPE-LAYOUT)
    layouts: tuple = ("contiguous", "transposed", "strided", "expanded")

    def differentiates(self, loss: str) -> tuple:
        """The operands of `loss` the backend takes gradients with respect to."""
        if self.grad_wrt is None:
            from reference.losses import LOSSES

            return LOSSES[loss].DIFFERENTIABLE
        return tuple(self.grad_wrt.get(loss, ()))


@dataclass
class Raised:
    type: str  # exception class name, e.g. "ValueError"
    message: str
    where: str  # "construction" | "call" | "backward"


@dataclass
class Outcome:
    """What a backend did with one call, as data."""

    output: np.ndarray | None = None
    output_dtype: str | None = None  # the backend's dtype name mapped to the suite's tags
    grads: dict = field(default_factory=dict)  # operand -> np.ndarray
    grad_dtypes: dict = field(default_factory=dict)
    raised: Raised | None = None
    warnings: list = field(default_factory=list)  # (category, message, where)
    warning_files: list = field(default_factory=list)  # the file each warning is attributed to
    # per warning: is it attributed to the caller's code (a file on the stack at the call) rather
    # than to the implementation (LEGACY-WARN-LOCATION)
    warning_at_caller: list = field(default_factory=list)
    mutated: list = field(default_factory=list)  # operands whose values the call changed
    module_attrs: dict | None = None  # module form: the constructed module's configuration
    repro: str = ""  # a standalone snippet in the backend's own API


CANNOT_TOKENS = ("module", *FLOAT_DTYPES, "log_input=True", "log_input=False",
                 "full=True", "full=False", "legacy", "positional", "reduction=none", "reduction=mean",
                 "reduction=sum")


def parse_cannot(spec) -> frozenset:
    """What a user function declares it cannot express: a comma-separated string or a list of
    CANNOT_TOKENS (its `lossconform_cannot` attribute, or the CLI's --cannot). ValueError if unknown."""
    items = spec.split(",") if isinstance(spec, str) else list(spec or ())
    out = set()
    for it in items:
        it = str(it).strip()
        if not it:
            continue
        if it not in CANNOT_TOKENS:
            raise ValueError(f"unknown {it!r}; choose from {', '.join(CANNOT_TOKENS)}")
        out.add(it)
    return frozenset(out)


class Adapter:
    """Base class. Subclasses set `name`, `caps` and implement `available`, `version`, `_run`."""

    name = "?"
    caps = Capabilities()
    cannot: frozenset = frozenset()  # declared inexpressible cases (user functions), see parse_cannot

    def cannot_express(self, call) -> str | None:
        """Why the backend cannot express `call` by its declaration (NA), or None."""
        if not self.cannot:
            return None
        from reference import rules
        from reference.engine import resolve

        if "module" in self.cannot and call.form == "module":
            return "declared: no module form"
        if "positional" in self.cannot and call.args:
            return "declared: no positional arguments after the operands"
        for a in call.operands.values():
            tag = str(np.asarray(a).dtype) if isinstance(a, np.ndarray) else None
            if tag in self.cannot:
                return f"declared: no {tag}"
        bound = rules.bind(call.loss, call.form, call.args, call.kwargs)
        if isinstance(bound, dict):
            if "legacy" in self.cannot and (bound.get("size_average") is not None or bound.get("reduce") is not None):
                return "declared: no legacy size_average/reduce"
            for k in ("log_input", "full"):
                if f"{k}={bound.get(k)}" in self.cannot:
                    return f"declared: no {k}={bound.get(k)}"
        res = resolve(call)
        if isinstance(res[0], dict) and f"reduction={res[1]}" in self.cannot:
            return f"declared: no reduction={res[1]}"
        return None

    def foreign_surface(self, call, who: str) -> str | None:
        """NA reasons shared by the adapters that translate PyTorch's arguments into a framework's own
        call surface (`who` names it): module forward by keyword (PyTorch's forward names), a call
        PyTorch's signature refuses (its TypeError is an API-SIGNATURE question, and the framework's
        signature is not PyTorch's), the loss's legacy arguments (the framework has none)."""
        if call.forward_names:
            return f"{who} does not take the operands by PyTorch's forward names"
        given = given_arguments(call)
        if given is None:
            return f"a call PyTorch's signature refuses ({who}'s signature differs)"
        from reference.losses import LOSSES

        legacy = set(LOSSES[call.loss].LEGACY) & set(given)
        if legacy:
            return f"{who} has no legacy {' / '.join(sorted(legacy))}"
        return None

    def available(self) -> tuple[bool, str]:
        """(usable, reason when not)."""
        return True, ""

    def version(self) -> str:
        """The backend's version for the report; "unavailable" when it cannot be asked (never raises)."""
        try:
            return self.version_text()
        except Exception:  # noqa: BLE001 - a backend that cannot say its version is reported, not raised
            return "unavailable"

    def version_text(self) -> str:
        """The hook: the backend's version string (may raise)."""
        return "?"

    def describe(self) -> dict:
        return {"backend": self.name, "version": self.version(), "device": self.caps.device}

    def run(self, call) -> Outcome:
        """Run one `reference.engine.Call`. Never raises: a backend failure is recorded in Outcome."""
        out = Outcome()
        try:
            self._run(call, out)
        except BaseException as exc:  # noqa: BLE001 - a backend's failure is data
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            where = out.raised.where if out.raised else "call"
            out.raised = Raised(type(exc).__name__, _message(exc), where)
        try:
            out.repro = self.repro(call)
        except Exception as exc:  # noqa: BLE001
            out.repro = f"# could not build a reproduction: {type(exc).__name__}: {exc}"
        return out

    # -- the template: convert in, call, differentiate, convert out, capture warnings --------------
    # A backend implements the hooks below; `_run` is the one skeleton every adapter shares. A
    # backend whose autodiff cannot follow it (JAX: a function transform, not a tape) overrides
    # `_run` and still uses `take_warnings` and `operand_names`.
    def _run(self, call, out: Outcome) -> None:
        names = operand_names(call.loss)
        ops = {n: self.operand(call, n) for n in names}
        values = [ops[n] for n in names]
        stage = "construction"
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if call.form == "module":
                    callee = self.module(call.loss, call.args, call.kwargs)
                    take_warnings(caught, out, stage)
                    out.module_attrs = read_module_attrs(callee, call.loss)
                    stage = "call"
                    y = callee(**dict(zip(call.forward_names, values))) if call.forward_names else callee(*values)
                else:
                    stage = "call"
                    callee = self.function(call.loss)
                    y = callee(*values, *call.args, **call.kwargs)
                take_warnings(caught, out, stage)
            y = self.result(y)
            out.output, out.output_dtype = self.to_numpy(y), self.dtype_tag(y)
            if call.grad_wrt:
                stage = "backward"
                wrt = [n for n in call.grad_wrt if self.is_tensor(ops[n])]  # a Python-number var takes none
                with warnings.catch_warnings():  # the forward call reported its warnings
                    warnings.simplefilter("ignore")
                    grads = self.gradients(call, callee, y, ops, wrt)
                for n, g in grads.items():
                    if g is not None:
                        out.grads[n], out.grad_dtypes[n] = self.to_numpy(g), self.dtype_tag(g)
        except Exception as exc:  # noqa: BLE001 - recorded, never raised
            out.raised = Raised(type(exc).__name__, _message(exc), stage)
        for n in names:  # SHAPE-NO-MUTATION: the operands' values afterwards
            if self.is_tensor(ops[n]) and changed(np.asarray(call.operands[n]), self.to_numpy(ops[n])):
                out.mutated.append(n)

    def operand(self, call, name: str):
        """The backend value of one operand: a Python number (a Gaussian var) as is, an array
        converted in the call's layout for it, a differentiable leaf where the call asks for its
        gradient."""
        a = call.operands[name]
        if isinstance(a, (float, int, bool)) and not isinstance(a, np.ndarray):
            return a
        return self.to_backend(a, call.layout.get(name), grad=name in call.grad_wrt)

    def to_backend(self, a, layout=None, grad: bool = False):
        """A backend array with `a`'s dtype and values, in the named memory layout."""
        raise NotImplementedError

    def to_numpy(self, y) -> np.ndarray:
        raise NotImplementedError

    def dtype_tag(self, y) -> str:
        """The suite's dtype tag of a backend array (float16, bfloat16, float32, float64, int64...)."""
        return str(self.to_numpy(y).dtype)

    def is_tensor(self, v) -> bool:
        raise NotImplementedError

    def result(self, y):
        """The call's result as a backend array, or TypeError: a loss returns the backend's array."""
        if not self.is_tensor(y):
            raise TypeError(f"the loss returned {type(y).__name__}, not the backend's array type")
        return y

    def function(self, loss: str):
        """The functional form of `loss` (called with the operands, then the call's arguments)."""
        raise NotImplementedError

    def module(self, loss: str, args: tuple, kwargs: dict):
        """The module form of `loss`, constructed with the call's arguments."""
        raise NotImplementedError

    def gradients(self, call, callee, y, ops: dict, wrt: list) -> dict:
        """{operand: backend gradient} of `y` pulled back with the call's upstream gradient
        (`upstream(call, y)`), for the operands named in `wrt`."""
        raise NotImplementedError

    def upstream(self, call, y) -> np.ndarray:
        """The upstream gradient as NumPy, in the output's dtype: the call's, else ones."""
        dt = self.to_numpy(y).dtype
        if call.grad_output is None:
            return np.ones(np.shape(self.to_numpy(y)), dtype=dt)
        return np.asarray(call.grad_output).astype(dt)

    def repro(self, call) -> str:
        return ""

    @staticmethod
    def repro_expected(where: str, expected: str, note: str) -> str:
        """Lines that end a reproduction with what the spec expects, in its language (Python)."""
        return f"\n# expected: {where} = {expected}{note}\nprint('expected: {where} =', {expected!r})"


def given_arguments(call) -> dict | None:
    """The arguments the call gave besides its operands (positional ones named), bound by PyTorch's
    signature (reference.rules.given); a module call's are its constructor's. None where PyTorch's
    signature refuses them."""
    from reference.rules import given

    return given(call.loss, call.form, call.args, call.kwargs)


def importable(module: str, extra: str, load=None) -> tuple[bool, str]:
    """`Adapter.available` for a backend that lives in an optional package: (True, "") when
    `module` is installed and `load()` (the adapter's import, if given) succeeds, else the reason,
    naming the project extra that installs it."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return False, f"{module} is not installed (pip install '.[{extra}]')"
    if load is not None:
        try:
            load()
        except Exception as exc:  # noqa: BLE001
            return False, f"{module} cannot be imported: {type(exc).__name__}: {exc}"
    return True, ""


def repro_operands(call, array_line) -> tuple[list, list]:
    """(lines, names) that rebuild the call's operands in a reproduction: a Python number as is,
    an array through `array_line(name, array)`, the backend's own constructor."""
    lines, names = [], []
    for name in operand_names(call.loss):
        a = call.operands[name]
        lines.append(f"{name} = {a!r}" if not isinstance(a, np.ndarray) else array_line(name, a))
        names.append(name)
    return lines, names


def operand_names(loss: str) -> tuple:
    """The loss's operands in call order (the loss module's declaration)."""
    from reference.losses import LOSSES

    return LOSSES[loss].OPERANDS


def take_warnings(caught: list, out: Outcome, where: str) -> None:
    """Move the warnings caught so far into `out`, with the stage they came from, the file each
    is attributed to, and whether that file is the caller's (LEGACY-WARN-LOCATION).

    Called from the frame that made the call, so the stack here is the caller's stack: a warning
    attributed to one of its files came out with too high a `stacklevel` (its location then moves
    with every call site, and Python's 'default' filter shows it once per caller line instead of
    once)."""
    if not caught:
        return
    import sys

    stack, f = set(), sys._getframe(1)
    while f is not None:
        stack.add(f.f_code.co_filename)
        f = f.f_back
    for w in caught:
        out.warnings.append((w.category.__name__, str(w.message), where))
        out.warning_files.append(str(w.filename))
        out.warning_at_caller.append(str(w.filename) in stack)
    caught.clear()


def layout_view(a: np.ndarray, layout: str | None):
    """`a`'s values in the named memory layout, as a NumPy view (the values never change).

    transposed: the transpose of a contiguous transposed copy (ndim >= 2);
    strided:    every other element of a twice-as-long last dimension;
    expanded:   dimensions along which `a` is constant are stored once and broadcast (stride 0).
    """
    a = np.asarray(a)
    if not layout or layout == "contiguous" or a.ndim == 0:
        return np.array(a, order="C", copy=True)
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    if layout == "strided":
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
        big[..., ::2] = a
        return big[..., ::2]
    if layout == "expanded":
        base = a
        for ax in range(a.ndim):
            if base.shape[ax] > 1 and _same_bits(base, np.broadcast_to(base.take([0], axis=ax), base.shape)):
                base = base.take([0], axis=ax)
        return np.broadcast_to(np.ascontiguousarray(base), a.shape)
    raise ValueError(f"unknown layout {layout!r}")


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal values with equal zero signs (0.0 and -0.0 differ: a layout must not change a value's
    bits); NaNs compare equal."""
    if not np.array_equal(a, b, equal_nan=True):
        return False
    if a.dtype.kind in "iub":
        return True
    fa, fb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    keep = ~np.isnan(fa)
    return bool(np.array_equal(np.signbit(fa[keep]), np.signbit(fb[keep])))


def read_module_attrs(module, loss: str) -> dict:
    """The configuration a constructed module exposes (API-MODULE-ATTRS: the loss's parameters and
    its reduction); absent ones as '<absent>'."""
    from reference.losses import LOSSES

    return {k: getattr(module, k, "<absent>") for k in LOSSES[loss].PARAMS + ("reduction",)}


def changed(before: np.ndarray, after: np.ndarray) -> bool:
    """Did a call change an operand's values (SHAPE-NO-MUTATION)? Values and zero signs compare;
    a NaN stays a NaN whatever its payload and sign."""
    a, b = np.asarray(before), np.asarray(after)
    if a.shape != b.shape:
        return True
    if a.dtype.kind in "iub":
        return not np.array_equal(a, b)
    fa, fb = a.astype(np.float64), b.astype(np.float64)  # NaN payloads may differ after a round trip
    nan = np.isnan(fa)
    return not (np.array_equal(fa, fb, equal_nan=True)
                and np.array_equal(np.signbit(fa[~nan]), np.signbit(fb[~nan])))


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return "".join(traceback.format_exception_only(type(exc), exc)).strip()


# arrays with more elements than this are written packed (results, reproductions): a literal of a
# large reduction's 10^5 elements made a results file of hundreds of MB
PACK_OVER = 256


def _flat64(a: np.ndarray) -> np.ndarray:
    """The values as little-endian float64 (every float format embeds exactly) or int64."""
    a = np.asarray(a)
    return a.astype("<i8").ravel() if a.dtype.kind in "iub" else a.astype(np.float64).astype("<f8").ravel()


def pack_values(a) -> str:
    """The array's values, exactly, as base64 text of their zlib-compressed float64 (int64) bytes."""
    return base64.b64encode(zlib.compress(_flat64(a).tobytes(), 6)).decode("ascii")


def unpack_values(text: str, integral: bool = False) -> np.ndarray:
    """The inverse of `pack_values`: a flat float64 (int64) array."""
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype="<i8" if integral else "<f8").copy()


def array_literal(a: np.ndarray) -> str:
    """A Python expression for the list of the array's values, exactly: a literal (float.hex where
    needed), or past PACK_OVER elements a standard-library expression that unpacks them."""
    a = np.asarray(a)
    if a.size > PACK_OVER:
        code = "q" if a.dtype.kind in "iub" else "d"
        return (f"list(__import__('struct').unpack('<{a.size}{code}', __import__('zlib').decompress("
                f"__import__('base64').b64decode('{pack_values(a)}'))))")
    flat = a.astype(np.float64).ravel() if a.dtype.kind in "fV" or str(a.dtype) == "bfloat16" else a.ravel()

    def lit(v):
        if isinstance(v, (np.floating, float)):
            f = float(v)
            if f != f:
                return "float('nan')"
            if f in (float("inf"), float("-inf")):
                return f"float('{f}')"
            r = repr(f)
            return r if float(r) == f else f"float.fromhex('{f.hex()}')"
        return repr(v.item() if hasattr(v, "item") else v)

    return "[" + ", ".join(lit(v) for v in flat) + "]"
