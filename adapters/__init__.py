"""Backend adapters. `REGISTRY` maps a backend name to a factory; see base.py for the protocol.

A new backend is one module here plus one line in REGISTRY (and its tox environment).
"""

from __future__ import annotations

from .base import CANNOT_TOKENS, Adapter, Capabilities, Outcome, Raised, parse_cannot
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
    "jax": lambda **kw: __import__("adapters.jax_backend", fromlist=["JaxAdapter"]).JaxAdapter(jit=False, **kw),
    "jax-jit": lambda **kw: __import__("adapters.jax_backend", fromlist=["JaxAdapter"]).JaxAdapter(jit=True, **kw),
    "paddle": lambda **kw: __import__("adapters.paddle_backend", fromlist=["PaddleAdapter"]).PaddleAdapter(**kw),
    "mlx": lambda **kw: __import__("adapters.mlx_backend", fromlist=["MlxAdapter"]).MlxAdapter(**kw),
    "tensorflow": lambda **kw: __import__("adapters.tensorflow_backend", fromlist=["TensorflowAdapter"]).TensorflowAdapter(**kw),
    "keras": lambda **kw: __import__("adapters.keras_backend", fromlist=["KerasAdapter"]).KerasAdapter(**kw),
    "mindspore": lambda **kw: __import__("adapters.mindspore_backend", fromlist=["MindsporeAdapter"]).MindsporeAdapter(**kw),
    "js": lambda **kw: __import__("adapters.node_backend", fromlist=["NodeAdapter"]).NodeAdapter(**kw),
    "scipy": lambda **kw: __import__("adapters.scipy_backend", fromlist=["ScipyAdapter"]).ScipyAdapter(**kw),
    "lucid": lambda **kw: __import__("adapters.lucid_backend", fromlist=["LucidAdapter"]).LucidAdapter(**kw),
    "tfjs": lambda **kw: __import__("adapters.node_backend", fromlist=["NodeAdapter"]).NodeAdapter(
        impl=__import__("adapters.node_backend", fromlist=["TFJS_IMPL"]).TFJS_IMPL, name="tfjs", **kw),
}

# the level a backend is judged at by default, where it is not strict: a framework whose argument
# names are not PyTorch's is held to the meaning (core), not to PyTorch's call surface (README: Levels)
NATURAL_LEVEL = {"paddle": "core", "mlx": "api", "tensorflow": "core", "keras": "core", "mindspore": "core", "js": "core", "tfjs": "core", "lucid": "core", "scipy": "core"}

# which user-function conventions each backend accepts for --poisson-fn / --gaussian-fn
ACCEPTS_USER_FUNCTIONS = {"torch", "torch-cuda", "numpy", "jax", "jax-jit"}


def make(name: str, user_fns: dict | None = None, user_specs: dict | None = None, cannot=None) -> Adapter:
    """The adapter `name`, with the user's functions if any. What the functions cannot express is
    the union of their `lossconform_cannot` attributes and `cannot` (the CLI's --cannot)."""
    if name not in REGISTRY:
        raise KeyError(name)
    kw = {}
    if user_fns:
        kw = {"user_fns": user_fns, "user_specs": user_specs or {}}
    adapter = REGISTRY[name](**kw)
    declared = set(cannot or ())
    for fn in (user_fns or {}).values():
        declared |= parse_cannot(getattr(fn, "lossconform_cannot", None) or ())
    adapter.cannot = frozenset(declared)
    return adapter


__all__ = ["CANNOT_TOKENS", "parse_cannot", "Adapter", "Capabilities", "Outcome", "Raised", "REGISTRY", "make", "load_user_function",
           "UserFunctionError", "ACCEPTS_USER_FUNCTIONS", "NATURAL_LEVEL"]
