"""Fixtures the cluster controls share: component flags, the API server's address and CA,
and files read on the nodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from kubernetes.client.exceptions import ApiException

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.nodeprocesses import ComponentFlags, control_plane_flags
from kubeproof.targets.base import COMPONENT_FLAGS, NODE_ACCESS


@pytest.fixture(scope="session")
def process_flags(request) -> dict[str, ComponentFlags]:
    """Control-plane flags read from the components' processes over node access (for targets
    whose API shows no static pods: components run as host processes)."""
    return control_plane_flags(request.getfixturevalue("node_hosts"))


def _lookup(cluster, request, component: str) -> tuple[ComponentFlags | None, list[str]]:
    """A component's flags from the target (static pods, or the local cluster's processes),
    else from its process on the nodes (node access); and the components that were seen."""
    seen = sorted(cluster.component_flags)
    if cluster.has(COMPONENT_FLAGS) and cluster.component_flags.get(component):
        source = cluster.component_flags_source.get(component, f"the {cluster.target} target")
        return ComponentFlags(cluster.component_flags[component], source), seen
    if not cluster.has(NODE_ACCESS):
        return None, seen
    found = request.getfixturevalue("process_flags")
    return found.get(component), sorted({*seen, *found})


@pytest.fixture
def component_flags(cluster, request, evidence) -> Callable[[str], dict[str, str]]:
    """component_flags(name) -> {flag: value} (see _lookup); skips when neither the API nor
    the nodes show any control-plane component (a managed control plane), and a component
    missing where others are seen is Inconclusive (missing evidence, never a pass). The
    evidence says where the flags were read."""
    if not cluster.has(COMPONENT_FLAGS) and not cluster.has(NODE_ACCESS):
        kubeproof.require(cluster, COMPONENT_FLAGS)

    def read(component: str) -> dict[str, str]:
        found, seen = _lookup(cluster, request, component)
        if found is not None:
            evidence.add(f"{component} flags read from", found.source)
            return found.flags
        if not seen:
            pytest.skip(f"the API shows no control-plane static pods and no control-plane "
                        f"component runs as a host process on the nodes kubeproof reaches "
                        f"({', '.join(n.name for n in cluster.nodes)}): a managed control "
                        f"plane, or no access to a control-plane node")
        raise kubeproof.Inconclusive(
            f"the {cluster.target} target read no flags of {component}, from its API or the "
            f"processes on the nodes it reaches (it sees {seen})")

    return read


@pytest.fixture
def known_flags(cluster, request, evidence) -> Callable[[str], dict[str, str]]:
    """known_flags(name) -> the component's flags where they can be read (see _lookup), else
    {}: for checks that only refine what they see with a flag (its default otherwise)."""

    def read(component: str) -> dict[str, str]:
        try:
            found, _ = _lookup(cluster, request, component)
        except kubeproof.Inconclusive as exc:
            evidence.add(f"{component} flags", f"not readable ({exc}): defaults assumed")
            return {}
        if found is None:
            evidence.add(f"{component} flags", "not readable here: defaults assumed")
            return {}
        evidence.add(f"{component} flags read from", found.source)
        return found.flags

    return read


@pytest.fixture
def apiserver_flags(component_flags) -> dict[str, str]:
    """kube-apiserver's command-line flags."""
    return component_flags("kube-apiserver")


@dataclass(frozen=True)
class ApiServer:
    """Where the API server listens, as the admin kubeconfig says, and the CA that signs it."""

    url: str
    host: str
    port: int
    ca_file: str
    cluster_ca: str  # PEM the cluster publishes (kube-root-ca.crt ConfigMap)


@pytest.fixture
def api_server(cluster, admin_api) -> ApiServer:
    """The API server's address, the admin kubeconfig's CA file and the published cluster CA."""
    configuration = admin_api.api.configuration
    url = urlsplit(configuration.host)
    if url.scheme != "https":
        pytest.fail(f"the admin kubeconfig reaches the API server over {url.scheme}: "
                    f"{configuration.host}")
    if not configuration.ssl_ca_cert:
        raise kubeproof.Inconclusive(
            f"the admin kubeconfig {cluster.admin.kubeconfig} names no certificate authority "
            f"(insecure-skip-tls-verify?): kubeproof needs the CA to verify the API server")
    try:
        configmap = admin_api.core.read_namespaced_config_map(
            "kube-root-ca.crt", cluster.app_namespace, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        raise kubeproof.Inconclusive(
            f"cannot read ConfigMap {cluster.app_namespace}/kube-root-ca.crt (the cluster CA): "
            f"{exc.status} {exc.reason}") from exc
    pem = (configmap.data or {}).get("ca.crt", "")
    if "BEGIN CERTIFICATE" not in pem:
        raise kubeproof.Inconclusive(
            f"ConfigMap {cluster.app_namespace}/kube-root-ca.crt holds no ca.crt certificate")
    return ApiServer(configuration.host, url.hostname, url.port or 443,
                     configuration.ssl_ca_cert, pem)


@pytest.fixture
def node_text(node_hosts) -> Callable[[str], tuple[str, str]]:
    """node_text(path) -> (node name, text) of the file on the first node that holds it;
    skips without node access, Inconclusive when no reachable node has it or it is unreadable."""

    def read(path: str) -> tuple[str, str]:
        for node, host in node_hosts:
            if host.file(path).is_file:
                try:
                    return node.name, host.file(path).content_string
                except Exception as exc:  # testinfra raises plain exceptions here
                    raise kubeproof.Inconclusive(
                        f"cannot read {path} on node {node.name}: {exc}") from exc
        names = ", ".join(node.name for node, _ in node_hosts)
        raise kubeproof.Inconclusive(f"{path} is on none of the nodes kubeproof reaches "
                                     f"({names}): give access to a control-plane node")

    return read
