"""JSON and JUnit carry the same verdicts and run metadata (one schema, docs/report-schema.md);
the HTML summary has the run's header, the tables by item and by area, and the waivers."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "report-schema.md"

CASES = '''
import pytest
import kubeproof

@kubeproof.control("rbac.authorization-mode")
def test_mode(evidence):
    evidence.add("kube-apiserver --authorization-mode", "Node,RBAC")

@kubeproof.control("auth.anonymous-disabled")
def test_anonymous(evidence):
    evidence.add("GET /api as anonymous", "200 OK")
    assert False, "anonymous GET /api -> 200"

@kubeproof.control("netpol.default-deny")
@pytest.mark.parametrize("namespace", ["pegress", "other"])
def test_default_deny(evidence, namespace):
    evidence.add("default-deny in " + namespace, namespace == "pegress")
    assert namespace == "pegress", namespace + " has no default-deny policy"
'''

WAIVERS = """waivers:
  - control: auth.anonymous-disabled
    justification: legacy health checks, SEC-12
    approver: Jane Auditor
    expires: 2999-01-01
  - control: rbac.authorization-mode
    justification: was AlwaysAllow during migration
    approver: Jane Auditor
    expires: 2999-01-01
"""


@pytest.fixture
def reports(pytester: pytest.Pytester):
    pytester.makepyfile(test_cases=CASES)
    (pytester.path / "w.yaml").write_text(WAIVERS)
    result = pytester.runpytest("--waivers", "w.yaml", "--kubeproof-json", "r.json",
                                "--junitxml", "r.xml", "--html", "r.html",
                                "--self-contained-html")
    assert result.ret == 1
    return (json.loads((pytester.path / "r.json").read_text()),
            ET.fromstring((pytester.path / "r.xml").read_text()),
            (pytester.path / "r.html").read_text())


def test_json_and_junit_agree(reports):
    doc, xml, _ = reports
    suite = xml.find("testsuite")
    run_props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert run_props["kubeproof.schema"] == doc["schema"] == "kubeproof-results/1"
    for key in ("run_id", "target", "started", "kubeproof_version"):
        assert run_props[f"kubeproof.{key}"] == doc[key], key
    assert run_props["kubeproof.exit_status"] == str(doc["exit_status"]) == "1"
    assert json.loads(run_props["kubeproof.gate.reasons"]) == doc["gate"]["reasons"]
    assert json.loads(run_props["kubeproof.waiver.2"]) == doc["waivers"][1]
    assert doc["waivers"][1]["status"] == "stale"
    cases = {}
    for case in suite.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        cases[case.get("name")] = props
    assert len(cases) == len(doc["tests"]) == 4
    for test in doc["tests"]:
        props = cases[test["nodeid"].split("::")[1]]
        for field in ("control", "title", "item", "area", "kind", "remediation", "references",
                      "verdict"):
            assert props[f"kubeproof.{field}"] == str(test[field]), field
        assert json.loads(props["kubeproof.evidence"]) == test["evidence"]
        if test["waiver"] is not None:
            assert props["kubeproof.waiver"] == str(test["waiver"])
    waived = next(c for c in suite.iter("testcase") if c.get("name") == "test_anonymous")
    assert waived.find("skipped").get("type") == "pytest.xfail"


def test_json_controls_and_summaries(reports):
    doc, _, _ = reports
    controls = {c["id"]: c for c in doc["controls"]}
    assert controls["auth.anonymous-disabled"]["verdict"] == "waived"
    assert controls["auth.anonymous-disabled"]["waivers"] == [1]
    assert controls["netpol.default-deny"]["verdict"] == "fail"
    assert controls["netpol.default-deny"]["area"] == "netpol"
    assert doc["summary"]["by_area"]["netpol"]["fail"] == 1
    assert doc["summary"]["by_area"]["auth"]["waived"] == 1
    assert doc["summary"]["by_item"]["9"]["fail"] == 1
    assert doc["cluster"] is None  # no test used the cluster


def test_html_summary(reports):
    _, _, html = reports
    for text in ['id="kubeproof-header"', "Cluster API server", "Node OS image", "Run id",
                 "kubeproof version", 'id="kubeproof-summary"', 'id="kubeproof-areas"',
                 'id="kubeproof-waivers"', 'id="kubeproof-controls"', "is stale",
                 "gate FAILED (--fail-on fail, exit 1)", "Jane Auditor",
                 "Controls by checklist item", "Controls by area"]:
        assert text in html, text


def _documented(section: str) -> set[str]:
    text = SCHEMA_DOC.read_text()
    part = text.split(f"<!-- {section} -->")[1].split("<!--")[0]
    return set(re.findall(r"^\| `([a-z_.]+)`", part, re.M))


def test_schema_doc_lists_every_field(reports):
    doc, _, _ = reports
    assert _documented("top") == set(doc)
    assert _documented("tests") == set(doc["tests"][0])
    assert _documented("controls") == set(doc["controls"][0])
    assert _documented("waivers") == set(doc["waivers"][0])
    assert _documented("gate") == set(doc["gate"])
