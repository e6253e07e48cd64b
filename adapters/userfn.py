"""Loading a user's loss function from `MOD:ATTR` or `path/to/file.py:ATTR`."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys


class UserFunctionError(Exception):
    """A --poisson-fn/--gaussian-fn spec that cannot be loaded (a usage error, exit code 2)."""


def load_user_function(spec: str):
    mod, sep, attr = spec.rpartition(":")
    if not sep or not mod or not attr:
        raise UserFunctionError(f"{spec!r} is not of the form MODULE:ATTR or path/to/file.py:ATTR")
    try:
        if mod.endswith(".py") or os.sep in mod:
            path = os.path.abspath(mod)
            if not os.path.isfile(path):
                raise UserFunctionError(f"{mod!r}: no such file")
            name = "lossconform_user_" + os.path.splitext(os.path.basename(path))[0]
            s = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(s)
            sys.modules[name] = module
            s.loader.exec_module(module)
        else:
            module = importlib.import_module(mod)
    except UserFunctionError:
        raise
    except BaseException as exc:  # noqa: BLE001 - a broken user module is a usage error
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise UserFunctionError(f"cannot import {mod!r}: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, attr, None)
    if fn is None:
        raise UserFunctionError(f"{mod!r} has no attribute {attr!r}")
    if not callable(fn):
        raise UserFunctionError(f"{spec!r} is not callable")
    return fn


def import_lines(spec: str) -> list[str]:
    """Lines of a reproduction snippet that bind the user's function to `loss_fn`."""
    mod, _, attr = spec.rpartition(":")
    if mod.endswith(".py") or os.sep in mod:
        return ["import importlib.util",
                f"_spec = importlib.util.spec_from_file_location('candidate', {os.path.abspath(mod)!r})",
                "_mod = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(_mod)",
                f"loss_fn = _mod.{attr}"]
    return [f"from {mod} import {attr} as loss_fn"]
