"""A `reference.api.Call` to and from JSON (counterexamples in results, the replay corpus)."""

from __future__ import annotations

import numpy as np

from reference.api import Call


def _np_dtype(tag: str):
    if tag == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(tag)


def value_str(v) -> str:
    """A float as text that reads back exactly (Python's shortest round-trip repr)."""
    f = float(v)
    return repr(f) if f == f else "nan"


def array_to_json(a) -> dict:
    a = np.asarray(a)
    tag = str(a.dtype)
    if a.dtype.kind in "iub":
        vals = [str(int(v)) for v in a.ravel()]
    else:
        vals = [value_str(v) for v in a.astype(np.float64).ravel()]
    return {"dtype": tag, "shape": list(a.shape), "values": vals}


def array_from_json(d: dict):
    tag = d["dtype"]
    vals = np.array([float(v) for v in d["values"]], dtype=np.float64).reshape(d["shape"])
    return vals.astype(_np_dtype(tag))


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
