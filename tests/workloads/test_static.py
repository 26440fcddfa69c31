"""Static analysis of manifests with checkov's Kubernetes checks (checklist item 7).

Every failed checkov check is a finding that fails the control, except the checks accepted,
with their reasons, in fixtures/checkov-accepted.yaml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.probes import RUN_ID_LABEL

ACCEPTED = "fixtures/checkov-accepted.yaml"
DROP_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
                 "selfLink", "ownerReferences")


def checkov(directory: Path) -> list[dict]:
    """checkov's Kubernetes reports (summary and results) for the manifests in a directory."""
    exe = shutil.which("checkov")
    if exe is None:
        pytest.skip("checkov is not on PATH: install it in its own environment "
                    "(`pipx install checkov`; it pins packaging<24, which conflicts with "
                    "pytest 9 in one environment)")
    command = [exe, "-d", str(directory), "--framework", "kubernetes", "--output", "json",
               "--quiet", "--compact", "--skip-download", "--skip-results-upload"]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    try:
        reports = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise kubeproof.Inconclusive(f"checkov did not report (exit {done.returncode}): "
                                     f"{done.stderr[-500:] or done.stdout[-500:]}") from None
    return reports if isinstance(reports, list) else [reports]


def accepted_reason(finding: dict, accepted: list[dict]) -> str | None:
    """Why a finding is accepted (from the accepted checks), or None."""
    for entry in accepted:
        if entry["check"] == finding["check_id"] and (
                "resources" not in entry or finding["resource"] in entry["resources"]):
            return " ".join(entry["reason"].split())
    return None


def export_live(admin_api, namespace: str, into: Path) -> list[str]:
    """Write the namespace's live workloads, services and network policies (not this or other
    runs' probes) as YAML files; their names."""
    apps, batch = admin_api.apps, client.BatchV1Api(admin_api.api)
    listers = {
        "Deployment": apps.list_namespaced_deployment,
        "StatefulSet": apps.list_namespaced_stateful_set,
        "DaemonSet": apps.list_namespaced_daemon_set,
        "CronJob": batch.list_namespaced_cron_job,
        "Job": batch.list_namespaced_job,
        "Pod": admin_api.core.list_namespaced_pod,
        "Service": admin_api.core.list_namespaced_service,
        "NetworkPolicy": admin_api.networking.list_namespaced_network_policy,
    }
    version = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
               "CronJob": "batch/v1", "Job": "batch/v1", "NetworkPolicy": "networking.k8s.io/v1"}
    names = []
    for kind, lister in listers.items():
        items = lister(namespace, label_selector=f"!{RUN_ID_LABEL}",
                       _request_timeout=REQUEST_TIMEOUT).items
        for obj in items:
            if obj.metadata.owner_references:
                continue  # exported through its owner
            data = admin_api.api.sanitize_for_serialization(obj)
            data.update(apiVersion=version.get(kind, "v1"), kind=kind)
            data.pop("status", None)
            for key in DROP_METADATA:
                data["metadata"].pop(key, None)
            path = into / f"{kind.lower()}-{obj.metadata.name}.yaml"
            path.write_text(yaml.safe_dump(data, sort_keys=False))
            names.append(f"{kind}/{obj.metadata.name}")
    return names


@kubeproof.control("static.manifests")
def test_manifests_pass_checkov(pytestconfig, cluster, admin_api, tmp_path, evidence):
    """Manifests in fixtures/ and live app workloads pass static security analysis."""
    root = pytestconfig.rootpath
    accepted = yaml.safe_load((root / ACCEPTED).read_text())["accepted"]
    shutil.copytree(root / "fixtures", tmp_path / "fixtures")  # one checkov run for both
    live = tmp_path / f"live-{cluster.app_namespace}"
    live.mkdir()
    with evidence.canary(f"the live workloads of {cluster.app_namespace} are exported"):
        exported = export_live(admin_api, cluster.app_namespace, live)
        evidence.add(f"exported from {cluster.app_namespace}", exported)
        assert exported, f"no workloads in namespace {cluster.app_namespace}"
    reports = checkov(tmp_path)
    with evidence.canary("checkov analysed the Kubernetes manifests"):
        evidence.add("checkov summary", [r.get("summary", r) for r in reports])
        assert any(r.get("results") and r["summary"].get("resource_count") for r in reports)
    rows = [{"check": f["check_id"], "name": f["check_name"], "resource": f["resource"],
             "file": f["file_path"].lstrip("/"),
             "accepted": accepted_reason(f, accepted)}
            for r in reports for f in r["results"].get("failed_checks", [])]
    evidence.add("checkov findings", rows or "none")
    open_findings = [f"{r['check']} {r['name']} ({r['resource']}, {r['file']})"
                     for r in rows if not r["accepted"]]
    assert not open_findings, "checkov findings: " + "; ".join(open_findings)
