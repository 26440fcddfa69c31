"""Service mesh controls: Istio's control plane runs, app pods carry its proxy, and mTLS is
STRICT so a plaintext request from outside the mesh is refused (checklist item 11)."""

from __future__ import annotations

import peerauth
import pytest
from kubernetes.client.exceptions import ApiException

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.probes import RUN_ID_LABEL
from kubeproof.targets.base import CAN_RUN_PODS, SERVICE_MESH

ISTIO_NAMESPACE = "istio-system"
PROXY_CONTAINER = "istio-proxy"
AMBIENT_LABEL = "istio.io/dataplane-mode"
PEER_AUTHN = ("security.istio.io", "peerauthentications")
REFUSED_PLAINTEXT = {52: "empty reply", 56: "connection reset"}


@pytest.fixture
def mesh(cluster):
    """Skips where the target has no mesh to judge (the local target runs no Istio)."""
    kubeproof.require(cluster, SERVICE_MESH)
    return cluster


def app_pods(cluster, admin_api):
    pods = admin_api.core.list_namespaced_pod(cluster.app_namespace,
                                              label_selector=f"!{RUN_ID_LABEL}",
                                              _request_timeout=REQUEST_TIMEOUT).items
    running = [p for p in pods if p.status.phase == "Running"]
    if not running:
        raise kubeproof.Inconclusive(f"no running app pods in {cluster.app_namespace}")
    return running


def has_proxy(pod) -> bool:
    """An istio-proxy container (classic or native sidecar) or ambient enrolment."""
    names = [c.name for c in (pod.spec.containers or []) + (pod.spec.init_containers or [])]
    return PROXY_CONTAINER in names or (pod.metadata.labels or {}).get(AMBIENT_LABEL) == "ambient"


@kubeproof.control("mesh.installed")
def test_mesh_control_plane_is_healthy(mesh, admin_api, evidence):
    """The mesh control plane is healthy and app pods have a sidecar."""
    with evidence.canary("the admin lists deployments in kube-system"):
        admin_api.apps.list_namespaced_deployment("kube-system", _request_timeout=REQUEST_TIMEOUT)
    deployments = admin_api.apps.list_deployment_for_all_namespaces(
        label_selector="app=istiod", _request_timeout=REQUEST_TIMEOUT).items
    seen = {f"{d.metadata.namespace}/{d.metadata.name}":
            f"{d.status.ready_replicas or 0}/{d.spec.replicas}" for d in deployments}
    evidence.add("istiod deployments (ready/desired)", seen or "none")
    assert any((d.status.ready_replicas or 0) >= 1 for d in deployments), (
        f"no ready istiod deployment (label app=istiod) in any namespace: {seen or 'none'}")


@kubeproof.control("mesh.installed")
def test_app_pods_have_a_sidecar(mesh, cluster, admin_api, evidence):
    """The mesh control plane is healthy and app pods have a sidecar."""
    pods = app_pods(cluster, admin_api)
    found = {p.metadata.name: has_proxy(p) for p in pods}
    evidence.add(f"app pods with {PROXY_CONTAINER} or ambient enrolment", found)
    assert all(found.values()), f"app pods without the mesh proxy: " \
        f"{[n for n, ok in found.items() if not ok]}"


def peer_authentications(admin_api, namespace: str) -> list[dict]:
    """The PeerAuthentications of a namespace (security.istio.io v1, else v1beta1)."""
    group, plural = PEER_AUTHN
    for version in ("v1", "v1beta1"):
        try:
            return admin_api.custom.list_namespaced_custom_object(
                group, version, namespace, plural, _request_timeout=REQUEST_TIMEOUT)["items"]
        except ApiException as exc:
            if exc.status != 404:
                raise
    return []


@kubeproof.control("mesh.mtls-strict")
def test_mesh_wide_peer_authentication_is_strict(mesh, admin_api, evidence):
    """Mesh-wide mTLS is STRICT and plaintext requests to the app are refused."""
    with evidence.canary("the admin reads namespaces"):
        admin_api.core.read_namespace("kube-system", _request_timeout=REQUEST_TIMEOUT)
    policies = peer_authentications(admin_api, ISTIO_NAMESPACE)
    modes = {p["metadata"]["name"]: (p.get("spec") or {}).get("mtls", {}).get("mode")
             for p in policies if not (p.get("spec") or {}).get("selector")}
    evidence.add(f"mesh-wide PeerAuthentications in {ISTIO_NAMESPACE}", modes or "none")
    assert modes and all(m == "STRICT" for m in modes.values()), (
        f"mesh-wide PeerAuthentication in {ISTIO_NAMESPACE} is not STRICT: {modes or 'none'}")


