"""HTML, JSON and JUnit reports carry id, item, verdict, evidence and remediation, never secrets."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXNlY3JldA"
KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretkeymaterial"

TESTS = f'''
import kubeproof

@kubeproof.control("rbac.authorization-mode")
def test_authorization_mode(evidence):
    evidence.add("kube-apiserver --authorization-mode", "Node,RBAC")

@kubeproof.control("auth.anonymous-disabled")
def test_anonymous(evidence):
    evidence.add("request", {{"url": "/api", "headers": {{"Authorization": "Bearer {TOKEN}"}}}})
    print("kubeconfig token: {TOKEN}")
    print("-----BEGIN PRIVATE KEY-----\\n{KEY_LINE}\\n-----END PRIVATE KEY-----")
    assert False, "anonymous GET /api -> 200 with Authorization: Bearer {TOKEN}"
'''


@pytest.fixture
def run(pytester: pytest.Pytester):
    pytester.makepyfile(test_report_cases=TESTS)

    def go(*args: str, subprocess: bool = False) -> pytest.RunResult:
        runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
        return runner("--kubeproof-json", "r.json", "--html", "r.html",
                      "--self-contained-html", "--junitxml", "r.xml", *args)

    return go


def check_no_secret(text: str) -> None:
    __tracebackhide__ = True
    assert TOKEN not in text
    assert KEY_LINE not in text


def test_json_report(run, pytester):
    run()
    doc = json.loads((pytester.path / "r.json").read_text())
    check_no_secret(json.dumps(doc))
    tests = {t["control"]: t for t in doc["tests"]}
    passed = tests["rbac.authorization-mode"]
    assert passed["verdict"] == "pass"
    assert passed["item"] == "2"
    assert passed["remediation"].startswith("Start kube-apiserver with `--authorization-mode")
    assert passed["evidence"] == [{"label": "kube-apiserver --authorization-mode",
                                   "value": "Node,RBAC"}]
    failed = tests["auth.anonymous-disabled"]
    assert failed["verdict"] == "fail"
    assert failed["references"] == "CIS 1.2.1"
    assert "anonymous GET /api -> 200" in failed["reason"]
    assert doc["summary"]["by_item"]["2"]["pass"] == 1
    assert doc["summary"]["by_item"]["3"]["fail"] == 1
    assert len(doc["untested"]) == 48
    controls = {c["id"]: c["verdict"] for c in doc["controls"]}
    assert controls["rbac.authorization-mode"] == "pass"
    assert controls["host.firewall"] == "not run"
    assert doc["run_id"] and doc["target"] == "local"


def test_html_report(run, pytester):
    run()
    html = (pytester.path / "r.html").read_text()
    check_no_secret(html)
    for text in ["Control", "Verdict", "Evidence", "Remediation", "rbac.authorization-mode",
                 "kubeproof-fail", "Node,RBAC", "Controls by checklist item",
                 "Start kube-apiserver with `--authorization-mode=Node,RBAC`"]:
        assert text in html, text


def test_junit_properties(run, pytester):
    run()
    xml = (pytester.path / "r.xml").read_text()
    check_no_secret(xml)
    cases = {c.get("name"): c for c in ET.fromstring(xml).iter("testcase")}
    props = {p.get("name"): p.get("value")
             for p in cases["test_authorization_mode"].iter("property")}
    assert props["kubeproof.control"] == "rbac.authorization-mode"
    assert props["kubeproof.item"] == "2"
    assert props["kubeproof.verdict"] == "pass"
    assert json.loads(props["kubeproof.evidence"])[0]["value"] == "Node,RBAC"


def test_terminal_output_has_no_secret(run):
    result = run("-rA")
    check_no_secret("\n".join(result.outlines + result.errlines))
    result.stdout.fnmatch_lines(["*kubeproof: controls by checklist item*"])


def test_metadata_survives_xdist(run, pytester):
    result = run("-n", "2", subprocess=True)
    assert result.ret == 1
    doc = json.loads((pytester.path / "r.json").read_text())
    check_no_secret(json.dumps(doc) + (pytester.path / "r.html").read_text())
    verdicts = {t["control"]: t["verdict"] for t in doc["tests"]}
    assert verdicts == {"rbac.authorization-mode": "pass", "auth.anonymous-disabled": "fail"}
    assert doc["tests"][0]["evidence"]
