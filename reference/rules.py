"""Argument, shape and dtype rules as pure functions (SPEC chapters 1, 4-8).

Each function returns a result or a `SpecError`/`SpecWarning`; nothing here raises for a rule the
spec defines, so the conformance checks ask these functions instead of restating a rule.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass

from .floats import FLOAT_DTYPES

__all__ = [
    "SpecError",
    "SpecWarning",
    "SIGNATURES",
    "bind",
    "legacy_reduction",
    "check_reduction",
    "gaussian_var_shape",
    "broadcast_shapes",
    "result_dtype",
    "REDUCTIONS",
]

REDUCTIONS = ("none", "mean", "sum")


@dataclass(frozen=True)
class SpecError:
    """An error the spec requires.

    `clause` says that the call must raise; `type` (ERR-TYPES) and `message` (ERR-MESSAGES, or the
    more specific `message_clause`) are PyTorch's, checked at the strict level.
    """

    clause: str
    type: str
    message: str | None  # None: the spec fixes the type only
    when: str = "call"  # "call" or "construction" (module form)
    message_clause: str | None = None


@dataclass(frozen=True)
class SpecWarning:
    clause: str
    category: str
    message: str
    when: str = "call"


# --- API-SIGNATURE: names, order, defaults and keyword-only markers, as PyTorch 2.13 has them ----
# declared by each loss module (`SIGNATURES`, `OPERANDS`); these mappings read the registry
_P = inspect.Parameter
_KINDS = {"pk": _P.POSITIONAL_OR_KEYWORD, "kw": _P.KEYWORD_ONLY}


class _Signatures(Mapping):
    """(loss, form) -> inspect.Signature, from the loss module's declaration."""

    def __getitem__(self, key):
        loss, form = key
        params = _losses()[loss].SIGNATURES[form]
        return inspect.Signature([_P(p[0], _KINDS[p[1]], default=p[2] if len(p) > 2 else _P.empty) for p in params])

    def __iter__(self):
        return iter([(loss, form) for loss, m in _losses().items() for form in m.SIGNATURES])

    def __len__(self):
        return sum(len(m.SIGNATURES) for m in _losses().values())


class _Operands(Mapping):
    """loss -> its operands in call order (the module forward and the functional's leading params)."""

    def __getitem__(self, loss):
        return _losses()[loss].OPERANDS

    def __iter__(self):
        return iter(_losses())

    def __len__(self):
        return len(_losses())


def _losses():
    from .losses import LOSSES

    return LOSSES


SIGNATURES = _Signatures()
OPERANDS = _Operands()


def given(loss: str, form: str, args: tuple, kwargs: dict, *, partial: bool = False) -> dict | None:
    """API-SIGNATURE: the non-operand arguments a call gave, named by PyTorch's signature (for the
    functional form `args` are the positional arguments after the operands), no defaults; None when
    Python's binding would fail. `partial`: the required parameters may be missing."""
    sig = SIGNATURES[(loss, form)]
    n_ops = len(OPERANDS[loss]) if form == "functional" else 0
    try:
        bound = (sig.bind_partial if partial else sig.bind)(*(("·",) * n_ops + tuple(args)), **kwargs)
    except TypeError:
        return None
    return {k: v for k, v in bound.arguments.items() if form == "module" or k not in OPERANDS[loss]}


def bind(loss: str, form: str, args: tuple, kwargs: dict):
    """API-SIGNATURE: every non-operand parameter of a call, defaults filled in, or a
    SpecError(TypeError) when Python's binding would fail."""
    got = given(loss, form, args, kwargs)
    if got is None:
        return SpecError("API-SIGNATURE", "TypeError", None, "construction" if form == "module" else "call")
    defaults = {name: p.default for name, p in SIGNATURES[(loss, form)].parameters.items()
                if p.default is not inspect.Parameter.empty}
    return dict(defaults, **got)


def positional_names(loss: str, form: str, args: tuple) -> tuple:
    """The parameters the positional arguments after the operands bind to (none where they do not bind)."""
    return tuple(given(loss, form, args, {}, partial=True) or ())


def legacy_reduction(size_average, reduce):
    """LEGACY-MAP: the reduction that the deprecated arguments select, and the warning they raise.

    Applies when either is not None; None counts as True; truthiness decides (0 is False).
    Returns None when neither is given.
    """
    if size_average is None and reduce is None:
        return None
    sa = True if size_average is None else bool(size_average)
    rd = True if reduce is None else bool(reduce)
    red = "mean" if (sa and rd) else ("sum" if rd else "none")
    warn = SpecWarning(
        "LEGACY-WARN",
        "UserWarning",
        f"size_average and reduce args will be deprecated, please use reduction='{red}' instead.",
    )
    return red, warn


