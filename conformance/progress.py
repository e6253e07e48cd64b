"""What a run prints while it runs: one line per chapter as it completes, and a heartbeat."""

from __future__ import annotations

import time


class Progress:
    """One line per chapter as it completes, and a heartbeat line at least every 10 s."""

    def __init__(self, name, quiet):
        self.name, self.quiet = name, quiet
        self.counts, self.t0, self.last = {}, time.monotonic(), time.monotonic()
        self.chapters: dict = {}
        self.total = 0

    def say(self, text):
        if not self.quiet:
            print(f"[{self.name}] {text}", flush=True)
        self.last = time.monotonic()

    def __call__(self, rec):
        self.total += 1
        ch = rec.get("chapter") or "?"
        c = self.chapters.setdefault(ch, {})
        c[rec["status"]] = c.get(rec["status"], 0) + 1

    def tick(self, pool):
        from conformance.workers import HEARTBEAT_S

        if time.monotonic() - self.last < HEARTBEAT_S:
            return
        running = pool.running()
        done = ", ".join(f"{k} {v}" for k, v in sorted(sum_counts(self.chapters).items()))
        head = f"{time.monotonic() - self.t0:.0f} s, {self.total} checks done ({done or 'none yet'})"
        if not running:
            self.say(head)
            return
        bits = []
        for check, secs, calls, phase, worker in running:
            what = "shrinking" if phase == "minimise" else "running"
            bits.append(f"{what} {check} for {secs:.0f} s" + (f" ({calls} calls)" if calls else "")
                        + (f" on worker {worker}" if len(pool.workers) > 1 else ""))
        self.say(head + "; " + "; ".join(bits))

    def flush(self):
        if self.quiet:
            return
        for ch, c in self.chapters.items():
            parts = ", ".join(f"{k} {v}" for k, v in sorted(c.items()))
            print(f"[{self.name}] {ch:12s} {parts}", flush=True)


def sum_counts(chapters):
    out = {}
    for c in chapters.values():
        for k, v in c.items():
            out[k] = out.get(k, 0) + v
    return out
