"""The auditor report (--kubeproof-html): a cover with the run, counts by checklist item, CIS
section and area with bars, one section per control that ran with its checks, evidence as
key/value lists, remediation, references and waivers; no script, traceback or source."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from auditcases import VERDICTS, run_cases

from kubeproof import auditreport, catalogue


@pytest.fixture
def report(pytester):
    _, doc = run_cases(pytester, "--kubeproof-html=out/audit.html")
    return doc, (pytester.path / "out" / "audit.html").read_text()


class Sections(HTMLParser):
    """The ids of the <section>s of a page, and every tag name seen."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "section":
            self.sections.append(dict(attrs).get("id", ""))


def test_the_option_writes_what_render_makes_of_the_json(report):
    doc, html = report
    assert html == auditreport.render(doc)


def test_cover_names_the_cluster_the_run_and_the_gate(report):
    doc, html = report
    cover = html.split('id="audit-cover"')[1].split("</section>")[0]
    for text in ["Kubernetes security controls assessment", "Assessed cluster (API server)",
                 "not contacted", doc["run_id"], doc["started"], doc["finished"],
                 "kubeproof version", doc["kubeproof_version"],
                 "gate FAILED (--fail-on fail, exit 1)", "7 of 50 catalogue controls"]:
        assert text in cover, text


def test_one_section_per_control_that_ran_in_catalogue_order(report):
    _, html = report
    parser = Sections()
    parser.feed(html)
    controls = [s.removeprefix("control-") for s in parser.sections if s.startswith("control-")]
    assert controls == [c.id for c in catalogue.CONTROLS if c.id in VERDICTS]
    assert "script" not in parser.tags
    assert parser.sections[:2] == ["audit-cover", "audit-summary"]


def _section(html: str, control: str) -> str:
    return html.split(f'id="control-{control}"')[1].split("</section>")[0]


def test_each_control_section_says_what_was_done_and_why(report):
    _, html = report
    passed = _section(html, "rbac.authorization-mode")
    assert "The API server authorizes with RBAC, never AlwaysAllow or ABAC" in passed
    assert "Configuration check: kubeproof read the configuration." in passed
    assert "The API server&#x27;s --authorization-mode names RBAC" in passed
    assert "v-pass" in passed and "References:</b> checklist item 2" in passed
    # evidence as key/value lists, nested mappings and lists readable
    assert "<dt>kube-apiserver --authorization-mode</dt><dd><code>Node,RBAC</code></dd>" in passed
    assert "<dt>flags read</dt><dd><dl class=\"kv\"><dt>authorization-mode</dt>" in passed
    assert "Start kube-apiserver with `--authorization-mode=Node,RBAC`." in passed
    failed = _section(html, "auth.anonymous-disabled")
    assert "Probe: kubeproof tried the forbidden action" in failed
    assert "<b>Why:</b> anonymous GET /api -&gt; 200</p>" in failed
    assert "CIS 1.2.1" in failed
    errored = _section(html, "host.firewall")
    assert "Inconclusive" in errored and "<b>Why:</b> node unreachable over SSH" in errored
    assert "Not applicable" in _section(html, "host.hids")
    deny = _section(html, "netpol.default-deny")
    assert "(case pegress)" in deny and "(case other)" in deny
    assert "<b>Why:</b> other has no default-deny policy</p>" in deny


def test_waivers_show_in_the_controls_they_cover(report):
    _, html = report
    waived = _section(html, "audit.enabled")
    assert "v-waived" in waived
    for text in ["SIEM migration, ticket SEC-9", "Jane Auditor (CISO)", "2999-01-01",
                 "<b>applied</b>", "failure: a check did not hold"]:
        assert text in waived, text
    assert 'id="audit-waivers"' in html


def test_counts_by_item_cis_section_and_area_with_bars(report):
    _, html = report
    cis = html.split('id="audit-by-cis"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([^<]+)</td>((?:<td class=\"n\">\d*</td>)+)", cis)
    counts = {name: [int(n) if n else 0 for n in re.findall(r">(\d*)</td>", cells)]
              for name, cells in rows}
    # columns: pass, fail, error, waived, skip, not run
    assert counts["1.2 Control Plane Components"] == [1, 1, 0, 0, 0, 1]  # cis.api-server not run
    assert counts["4.2 Worker Nodes"] == [0, 0, 0, 0, 0, 1]
    assert counts["no CIS reference"][:5] == [1, 1, 1, 1, 1]
    for table in ("audit-by-item", "audit-by-area"):
        assert f'id="{table}"' in html
    assert html.count('class="bar ') >= 11 + len(counts) + 1
    assert 'class="b-fail" style="width:' in html


def test_cis_coverage_lists_every_recommendation_with_its_level(report):
    _, html = report
    table = html.split('id="audit-cis"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([\d.]+)</td><td>[^<]*</td><td>(\d)</td><td>(\w+)</td>", table)
    assert len(rows) == 131
    levels = {cis_id: (level, assessment) for cis_id, level, assessment in rows}
    assert levels["1.2.16"] == ("1", "Automated") and levels["5.6.4"] == ("2", "Manual")
    assert "<th>level</th>" in table


def test_no_traceback_or_python_source_reaches_the_auditor(report):
    doc, html = report
    text = re.sub(r"<[^>]+>", " ", html)
    for python in ["Traceback", "AssertionError", "assert 1 == 2", "assert False",
                   "def test_", "test_cases.py", "raise ", "Inconclusive(", ".py:"]:
        assert python not in text, python
    # the JSON, the engineers' view, keeps them: the report above filtered them out
    assert any("assert 1 == 2" in t["reason"] for t in doc["tests"])


def test_page_breaks_between_controls_for_paper(report):
    _, html = report
    assert "section.control { break-before: page; page-break-before: always; }" in html
    assert "@page { size: A4;" in html


@pytest.mark.parametrize(("reason", "shown"), [
    ("AssertionError: x -> 200\nassert False", "x -> 200"),
    ("kubeproof.verdicts.Inconclusive: canary failed (a): AssertionError: b",
     "canary failed (a): b"),
    ("setup failed: RuntimeError: boom", "setup failed: boom"),
    ("waived: waiver #1 (c), approved (failure: AssertionError: m\nassert False)",
     "waived: waiver #1 (c), approved (failure: m)"),
    ("assert 'a' == 'b'\n  - b\n  + a", "a check did not hold"),
    ("GET /api -> 403 Forbidden", "GET /api -> 403 Forbidden"),
    ("", ""),
])
def test_auditor_reason(reason, shown):
    assert auditreport.auditor_reason(reason) == shown


def test_cis_sections_of_references():
    assert auditreport.cis_sections(["CIS 1.2.1", "CKS", "CIS 1.2", "CIS 5"]) == ["1.2", "5"]
