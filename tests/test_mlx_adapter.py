"""The MLX adapter (`mlx`): MLX's own gaussian_nll_loss, converted exactly (a float64 array stays
float64, which MLX would otherwise make float32), differentiated with mx.vjp.

Skipped where mlx is not installed (the `tests` tox environment has none; `pip install '.[mlx]'`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytest.importorskip("mlx.core")

import adapters  # noqa: E402
from reference.engine import Call  # noqa: E402


def test_capabilities_say_what_mlx_cannot_express():
    a = adapters.make("mlx")
    assert a.available() == (True, "")
    assert a.caps.losses == ("gaussian",) and a.caps.forms == ("functional",)
    assert adapters.NATURAL_LEVEL["mlx"] == "api"


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_dtype_survives_the_round_trip_and_gradients_come_from_vjp(dtype):
    a = adapters.make("mlx")
    x, y, v = (np.array(vals, dtype=dtype) for vals in ([1.0, 0.5], [0.0, 0.0], [0.5, 2.0]))
    out = a.run(Call("gaussian", "functional", {"input": x, "target": y, "var": v}, (), {"reduction": "none"},
                     grad_wrt=("input", "var")))
    assert out.raised is None, out.raised
    assert out.output_dtype == dtype and out.grad_dtypes == {"input": dtype, "var": dtype}
    np.testing.assert_allclose(out.grads["input"].astype(float), [2.0, 0.25], rtol=1e-3)
    assert "mx.vjp" in out.repro
