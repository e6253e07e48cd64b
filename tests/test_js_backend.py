"""The JavaScript backend (adapters/node_backend.py + js/server.mjs): a conforming JS implementation
passes, a mistaken one fails under the clause it violates with a small counterexample, and a
module that does not load, hangs or kills its process gets a clear status, never a lost run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def run(tmp_path, *args, impl=None, env=None, checks="poisson.values[*],poisson.gradients[*]"):
    out = tmp_path / "res.json"
    e = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    if impl:
        e["LOSSCONFORM_JS_IMPL"] = str(impl)
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "conformance", "run", "--backend", "js", "--profile", "quick",
                        "--check", checks, "--json", str(out), "--quiet", *args],
                       cwd=ROOT, env=e, capture_output=True, text=True, timeout=600)
    return p, (json.loads(out.read_text(encoding="utf-8")) if out.exists() else None)


def test_the_plain_implementation_conforms(tmp_path):
    p, res = run(tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert res["summary"]["PASS"] > 0 and res["environment"]["backend"] == "js"


def test_a_mistake_fails_under_its_clause(tmp_path):
    p, res = run(tmp_path, "--dtype", "float32", impl=ROOT / "js" / "impls" / "mistake_stirling_from_one.mjs")
    assert p.returncode == 1, p.stdout + p.stderr
    first = res["findings"][0]
    assert first["clause"] in ("PNLL-STIRLING-MASK", "PNLL-GRAD-STIRLING-MASK"), first
    assert {f["clause"] for f in res["findings"]} == {"PNLL-STIRLING-MASK", "PNLL-GRAD-STIRLING-MASK"}
    ex = first["example"]
    assert first["minimal"] and all(len(o["values"]) <= 4 for o in ex["call"]["operands"].values()
                                    if isinstance(o, dict) and "values" in o)
    assert "import * as impl from" in ex["repro"] and "poisson_nll_loss" in ex["repro"]


def _module(tmp_path, body: str) -> Path:
    p = tmp_path / "impl.mjs"
    p.write_text("export * from " + json.dumps((ROOT / "js" / "impls" / "plain.mjs").as_uri()) + ";\n"
                 + textwrap.dedent(body), encoding="utf-8")
    return p


def test_a_module_that_does_not_load_is_unavailable(tmp_path):
    bad = tmp_path / "bad.mjs"
    bad.write_text("throw new Error('broken module');\n", encoding="utf-8")
    p, _ = run(tmp_path, impl=bad)
    assert p.returncode == 3, p.stdout + p.stderr
    assert "broken module" in p.stdout + p.stderr


def test_a_hanging_call_is_recorded_and_the_run_goes_on(tmp_path):
    impl = _module(tmp_path, """
        import { poisson_nll_loss as plain } from %s;
        export function poisson_nll_loss(input, target, options = {}) {
          if (options.full) { for (;;) {} }   // hangs on full=True
          return plain(input, target, options);
        }
    """ % json.dumps((ROOT / "js" / "impls" / "plain.mjs").as_uri()))
    p, res = run(tmp_path, "--dtype", "float32", "--shrink", "off", impl=impl, env={"LOSSCONFORM_JS_TIMEOUT": "1"},
                 checks="poisson.values[log_input=True*]")
    assert p.returncode == 1, p.stdout + p.stderr
    st = {r["check"]: r for r in res["records"] if r["status"] != "NA"}
    hung = [r for c, r in st.items() if "full=True" in c]
    fine = [r for c, r in st.items() if "full=False" in c]
    assert hung and all(r["status"] in ("FAIL", "ERROR") for r in hung)
    assert any("no answer" in json.dumps(r) for r in hung)
    assert fine and all(r["status"] == "PASS" for r in fine)


def test_a_call_that_kills_the_process_is_recorded(tmp_path):
    impl = _module(tmp_path, """
        import { poisson_nll_loss as plain } from %s;
        export function poisson_nll_loss(input, target, options = {}) {
          if (options.full) process.exit(7);
          return plain(input, target, options);
        }
    """ % json.dumps((ROOT / "js" / "impls" / "plain.mjs").as_uri()))
    p, res = run(tmp_path, "--dtype", "float32", impl=impl, checks="poisson.values[log_input=True*]")
    assert p.returncode == 1, p.stdout + p.stderr
    died = [r for r in res["records"] if "full=True" in r["check"]]
    assert died and all("exited (code 7)" in json.dumps(r) for r in died)
    assert all(r["status"] == "PASS" for r in res["records"] if "full=False" in r["check"])


def test_a_module_implementing_a_distribution_subject_is_found_by_its_function_name(tmp_path):
    """The server learns the subjects' function names from the registry: a module exporting only
    normal_log_prob is checked on it (called without an options object) and the losses are NA."""
    p, res = run(tmp_path, checks="normal.values[float64],normal.edge_values[float64],poisson.values[*]",
                 impl=ROOT / "tests" / "data" / "js" / "normal_only.mjs")
    assert p.returncode == 0, p.stdout + p.stderr
    status = {r["check"]: r["status"] for r in res["records"]}
    assert status["normal.values[float64]"] == "PASS" and status["normal.edge_values[float64]"] == "PASS"
    assert all(s == "NA" for c, s in status.items() if c.startswith("poisson."))
    values = next(r for r in res["records"] if r["check"] == "normal.values[float64]")
    assert any("not differentiated" in n for n in values["notes"]), values["notes"]  # the module has no grad
    # its reproduction snippet calls the subject's function without an options object
    import numpy as np

    from adapters.node_backend import NodeAdapter
    from reference.engine import Call

    one = np.array([1.0])
    snippet = NodeAdapter().repro(Call("normal", "functional", {"loc": one, "scale": one, "value": one}))
    assert "impl.normal_log_prob(loc, scale, value);" in snippet
