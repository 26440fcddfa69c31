"""The assessed cluster's identity for report headers: API server URL, version, nodes' OS."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from kubeproof import kube
from kubeproof.redact import redact_text
from kubeproof.targets.base import ClusterAccess


def _problem(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    text = f"{status} {getattr(exc, 'reason', '')}".strip() if status else f"{exc}"
    return redact_text(f"unknown ({type(exc).__name__}: {text})")[:200]


def cluster_identity(access: ClusterAccess) -> dict[str, Any]:
    """{server, version, nodes: [{name, os_image, kernel_version, container_runtime,
    kubelet_version}]} as the admin identity sees them; what cannot be read says why."""
    identity: dict[str, Any] = {"target": access.target, "server": None, "version": None,
                                "nodes": []}
    try:
        api = kube.api_client(access.admin)
    except Exception as exc:
        identity["server"] = _problem(exc)
        return identity
    with api:
        identity["server"] = api.configuration.host
        try:
            identity["version"] = client.VersionApi(api).get_code(
                _request_timeout=kube.REQUEST_TIMEOUT).git_version
        except Exception as exc:
            identity["version"] = _problem(exc)
        try:
            nodes = client.CoreV1Api(api).list_node(_request_timeout=kube.REQUEST_TIMEOUT).items
        except Exception as exc:
            identity["nodes_error"] = _problem(exc)
            nodes = []
        for node in nodes:
            info = node.status.node_info
            identity["nodes"].append({
                "name": node.metadata.name,
                "os_image": info.os_image,
                "kernel_version": info.kernel_version,
                "container_runtime": info.container_runtime_version,
                "kubelet_version": info.kubelet_version,
            })
    return identity


def node_os_summary(identity: dict[str, Any] | None) -> str:
    """The nodes' OS images in one line: 'Debian GNU/Linux 13 (trixie) (1 node)'."""
    if not identity:
        return "not contacted"
    if not identity.get("nodes"):
        return identity.get("nodes_error") or "no nodes"
    counts: dict[str, int] = {}
    for node in identity["nodes"]:
        counts[node["os_image"]] = counts.get(node["os_image"], 0) + 1
    return ", ".join(f"{image} ({n} node{'s' if n > 1 else ''})" for image, n in counts.items())
