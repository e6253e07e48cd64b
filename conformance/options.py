"""The run options, once: the `python -m conformance run` parser, the pytest plugin's options and
the command line of the worker processes are all generated from `OPTIONS`.

`where` says who takes an option: "both" (the CLI, and pytest, and it is passed on to the workers),
"cli" (the parent only: outputs, workers, budgets) or "pytest" (the workers only; internal ones are
set by the parent). Where the two sides differ in form, `pytest_form` overrides the pytest side.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from reference.floats import FLOAT_DTYPES
from reference.losses import LOSSES

from .specindex import LEVELS

PROFILES = {"quick": 8, "standard": 30, "thorough": 250}


@dataclass(frozen=True)
class Option:
    name: str
    help: str
    where: str = "both"  # "both" | "cli" | "pytest"
    kw: dict = field(default_factory=dict)  # argparse / pytest addoption keywords
    pytest_form: dict | None = None  # the pytest side's keywords, where they differ

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")


OPTIONS = (
    Option("backend", "backend adapter to check (see `list`)", kw={"required": True},
           pytest_form={"default": os.environ.get("LOSSCONFORM_BACKEND", "numpy")}),
    # one --<loss>-fn per loss of the registry
    *(Option(f"{name}-fn", f"MOD:ATTR or file.py:ATTR replacing the backend's {m.FUNCTIONAL}")
      for name, m in LOSSES.items()),
    Option("loss", f"comma-separated losses to check: {','.join(LOSSES)}"),
    Option("dtype", f"comma-separated dtypes to check: {','.join(FLOAT_DTYPES)}"),
    Option("check", "comma-separated check ids or patterns (* matches anything), e.g. 'poisson.values*,*float16*' "
                    "or an exact id such as 'poisson.values[log_input=True,full=False,float32]'"),
    Option("profile", "how many cases hypothesis draws per check", kw={"default": "standard",
                                                                      "choices": tuple(PROFILES)}),
    Option("level", "which clauses count (default: strict for built-in backends, api for user functions)",
           kw={"choices": LEVELS}),
    Option("expectations", "expectations TOML (default: expectations/<backend>.toml); may be given more than once",
           kw={"action": "append"}, pytest_form={"default": None, "help": "expectations files, separated by "
                                                  f"{os.pathsep!r} (default: expectations/<backend>.toml)"}),
    Option("no-expectations", "apply no expectations file", kw={"action": "store_true"}),
    Option("expect-pytorch-deviations", "a deviation PyTorch 2.13 itself shows (same bits, listed in "
                                        "expectations/torch.toml) is expected: for a function that reuses torch's "
                                        "own operations", kw={"action": "store_true"}),
    Option("cannot", "what a user function cannot express, reported as NA: comma-separated from module, float16, "
                     "bfloat16, float32, float64, log_input=True|False, full=True|False, legacy (size_average/reduce), "
                     "positional, reduction=none|mean|sum (see README)"),
    Option("seed", "seed of the deterministic gate", kw={"type": int, "default": 0}),
    Option("explore", "fresh random cases, persistent hypothesis database", kw={"action": "store_true"}),
    Option("save-counterexamples", "save failing calls into this replay-corpus directory"),
    # the parent's own
    Option("json", "write the results JSON here", where="cli"),
    Option("report", "write the HTML page into this directory", where="cli"),
    Option("junit", "write JUnit XML here", where="cli"),
    Option("timeout", "seconds one check may run (TIMEOUT past it)", where="cli", kw={"type": float, "default": 600.0}),
    Option("workers", "worker processes running checks in parallel (default: one per core)", where="cli",
           kw={"type": int, "default": None}),
    Option("shrink", "minimal counterexamples: off (each failure's first example, reduced to one element where that "
                     "shows it), auto (default: hypothesis shrinks each distinct failure once), full (every failing "
                     "check)", kw={"default": "auto", "choices": ("off", "auto", "full")},
           pytest_form={"default": "off", "choices": ("off", "full"),
                        "help": "off: record every deviation of each check unshrunk; full: shrink each one"}),
    Option("shrink-budget", "seconds the whole shrinking phase may take (default 60); what is not shrunk by then "
                            "keeps its first example", where="cli", kw={"type": float, "default": 60.0}),
    Option("quiet", "no progress lines", where="cli", kw={"action": "store_true"}),
    Option("verbose", "one line per failing check, besides the findings", where="cli", kw={"action": "store_true"}),
    # the workers' own, set by the parent
    Option("results-jsonl", "(internal) append one JSON event per line to this file", where="pytest"),
    Option("done-file", "(internal) node ids already recorded: not run again", where="pytest"),
    Option("minimise", "(internal) JSON {node id: [signatures]} to shrink", where="pytest"),
    Option("shrink-seconds", "at most this long shrinking one failure", where="pytest",
           kw={"type": float, "default": 30.0}),
    Option("claim-dir", "(internal) worker processes claim checks here", where="pytest"),
    Option("worker", "(internal) this worker's name in records", where="pytest", kw={"default": "0"}),
)


def user_specs(get) -> dict:
    """{loss: spec} of the user functions given (`get(dest)` reads an option: the CLI's namespace or
    pytest's config)."""
    return {name: get(f"{name}_fn") for name in LOSSES if get(f"{name}_fn")}


def default_level(specs: dict, backend=None) -> str:
    """Built-in backends are judged at strict (or the level their adapter names as natural:
    core for a framework with its own argument names), user functions at api (README: Levels)."""
    from adapters import NATURAL_LEVEL

    if specs:
        return "api"
    return NATURAL_LEVEL.get(backend, "strict")


def add_to_argparse(parser) -> None:
    for o in OPTIONS:
        if o.where in ("both", "cli"):
            parser.add_argument(f"--{o.name}", help=o.help, **o.kw)


def add_to_pytest(group) -> None:
    for o in OPTIONS:
        if o.where in ("both", "pytest"):
            kw = dict(o.kw)
            kw.pop("required", None)
            kw.setdefault("default", None if kw.get("action") != "store_true" else False)
            kw = dict(kw, **(o.pytest_form or {}))
            if kw.get("action") == "append":
                kw.pop("action")
            group.addoption(f"--{o.name}", help=kw.pop("help", o.help), **kw)


def worker_args(args, exclude=("expectations", "no-expectations", "shrink")) -> list:
    """The options of `args` (the CLI's namespace) that the workers take, as command-line words."""
    out = []
    for o in OPTIONS:
        if o.where != "both" or o.name in exclude:
            continue
        v = getattr(args, o.dest, None)
        if o.kw.get("action") == "store_true":
            if v:
                out.append(f"--{o.name}")
        elif v is not None and v != "":
            out += [f"--{o.name}", str(v)]
    return out
