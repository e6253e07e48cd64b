"""python -m reports RESULTS.json... --out DIR: one page per run (page_name) and DIR/index.html."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .render import page_name, write_matrix, write_run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reports", description=__doc__)
    ap.add_argument("results", nargs="+", type=Path, help="results JSON files")
    ap.add_argument("--out", type=Path, default=Path("reports/out"), help="output directory")
    ns = ap.parse_args(argv)
    docs = []
    for path in ns.results:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"{path}: cannot read: {e}", file=sys.stderr)
            return 2
        docs.append(doc)
    used: set[str] = {"index.html"}
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            continue
        # two runs of one backend (cpu, cuda) get distinct pages
        name = page_name(doc)
        stem, dot, ext = name.rpartition(".")
        n = 2
        while name in used:
            name = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
            n += 1
        used.add(name)
        docs[i] = {**doc, "_page": name}
    for doc in docs:
        out = write_run(doc, ns.out / page_name(doc))
        print(out)
    print(write_matrix(docs, ns.out / "index.html"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