@kubeproof.control("mesh.mtls-strict")
def test_no_peer_authentication_weakens_mtls_for_the_app(mesh, cluster, admin_api, evidence):
    """No namespace-, workload- or port-level PeerAuthentication makes mTLS PERMISSIVE or
    DISABLE for the app's pods (one that applies counts even where a STRICT workload policy
    also applies: a pod without that workload's labels falls back to it)."""
    namespace = cluster.app_namespace
    pods = app_pods(cluster, admin_api)
    with evidence.canary(f"the cluster serves the PeerAuthentication API ({PEER_AUTHN[0]})"):
        served = admin_api.request("GET", f"/apis/{PEER_AUTHN[0]}")
        assert served.status == 200, f"{served.request} -> {served.status} {served.message}"
    policies = peer_authentications(admin_api, namespace)
    evidence.add(f"PeerAuthentications in {namespace}",
                 {p["metadata"]["name"]: p.get("spec") or {} for p in policies} or "none")
    labels = {p.metadata.name: p.metadata.labels or {} for p in pods}
    weakening = peerauth.overrides(policies, labels)
    evidence.add("overrides that weaken mTLS for the app's pods", weakening or "none")
    assert not weakening, f"PeerAuthentications in {namespace} weaken mTLS for the app: " \
                          f"{weakening}"


@kubeproof.control("mesh.mtls-strict")
def test_plaintext_request_to_app_is_refused(mesh, cluster, admin_api, probe_pods, evidence):
    """Mesh-wide mTLS is STRICT and plaintext requests to the app are refused."""
    kubeproof.require(cluster, CAN_RUN_PODS)
    pod = app_pods(cluster, admin_api)[0]
    port = next((p.container_port for c in pod.spec.containers if c.name != PROXY_CONTAINER
                 for p in c.ports or []), None)
    if port is None or not pod.status.pod_ip:
        raise kubeproof.Inconclusive(f"app pod {pod.metadata.name} has no port or address")
    target = f"http://{pod.status.pod_ip}:{port}/"
    # busybox nslookup does not search: the name is kubernetes.default.svc.<cluster domain>.
    script = ("d=$(awk '/^search/{for(i=2;i<=NF;i++) if(sub(/^svc[.]/,\"\",$i)){print $i; exit}}'"
              " /etc/resolv.conf); nslookup kubernetes.default.svc.${d:-cluster.local} >/dev/null;"
              f" echo canary=$?; curl -s -o /dev/null -m 5 {target}; echo attempt=$?")
    run = probe_pods.run("plaintext", ["sh", "-c", script],
                         pod={"metadata": {"annotations": {"sidecar.istio.io/inject": "false"}}})
    codes = dict(line.split("=", 1) for line in run.logs.split() if "=" in line)
    evidence.add("probe outside the mesh", f"{run.namespace}/{run.name}: {codes}")
    with evidence.canary("the same pod resolves kubernetes.default.svc through the cluster DNS",
                         guard=f"pod {run.namespace}/{run.name}"):
        assert codes.get("canary") == "0", f"canary curl exit {codes.get('canary')}"
    attempt = int(codes.get("attempt", "-1"))
    if attempt in (7, 28):
        raise kubeproof.Inconclusive(
            f"plaintext GET {target} was stopped before reaching the sidecar (curl exit "
            f"{attempt}: NetworkPolicy or routing), so it says nothing about mTLS")
    kubeproof.expect_denied(evidence, f"plaintext GET {target} from outside the mesh",
                            denied=attempt in REFUSED_PLAINTEXT,
                            detail=f"curl exit {attempt} "
                                   f"({REFUSED_PLAINTEXT.get(attempt, 'answered or other')})",
                            guard=f"pod {run.namespace}/{run.name}")
