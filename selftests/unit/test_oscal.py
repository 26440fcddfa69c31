"""--oscal writes an assessment-results document valid against the published NIST OSCAL JSON
schema: the run as the result, one observation per test with its evidence, one finding per
assessed control."""

from __future__ import annotations

import copy
import json

import pytest

from kubeproof import oscal

CASES = '''
import pytest
import kubeproof

@kubeproof.control("rbac.authorization-mode")
def test_mode(evidence):
    evidence.add("kube-apiserver --authorization-mode", "Node,RBAC")

@kubeproof.control("auth.anonymous-disabled")
def test_anonymous(evidence):
    evidence.add("request", {"url": "/api", "status": 200, "body": "line 1\\nline 2"})
    assert False, "anonymous GET /api -> 200"

@kubeproof.control("audit.enabled")
def test_audit(evidence):
    evidence.add("--audit-log-path", "")
    assert False, "no audit log"

@kubeproof.control("host.firewall")
def test_firewall(evidence):
    raise kubeproof.Inconclusive("node unreachable")

@kubeproof.control("host.hids")
def test_hids(evidence):
    pytest.skip("the existing target lacks node-access")
'''




@pytest.fixture
def run(pytester: pytest.Pytester):
    pytester.makepyfile(test_cases=CASES)
    (pytester.path / "w.yaml").write_text(
        "waivers:\n  - control: audit.enabled\n    justification: SIEM migration\n"
        "    approver: Jane Auditor\n    expires: 2999-01-01\n")
    result = pytester.runpytest("--oscal", "out/ar.json", "--waivers", "w.yaml")
    return result, json.loads((pytester.path / "out" / "ar.json").read_text())


def test_document_is_schema_valid(run):
    _, doc = run
    assert oscal.validate(doc) == []


def test_result_observations_and_findings(run):
    _, doc = run
    ar = doc["assessment-results"]
    assert ar["metadata"]["oscal-version"] == oscal.OSCAL_VERSION
    [result] = ar["results"]
    props = {p["name"]: p["value"] for p in result["props"]}
    assert props["target"] == "local"
    assert props["exit-status"] == "1"
    assert len(result["observations"]) == 5
    obs = {next(p["value"] for p in o["props"] if p["name"] == "control-id"): o
           for o in result["observations"]}
    assert obs["rbac.authorization-mode"]["relevant-evidence"] == [
        {"description": "**kube-apiserver --authorization-mode**: `Node,RBAC`"}]
    assert obs["rbac.authorization-mode"]["methods"] == ["EXAMINE"]
    assert '"status": 200' in obs["auth.anonymous-disabled"]["relevant-evidence"][0]["description"]
    assert "node-access" in obs["host.hids"]["description"]
    findings = {f["target"]["target-id"]: f for f in result["findings"]}
    assert set(findings) == {"rbac.authorization-mode", "auth.anonymous-disabled",
                             "audit.enabled", "host.firewall"}  # skipped: not assessed
    status = {k: (f["target"]["status"]["state"], f["target"]["status"]["reason"])
              for k, f in findings.items()}
    assert status == {"rbac.authorization-mode": ("satisfied", "pass"),
                      "auth.anonymous-disabled": ("not-satisfied", "fail"),
                      "audit.enabled": ("not-satisfied", "other"),
                      "host.firewall": ("not-satisfied", "other")}
    waived = findings["audit.enabled"]
    assert {"name": "verdict", "ns": oscal.NS, "value": "waived"} in waived["props"]
    assert "Remediation: Start kube-apiserver with `--audit-policy-file`" in waived["remarks"]
    assert waived["related-observations"] == [{"observation-uuid": obs["audit.enabled"]["uuid"]}]
    selected = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert len(selected) == 5


def test_the_validator_rejects_what_the_schema_forbids(run):
    _, doc = run
    broken = copy.deepcopy(doc)
    del broken["assessment-results"]["import-ap"]
    assert any("'import-ap' is a required property" in e for e in oscal.validate(broken))
    broken = copy.deepcopy(doc)
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["target-id"] = "1 bad id"
    assert any("does not match" in e and "target-id" in e for e in oscal.validate(broken))
    broken = copy.deepcopy(doc)
    broken["assessment-results"]["results"][0]["start"] = "yesterday"
    assert oscal.validate(broken)


def test_schema_is_the_published_one():
    schema = oscal.schema()
    assert schema["$id"] == "http://csrc.nist.gov/ns/oscal/1.2.3/oscal-ar-schema.json"
    assert schema["required"] == ["assessment-results"]