def check_reduction(loss: str, reduction):
    """RED-VALID: None when valid, else the error the loss raises."""
    if (isinstance(reduction, str) and reduction in REDUCTIONS) or _losses()[loss].REDUCTION_MESSAGE is None:
        return None
    if not isinstance(reduction, str):
        # PyTorch concatenates the value with a str: TypeError (message is Python's own)
        return SpecError("RED-VALID", "TypeError", None)
    text, clause = _losses()[loss].REDUCTION_MESSAGE
    return SpecError("RED-VALID", "ValueError", text.format(reduction), message_clause=clause)


def gaussian_var_shape(input_shape: tuple, var_shape: tuple | None):
    """GNLL-VAR-SHAPE: the shape var is broadcast with, or the error.

    `var_shape` None means a Python float var (GNLL-VAR-FLOAT): it applies to every element.
    Accepted: equal to input's shape S; equal to S[:-1] (then unsqueezed at the end, so for a
    square input a var of shape S[:-1] applies per row); same ndim with exactly one dimension
    where they differ, and there var has size 1.
    """
    S = tuple(input_shape)
    if var_shape is None:
        return S
    V = tuple(var_shape)
    if V == S:
        return V
    if len(S) >= 1 and V == S[:-1]:
        return V + (1,)
    if len(V) == len(S):
        diff = [i for i, (a, b) in enumerate(zip(S, V)) if a != b]
        if len(diff) == 1 and V[diff[0]] == 1:
            return V
    return SpecError("GNLL-VAR-SHAPE", "ValueError", "var is of incorrect size")


def broadcast_shapes(*shapes):
    """SHAPE-BROADCAST: NumPy/PyTorch broadcasting; RuntimeError when shapes do not broadcast."""
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(nd):
        sizes = {s[len(s) - nd + i] for s in shapes if len(s) - nd + i >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            return SpecError("SHAPE-BROADCAST", "RuntimeError", None)
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


# --- DTYPE-PROMOTE: PyTorch's type promotion (categories bool < integer < floating) -------------
_FLOATS = FLOAT_DTYPES
_INTS = ("bool", "uint8", "int8", "int16", "int32", "int64")
_FLOAT_RANK = {"float16": 1, "bfloat16": 1, "float32": 2, "float64": 3}
DEFAULT_FLOAT = "float32"


def _category(d: str) -> int:
    return 0 if d == "bool" else (1 if d in _INTS else 2)


def _promote_pair(a: str, b: str) -> str:
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    if ca == 2:
        if {a, b} == {"float16", "bfloat16"}:
            return "float32"
        return a if _FLOAT_RANK[a] > _FLOAT_RANK[b] else b
    order = {"bool": 0, "uint8": 1, "int8": 1, "int16": 2, "int32": 3, "int64": 4}
    if {a, b} == {"uint8", "int8"}:
        return "int16"
    return a if order[a] > order[b] else b


def _promote(dtypes):
    out = None
    for d in dtypes:
        out = d if out is None else _promote_pair(out, d)
    return out


def poisson_operand_dtypes(input_dtype: str, target_dtype: str) -> tuple[str, str]:
    """DTYPE-INT-TO-FLOAT for Poisson: the input goes through exp() or `+ eps` first, so an
    integral input becomes the default float before it meets the target, as PyTorch 2.13 does."""
    if _category(input_dtype) < 2:
        input_dtype = DEFAULT_FLOAT
    return input_dtype, target_dtype


def result_dtype(operands: list[tuple[str, int]]) -> str:
    """DTYPE-PROMOTE / DTYPE-INT-TO-FLOAT: the output dtype for operands given as (dtype, ndim).

    Dimensioned operands decide; a 0-d operand counts only where its category is higher than
    theirs. An integral or bool result becomes the default float, float32.
    """
    dimmed = _promote(d for d, nd in operands if nd > 0)
    zero = _promote(d for d, nd in operands if nd == 0)
    if dimmed is None:
        res = zero
    elif zero is not None and _category(zero) > _category(dimmed):
        res = zero
    else:
        res = dimmed
    return res if res in _FLOATS else DEFAULT_FLOAT
