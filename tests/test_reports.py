"""HTML reports (reports/): escaping of untrusted text, self-containment, content, robustness,
and (marked `browser`) a load in headless Chromium with no console error and no network request.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports import page_name, render_matrix, render_run, write_matrix, write_run
from reports.render import clause_anchor

DATA = Path(__file__).parent / "data"
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_IMG = "<img src=x onerror=alert(1)>"
UPSTREAM = "https://github.com/pytorch/pytorch/issues/12345"


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def torch_results() -> dict:
    return load("results_torch.json")


@pytest.fixture(scope="module")
def unavailable_results() -> dict:
    return load("results_unavailable.json")


@pytest.fixture(scope="module")
def run_html(torch_results) -> str:
    return render_run(torch_results)


def other_backend(torch_results) -> dict:
    """A second, conformant-looking run with a hostile backend name, a CRASH and an odd clause."""
    doc = copy.deepcopy(torch_results)
    doc["environment"]["backend"] = "evil" + HOSTILE_SCRIPT
    doc["environment"]["device"] = "cuda:0"
    doc["_page"] = "javascript:alert(1)"  # not a plain relative path: must be ignored
    for r in doc["records"]:
        if r["status"] in ("FAIL", "ERROR", "TIMEOUT", "XFAIL", "XPASS"):
            r["status"] = "PASS"
            r.pop("failure", None)
    doc["records"][0]["status"] = "CRASH"
    doc["records"][0]["message"] = "process died with SIGSEGV"
    doc["records"].append({"check": "odd", "loss": None, "chapter": "api",
                           "clause": '"><script>alert(2)</script>', "level": "api", "status": "PASS"})
    doc["accuracy"] = None
    doc["verdict"] = "nonconformant"
    return doc


@pytest.fixture(scope="module")
def matrix_docs(torch_results, unavailable_results) -> list:
    torch = dict(torch_results, _page="torch-cpu.html")
    return [torch, unavailable_results, other_backend(torch_results)]


@pytest.fixture(scope="module")
def matrix_html(matrix_docs) -> str:
    return render_matrix(matrix_docs)


# --- a small HTML inspector ----------------------------------------------------------------------

class Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.script_text: list[str] = []
        self.style_text: list[str] = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("script", "style") else None

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.script_text.append(data)
        elif self._in == "style":
            self.style_text.append(data)


def parse(html: str) -> Tags:
    p = Tags()
    p.feed(html)
    p.close()
    return p


NET = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)  # http://, https://, //host, ftp://...


def assert_self_contained(html: str, allowed_hrefs: set[str] = frozenset()) -> None:
    tags = parse(html)
    names = [t for t, _ in tags.tags]
    for forbidden in ("link", "iframe", "object", "embed", "base", "form", "frame", "audio",
                      "video", "source", "track", "svg"):
        assert forbidden not in names, f"<{forbidden}> in page"
    scripts = [a for t, a in tags.tags if t == "script"]
    assert scripts, "own inline script missing"
    for a in scripts:
        assert "src" not in a, "script with src"
        assert "data-own" in a, "a script that is not ours"
    for tag, attrs in tags.tags:
        for k, v in attrs.items():
            v = v or ""
            assert not k.startswith("on"), f"event handler attribute {k} on <{tag}>"
            if k in ("src", "srcset", "poster", "data", "action", "formaction", "background",
                     "ping", "xlink:href"):
                assert v.startswith("data:image/png;base64,"), f"<{tag} {k}={v[:60]!r}>"
            if k == "href":
                assert not v.lower().lstrip().startswith(("javascript:", "data:", "vbscript:"))
                if NET.match(v):
                    assert tag == "a" and v in allowed_hrefs, f"network href {v!r} on <{tag}>"
            if k == "style":
                pytest.fail(f"inline style attribute on <{tag}> (blocked by the CSP)")
    css = "".join(tags.style_text)
    assert "@import" not in css and "url(" not in css and "@font-face" not in css
    assert not re.search(r"https?://", css + "".join(tags.script_text))
    # the CSP admits exactly the inline script and stylesheet on the page, by hash
    csp = [a.get("content", "") for t, a in tags.tags
           if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"]
    assert len(csp) == 1 and "default-src 'none'" in csp[0]

    def sha(s):
        return base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()

    assert f"'sha256-{sha(''.join(tags.script_text))}'" in csp[0]
    assert f"'sha256-{sha(css)}'" in csp[0]


# --- run page ------------------------------------------------------------------------------------

def test_run_page_escapes_hostile_text(run_html):
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in run_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in run_html
    low = run_html.lower()
    assert "<script>alert" not in low
    assert "<img src=x" not in low
    assert "onerror=alert(1)>" not in low.replace("onerror=alert(1)&gt;", "")
    assert "</pre><script>" not in low
    # exactly one script element, ours
    assert low.count("<script") == 1 and "<script data-own>" in run_html


def test_run_page_is_self_contained(run_html):
    assert_self_contained(run_html, allowed_hrefs={UPSTREAM})
    # the XFAIL's non-http link is shown, as text only
    assert 'href="javascript:' not in run_html
    assert "javascript:alert(1)" in run_html
    assert f'href="{UPSTREAM}"' in run_html


def test_run_page_content(run_html, torch_results):
    # counterexample: operands with dtype, shape and values; kwargs
    assert "[0.5, 1.0, 2.0]" in run_html and "[0.0, 1.0, 5.0]" in run_html
    assert "float16" in run_html and "(3,)" in run_html
    assert "&#34;log_input&#34;: false" in run_html or '"log_input": false' in run_html
    # expected, rounded, allowance, normalized error, ulps
    for s in ("3.305111123792510918", "3.3047", "0.00390625", "12.5", "(40 ulps)"):
        assert s in run_html, s
    # repro snippet, in a <pre> with a copy button
    assert "torch.nn.functional.poisson_nll_loss(inp, tgt, log_input=False, full=True," in run_html
    m = re.search(r'<button type="button" class="copy" data-target="([^"]+)">', run_html)
    assert m and f'<pre id="{m.group(1)}">' in run_html
    # clause id and spec link
    assert "PNLL-STIRLING" in run_html
    assert 'href="spec.html#PNLL-STIRLING"' in run_html
    assert "../reference/SPEC.md" not in run_html
    # ERROR with a missing normalized error says so
    assert "GNLL-VAR-NONNEG" in run_html and "TypeError: unsupported operand" in run_html
    # XFAIL reasons, XPASS and stale expectations called out
    assert "torch 2.13 warns with DeprecationWarning, not UserWarning" in run_html
    assert 'id="attention"' in run_html and "XPASS" in run_html
    assert "poisson.values[*,float8]" in run_html and "matched no check" in run_html
    # NA / SKIP with reasons
    assert "no CUDA device" in run_html and "needs complex dtypes" in run_html
    # environment
    assert "2.13.0+cpu" in run_html and "397d06a" in run_html
    # accuracy: a histogram and a map per loss x dtype, worst cases
    imgs = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', run_html)
    groups = {(a["loss"], a["dtype"]) for a in torch_results["accuracy"]}
    assert len(imgs) == 2 * len(groups)
    for b in imgs:
        assert base64.b64decode(b).startswith(b"\x89PNG\r\n\x1a\n")
    assert "worst 10 points" in run_html
    # failing first: the ERROR card comes before the FAILs, the bigger error first
    i_err = run_html.index("gaussian.errors[var&lt;0]")
    i_f1 = run_html.index("poisson.values[log_input=False,full=True,float16]")
    i_f2 = run_html.index("gaussian.values[full=True,bfloat16]")
    assert i_err < i_f1 < i_f2
    # the clause rows the matrix links to; every id once
    assert 'id="PNLL-STIRLING"' in run_html
    ids = re.findall(r' id="([^"]+)"', run_html)
    assert len(ids) == len(set(ids))


def test_run_page_light(run_html):
    assert len(run_html) < 1_500_000


def test_unavailable_run(unavailable_results):
    html = render_run(unavailable_results)
    assert "unavailable" in html and "No records." in html
    assert "recorded no accuracy samples" in html
    assert_self_contained(html)


# --- matrix --------------------------------------------------------------------------------------

def test_matrix(matrix_html, matrix_docs):
    assert_self_contained(matrix_html)
    low = matrix_html.lower()
    assert "<script>alert" not in low and low.count("<script") == 1
    assert "evil&lt;script&gt;alert(1)&lt;/script&gt;" in matrix_html
    # columns link to the pages: _page when it is a plain path, else <backend>.html
    assert 'href="torch-cpu.html#GNLL-VALUE"' in matrix_html
    assert 'href="jax.html"' in matrix_html
    assert page_name(matrix_docs[2]) == "evil_script_alert_1_script.html"
    assert 'href="evil_script_alert_1_script.html#PNLL-STIRLING"' in matrix_html
    # an odd clause id gets a hashed anchor, on both pages
    odd = '"><script>alert(2)</script>'
    anchor = clause_anchor(odd)
    assert re.fullmatch(r"clause-[0-9a-f]{12}", anchor)
    assert f'evil_script_alert_1_script.html#{anchor}"' in matrix_html
    assert f'id="{anchor}"' in render_run(matrix_docs[2])
    # statuses, counts on hover, worst status per cell
    assert 'title="FAIL 1, PASS 7"' in matrix_html
    assert ">CRASH<" in matrix_html and ">TIMEOUT<" in matrix_html and ">XPASS<" in matrix_html
    # headline: pass counts by level, worst normalized error
    assert ">38/41<" in matrix_html and ">3/4<" in matrix_html and ">1/4<" in matrix_html
    assert ">inf</span>" in matrix_html
    # sticky header, failing rows first
    assert "position: sticky" in matrix_html
    first_rows = re.findall(r'<tr class="(failing|passing)">', matrix_html)
    assert first_rows[0] == "failing"


def test_clause_anchors():
    assert clause_anchor("PNLL-VALUE-RATE") == "PNLL-VALUE-RATE"
    assert clause_anchor(None) == clause_anchor("") == "no-clause"
    assert clause_anchor(5) == "5"
    for own in ("summary", "r3", "repro-r3", "acc-1", "clause-abc", "no-clause"):
        assert re.fullmatch(r"clause-[0-9a-f]{12}", clause_anchor(own))
    html = render_run({"records": [{"status": "FAIL", "clause": "summary", "check": "a"},
                                   {"status": "PASS", "clause": "r0", "check": "b"}]})
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"


def test_matrix_empty_and_single(unavailable_results):
    for docs in ([], [unavailable_results], [unavailable_results, unavailable_results]):
        html = render_matrix(docs)
        assert_self_contained(html)
    html = render_matrix([unavailable_results, unavailable_results])
    assert "jax cpu #1" in html and "jax cpu #2" in html


def without_accuracy(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "accuracy"}


def test_write_helpers(tmp_path, torch_results, unavailable_results):
    light = without_accuracy(torch_results)
    p1 = write_run(light, tmp_path / "sub" / "torch.html")
    p2 = write_matrix([light, unavailable_results], tmp_path / "index.html")
    assert p1.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "torch.html#" in p2.read_text(encoding="utf-8")


def test_cli(tmp_path, torch_results):
    from reports.__main__ import main

    src = tmp_path / "torch.json"
    src.write_text(json.dumps(without_accuracy(torch_results)), encoding="utf-8")
    out = tmp_path / "out"
    assert main([str(src), str(DATA / "results_unavailable.json"), str(src),
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "jax.html", "spec.html",
                                                     "torch-2.html", "torch.html"]
    assert "torch-2.html#" in (out / "index.html").read_text(encoding="utf-8")


# --- schema v2: findings, clause texts, spec page, admissions, subjects ----------------------------

@pytest.fixture(scope="module")
def cand_results() -> dict:
    """A failing user-function run: two own findings (F1 value, F2 raised, not shrunk) and one
    PyTorch 2.13 shares (F3), a check with two failures, admitted accuracy points."""
    return load("results_v2_candidate.json")


@pytest.fixture(scope="module")
def torch_v2_results() -> dict:
    """torch itself, conformant: its one finding is the expected (XFAIL) PyTorch deviation."""
    return load("results_v2_torch.json")


@pytest.fixture(scope="module")
def cand_html(cand_results) -> str:
    return render_run(cand_results)


def section(html: str, start_id: str, end_id: str) -> str:
    return html[html.index(f'id="{start_id}"'):html.index(f'id="{end_id}"')]


def test_v2_findings_own_first_and_pytorch_marked(cand_results, cand_html):
    assert_self_contained(cand_html)
    assert "schema_version" not in cand_html.split('id="environment"')[0]  # no note about it
    findings = section(cand_html, "findings", "environment")
    # the cards: own deviations (F1, F2), then the group PyTorch shares (F3), marked with its reason
    i1, i2 = findings.index('id="finding-F1"'), findings.index('id="finding-F2"')
    i_shared = findings.index('id="findings-pytorch"')
    i3 = findings.index('id="finding-F3"')
    assert i1 < i2 < i_shared < i3
    assert "Also shown by PyTorch 2.13 itself" in findings
    f3 = findings[i3:]
    assert "also in PyTorch 2.13" in f3 and "PyTorch 2.13 itself shows this deviation" in f3
    assert "masked Stirling term&#39;s backward" in f3 or "masked Stirling term's backward" in f3
    assert "also in PyTorch 2.13" not in findings[i1:i_shared]
    # the producer's order is kept within a group, and own deviations come first whatever it sent
    doc = copy.deepcopy(cand_results)
    doc["findings"] = doc["findings"][::-1]
    html = render_run(doc)
    order = [html.index(f'id="finding-{k}"') for k in ("F2", "F1", "F3")]
    assert order == sorted(order)


def test_v2_finding_content(cand_results, cand_html):
    f1 = cand_html[cand_html.index('id="finding-F1"'):cand_html.index('id="finding-F2"')]
    # clause id, linked to the spec page, with the clause's own text from reference/SPEC.md
    assert 'href="spec.html#PNLL-STIRLING-MASK"' in f1
    assert "The Stirling term is omitted (adds exactly 0) where <code>t &lt;= 1</code>" in f1
    # the minimal counterexample: operands, kwargs, expected vs got, errors, reproduction
    assert "minimal" in f1 and "not shrunk" not in f1
    assert "[0.0]" in f1 and "[1.0]" in f1 and "&#34;full&#34;: true" in f1
    assert "0.9189385332046727" in f1 and "2.43e+14" in f1 and "(3.65e+14 ulps)" in f1
    assert "from mine import poisson_nll_loss as loss_fn" in f1
    # seen in 18 checks: the first ones linked to their rows, the rest folded away
    assert "seen in 18 checks" in f1 and "and 12 more" in f1
    rid = re.search(r'<a href="#(r\d+)" class="mono">poisson\.values\[log_input=True,full=True,float16\]', f1)
    assert rid and f'<tr id="{rid.group(1)}">' in cand_html
    f2 = cand_html[cand_html.index('id="finding-F2"'):cand_html.index('id="findings-pytorch"')]
    assert "not shrunk" in f2 and "Counterexample" in f2 and "RuntimeError: view size" in f2
    assert "normalized error" not in f2  # an error, not a value: no empty value rows
    # the failing checks link back to their findings, a check with two failures to both
    rows = section(cand_html, "failures", "xfail")
    row = rows[rows.index("poisson.gradients[log_input=True,full=True,float32]"):]
    row = row[:row.index("</tr>")]
    assert 'href="#finding-F1"' in row and 'href="#finding-F3"' in row
    assert "<details><summary>2 failures</summary>" in row


def test_v1_documents_still_render(run_html):
    assert 'id="findings"' not in run_html  # no findings: the failures are listed as before
    assert "<h2 id=\"failures\">Failures (4)</h2>" in run_html
    assert "schema_version is" not in run_html
    # the clause text is shown in the page, not only linked
    card = run_html[run_html.index("poisson.values[log_input=False,full=True,float16]"):]
    card = card[:card.index("</section>")]
    assert "every element whose target satisfies <code>t &gt; 1</code> gets the Stirling term" in card


def test_clause_texts_in_clauses_table(cand_html):
    table = section(cand_html, "clauses", "not-run")
    assert "what it says" in table
    assert "Non-contiguous, transposed, strided-sliced and expanded" in table  # SHAPE-LAYOUT
    # the "see" column says what it links to: the check, not only a status
    assert re.search(r'ERROR: <a href="#r\d+" class="mono"[^>]*>poisson\.shapes\[layout=strided\]</a>', table)


def test_spec_page_written_with_anchors(tmp_path, cand_results, torch_results):
    from conformance import specindex

    page = write_run(cand_results, tmp_path / "run" / page_name(cand_results))
    spec = (page.parent / "spec.html").read_text(encoding="utf-8")
    assert_self_contained(spec)
    ids = set(re.findall(r' id="([^"]+)"', spec))
    assert set(specindex.clauses()) <= ids
    assert {"chapter-0", "chapter-9", "chapter-13"} <= ids
    # every clause link of the run page lands on an anchor of the spec page beside it
    html = page.read_text(encoding="utf-8")
    targets = set(re.findall(r'href="spec\.html#([^"]+)"', html))
    assert targets and targets <= ids
    assert "PNLL-GRAD-STIRLING-MASK" in targets
    # the clause text is there, escaped; cross-references to other clauses link within the page
    assert "Where <code>t &lt;= 1</code> the omitted Stirling term contributes exactly 0" in spec
    assert '<a href="#PNLL-STIRLING-MASK" class="cref">PNLL-STIRLING-MASK</a>' in spec
    assert "<table>" in spec and "OBS-218, OBS-220" in spec  # chapter 13's table
    # the matrix writes it beside itself too
    m = write_matrix([torch_results], tmp_path / "m" / "index.html")
    assert (m.parent / "spec.html").exists()
    assert set(re.findall(r'href="spec\.html#([^"]+)"', m.read_text(encoding="utf-8"))) <= ids


def test_undefined_clause_is_not_linked():
    html = render_run({"records": [{"status": "FAIL", "clause": "NOT-A-CLAUSE", "check": "a",
                                    "failure": {"clause": "NOT-A-CLAUSE"}}]})
    assert "spec.html#NOT-A-CLAUSE" not in html
    assert 'title="not a clause of reference/SPEC.md">NOT-A-CLAUSE' in html


def test_admitted_accuracy_points_are_not_errors(torch_v2_results):
    html = render_run(torch_v2_results)
    acc = section(html, "accuracy", "clauses")
    f32 = acc[acc.index("poisson · float32"):]
    # 1.32, 4.71 and inf were accepted by SPECIAL-OVERFLOW: the headline counts only judged points
    assert "80 points judged by the allowance" in f32
    head = f32[:f32.index("</p>")]
    assert 'class="ne fine"' in head and "beyond allowance 0" in head
    assert "1.32" not in head and "inf" not in head
    assert "4 more points accepted by an admission rule" in f32
    assert 'accepted by SPECIAL-OVERFLOW / ALLOW-GRAD-ORDER (a straightforward IEEE result)</a>' in f32
    assert 'href="spec.html#SPECIAL-OVERFLOW"' in f32
    assert 'class="ne bad"' not in acc
    assert re.search(r'<span class="ne admitted">1\.32</span>', f32)
    # the matrix: worst error from judged points only, the admitted ones counted apart
    matrix = render_matrix([torch_v2_results])
    row = matrix[matrix.index("<td class=\"run\"><a href=\"torch.html\"><strong>"):]
    row = row[:row.index("</tr>")]
    assert 'class="ne fine"' in row and 'class="ne bad"' not in row and "+4 admitted" in row


def test_matrix_xfail_is_not_a_failure_and_zero_chips_unfilled(torch_v2_results, cand_results):
    matrix = render_matrix([torch_v2_results, cand_results])
    assert_self_contained(matrix)
    rows = matrix[matrix.index("<h2>Backends</h2>"):matrix.index("<h2>Clauses</h2>")]
    torch_row = rows[rows.index('href="torch.html"'):]
    torch_row = torch_row[:torch_row.index("</tr>")]
    core = re.search(r'<td class="num (lv-\w+)" title="([^"]*)">(\d+)/(\d+)<br><span class="xf">8 XFAIL', torch_row)
    assert core and core.group(1) == "lv-ok", torch_row  # conformant: its expected failures are not red
    assert "not a failure" in core.group(2)
    cand_row = rows[rows.index('href="mine-poisson_nll_loss.html"'):]
    assert re.search(r'<td class="num lv-bad"', cand_row[:cand_row.index("</tr>")])
    # each run's subject, with the backend beside it; "see" says what it links to
    assert "<strong>mine-poisson_nll_loss</strong>" in rows and '<td class="mono">torch</td>' in rows
    assert '>page</a>' in rows and re.search(r'href="mine-poisson_nll_loss\.html#r\d+"[^>]*>worst case: ', rows)
    # run page: a status chip with count 0 is not filled
    html = render_run(cand_results)
    chips = html[html.index('id="summary-chips"'):]
    chips = chips[:chips.index("</div>")]
    assert 'class="badge st-crash zero"' in chips and 'class="badge st-fail"' in chips
    assert re.search(r"\.badge\.zero[^{]*\{[^}]*background: transparent", html)


def test_incomplete_run_banner(cand_results):
    assert "Incomplete run" not in render_run(cand_results)
    doc = dict(cand_results, complete=False, verdict="incomplete")
    html = render_run(doc)
    assert 'id="incomplete"' in html
    assert "Incomplete run: only the checks that finished are shown." in html
    assert html.index('id="incomplete"') < html.index('id="findings"')
    assert 'class="badge verdict v-incomplete"' in html
    assert 'class="badge v-incomplete">incomplete<' in render_matrix([doc])
    # an interrupted run whatever its verdict says: marked in the matrix too
    assert 'class="badge st-incomplete"' in render_matrix([dict(doc, verdict="nonconformant")])
    assert 'class="badge st-incomplete"' not in render_matrix([cand_results])


def test_subject_names_the_page(cand_results, torch_v2_results, torch_results):
    assert page_name(cand_results) == "mine-poisson_nll_loss.html"
    assert page_name(torch_v2_results) == page_name(torch_results) == "torch.html"
    html = render_run(cand_results)
    assert "<title>lossconform: mine-poisson_nll_loss (torch) 2.13.0+cpu cpu</title>" in html
    assert "<h1>mine-poisson_nll_loss <span class=\"muted\">via torch</span>" in html
    for subject, name in (("index", "index-run.html"), ("spec", "spec-run.html"),
                          ("../../etc/passwd", "etc_passwd.html"), ("", "torch.html")):
        doc = {"environment": {"subject": subject, "backend": "torch"}}
        assert page_name(doc) == name, subject
    assert page_name({"_page": "spec.html", "environment": {"backend": "torch"}}) == "torch.html"


def test_hostile_findings_are_escaped(cand_results):
    doc = copy.deepcopy(cand_results)
    doc["environment"]["subject"] = "mine" + HOSTILE_SCRIPT
    f = doc["findings"][2]
    f.update(id='F3"><script>alert(3)</script>', clause=HOSTILE_IMG, quantity=HOSTILE_SCRIPT,
             kind=HOSTILE_IMG, message=HOSTILE_SCRIPT, pytorch_reason=HOSTILE_IMG,
             pytorch_link="javascript:alert(1)", checks=[HOSTILE_SCRIPT] * 9, level=HOSTILE_IMG)
    f["example"]["got"] = HOSTILE_SCRIPT
    f["example"]["repro"] = "</pre>" + HOSTILE_SCRIPT
    f["example"]["call"]["kwargs"] = {HOSTILE_IMG: HOSTILE_SCRIPT}
    doc["findings"][0]["pytorch_link"] = UPSTREAM
    doc["findings"][0]["origin"] = HOSTILE_SCRIPT  # not "pytorch": counted as the candidate's own
    doc["records"][0]["failures"][0]["finding"] = HOSTILE_SCRIPT
    doc["accuracy"][1]["points"].append([1.0, 2.0, 3.0, HOSTILE_SCRIPT])
    html = render_run(doc)
    low = html.lower()
    assert "<script>alert" not in low and "<img src=x" not in low and low.count("<script") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html
    assert_self_contained(html)
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    assert re.search(r'id="finding-h[0-9a-f]{12}"', html)  # the odd finding id gets a hashed anchor
    assert "admission this report does not know" in html
    matrix = render_matrix([doc])
    assert "<script>alert" not in matrix.lower()
    assert_self_contained(matrix)


@pytest.mark.parametrize("seed", range(3))
def test_fuzzed_v2_documents_render(cand_results, seed):
    rng = random.Random(seed)
    base = without_accuracy(cand_results)
    for i in range(6):
        doc = _fuzz(base, rng, rate=0.05 + 0.04 * i)
        html = render_run(doc)
        assert "<script>alert" not in html.lower()
        assert_self_contained(html, allowed_hrefs={UPSTREAM})
    assert_self_contained(render_matrix([_fuzz(base, rng, 0.2), _fuzz(base, rng, 0.3)]))


# --- robustness: any JSON renders -------------------------------------------------------------------

MALFORMED = [
    None, [], "text", 5, True, {},
    {"records": "x", "accuracy": {"a": 1}, "summary": [1], "environment": [1, 2],
     "stale_expectations": "x"},
    {"records": [1, None, "a", [], {}, {"status": 5, "clause": 7, "check": {"a": 1}},
                 {"status": "WEIRD", "clause": None, "failure": "oops"},
                 {"status": "FAIL", "failure": {"call": [1, 2], "normalized_error": "big",
                                                 "ulps": {"x": 1}, "repro": 12}},
                 {"status": "FAIL", "failure": {"call": {"operands": [{"values": "abc"}, 3],
                                                         "kwargs": "k"},
                                                 "normalized_error": "nan"}},
                 {"status": "ERROR", "link": "//evil.example/x", "clause": ""},
                 {"status": "XFAIL", "link": "https://ok.example/issue 1", "level": 3}]},
    {"accuracy": [1, {"points": [[1], [None, None, None], ["inf", "nan", "inf"], [1, 2, "x"],
                                 [1e308, -1e308, 1e-320], "p"]},
                  {"loss": "poisson", "dtype": "float32", "points": [[0.0, 0.0, 0.0]]},
                  {"loss": "gaussian", "dtype": "float32", "axes": [1], "points": None},
                  {"loss": "gaussian", "dtype": "float64", "points": [[1, 2, -1.0], [3, 4, "inf"]]}]},
    {"schema": "other", "schema_version": 99, "verdict": ["x"], "exit_code": "0",
     "summary": {"PASS": 3, "FAIL": "x"}, "records": [{"status": "PASS"}], "extra": {"k": 1}},
    {"verdict": "unavailable", "records": [], "environment": {"backend": "jax"}},
]


@pytest.mark.parametrize("doc", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_inputs_render(doc):
    html = render_run(doc)
    assert_self_contained(html)
    assert_self_contained(render_matrix([doc, doc]))
    if isinstance(doc, dict) and doc.get("records") == "x":
        assert "records is not a list" in html


def test_matrix_rejects_non_list():
    assert "not a list" in render_matrix({"a": 1})


def _mutations(value, rng: random.Random):
    """Replacement values of the wrong type or shape."""
    return rng.choice([None, "", "<b>x</b>", 0, -1.5, True, [], {}, [None], {"k": "<i>"},
                       "inf", "nan", 10 ** 400, "x" * 3000])


def _fuzz(doc, rng: random.Random, rate: float):
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            r = rng.random()
            if r < rate / 2:
                continue  # drop the key
            out[k] = _mutations(v, rng) if r < rate else _fuzz(v, rng, rate)
        return out
    if isinstance(doc, list):
        return [_mutations(v, rng) if rng.random() < rate / 2 else _fuzz(v, rng, rate)
                for v in doc]
    return doc


def test_fuzzed_documents_render(torch_results):
    rng = random.Random(1234)
    base = copy.deepcopy(torch_results)
    base["accuracy"] = [dict(a, points=a["points"][:20]) for a in base["accuracy"][1:2]]
    light = without_accuracy(base)
    for i in range(30):
        # figures are slow to draw: the accuracy part is fuzzed in a few documents only
        doc = _fuzz(base if i % 5 == 0 else light, rng, rate=0.05 + 0.01 * i)
        html = render_run(doc)
        assert "<script>alert" not in html.lower()
        assert_self_contained(html, allowed_hrefs={UPSTREAM})
    docs = [_fuzz(base, rng, 0.2) for _ in range(4)]  # the matrix draws no figure
    assert_self_contained(render_matrix(docs), allowed_hrefs={UPSTREAM})


def test_long_values_are_cut(torch_results):
    doc = copy.deepcopy(torch_results)
    doc["accuracy"] = None
    fail = next(r for r in doc["records"] if r["status"] == "FAIL")
    fail["failure"]["call"]["operands"]["input"]["values"] = [str(i) for i in range(1000)]
    fail["message"] = "m" * 50000
    html = render_run(doc)
    assert "936 more of 1000" in html
    assert "more characters not shown" in html


# --- headless Chromium ------------------------------------------------------------------------------

def _chromium() -> str:
    env = os.environ.get("LOSSCONFORM_CHROMIUM")
    if env:
        return env
    found = shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")
    if found:
        return found
    if os.environ.get("LOSSCONFORM_INSTALL_BROWSER") == "1" and hasattr(os, "geteuid") \
            and os.geteuid() == 0:
        subprocess.run(["apt-get", "update"], check=False, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=False, capture_output=True, timeout=1200,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdin=subprocess.DEVNULL)
        found = shutil.which("chromium")
        if found:
            return found
    pytest.skip("headless Chromium not found (install the Debian package `chromium`, or set "
                "LOSSCONFORM_CHROMIUM, or run as root with LOSSCONFORM_INSTALL_BROWSER=1)")


class CDP:
    """A minimal Chrome DevTools Protocol client over one websocket (flattened sessions)."""

    def __init__(self, ws_url: str):
        websocket = pytest.importorskip("websocket", reason="needs websocket-client")
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self._recv(deadline - time.monotonic())
            if m is None:
                continue
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
        raise TimeoutError(method)

    def _recv(self, timeout: float):
        import websocket

        self.ws.settimeout(max(0.01, timeout))
        try:
            m = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if "method" in m:
            self.events.append(m)
        return m

    def wait_for(self, method: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        while time.monotonic() < deadline:
            for e in self.events[seen:]:
                if e["method"] == method:
                    return e
            seen = len(self.events)
            self._recv(min(0.5, deadline - time.monotonic()))
        raise TimeoutError(method)

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._recv(deadline - time.monotonic())

    def close(self):
        self.ws.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    pytest.importorskip("websocket", reason="needs websocket-client (pip install websocket-client)")
    exe = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    log = open(profile.parent / "chromium-stderr.log", "wb")  # noqa: SIM115 -- closed in finally
    proc = subprocess.Popen(
        [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", "--enable-logging=stderr",
         "--v=0", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    cdp = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if proc.poll() is not None:
                pytest.fail(f"chromium exited with {proc.returncode}")
            if time.monotonic() > deadline:
                pytest.fail("chromium did not open its DevTools port in 60 s")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        cdp = CDP(f"ws://127.0.0.1:{port}{path}")
        yield cdp
    finally:
        if cdp is not None:
            import websocket

            try:
                cdp.send("Browser.close", timeout=5)
            except (RuntimeError, TimeoutError, OSError, websocket.WebSocketException):
                pass  # the browser went away first: the process is reaped below
            cdp.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # our own process group (start_new_session)
                proc.wait(timeout=10)
        log.close()


def open_page(cdp: CDP, path: Path, screenshot: Path | None = None):
    """Load a file:// page in a fresh tab; return (session, problems)."""
    target = cdp.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = cdp.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    first = len(cdp.events)
    for domain in ("Page", "Runtime", "Log", "Network"):
        cdp.send(f"{domain}.enable", session=session)
    cdp.send("Emulation.setDeviceMetricsOverride",
             {"width": 1300, "height": 900, "deviceScaleFactor": 1, "mobile": False},
             session=session)
    cdp.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 30:
        if any(e["method"] == "Page.loadEventFired" and e.get("sessionId") == session
               for e in cdp.events[first:]):
            break
        cdp.drain(0.2)
    else:
        pytest.fail(f"{path.name} did not load in 30 s")
    cdp.drain(0.5)
    if screenshot is not None:
        metrics = cdp.send("Page.getLayoutMetrics", session=session)
        h = int(min(16000, metrics.get("cssContentSize", metrics.get("contentSize"))["height"]))
        cdp.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1300, "height": max(h, 600), "deviceScaleFactor": 1, "mobile": False},
                 session=session)
        shot = cdp.send("Page.captureScreenshot", {"format": "png"}, session=session, timeout=60)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    return target, session, first


