"""Backend adapters. `REGISTRY` maps a backend name to a factory; see base.py for the protocol.

A new backend is one module here plus one line in REGISTRY (and its tox environment).
"""

from __future__ import annotations

from .base import Adapter, Capabilities, Outcome, Raised
from .userfn import UserFunctionError, load_user_function


def _torch(**kw):
    from .torch_backend import TorchAdapter

    return TorchAdapter(device="cpu", **kw)


def _torch_cuda(**kw):
    from .torch_backend import TorchAdapter

    return TorchAdapter(device="cuda", **kw)


def _numpy(**kw):
    from .numpy_backend import NumpyAdapter

    return NumpyAdapter(**kw)


REGISTRY = {
    "numpy": _numpy,
    "torch": _torch,
    "torch-cuda": _torch_cuda,
}

# which user-function conventions each backend accepts for --poisson-fn / --gaussian-fn
ACCEPTS_USER_FUNCTIONS = {"torch", "torch-cuda", "numpy"}


def make(name: str, user_fns: dict | None = None, user_specs: dict | None = None) -> Adapter:
    if name not in REGISTRY:
        raise KeyError(name)
    kw = {}
    if user_fns:
        kw = {"user_fns": user_fns, "user_specs": user_specs or {}}
    return REGISTRY[name](**kw)


__all__ = ["Adapter", "Capabilities", "Outcome", "Raised", "REGISTRY", "make", "load_user_function",
           "UserFunctionError", "ACCEPTS_USER_FUNCTIONS"]
