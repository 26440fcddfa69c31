"""SARIF 2.1.0 (--sarif PATH) from the JSON results document: each assessed control is a
rule (title, remediation as help), each failing, inconclusive or waived test a result; and
validation against the OASIS schema vendored in schemas/ (see schemas/README.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubeproof import jsondocs
from kubeproof.auditreport import auditor_reason
from kubeproof.redact import redact

SCHEMA_FILE = "sarif-schema-2.1.0.json"
SCHEMA_URI = ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
              "sarif-schema-2.1.0.json")
# verdict -> (result kind, level); waived failures also carry an accepted suppression.
RESULT = {"fail": ("fail", "error"), "error": ("fail", "warning"), "waived": ("fail", "error")}


def _rule(control: dict[str, Any]) -> dict[str, Any]:
    refs = [f"checklist item {control['item']}", *control["references"]]
    return {
        "id": control["id"],
        "name": control["id"].replace(".", "/"),
        "shortDescription": {"text": control["title"]},
        "fullDescription": {"text": f"{control['title']} ({control['kind']}; "
                                    f"{', '.join(refs)})"},
        "help": {"text": f"Remediation: {control['remediation']}",
                 "markdown": f"**Remediation:** {control['remediation']}\n\n"
                             f"References: {', '.join(refs)}"},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["security", "kubernetes", control["area"],
                                *[f"item{i.strip()}" for i in control["item"].split(",")]],
                       "kind": control["kind"], "checklist_item": control["item"],
                       "references": list(control["references"])},
    }


def _result(test: dict[str, Any], rule_index: int, waivers: dict[int, dict[str, Any]],
            server: str) -> dict[str, Any]:
    kind, level = RESULT[test["verdict"]]
    reason = auditor_reason(test["reason"]) or test["verdict"]
    what = "inconclusive: " if test["verdict"] == "error" else ""
    result: dict[str, Any] = {
        "ruleId": test["control"],
        "ruleIndex": rule_index,
        "kind": kind,
        "level": level,
        "message": {"text": f"{test['title']}: {what}{reason}"},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": test["nodeid"].split("::")[0]}},
            "logicalLocations": [{"name": test["nodeid"].split("::")[-1],
                                  "fullyQualifiedName": f"{server} {test['nodeid']}",
                                  "kind": "test"}],
        }],
        "partialFingerprints": {"kubeproofTest/v1": test["nodeid"]},
        "properties": {"verdict": test["verdict"], "evidence": test["evidence"]},
    }
    if test["verdict"] == "waived" and test.get("waiver") in waivers:
        waiver = waivers[test["waiver"]]
        result["suppressions"] = [{
            "kind": "external", "status": "accepted",
            "justification": f"{waiver['justification']} (approved by {waiver['approver']}, "
                             f"expires {waiver['expires']})"}]
    return result


def build(doc: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log of a results document (credentials masked)."""
    assessed = [c for c in doc["controls"] if c["verdict"] != "not run"]
    index = {c["id"]: i for i, c in enumerate(assessed)}
    waivers = {w["index"]: w for w in doc.get("waivers") or []}
    server = str((doc.get("cluster") or {}).get("server") or "cluster")
    results = [_result(t, index[t["control"]], waivers, server) for t in doc["tests"]
               if t["verdict"] in RESULT and t["control"] in index]
    gate = doc.get("gate") or {}
    run = {
        "tool": {"driver": {"name": "kubeproof", "version": str(doc.get("kubeproof_version")),
                            "rules": [_rule(c) for c in assessed]}},
        "automationDetails": {"id": f"kubeproof/{doc.get('target')}/{doc.get('run_id')}"},
        "invocations": [{"executionSuccessful": True, "exitCode": doc.get("exit_status", 0),
                         "startTimeUtc": doc["started"], "endTimeUtc": doc["finished"]}],
        "results": results,
        "properties": {"run_id": doc.get("run_id"), "target": doc.get("target"),
                       "cluster": server, "gate": gate.get("line", "")},
    }
    return redact({"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]})


def write(path: Path, doc: dict[str, Any]) -> None:
    """Write the SARIF log of a results document to path."""
    jsondocs.write(path, build(doc))


def schema() -> dict[str, Any]:
    """The vendored OASIS SARIF 2.1.0 JSON schema."""
    return jsondocs.vendored_schema(SCHEMA_FILE)


def validate(document: dict[str, Any]) -> list[str]:
    """Errors of a SARIF log against the schema ([] when valid)."""
    import jsonschema

    validator = jsonschema.Draft4Validator(
        schema(), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    return jsondocs.schema_errors(validator, document)
