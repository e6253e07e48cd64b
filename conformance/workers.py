"""Worker processes that run the checks, supervised so that a crash or a hang costs one check.

Each worker is a child pytest process running the whole (selected) collection; workers share a
claim directory, so each check runs in exactly one of them (whichever reaches it first: the
costliest chapters come first, so the workers finish together). A worker appends one JSON line
per event to its own file: `start` when a check begins, `beat` while it runs (at most every 2 s),
`record` when it ends. This parent reads those files as they grow and

* marks a check TIMEOUT when it has run past the limit, kills that worker (its process group) and
  starts it again on what is left;
* marks a check CRASH when its worker died during it, and starts that worker again;
* prints a heartbeat when nothing was printed for `HEARTBEAT_S` seconds: which checks are running,
  for how long, how many backend calls they made, whether they are shrinking.

A worker ends itself when this parent is gone (LOSSCONFORM_PARENT_PID, and on Linux the kernel's
parent-death signal), so killing the parent, even with SIGKILL, leaves no orphan running checks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT_S = 10.0
MAX_RESTARTS = 50


def worker_command(args, exp_paths, worker, jsonl, done_file, claim_dir, minimise=None):
    """The command line of one worker: pytest on the checks, with the run's options (one table:
    conformance/options.py), its expectations, and the files it shares with this parent."""
    from conformance import options

    cmd = [sys.executable, "-m", "pytest", str(ROOT / "conformance"), "-q", "-p", "no:cacheprovider",
           "--rootdir", str(ROOT), *options.worker_args(args), "--results-jsonl", jsonl, "--done-file", done_file,
           "--claim-dir", claim_dir, "--worker", worker]
    if args.no_expectations or not exp_paths:
        cmd.append("--no-expectations")
    else:
        cmd += ["--expectations", os.pathsep.join(exp_paths)]
    if minimise:
        cmd += ["--minimise", minimise, "--shrink-seconds", str(max(1.0, min(30.0, args.shrink_budget)))]
    return cmd


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _die_with_parent():  # pragma: no cover - runs in the child between fork and exec
    """Linux: deliver SIGKILL to this child when the parent dies (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except Exception:  # noqa: BLE001 - elsewhere the child's own watchdog thread does it
        pass


class Stream:
    """The events of one JSON-lines file, read incrementally (a torn last line waits)."""

    def __init__(self, path: Path):
        self.path, self.offset, self.buf = path, 0, b""

    def read(self) -> list:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError):
                pass  # a torn line from a crashed worker
        return out


@dataclass
class Worker:
    name: str
    cmd: list
    jsonl: Path
    log: Path
    proc: subprocess.Popen | None = None
    stream: Stream | None = None
    current: dict | None = None  # the start event of the check running now
    since: float = 0.0
    beat: dict = field(default_factory=dict)
    restarts: int = 0
    done: bool = False


