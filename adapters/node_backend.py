"""JavaScript adapter: a JS implementation of the seed API, run in one long-lived Node.js process.

The seed API (a JavaScript torch-like library): `poisson_nll_loss(input, target, {log_input, full,
eps, reduction})` and `gaussian_nll_loss(input, target, var, {full, eps, reduction})`, and the
distribution subjects where a module exports them (`normal_log_prob(loc, scale, value)`,
`poisson_log_pmf(rate, value)`: no options object); the server is told each subject's function
name and whether it takes options (from reference.losses), so no subject is named here. The module is
`js/impls/plain.mjs` (a from-scratch implementation, no dependencies) unless LOSSCONFORM_JS_IMPL
names another module exporting the same protocol (js/server.mjs's header). The adapter talks to
`node js/server.mjs MODULE` in JSON lines; NaN, infinities and -0 travel as strings.

What the adapter translates: the call's arguments, bound against PyTorch's signature, become the
options object (PyTorch's names are the seed API's). Not expressible, so NA: the module form (the
seed API is functional), the legacy size_average / reduce, a Python-number var (the seed API takes a
tensor), a call PyTorch's signature refuses, arguments JSON cannot carry, memory layouts other than
contiguous (JS typed arrays have no strides), dtypes other than the module's (`dtypes`, default
float32 and float64: JavaScript's typed arrays). Gradients come from the module's `grad` (the seed
API has no autodiff; without `grad` they are NA). A JS exception is recorded with its `name`.

Natural level: core (the call surface is the seed API's, not PyTorch's).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np

from reference.losses import LOSSES, options_of

from .base import Adapter, Capabilities, Raised, changed, given_arguments, operand_names

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "js" / "server.mjs"
DEFAULT_IMPL = ROOT / "js" / "impls" / "plain.mjs"
TFJS_IMPL = ROOT / "js" / "impls" / "tfjs.mjs"  # needs js/node_modules (cd js && npm ci)
ENV_IMPL = "LOSSCONFORM_JS_IMPL"
START_TIMEOUT = 60  # seconds for Node to load the module and say it is ready
# seconds for one call (LOSSCONFORM_JS_TIMEOUT): a hung call kills the process, the call is recorded
# as raising, and the next call starts a fresh one
CALL_TIMEOUT = 120


def _enc(v: float):
    f = float(v)
    if f != f:
        return "nan"
    if f in (float("inf"), float("-inf")):
        return "inf" if f > 0 else "-inf"
    if f == 0 and np.signbit(f):
        return "-0"
    return f


def _dec(v) -> float:
    return float(v)  # a number, or "nan", "inf", "-inf", "-0"


def _array(a) -> dict:
    a = np.asarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "values": [_enc(v) for v in a.astype(np.float64).ravel()]}


def _numpy(obj: dict) -> np.ndarray:
    dtype = obj.get("dtype")
    vals = np.array([_dec(v) for v in obj.get("values", [])], dtype=np.float64)
    shape = tuple(int(s) for s in obj.get("shape", []))
    a = vals.reshape(shape)
    return a.astype(dtype) if dtype in ("float32", "float64", "float16") else a


class NodeAdapter(Adapter):
    name = "js"

    def __init__(self, impl: str | os.PathLike | None = None, name: str = "js", user_fns=None, user_specs=None):
        if user_fns:
            raise ValueError("the js backend runs a JavaScript module: name it with LOSSCONFORM_JS_IMPL")
        self.name = name
        # a fixed module (tfjs), else the user's (LOSSCONFORM_JS_IMPL), else the plain implementation
        self.impl = Path(impl or os.environ.get(ENV_IMPL) or DEFAULT_IMPL).resolve()
        self._proc = None
        self._lines: queue.Queue | None = None
        self._hello: dict | None = None
        self._next = 0
        self._caps = None

    # -- the Node process ------------------------------------------------------------------------
    def _start(self) -> dict:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed (Node.js 20 or newer runs the JavaScript backend)")
        subjects = json.dumps({k: [m.FUNCTIONAL, bool(options_of(k))] for k, m in LOSSES.items()})
        self._proc = subprocess.Popen([node, str(SERVER), str(self.impl), subjects], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        lines: queue.Queue = queue.Queue()
        proc = self._proc

        def pump():
            for line in proc.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        self._lines = lines
        hello = self._read(START_TIMEOUT)
        if not hello.get("ready"):
            self._stop()
            raise RuntimeError(hello.get("error") or "the JavaScript module did not load")
        self._hello = hello
        return hello

    def _read(self, timeout) -> dict:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self._stop()
            raise TimeoutError(f"the Node.js process gave no answer in {timeout} s (killed; restarted on the next call)")
        if line is None:
            code = self._proc.wait() if self._proc else None
            self._proc = None
            raise RuntimeError(f"the Node.js process exited (code {code})")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            raise RuntimeError(f"the Node.js process wrote a line that is not JSON: {line[:200]!r}") from None

    def _stop(self):
        if self._proc is not None:
            try:
                self._proc.kill()
                self._proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                pass
        self._proc = None

    def _ensure(self) -> dict:
        if self._proc is None or self._proc.poll() is not None:
            return self._start()
        return self._hello

    def __del__(self):
        self._stop()

    # -- declaration -------------------------------------------------------------------------------
    def available(self):
        if shutil.which("node") is None:
            return False, "node is not installed (Node.js 20 or newer runs the JavaScript backend)"
        if not self.impl.exists():
            return False, f"{self.impl}: no such JavaScript module ({ENV_IMPL})"
        if self.impl == TFJS_IMPL and not (ROOT / "js" / "node_modules" / "@tensorflow" / "tfjs").exists():
            return False, "@tensorflow/tfjs is not installed (cd js && npm ci; tox -e tfjs does it)"
        try:
            self._ensure()
        except Exception as exc:  # noqa: BLE001
            return False, f"the JavaScript module does not load: {exc}"
        return True, ""

    @property
    def caps(self):
        if self._caps is None:
            try:
                hello = self._ensure()
            except Exception:  # noqa: BLE001 - available() says why
                hello = {"losses": [], "dtypes": [], "grad": False}
            losses = tuple(hello.get("losses", ()))
            self._caps = Capabilities(losses=losses, forms=("functional",),
                                      dtypes=tuple(d for d in hello.get("dtypes", ()) if d in ("float32", "float64")),
                                      grad_wrt={k: (LOSSES[k].DIFFERENTIABLE if hello.get("grad") else ())
                                                for k in losses},
                                      int_dtypes=(), layouts=("contiguous",), device="cpu")
        return self._caps

    def version_text(self):
        hello = self._ensure()
        return f"{hello.get('name')} ({self.impl.name}; node {hello.get('node')})"

    def describe(self) -> dict:
        return dict(super().describe(), module=str(self.impl.relative_to(ROOT)) if self.impl.is_relative_to(ROOT)
                    else self.impl.name)

    def cannot_express(self, call):
        why = super().cannot_express(call)
        if why:
            return why
        if any(not isinstance(a, np.ndarray) for a in call.operands.values()):
            return "the seed API takes tensors, not a Python number operand"
        why = self.foreign_surface(call, "the seed API")
        if why:
            return why
        opts = self._options(call)
        try:
            json.dumps(opts, allow_nan=False)
        except (TypeError, ValueError):
            return "an argument JSON cannot carry to JavaScript"
        return None

    @staticmethod
    def _options(call):
        """The arguments the call gave, by PyTorch's signature (the seed API's option names)."""
        return given_arguments(call)

    # -- one call ------------------------------------------------------------------------------------
    def _run(self, call, out):
        names = operand_names(call.loss)
        self._next += 1
        wrt = [n for n in call.grad_wrt if isinstance(call.operands[n], np.ndarray)]
        upstream = None
        if wrt and call.grad_output is not None:
            upstream = _array(call.grad_output)
        req = {"id": self._next, "loss": call.loss, "operands": {n: _array(call.operands[n]) for n in names},
               "options": self._options(call) or {}, "wrt": wrt, "upstream": upstream}
        self._ensure()
        self._proc.stdin.write(json.dumps(req, allow_nan=False) + "\n")
        self._proc.stdin.flush()
        res = self._read(float(os.environ.get("LOSSCONFORM_JS_TIMEOUT") or CALL_TIMEOUT))
        if res.get("id") != req["id"]:
            self._stop()
            raise RuntimeError(f"the Node.js process answered call {res.get('id')!r}, not {req['id']}")
        err = res.get("error")
        if res.get("output") is not None:
            out.output = _numpy(res["output"])
            out.output_dtype = str(res["output"].get("dtype"))
        for n, g in (res.get("grads") or {}).items():
            out.grads[n], out.grad_dtypes[n] = _numpy(g), str(g.get("dtype"))
        if err:
            out.raised = Raised(str(err.get("name")), str(err.get("message")), str(err.get("where") or "call"))
        for n, a in (res.get("after") or {}).items():
            if n in call.operands and changed(np.asarray(call.operands[n]), _numpy(a)):
                out.mutated.append(n)

    def repro_expected(self, where: str, expected: str, note: str) -> str:
        return f"\n// expected: {where} = {expected}{note}\nconsole.log('expected: {where} =', {json.dumps(expected)});"

    def repro(self, call) -> str:
        """A standalone ES module: the implementation on the call's operands, values exact."""
        js_name = {"var": "variance"}  # `var` is a JavaScript keyword

        def lit(v: float) -> str:
            f = float(v)
            if f != f:
                return "NaN"
            if f in (float("inf"), float("-inf")):
                return "Infinity" if f > 0 else "-Infinity"
            return "-0" if f == 0 and np.signbit(f) else repr(f)

        opts = json.dumps(self._options(call) or {})
        lines = [f"// save as repro.mjs, run: node repro.mjs   (module: {self.impl})",
                 f"import * as impl from {json.dumps(self.impl.as_uri())};"]
        names = [js_name.get(n, n) for n in operand_names(call.loss)]
        for n, jn in zip(operand_names(call.loss), names):
            a = np.asarray(call.operands[n])
            vals = "[" + ", ".join(lit(v) for v in a.astype(np.float64).ravel()) + "]"
            lines.append(f"const {jn} = impl.tensor({vals}, {list(a.shape)}, {json.dumps(str(a.dtype))});")
        args = names + ([opts] if options_of(call.loss) else [])
        lines.append(f"const out = impl.{LOSSES[call.loss].FUNCTIONAL}({', '.join(args)});")
        lines.append("console.log(impl.toArray(out));")
        if call.grad_wrt:
            ops = ", ".join(f"{n}: {jn}" for n, jn in zip(operand_names(call.loss), names))
            lines.append(f"const g = impl.grad({json.dumps(call.loss)}, {{{ops}}}, {opts}, {json.dumps(list(call.grad_wrt))});")
            lines.append("for (const [k, t] of Object.entries(g)) console.log(k, impl.toArray(t));")
        return "\n".join(lines)
