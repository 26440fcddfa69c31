"""A fingerprint of everything a mutant may touch on the local cluster, to show a revert
restored the hardened state exactly."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import yaml

from kubeproof.localcluster import layout as L
from kubeproof.localcluster.cluster import LocalCluster

# API objects a mutant may change: (kubectl resource, fields kept from each object).
OBJECTS = {
    "clusterroles": ("rules", "aggregationRule"),
    "clusterrolebindings": ("roleRef", "subjects"),
    "roles": ("rules",),
    "rolebindings": ("roleRef", "subjects"),
    "networkpolicies": ("spec",),
    "namespaces": (),
    "deployments": ("spec.template",),
    "configmaps": ("data",),
}
# Annotations that record an event, not a setting (a restart's time stamp).
EVENT_ANNOTATIONS = {"kubectl.kubernetes.io/restartedAt", "deployment.kubernetes.io/revision",
                     "kubectl.kubernetes.io/last-applied-configuration"}
CONFIGMAP_NAMESPACES = {"egress", L.APP_NAMESPACE, "kube-system"}
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
              "kube-proxy", "netpol")


def _field(obj: dict, path: str):
    for key in path.split("."):
        obj = (obj or {}).get(key)
    return obj


def _strip_events(value):
    """An object without event annotations (an annotations map left empty is dropped)."""
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        if key == "annotations" and isinstance(item, dict):
            item = {a: x for a, x in item.items() if a not in EVENT_ANNOTATIONS}
            if not item:
                continue
        kept[key] = _strip_events(item)
    return kept


def api_objects(cluster: LocalCluster) -> dict[str, object]:
    """The settings of every RBAC object, NetworkPolicy, namespace's labels, Deployment's pod
    template and the gateway's and app's ConfigMaps."""
    found: dict[str, object] = {}
    for resource, fields in OBJECTS.items():
        listing = json.loads(cluster.kubectl("get", resource, "-A", "-o", "json"))
        for obj in listing["items"]:
            meta = obj["metadata"]
            namespace = meta.get("namespace", "")
            if resource == "configmaps" and namespace not in CONFIGMAP_NAMESPACES:
                continue
            if resource == "configmaps" and meta["name"] in ("kube-root-ca.crt",):
                continue
            if (meta.get("labels") or {}).get("kubeproof.io/run-id"):
                continue  # a suite run's own probe namespaces and objects
            key = f"{resource}/{namespace}/{meta['name']}"
            found[key] = _strip_events({
                "labels": meta.get("labels"),
                **{f: _field(obj, f) for f in fields},
            })
    return found


def _content(cluster: LocalCluster, path: Path) -> bytes:
    """A config file's bytes; the app kubeconfig's without its ID token, which a component
    restart renews once the token is near its expiry (not a mutant's change)."""
    if path != cluster.layout.app_kubeconfig:
        return path.read_bytes()
    kubeconfig = yaml.safe_load(path.read_text()) or {}
    for user in kubeconfig.get("users") or []:
        if "token" in (user.get("user") or {}):
            user["user"]["token"] = "<renewed on restarts>"
    return json.dumps(kubeconfig, sort_keys=True).encode()


def host_state(cluster: LocalCluster) -> dict[str, object]:
    """Each component's command line and every file of the cluster's config directory (its
    content's digest, owner and mode)."""
    found: dict[str, object] = {}
    for name in COMPONENTS:
        if cluster.processes.pid(name) is not None:
            found[f"process/{name}"] = cluster.processes.cmdline(name)[1:]
    for path in sorted(Path(cluster.layout.config).rglob("*")):
        if path.is_file():
            st = path.stat()
            digest = hashlib.sha256(_content(cluster, path)).hexdigest()[:16]
            found[f"file/{path.name}"] = f"{digest} uid={st.st_uid} mode={oct(st.st_mode & 0o7777)}"
    for name in ("kubeconfig",):
        path = Path(cluster.flags()["kubelet"][name])
        st = path.stat()
        found[f"file/kubelet-{name}"] = f"uid={st.st_uid} mode={oct(st.st_mode & 0o7777)}"
    return found


def fingerprint(cluster: LocalCluster) -> dict[str, object]:
    """Everything a mutant may touch, by key."""
    return {**api_objects(cluster), **host_state(cluster)}


def differences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """What changed between two fingerprints, one line per key."""
    lines = []
    for key in sorted(before.keys() | after.keys()):
        if key not in after:
            lines.append(f"{key}: gone")
        elif key not in before:
            lines.append(f"{key}: new: {json.dumps(after[key])[:300]}")
        elif before[key] != after[key]:
            lines.append(f"{key}: {json.dumps(before[key])[:300]} -> "
                         f"{json.dumps(after[key])[:300]}")
    return lines


def restored(cluster: LocalCluster, hardened: dict[str, object],
             timeout: float = 60) -> list[str]:
    """Poll until the cluster's fingerprint equals the hardened one (controllers settle, e.g.
    aggregated roles); the differences left at the deadline (empty: restored)."""
    deadline = time.monotonic() + timeout
    while True:
        diff = differences(hardened, fingerprint(cluster))
        if not diff or time.monotonic() > deadline:
            return diff
        time.sleep(2)
