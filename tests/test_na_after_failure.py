"""A check that meets a call the backend cannot express (NA) after calls that already deviated keeps
those deviations: NA never hides a failure (it did: TensorFlow's promotion checks raised, then read NA)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SUM_AS_MEAN = '''
import numpy as np
from adapters.numpy_losses import poisson_nll_loss as _loss

def sum_as_mean(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                reduction="mean"):
    return _loss(input, target, log_input, full, eps=eps, reduction="mean" if reduction == "sum" else reduction)
'''


def test_a_failure_before_a_not_applicable_call_stands(tmp_path):
    (tmp_path / "cand.py").write_text(textwrap.dedent(SUM_AS_MEAN), encoding="utf-8")
    out = tmp_path / "res.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run([sys.executable, "-m", "conformance", "run", "--backend", "numpy", "--poisson-fn",
                        f"{tmp_path / 'cand.py'}:sum_as_mean", "--cannot", "legacy", "--check", "poisson.legacy[*]",
                        "--json", str(out), "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 1, p.stdout + p.stderr
    recs = {r["check"]: r for r in json.loads(out.read_text(encoding="utf-8"))["records"]}
    bad = recs["poisson.legacy[reduction=sum,form=functional]"]
    assert bad["status"] == "FAIL", bad
    assert any("cannot express" in n for n in bad["notes"]), bad["notes"]
    fine = recs["poisson.legacy[reduction=mean,form=functional]"]
    assert fine["status"] == "NA", fine  # nothing deviated before its first legacy call
