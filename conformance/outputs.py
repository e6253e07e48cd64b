"""What a finished run writes: the console summary (findings first, each with its minimal input;
stale expectations; the verdict line), the results JSON, the HTML page and JUnit XML."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conformance.results import STATUSES


def summary_line(res) -> str:
    s = res.get("summary", {}) if isinstance(res, dict) else {}
    return ", ".join(f"{k} {s[k]}" for k in STATUSES if s.get(k))


def print_verdict(args, res, name) -> None:
    """Findings first (own deviations, then PyTorch's), each with its minimal input; then stale
    expectations, crashes and timeouts, the verdict line."""
    from conformance import findings as fnd

    for st in res["stale_expectations"]:
        print(f"[{name}] stale expectation: {st['check']} ({st['why']})")
    own = [f for f in res["findings"] if f["status"] != "XFAIL"]
    if own:
        print(f"[{name}] {len(own)} finding{'s' if len(own) > 1 else ''} (own deviations first):")
        for f in own:
            ex = f["example"]
            tag = "" if f["origin"] == "own" else "  [PyTorch 2.13 shows this too]"
            checks = f["checks"]
            seen = checks[0] + (f" and {len(checks) - 1} more checks" if len(checks) > 1 else "")
            print(f"[{name}] {f['id']} {f['status']} {f['clause']} ({f['quantity']}, {f['kind']}){tag}: in {seen}")
            print(f"[{name}]    {'minimal' if f['minimal'] else 'example'}: {fnd.example_text(ex)}")
            if ex.get("expected") is not None or ex.get("got") is not None:
                extra = f" (normalized error {ex['normalized_error']})" if ex.get("normalized_error") else ""
                print(f"[{name}]    expected {ex.get('expected')}, got {ex.get('got')}{extra}")
            else:
                print(f"[{name}]    {ex.get('message', '')[:200]}")
    for r in res["records"]:
        if r["status"] in ("CRASH", "TIMEOUT", "XPASS") or (args.verbose and r["status"] in ("FAIL", "ERROR")):
            print(f"[{name}] {r['status']:7s} {r['check']}  [{r.get('clause')}] {(r.get('message') or '')[:200]}")
        elif r["status"] == "ERROR" and (r.get("failure") or {}).get("kind") == "internal":
            print(f"[{name}] ERROR   {r['check']}  {(r.get('message') or '')[:200]}")
    env = res["environment"]
    tail = f" in {env['duration_s']} s"
    t = env.get("timings") or {}
    if t.get("shrink_s"):
        tail += f" (checks {t.get('checks_s')} s, shrinking {t['shrink_s']} s)"
    print(f"[{name}] {res['verdict']}: {summary_line(res)}{tail}")


def write_outputs(args, res, name=None):
    name = name or args.backend
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(args.json).with_name(Path(args.json).name + ".tmp")
        tmp.write_text(json.dumps(res, indent=1), encoding="utf-8")
        os.replace(tmp, args.json)
    if args.report:
        from reports import render

        path = Path(args.report) / render.page_name(res)
        render.write_run(res, path)
        print(f"[{name}] report: {path}")
    if args.junit:
        write_junit(res, args.junit)


def write_junit(res, path):
    """JUnit XML for CI systems that read it: one testcase per check."""
    import xml.etree.ElementTree as ET

    env = res["environment"]
    suite = ET.Element("testsuite", name=f"lossconform.{env['backend']}", tests=str(len(res["records"])))
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for r in res["records"]:
        case = ET.SubElement(suite, "testcase", classname=f"lossconform.{env['backend']}.{r.get('chapter') or 'run'}",
                             name=r["check"], time=str(r.get("duration_s") or 0))
        st = r["status"]
        msg = f"[{r.get('clause')}] {r.get('message') or ''}"
        if st in ("FAIL", "XPASS"):
            counts["failures"] += 1
            ET.SubElement(case, "failure", message=msg[:500], type=st).text = json.dumps(r.get("failure"), indent=1)
        elif st in ("ERROR", "CRASH", "TIMEOUT"):
            counts["errors"] += 1
            ET.SubElement(case, "error", message=msg[:500], type=st).text = json.dumps(r.get("failure"), indent=1)
        elif st in ("NA", "SKIP", "XFAIL"):
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message=f"{st}: {r.get('reason') or ''}"[:500])
    for k, v in counts.items():
        suite.set(k, str(v))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