class Pool:
    """Run `cmd_for(worker_name, jsonl)` in `n` workers until every check has a record."""

    def __init__(self, n, cmd_for, workdir: Path, timeout: float, on_record, on_tick=None, deadline=None):
        self.workdir, self.timeout, self.on_record, self.on_tick = workdir, timeout, on_record, on_tick
        self.deadline = deadline  # monotonic time after which the pool stops (a budget), or None
        self.done_file = workdir / "done.txt"
        self.done_file.write_text("")
        (workdir / "claims").mkdir(exist_ok=True)
        self.workers = []
        for k in range(n):
            jsonl = workdir / f"events-{k}.jsonl"
            self.workers.append(Worker(str(k), cmd_for(str(k), str(jsonl), str(self.done_file),
                                                       str(workdir / "claims")), jsonl, workdir / f"worker-{k}.log"))
        self.records: list = []
        self.recorded: set = set()
        self.problems: list = []
        self.stopped_by_budget = False

    # -- life cycle ---------------------------------------------------------------------------
    def _start(self, w: Worker) -> None:
        # the repository first, then the caller's own PYTHONPATH (a module a backend imports from there)
        path = os.pathsep.join([str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
        env = {**os.environ, "PYTHONPATH": path, "LOSSCONFORM_PARENT_PID": str(os.getpid())}
        with open(w.log, "ab") as log:
            w.proc = subprocess.Popen(w.cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                      cwd=str(ROOT), start_new_session=True,
                                      preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        if w.stream is None:
            w.stream = Stream(w.jsonl)
        w.current = None

    def kill_all(self) -> None:
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is None:
                kill(w.proc)

    def run(self) -> tuple[list, list]:
        for w in self.workers:
            self._start(w)
        try:
            while not all(w.done for w in self.workers):
                time.sleep(0.2)
                for w in self.workers:
                    if not w.done:
                        self._poll(w)
                if self.on_tick is not None:
                    self.on_tick(self)
                if self.deadline is not None and time.monotonic() > self.deadline:
                    self.stopped_by_budget = True
                    self.kill_all()
                    break
        except BaseException:
            self.kill_all()  # the workers run in their own sessions: Ctrl-C does not reach them
            for w in self.workers:
                self._drain(w)
            raise
        for w in self.workers:
            self._drain(w)
        if not self.records and not self.problems and not self.stopped_by_budget:
            logs = "\n".join(tail(w.log) for w in self.workers)
            self.problems.append(f"no check ran; pytest's log:\n{logs}")
        return self.records, self.problems

    def _handle(self, w: Worker, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "start":
            w.current, w.since, w.beat = ev, time.monotonic(), {}
        elif kind == "beat":
            w.beat = ev
        elif kind == "record":
            if ev["nodeid"] in self.recorded:
                return
            w.current = None
            self.recorded.add(ev["nodeid"])
            self.records.append(ev)
            self.on_record(ev)

    def _drain(self, w: Worker) -> None:
        if w.stream is not None:
            for ev in w.stream.read():
                self._handle(w, ev)

    def _poll(self, w: Worker) -> None:
        self._drain(w)
        rc = w.proc.poll()
        if rc is None:
            if w.current is not None and time.monotonic() - w.since > self.timeout:
                kill(w.proc)
                w.proc.wait()
                self._drain(w)
                self._casualty(w, "TIMEOUT", f"ran past {self.timeout:.0f} s and was stopped")
            return
        self._drain(w)
        if w.current is not None:
            self._casualty(w, "CRASH", f"the backend ended the process (exit code {rc})")
            return
        if rc not in (0, 1, 5):
            self.problems.append(f"pytest (worker {w.name}) exited with code {rc}; see its log:\n{tail(w.log)}")
        w.done = True

    def _casualty(self, w: Worker, status: str, why: str) -> None:
        ev = w.current
        rec = {"event": "record", "nodeid": ev["nodeid"], "check": ev["check"], "loss": None, "chapter": None,
               "clause": None, "status": status, "message": f"{status}: {why}", "reason": None, "link": None,
               "failure": None, "failures": [], "samples": [], "duration_s": None, "order": ev.get("order", 0),
               "phase": ev.get("phase"), "worker": w.name}
        with open(w.jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        self._drain(w)
        self.done_file.write_text("\n".join(sorted(self.recorded)), encoding="utf-8")
        w.restarts += 1
        if sum(x.restarts for x in self.workers) > MAX_RESTARTS:
            self.problems.append(f"more than {MAX_RESTARTS} crashes or hangs: the run was stopped")
            self.kill_all()
            for x in self.workers:
                x.done = True
            return
        self._start(w)

    def running(self) -> list:
        """(check, seconds, backend calls, phase, worker) of each check running now."""
        now = time.monotonic()
        return [(w.current["check"], now - w.since, w.beat.get("calls"), w.current.get("phase"), w.name)
                for w in self.workers if w.current is not None and not w.done]


def kill(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            proc.kill()
        except ProcessLookupError:
            pass


def tail(path, n=40) -> str:
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])
