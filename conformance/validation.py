"""A run's arguments checked before any worker starts: usage and configuration errors (exit code 2).

`validate` resolves the backend and the user functions, checks every option against what the
registries know (losses, dtypes), loads the expectations files (a malformed one is a usage error
naming the file and the entry), makes sure the outputs can be written, and asks the adapter whether
its backend is available.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from conformance import options
from conformance.results import DTYPES
from reference.losses import LOSSES

ROOT = Path(__file__).resolve().parent.parent


class UsageError(Exception):
    pass


def user_specs(args) -> dict:
    """{loss: spec} of the --<loss>-fn options the run was given."""
    return options.user_specs(lambda dest: getattr(args, dest, None))


def validate(args):
    """Usage and configuration errors are found here, before any child runs (exit code 2)."""
    sys.path.insert(0, str(ROOT))
    import adapters
    from conformance import expectations as expmod

    if args.backend not in adapters.REGISTRY:
        raise UsageError(f"unknown backend {args.backend!r}; known: {', '.join(adapters.REGISTRY)} (see `list`)")
    fns = {}
    for loss, spec in user_specs(args).items():
        if spec:
            if args.backend not in adapters.ACCEPTS_USER_FUNCTIONS:
                raise UsageError(f"backend {args.backend!r} does not take user functions")
            try:
                fns[loss] = adapters.load_user_function(spec)
            except adapters.UserFunctionError as exc:
                raise UsageError(f"--{loss}-fn: {exc}") from None
    for opt, allowed in (("loss", tuple(LOSSES)), ("dtype", DTYPES)):
        val = getattr(args, opt)
        if val:
            bad = [v for v in val.split(",") if v.strip() not in allowed]
            if bad:
                raise UsageError(f"--{opt}: unknown {', '.join(bad)}; choose from {', '.join(allowed)}")
    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if args.cannot and not fns:
        raise UsageError("--cannot describes a user function: give " + " or ".join(f"--{n}-fn" for n in LOSSES))
    try:
        cannot = adapters.parse_cannot(args.cannot) if args.cannot else None
    except ValueError as exc:
        raise UsageError(f"--cannot: {exc}") from None
    exp_paths = []
    if not args.no_expectations:
        exp_paths = list(args.expectations or [])
        if not exp_paths and not fns and expmod.default_for(args.backend):
            exp_paths = [str(expmod.default_for(args.backend))]
        for path in exp_paths:
            try:
                expmod.load(path)
            except expmod.ExpectationsError as exc:
                raise UsageError(str(exc)) from None
    for opt, is_dir in (("json", False), ("junit", False), ("report", True)):
        if getattr(args, opt):
            why = unwritable(Path(getattr(args, opt)), is_dir)
            if why:
                raise UsageError(f"--{opt} {getattr(args, opt)}: {why}")
    try:
        adapter = adapters.make(args.backend, fns or None, {k: getattr(args, f"{k}_fn") for k in fns}, cannot)
        ok, why = adapter.available()
    except Exception as exc:  # noqa: BLE001
        ok, why, adapter = False, f"adapter failed to load: {type(exc).__name__}: {exc}", None
    return adapter, ok, why, exp_paths, fns


def unwritable(path: Path, is_dir: bool) -> str | None:
    """Why `path` cannot be written (None if it can), found without writing anything there: the
    nearest existing ancestor must be a directory this process can create a file in."""
    if path.exists():
        if is_dir and not path.is_dir():
            return "exists and is not a directory"
        if not is_dir and path.is_dir():
            return "is a directory"
    probe = path if (is_dir and path.is_dir()) else path.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is not a directory"
    try:
        fd, name = tempfile.mkstemp(prefix=".lossconform-probe-", dir=probe)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return f"cannot write in {probe}: {exc.strerror or exc}"
    return None
