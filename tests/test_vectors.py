"""Golden vectors (conformance/vectors.py, docs/vectors-schema.md): deterministic, self-consistent,
their documented comparison is the reference's, and the JavaScript runner passes a conforming
implementation and fails a mistaken one."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mpmath import mpf

from conformance import vectors
from reference.allowance import judge
from reference.floats import FORMATS
from reference.losses import LOSSES

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")


@pytest.fixture(scope="module")
def vector_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vectors")
    vectors.write(d)
    return d


def _docs(d):
    return {loss: json.loads((d / f"{loss}.json").read_text(encoding="utf-8")) for loss in vectors.CORPUS}


def test_the_vectors_are_deterministic(vector_dir, tmp_path):
    vectors.write(tmp_path)
    for loss in vectors.CORPUS:
        assert (tmp_path / f"{loss}.json").read_bytes() == (vector_dir / f"{loss}.json").read_bytes()


def test_every_case_has_an_answer_and_the_corpus_reaches_every_kind(vector_dir):
    for loss, doc in _docs(vector_dir).items():
        assert doc["schema"] == vectors.SCHEMA and doc["version"] == vectors.VERSION and doc["loss"] == loss
        ids = [c["id"] for c in doc["cases"]]
        assert len(ids) == len(set(ids))
        kinds = set()
        for c in doc["cases"]:
            assert ("error" in c) != ("output" in c), c["id"]
            if "error" in c:
                kinds.add("error")
                continue
            for q in [c["output"], *c["grads"].values()]:
                n = int(np.prod(q["shape"], dtype=np.int64))
                assert all(len(q[k]) == n for k in ("exact", "hi", "lo", "rounded", "allowance", "admitted", "clauses"))
                kinds |= {"nan" for v in q["hi"] if v == "nan"} | {"admitted" for a in q["admitted"] if a}
                kinds |= {"empty"} if n == 0 else set()
            kinds.add(c["options"].get("reduction", "mean"))
        reductions = {"none", "mean", "sum"} if LOSSES[loss].REDUCTION_MESSAGE is not None else set()
        assert {"error", "nan", "empty"} | reductions <= kinds, (loss, kinds)


def _value(v):
    return float(v)


@pytest.mark.parametrize("loss", list(vectors.CORPUS))
def test_the_documented_comparison_is_the_reference_s(vector_dir, loss):
    """vectors.conforms (docs/vectors-schema.md) gives reference.allowance.judge's verdict for the
    correctly rounded value and for values 1, 4, 64 and 2^20 ulps away, away from the boundary."""
    doc = _docs(vector_dir)[loss]
    checked = 0
    for c in doc["cases"]:
        if "error" in c:
            continue
        for q in [c["output"], *c["grads"].values()]:
            fmt = FORMATS[q["dtype"]]
            np_dt = np.float32 if q["dtype"] == "float32" else np.float64
            for i, r in enumerate(q["rounded"]):
                exact = mpf(q["exact"][i]) if q["exact"][i] not in ("nan", "inf", "-inf") else mpf(q["exact"][i])
                alts = tuple(mpf(_value(a)) for a in q["admitted"][i]) or None
                r = np_dt(_value(r))
                cands = [r]
                if math.isfinite(r):
                    for k in (1, 4, 64, 1 << 20):
                        for d in (np.inf, -np.inf):
                            v = r
                            for _ in range(min(k, 64)):
                                v = np.nextafter(v, np_dt(d))
                            if k > 64:
                                v = np_dt(float(r) + float(np.spacing(r)) * k * (1 if d > 0 else -1))
                            cands.append(v)
                for v in cands:
                    ref = judge(float(v), mpf(q["exact"][i]) if q["hi"][i] != "nan" else mpf("nan"),
                                mpf(q["allowance"][i]), fmt, alts)
                    if ref.ok and math.isfinite(ref.normalized) and 0.99 < ref.normalized <= 1:
                        continue  # at the boundary float64 arithmetic may round either way
                    if not ref.ok and math.isfinite(ref.normalized) and ref.normalized < 1.01:
                        continue
                    assert vectors.conforms(float(v), q, i) == ref.ok, (c["id"], i, float(v), q["exact"][i], exact)
                    checked += 1
                assert vectors.conforms(float(r), q, i), (c["id"], i)  # the correctly rounded value conforms
    assert checked > 1000


def _node(impl, vector_dir, tmp_path):
    out = tmp_path / "res.json"
    p = subprocess.run([NODE, str(ROOT / "js" / "run_vectors.mjs"), "--impl", str(ROOT / "js" / "impls" / impl),
                        "--vectors", str(vector_dir), "--json", str(out)], capture_output=True, text=True, timeout=300)
    return p, (json.loads(out.read_text(encoding="utf-8")) if out.exists() else None)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_javascript_runner_passes_a_conforming_implementation(vector_dir, tmp_path):
    p, res = _node("plain.mjs", vector_dir, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    # plain.mjs implements the two losses: their every case passes, the distribution subjects' are NA
    losses = {k: d for k, d in _docs(vector_dir).items() if k in ("poisson", "gaussian")}
    assert res["failed"] == 0 and res["passed"] == sum(len(d["cases"]) for d in losses.values())
    assert res["na"] == sum(len(d["cases"]) for k, d in _docs(vector_dir).items() if k not in losses)


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_javascript_runner_fails_a_mistake_under_its_clause(vector_dir, tmp_path):
    p, res = _node("mistake_stirling_from_one.mjs", vector_dir, tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    failing = [r for r in res["results"] if r["status"] == "FAIL"]
    assert failing and all("full=True" in r["id"] for r in failing)
    clauses = {f.get("clause") for r in failing for f in r["failures"]}
    assert "PNLL-STIRLING-MASK" in clauses and "[PNLL-STIRLING-MASK]" in p.stdout
