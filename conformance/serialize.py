"""A `reference.engine.Call` to and from JSON (counterexamples in results, the replay corpus)."""

from __future__ import annotations

import numpy as np

from adapters.base import PACK_OVER, pack_values, unpack_values
from reference.engine import Call


def _np_dtype(tag: str):
    if tag == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(tag)


def value_str(v) -> str:
    """A float as text that reads back exactly (Python's shortest round-trip repr)."""
    f = float(v)
    return repr(f) if f == f else "nan"


PREVIEW = 16  # values shown beside a packed array


def array_to_json(a) -> dict:
    """dtype, shape and the values as exact text; past PACK_OVER elements the values are `packed`
    (exact, compressed) and `values` holds the first PREVIEW of them, `size` the count."""
    a = np.asarray(a)
    tag = str(a.dtype)
    flat = a.ravel()
    head = flat[:PREVIEW] if a.size > PACK_OVER else flat
    if a.dtype.kind in "iub":
        vals = [str(int(v)) for v in head]
    else:
        vals = [value_str(v) for v in head.astype(np.float64)]
    d = {"dtype": tag, "shape": list(a.shape), "values": vals}
    if a.size > PACK_OVER:
        d.update(size=int(a.size), packed=pack_values(a))
    return d


def array_from_json(d: dict):
    tag = d["dtype"]
    if "packed" in d:
        vals = unpack_values(d["packed"], integral=np.dtype(_np_dtype(tag)).kind in "iub").reshape(d["shape"])
    else:
        vals = np.array([float(v) for v in d["values"]], dtype=np.float64).reshape(d["shape"])
    return vals.astype(_np_dtype(tag))


def array_size(d: dict) -> int:
    """Elements of a serialized array (packed or not)."""
    return int(d.get("size", len(d.get("values", ()))))


def _plain(v):
    if isinstance(v, (np.generic,)):
        return v.item()
    return v


def call_to_json(call: Call) -> dict:
    ops = {}
    for k, v in call.operands.items():
        ops[k] = array_to_json(v) if isinstance(v, np.ndarray) else {"python": repr(v), "type": type(v).__name__}
    return {
        "loss": call.loss,
        "form": call.form,
        "operands": ops,
        "args": [_plain(a) for a in call.args],
        "kwargs": {k: _plain(v) for k, v in call.kwargs.items()},
        "grad_wrt": list(call.grad_wrt),
        "grad_output": None if call.grad_output is None else array_to_json(call.grad_output),
        "layout": {k: v for k, v in call.layout.items() if v not in (None, "contiguous")},
        "forward_names": list(call.forward_names),
    }


def call_from_json(d: dict) -> Call:
    ops = {}
    for k, v in d["operands"].items():
        if "python" in v:  # a Python number operand (Gaussian var)
            ops[k] = {"int": int, "bool": lambda s: s == "True"}.get(v.get("type"), float)(v["python"])
        else:
            ops[k] = array_from_json(v)
    g = d.get("grad_output")
    return Call(
        loss=d["loss"],
        form=d["form"],
        operands=ops,
        args=tuple(d.get("args", ())),
        kwargs=dict(d.get("kwargs", {})),
        grad_wrt=tuple(d.get("grad_wrt", ())),
        grad_output=None if g is None else array_from_json(g),
        layout=dict(d.get("layout") or {}),
        forward_names=tuple(d.get("forward_names") or ()),
    )
