"""MITRE Heimdall Data Format (--hdf PATH): the run as InSpec exec JSON, which Heimdall
loads; one profile `kubeproof`, one control per catalogue control with a result per test;
and validation against the schema derived from inspecjs (schemas/README.md)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from kubeproof import jsondocs
from kubeproof.auditreport import auditor_reason
from kubeproof.redact import redact

SCHEMA_FILE = "hdf-exec-json.schema.json"
STATUS = {"pass": "passed", "fail": "failed", "error": "error", "skip": "skipped",
          "waived": "failed"}
# kubeproof's mapping of its areas to NIST SP 800-53 Rev. 5 controls (Heimdall's NIST view);
# a reading of what each area proves, not an official crosswalk.
NIST = {
    "host": ["CM-6", "CM-7"], "rbac": ["AC-3", "AC-6"], "tls": ["SC-8", "SC-13", "SC-23"],
    "auth": ["IA-2", "IA-5", "AC-14"], "etcd": ["SC-7", "AC-3"], "encryption": ["SC-28", "SC-12"],
    "audit": ["AU-2", "AU-12"], "admission": ["CM-7", "AC-6"], "seccomp": ["CM-7", "SC-39"],
    "podsecurity": ["CM-7", "AC-6"], "nonroot": ["AC-6"], "workload": ["CM-7", "AC-6"],
    "static": ["CM-6", "SA-11"], "images": ["CM-14", "RA-5"], "runtime": ["SI-4"],
    "mesh": ["SC-8", "SC-7"], "egress": ["SC-7", "AC-4"], "netpol": ["SC-7", "AC-4"],
}
NIST_OF = {"host.hids": ["SI-4", "SI-7"], "host.firewall": ["SC-7"],
           "host.selinux-enforcing": ["AC-3(3)", "CM-7"], "images.scanned": ["RA-5", "SI-2"]}
# Impact (InSpec 0.0-1.0): what a failure exposes; kubeproof's rating by area.
HIGH = {"rbac", "auth", "tls", "etcd", "encryption", "admission", "podsecurity", "seccomp",
        "nonroot", "netpol", "egress", "mesh"}


def _cis(references: list[str]) -> list[str]:
    return [m.group(1) for r in references if (m := re.match(r"CIS (\d[\d.]*)", r))]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _result(test: dict[str, Any], started: str) -> dict[str, Any]:
    evidence = "; ".join(f"{e['label']}: {_text(e['value'])}" for e in test["evidence"])
    reason = auditor_reason(test["reason"])
    result: dict[str, Any] = {"status": STATUS[test["verdict"]],
                              "code_desc": test.get("check") or test["title"],
                              "start_time": started, "run_time": round(test["duration"], 3),
                              "resource": test["nodeid"]}
    if test["verdict"] == "skip":
        result["skip_message"] = reason or "skipped"
    elif test["verdict"] == "error":
        result["message"] = f"inconclusive: {reason}" + (f"\nevidence: {evidence}" if evidence
                                                          else "")
    else:
        result["message"] = "\n".join(x for x in (reason, f"evidence: {evidence}"
                                                  if evidence else "") if x)
    return result


def _control(control: dict[str, Any], tests: list[dict[str, Any]], started: str,
             waivers: list[dict[str, Any]]) -> dict[str, Any]:
    refs = [f"checklist item {control['item']}", *control["references"]]
    hdf: dict[str, Any] = {
        "id": control["id"],
        "title": control["title"],
        "desc": control["title"],
        "descriptions": [{"label": "default", "data": control["title"]},
                         {"label": "check", "data": f"{control['kind']}: " + "; ".join(
                             dict.fromkeys(t.get("check") or t["title"] for t in tests))
                          if tests else control["kind"]},
                         {"label": "fix", "data": control["remediation"]}],
        "impact": 0.7 if control["area"] in HIGH else 0.5,
        "refs": [{"ref": r} for r in refs],
        "tags": {"nist": NIST_OF.get(control["id"], NIST.get(control["area"], [])),
                 "cis": _cis(control["references"]),
                 "item": [i.strip() for i in control["item"].split(",")],
                 "cks": "CKS" in control["references"], "area": control["area"],
                 "kind": control["kind"], "verdict": control["verdict"]},
        "code": "",
        "source_location": {"ref": tests[0]["nodeid"].split("::")[0] if tests else "", "line": 0},
        "results": [_result(t, started) for t in tests],
    }
    waiver = next((w for w in waivers if w["control"] == control["id"]
                   and w["status"] == "applied"), None)
    if waiver is not None:
        hdf["waiver_data"] = {"justification": waiver["justification"], "run": True,
                              "skipped_due_to_waiver": False, "message": waiver["message"],
                              "expiration_date": waiver["expires"]}
    return hdf


def build(doc: dict[str, Any]) -> dict[str, Any]:
    """The HDF (InSpec exec JSON) document of a results document (credentials masked)."""
    tests_of: dict[str, list[dict[str, Any]]] = {}
    for test in doc["tests"]:
        tests_of.setdefault(test["control"], []).append(test)
    cluster = doc.get("cluster") or {}
    waivers = doc.get("waivers") or []
    controls = [_control(c, tests_of.get(c["id"], []), doc["started"], waivers)
                for c in doc["controls"]]
    catalogue_text = json.dumps([(c["id"], c["title"], c["remediation"]) for c in doc["controls"]])
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for c in controls:
        statuses = {r["status"] for r in c["results"]}
        key = ("failed" if statuses & {"failed", "error"} else "passed" if "passed" in statuses
               else "skipped")
        counts[key] += 1
    profile = {
        "name": "kubeproof",
        "version": str(doc.get("kubeproof_version")),
        "title": "kubeproof: Kubernetes security controls, proven against the live cluster",
        "summary": f"Run {doc.get('run_id')} against the {doc.get('target')} target: "
                   f"{(doc.get('gate') or {}).get('line', '')}",
        "maintainer": "kubeproof",
        "license": "Apache-2.0",
        "sha256": hashlib.sha256(catalogue_text.encode()).hexdigest(),
        "status": "loaded",
        "supports": [{"platform": "kubernetes"}],
        "attributes": [],
        "groups": [{"id": area, "title": f"kubeproof {area} controls",
                    "controls": [c["id"] for c in doc["controls"] if c["area"] == area]}
                   for area in dict.fromkeys(c["area"] for c in doc["controls"])],
        "controls": controls,
    }
    return redact({
        "platform": {"name": "kubernetes", "release": str(cluster.get("version") or "unknown"),
                     "target_id": str(cluster.get("server") or doc.get("target"))},
        "profiles": [profile],
        "statistics": {"duration": round(sum(t["duration"] for t in doc["tests"]), 3),
                       "controls": {k: {"total": v} for k, v in counts.items()}},
        "version": str(doc.get("kubeproof_version")),
        "passthrough": {"kubeproof": {"run_id": doc.get("run_id"), "target": doc.get("target"),
                                      "started": doc.get("started"),
                                      "finished": doc.get("finished"),
                                      "gate": doc.get("gate")}},
    })


def write(path: Path, doc: dict[str, Any]) -> None:
    """Write the HDF document of a results document to path."""
    jsondocs.write(path, build(doc))


def schema() -> dict[str, Any]:
    """The HDF exec-json schema derived from inspecjs's parser (schemas/README.md)."""
    return jsondocs.vendored_schema(SCHEMA_FILE)


def validate(document: dict[str, Any]) -> list[str]:
    """Errors of an HDF document against the schema ([] when valid)."""
    import jsonschema

    validator = jsonschema.Draft7Validator(schema())
    return jsondocs.schema_errors(validator, document)