def problems(cdp: CDP, session: str, first: int) -> list[str]:
    out = []
    for e in cdp.events[first:]:
        if e.get("sessionId") != session:
            continue
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.exceptionThrown":
            out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p['type']}: {p.get('args')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:", "about:")):
                out.append(f"network request: {url}")
        elif m == "Page.javascriptDialogOpening":
            out.append(f"dialog: {p.get('message')}")
    return out


def evaluate(cdp: CDP, session: str, expr: str):
    r = cdp.send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=session)
    if "exceptionDetails" in r:
        raise AssertionError(f"{expr}: {r['exceptionDetails']}")
    return r["result"].get("value")


def _shot(name: str) -> Path | None:
    """Full-page screenshots, for a person to look at: LOSSCONFORM_SCREENSHOT_DIR=/tmp pytest ..."""
    d = os.environ.get("LOSSCONFORM_SCREENSHOT_DIR")
    return Path(d) / name if d else None


@pytest.mark.browser
def test_browser_run_page(browser, tmp_path, run_html):
    page = tmp_path / "torch.html"
    page.write_text(run_html, encoding="utf-8")
    target, session, first = open_page(browser, page, _shot("run-page.png"))
    try:
        assert evaluate(browser, session, "document.readyState") == "complete"
        assert evaluate(browser, session,
                        f"document.body.innerText.includes({json.dumps(HOSTILE_SCRIPT)})")
        assert evaluate(browser, session,
                        f"document.body.innerText.includes({json.dumps(HOSTILE_IMG)})")
        assert evaluate(browser, session,
                        "document.querySelectorAll('script:not([data-own])').length") == 0
        assert evaluate(browser, session, "document.querySelectorAll('img').length") == 8
        assert evaluate(browser, session,
                        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0"
                        " && i.src.startsWith('data:image/png;base64,'))")
        # the stylesheet applied (the CSP admits it by hash)
        assert evaluate(browser, session,
                        "getComputedStyle(document.querySelector('nav.toc')).position") == "sticky"
        # the copy buttons work or fall back without an error, clipboard or not
        n = evaluate(browser, session, "document.querySelectorAll('button.copy').length")
        assert n >= 3
        evaluate(browser, session,
                 "document.querySelectorAll('button.copy').forEach(b => b.click()); true")
        browser.drain(0.5)
        assert evaluate(browser, session,
                        "Array.from(document.querySelectorAll('button.copy'))"
                        ".every(b => b.textContent !== 'Copy')")
        assert problems(browser, session, first) == []
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


