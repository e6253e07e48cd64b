"""The `environment` block of a results document: what ran, where, and how (subject, backend and
its version, device, Python, platform, hypothesis, profile, level, options, the suite's commit)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

from conformance import options
from conformance.results import DTYPES
from conformance.validation import user_specs
from reference.losses import LOSSES

ROOT = Path(__file__).resolve().parent.parent


def subject_name(args) -> str:
    """What the run is named after: the backend, or the user function(s) under test
    (`--poisson-fn mine.py:poisson_nll_loss` -> `mine-poisson_nll_loss`)."""
    specs = list(user_specs(args).values())
    if not specs:
        return args.backend
    parts = []
    for spec in specs:
        mod, _, attr = spec.rpartition(":")
        stem = Path(mod).stem if (mod.endswith(".py") or os.sep in mod) else mod.rsplit(".", 1)[-1]
        parts.append((stem, attr))
    if len({p[0] for p in parts}) == 1:
        name = parts[0][0] + "-" + "+".join(p[1] for p in parts)
    else:
        name = "+".join(f"{a}-{b}" for a, b in parts)
    if args.backend != "torch":
        name += f"@{args.backend}"
    return "".join(ch if ch.isalnum() or ch in "._+@-" else "_" for ch in name)


def suite_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment(args, adapter, exp_paths, started, workers) -> dict:
    level = args.level or options.default_level(user_specs(args), args.backend)
    desc = {}
    if adapter is not None:
        try:
            desc = adapter.describe()
        except Exception as exc:  # noqa: BLE001
            desc = {"version": f"unknown ({type(exc).__name__})"}
    try:
        import hypothesis

        hyp = hypothesis.__version__
    except ImportError:  # pragma: no cover
        hyp = "unknown"
    return {
        "suite_commit": suite_commit(),
        "subject": subject_name(args),
        "backend": args.backend,
        "backend_version": desc.get("version", "unknown"),
        "device": desc.get("device", "unknown"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hypothesis": hyp,
        "seed": args.seed,
        "profile": args.profile,
        "level": level,
        "explore": bool(args.explore),
        "shrink": args.shrink,
        "workers": workers,
        "losses": args.loss.split(",") if args.loss else list(LOSSES),
        "dtypes": args.dtype.split(",") if args.dtype else list(DTYPES),
        **{f"{n}_fn": getattr(args, f"{n}_fn", None) for n in LOSSES},
        "cannot": args.cannot,
        "expectations": os.pathsep.join(_shown(p) for p in exp_paths) if exp_paths else None,
        "started": started,
        "duration_s": None,
        "timings": {},
    }


def _shown(path) -> str:
    """A path as a results document shows it: relative to the suite's root when it lies inside it
    (a document does not carry the layout of the machine that wrote it), else as given."""
    p = Path(path).resolve()
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(path)
