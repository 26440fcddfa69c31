"""OSCAL assessment results (--oscal PATH): the run as one result, one observation per test
with its evidence, one finding per assessed control; and validation against the published
NIST OSCAL JSON schema vendored in schemas/ (see schemas/README.md)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from kubeproof import catalogue, jsondocs
from kubeproof.redact import redact
from kubeproof.report import Results, TestResult

OSCAL_VERSION = "1.2.3"
SCHEMA_FILE = "oscal_assessment-results_schema.json"
NS = "urn:kubeproof:oscal"
METHODS = {"probe": ["TEST"], "config": ["EXAMINE"], "config+probe": ["EXAMINE", "TEST"]}
# verdict -> (objective state, reason); skipped controls were not assessed: no finding.
STATUS = {"pass": ("satisfied", "pass"), "fail": ("not-satisfied", "fail"),
          "waived": ("not-satisfied", "other"), "error": ("not-satisfied", "other")}


def _line(text: Any) -> str:
    """One line, no leading or trailing whitespace, never empty (OSCAL string datatypes)."""
    return " ".join(str(text).split()) or "-"


def _prop(name: str, value: Any, cls: str | None = None) -> dict[str, str]:
    prop = {"name": name, "ns": NS, "value": _line(value)}
    if cls:
        prop["class"] = cls
    return prop


def _evidence(entry: dict[str, Any]) -> dict[str, str]:
    value = entry["value"]
    text = value if isinstance(value, str) else json.dumps(value, indent=1)
    if "\n" in text or "`" in text:
        return {"description": f"**{entry['label']}**:\n\n```\n{text}\n```"}
    return {"description": f"**{entry['label']}**: `{text}`"}


class _Builder:
    def __init__(self, results: Results, meta: dict[str, Any]) -> None:
        self.results = results
        self.meta = meta
        self.base = uuid.uuid5(uuid.NAMESPACE_URL, f"urn:kubeproof:run:{meta['run_id']}")
        self.cluster = meta.get("cluster") or {}
        self.subject = self.uid("inventory", "cluster")

    def uid(self, kind: str, key: str) -> str:
        """A stable v5 UUID for one object of this run."""
        return str(uuid.uuid5(self.base, f"{kind}:{key}"))

    def inventory(self) -> list[dict[str, Any]]:
        cluster = self.cluster
        props = [_prop("api-server", cluster.get("server") or "unknown"),
                 _prop("kubernetes-version", cluster.get("version") or "unknown"),
                 _prop("target", self.meta.get("target", "unknown"))]
        for node in cluster.get("nodes", []):
            props.append(_prop("node", f"{node['name']}: {node['os_image']}, kernel "
                                       f"{node['kernel_version']}, {node['container_runtime']}, "
                                       f"kubelet {node['kubelet_version']}"))
        return [{"uuid": self.subject,
                 "description": f"The Kubernetes cluster at {cluster.get('server') or 'unknown'}"
                                f" ({self.meta.get('target')} target)",
                 "props": props}]

    def observation(self, test: TestResult) -> dict[str, Any]:
        reason = f" Reason: {test.reason}" if test.reason else ""
        obs: dict[str, Any] = {
            "uuid": self.uid("observation", test.nodeid),
            "title": _line(test.nodeid),
            "description": f"{test.control}: {test.title}. Verdict: {test.verdict}.{reason}",
            "props": [_prop("control-id", test.control), _prop("verdict", test.verdict),
                      _prop("checklist-item", test.item), _prop("test", test.nodeid)],
            "methods": METHODS.get(test.kind, ["TEST"]),
            "types": ["control-objective"],
            "subjects": [{"subject-uuid": self.subject, "type": "inventory-item"}],
            "collected": self.meta["finished"],
        }
        obs["props"] += [_prop("reference", f"CIS {cis_id}") for cis_id in test.cis]
        if test.waiver is not None:
            obs["props"].append(_prop("waiver", f"#{test.waiver}"))
        if test.evidence:
            obs["relevant-evidence"] = [_evidence(e) for e in test.evidence]
        return obs

    def finding(self, control: catalogue.Control, verdict: str,
                tests: list[TestResult]) -> dict[str, Any]:
        state, reason = STATUS[verdict]
        remarks = [f"Verdict: {verdict}."]
        remarks += [f"{t.nodeid}: {t.verdict}: {t.reason}" for t in tests if t.reason]
        if verdict != "pass":
            remarks.append(f"Remediation: {control.remediation}")
        finding = {
            "uuid": self.uid("finding", control.id),
            "title": _line(f"{control.id}: {control.title}"),
            "description": control.title,
            "props": [_prop("verdict", verdict), _prop("checklist-item", control.item_label),
                      _prop("kind", control.kind)],
            "target": {"type": "objective-id", "target-id": control.id,
                       "status": {"state": state, "reason": reason}},
            "related-observations": [{"observation-uuid": self.uid("observation", t.nodeid)}
                                     for t in tests],
            "remarks": "\n\n".join(remarks),
        }
        answered = [f"CIS {i}" for t in tests for i in t.cis]
        for ref in dict.fromkeys([*control.references, *answered]):
            finding["props"].append(_prop("reference", ref))
        return finding

    def result(self) -> dict[str, Any]:
        meta = self.meta
        verdicts = self.results.control_verdicts()
        by_control: dict[str, list[TestResult]] = {}
        for test in self.results.tests.values():
            by_control.setdefault(test.control, []).append(test)
        assessed = [c for c in catalogue.CONTROLS if c.id in by_control]
        selection: dict[str, Any] = (
            {"include-controls": [{"control-id": c.id} for c in assessed]} if assessed
            else {"include-all": {}})
        gate = meta.get("gate") or {}
        props = [_prop("run-id", meta["run_id"]), _prop("target", meta.get("target")),
                 _prop("kubeproof-version", meta.get("kubeproof_version")),
                 _prop("fail-on", gate.get("fail_on", "fail")),
                 _prop("exit-status", meta.get("exit_status", 0)),
                 _prop("gate", gate.get("line", "not decided"))]
        props += [_prop("waiver", w["message"], w["status"]) for w in meta.get("waivers") or []]
        result: dict[str, Any] = {
            "uuid": self.uid("result", "run"),
            "title": f"kubeproof run {meta['run_id']}",
            "description": (f"An automated kubeproof run against the {meta.get('target')} "
                            f"target: each control is a test that tries the forbidden thing "
                            f"or reads the configuration."),
            "start": meta["started"],
            "end": meta["finished"],
            "props": props,
            "local-definitions": {"inventory-items": self.inventory()},
            "reviewed-controls": {"control-selections": [{
                "description": "The kubeproof catalogue controls selected for this run.",
                **selection}]},
        }
        observations = [self.observation(t) for t in self.results.tests.values()]
        findings = [self.finding(c, verdicts[c.id], by_control[c.id]) for c in assessed
                    if verdicts[c.id] in STATUS]
        if observations:
            result["observations"] = observations
        if findings:
            result["findings"] = findings
        return result

    def document(self) -> dict[str, Any]:
        meta = self.meta
        plan = self.uid("resource", "catalogue")
        return {"assessment-results": {
            "uuid": self.uid("assessment-results", "document"),
            "metadata": {
                "title": f"kubeproof assessment results: run {meta['run_id']}",
                "last-modified": meta["finished"],
                "version": str(meta.get("kubeproof_version", "unknown")),
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": f"#{plan}",
                          "remarks": "The assessment plan is kubeproof's control catalogue."},
            "results": [self.result()],
            "back-matter": {"resources": [{
                "uuid": plan,
                "title": "kubeproof control catalogue",
                "description": (f"docs/CONTROLS.md of kubeproof "
                                f"{meta.get('kubeproof_version')}: one control per row with "
                                f"its checklist item, kind and remediation."),
            }]},
        }}


def build(results: Results, meta: dict[str, Any]) -> dict[str, Any]:
    """The OSCAL assessment-results document of a run (credentials masked)."""
    return redact(_Builder(results, meta).document())


def write(path: Path, results: Results, meta: dict[str, Any]) -> None:
    """Write the OSCAL assessment results of a run to path."""
    jsondocs.write(path, build(results, meta))


def schema() -> dict[str, Any]:
    """The vendored NIST OSCAL assessment-results JSON schema."""
    return jsondocs.vendored_schema(SCHEMA_FILE)


def validate(document: dict[str, Any]) -> list[str]:
    """Errors of a document against the OSCAL schema ([] when valid).

    The schema's patterns use Unicode classes (\\p{L}) that Python's re lacks, so `pattern`
    is checked with the `regex` module; everything else is jsonschema's Draft 7 validator.
    """
    import jsonschema
    import regex
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, patrn: str, instance: Any, _schema: Any) -> Any:
        if validator.is_type(instance, "string") and not regex.search(patrn, instance):
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    validator_class = jsonschema.validators.extend(jsonschema.Draft7Validator,
                                                   {"pattern": pattern})
    validator = validator_class(schema(), format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    return jsondocs.schema_errors(validator, document)