@pytest.mark.browser
def test_browser_matrix_page(browser, tmp_path, matrix_docs):
    page = write_matrix(matrix_docs, tmp_path / "index.html")
    target, session, first = open_page(browser, page, _shot("matrix-page.png"))
    try:
        assert evaluate(browser, session,
                        f"document.body.innerText.includes({json.dumps('evil' + HOSTILE_SCRIPT)})")
        assert evaluate(browser, session,
                        "document.querySelectorAll('script:not([data-own])').length") == 0
        assert evaluate(browser, session, "getComputedStyle(document.querySelector("
                                          "'table.matrix thead th')).position") == "sticky"
        # the cell links resolve to a run page's clause row
        href = evaluate(browser, session,
                        "document.querySelector('a[href^=\"torch-cpu.html#\"]').href")
        assert href.startswith("file:") and "#" in href
        assert problems(browser, session, first) == []
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


@pytest.mark.browser
def test_browser_harness_sees_problems(browser, tmp_path):
    """Negative control: the checks above would catch a request, an error and an exception."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><p>bad</p>"
                    '<img src="http://127.0.0.1:9/x.png">'
                    "<script>console.error('boom'); throw new Error('thrown');</script>"
                    "</body></html>", encoding="utf-8")
    target, session, first = open_page(browser, page)
    try:
        found = problems(browser, session, first)
        assert any(p.startswith("network request: http://127.0.0.1:9/") for p in found), found
        assert any(p.startswith("console.error") for p in found), found
        assert any(p.startswith("exception") for p in found), found
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


@pytest.mark.browser
def test_browser_v2_run_and_spec_pages(browser, tmp_path, cand_results):
    page = write_run(cand_results, tmp_path / page_name(cand_results))
    target, session, first = open_page(browser, page, _shot("run-page-v2.png"))
    try:
        assert evaluate(browser, session, "document.querySelectorAll('script:not([data-own])').length") == 0
        assert evaluate(browser, session, "document.querySelectorAll('section.finding').length") == 3
        # the images are drawn at their own size, legible without zooming
        sizes = evaluate(browser, session,
                         "Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.width])")
        assert sizes and all(c and n >= 600 and w == n for c, n, w in sizes), sizes
        # every in-page link has its target
        assert evaluate(browser, session,
                        "Array.from(document.querySelectorAll('a[href^=\"#\"]'))"
                        ".every(a => document.getElementById(decodeURIComponent(a.hash.slice(1))))")
        assert problems(browser, session, first) == []
    finally:
        browser.send("Target.closeTarget", {"targetId": target})
    spec = tmp_path / "spec.html"
    target, session, first = open_page(browser, spec, _shot("spec-page.png"))
    try:
        assert evaluate(browser, session, "!!document.getElementById('PNLL-STIRLING-MASK')")
        assert evaluate(browser, session,
                        "getComputedStyle(document.querySelector('nav.toc')).position") == "sticky"
        assert problems(browser, session, first) == []
    finally:
        browser.send("Target.closeTarget", {"targetId": target})
