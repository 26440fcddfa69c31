"""--sarif and --hdf: SARIF 2.1.0 valid against the OASIS schema (a rule per assessed control,
a result per failing, inconclusive or waived test) and Heimdall Data Format valid against
the schema inspecjs carries (and, with node, parsed by inspecjs itself)."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from auditcases import VERDICTS, run_cases

from kubeproof import catalogue, hdf, sarif

SCHEMAS = Path(sarif.__file__).parent / "schemas"
DERIVE = Path(__file__).resolve().parents[1] / "tools" / "hdf_schema_from_inspecjs.js"


@pytest.fixture
def outputs(pytester):
    _, doc = run_cases(pytester, "--sarif=out/r.sarif", "--hdf=out/r.hdf.json")
    out = pytester.path / "out"
    return (doc, json.loads((out / "r.sarif").read_text()),
            json.loads((out / "r.hdf.json").read_text()), out)


def test_sarif_is_schema_valid(outputs):
    _, log, _, _ = outputs
    assert sarif.validate(log) == []
    assert log["version"] == "2.1.0"


def test_sarif_rules_are_the_assessed_controls(outputs):
    doc, log, _, _ = outputs
    [run] = log["runs"]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == set(VERDICTS)
    rule = rules["auth.anonymous-disabled"]
    assert rule["shortDescription"]["text"] == "An anonymous request to the API server is refused"
    assert rule["help"]["text"].startswith("Remediation: ")
    assert "CIS 1.2.1" in rule["help"]["markdown"]
    assert run["invocations"][0]["exitCode"] == doc["exit_status"] == 1


def test_sarif_results_are_failing_inconclusive_and_waived_tests(outputs):
    _, log, _, _ = outputs
    [run] = log["runs"]
    results = {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]): r
               for r in run["results"]}
    assert set(results) == {("auth.anonymous-disabled", "test_anonymous"),
                            ("audit.enabled", "test_audit"),
                            ("host.firewall", "test_firewall"),
                            ("netpol.default-deny", "test_default_deny[other]")}
    failed = results[("auth.anonymous-disabled", "test_anonymous")]
    assert (failed["kind"], failed["level"]) == ("fail", "error")
    assert failed["message"]["text"] == ("An anonymous request to the API server is refused: "
                                         "anonymous GET /api -> 200")
    rules = run["tool"]["driver"]["rules"]
    assert rules[failed["ruleIndex"]]["id"] == "auth.anonymous-disabled"
    inconclusive = results[("host.firewall", "test_firewall")]
    assert inconclusive["level"] == "warning"
    assert "inconclusive: node unreachable over SSH" in inconclusive["message"]["text"]
    waived = results[("audit.enabled", "test_audit")]
    assert waived["suppressions"][0]["status"] == "accepted"
    assert "Jane Auditor (CISO)" in waived["suppressions"][0]["justification"]


def test_sarif_validator_rejects_what_the_schema_forbids(outputs):
    _, log, _, _ = outputs
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["level"] = "fatal"
    assert any("fatal" in e for e in sarif.validate(broken))
    broken = copy.deepcopy(log)
    del broken["runs"][0]["tool"]
    assert any("'tool' is a required property" in e for e in sarif.validate(broken))


def test_hdf_is_schema_valid(outputs):
    _, _, doc, _ = outputs
    assert hdf.validate(doc) == []


def test_hdf_controls_results_and_tags(outputs):
    _, _, doc, _ = outputs
    [profile] = doc["profiles"]
    controls = {c["id"]: c for c in profile["controls"]}
    assert len(controls) == len(catalogue.CONTROLS)  # every catalogue control; not run = no results
    assert controls["images.scanned"]["results"] == []
    statuses = {cid: [r["status"] for r in controls[cid]["results"]] for cid in VERDICTS}
    assert statuses == {"rbac.authorization-mode": ["passed"],
                        "auth.anonymous-disabled": ["failed"], "audit.enabled": ["failed"],
                        "host.firewall": ["error"], "host.hids": ["skipped"],
                        "tls.components": ["passed"],
                        "netpol.default-deny": ["passed", "failed"]}
    anon = controls["auth.anonymous-disabled"]
    assert anon["tags"]["cis"] == ["1.2.1"] and anon["tags"]["item"] == ["3"]
    assert anon["tags"]["nist"] == ["IA-2", "IA-5", "AC-14"]
    assert 0 < anon["impact"] <= 1
    [result] = anon["results"]
    assert result["code_desc"] == "An anonymous GET /api is refused with 401 or 403."
    assert result["message"].startswith("anonymous GET /api -> 200\nevidence: request: ")
    assert result["start_time"]
    assert controls["host.hids"]["results"][0]["skip_message"] == \
        "the existing target lacks node-access"
    assert controls["audit.enabled"]["waiver_data"]["justification"] == \
        "SIEM migration, ticket SEC-9"
    assert {d["label"] for d in anon["descriptions"]} == {"default", "check", "fix"}


def test_hdf_validator_rejects_what_the_schema_forbids(outputs):
    _, _, doc, _ = outputs
    broken = copy.deepcopy(doc)
    broken["profiles"][0]["controls"][0]["results"] = [{"status": "passed"}]
    assert any("'code_desc' is a required property" in e for e in hdf.validate(broken))
    broken = copy.deepcopy(doc)
    broken["profiles"][0]["controls"][0]["results"] = [
        {"status": "waived", "code_desc": "x", "start_time": "t"}]
    assert hdf.validate(broken)
    broken = copy.deepcopy(doc)
    del broken["platform"]
    assert hdf.validate(broken)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the vendored inspecjs parser cannot run")
    return node


def test_hdf_schema_is_the_one_derived_from_inspecjs():
    derived = subprocess.run([_node(), str(DERIVE), str(SCHEMAS / "inspecjs-exec-json.js")],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    assert json.loads(derived) == hdf.schema()


def test_inspecjs_itself_parses_the_hdf_document(outputs):
    _, _, _, out = outputs
    script = ("const m = require(process.argv[1]); const fs = require('fs');"
              "const d = m.Convert.toExecJSON(fs.readFileSync(process.argv[2], 'utf8'));"
              "console.log(d.profiles[0].controls.length)")
    proc = subprocess.run([_node(), "-e", script, str(SCHEMAS / "inspecjs-exec-json.js"),
                           str(out / "r.hdf.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(len(catalogue.CONTROLS))
    broken = json.loads((out / "r.hdf.json").read_text())
    broken["profiles"][0]["controls"][0]["impact"] = "high"
    (out / "broken.json").write_text(json.dumps(broken))
    proc = subprocess.run([_node(), "-e", script, str(SCHEMAS / "inspecjs-exec-json.js"),
                           str(out / "broken.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and 'Invalid value for key "impact"' in proc.stderr
