"""The targets interface: what a target hands the suite, and how it is started and stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Capabilities a target may have; controls skip, saying which one is missing.
CAN_RUN_PODS = "can-run-pods"
NODE_ACCESS = "node-access"
ETCD_ACCESS = "etcd-access"
COMPONENT_FLAGS = "component-flags"
MUTABLE_COMPONENTS = "mutable-components"
EGRESS_TEST_HOSTS = "egress-test-hosts"
SERVICE_MESH = "service-mesh"


@dataclass(frozen=True)
class Identity:
    """How to reach the API as one identity: a kubeconfig (+context), optionally impersonating."""

    kubeconfig: Path
    context: str | None = None
    impersonate_user: str | None = None
    impersonate_groups: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """A short human name for reports (never a credential)."""
        if self.impersonate_user:
            return f"{self.impersonate_user} (impersonated)"
        return f"{self.kubeconfig.name}{':' + self.context if self.context else ''}"


@dataclass(frozen=True)
class EtcdAccess:
    """Client access to the cluster's etcd: endpoint and the client certificate files."""

    endpoint: str
    ca_file: Path
    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class NodeHost:
    """A node reachable by testinfra: a host spec such as 'local://' or 'paramiko://user@host'."""

    name: str
    spec: str
    ssh_config: Path | None = None
    ssh_identity_file: Path | None = None
    # The known_hosts file that must already hold the node's key (never auto-accepted).
    known_hosts: Path | None = None
    # Run host commands through sudo (a non-root login user such as Flatcar's core).
    sudo: bool = False
    # On a node that runs no kubelet (a host prepared for one), the runtime socket the host
    # controls judge; None: such a node is an error.
    runtime_endpoint: str | None = None


@dataclass(frozen=True)
class EgressHosts:
    """External hosts for the egress controls: one the app may reach, one it must not."""

    registered: str
    unregistered: str
    # host name -> text every answer of that host contains (tells a real answer from a proxy's)
    bodies: dict[str, str]
    # PEM of the CA that signs their HTTPS certificates
    ca_pem: str = ""


@dataclass(frozen=True)
class FileIntegrity:
    """Where the nodes' file integrity tool (AIDE) is set up, for host.hids to exercise it: its
    config file, and a canary file in its scope that kubeproof may change and put back."""

    aide_config: str = "/etc/aide/aide.conf"
    canary: str = "/etc/kubeproof/hids-canary"


# kubeadm's administrative kubeconfigs on control-plane nodes (CIS 1.1.13/14).
ADMIN_KUBECONFIGS = ("/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf")


@dataclass
class ClusterAccess:
    """Everything a started target yields to the controls."""

    target: str
    admin: Identity
    app: Identity
    app_user: str
    app_namespace: str
    nodes: list[NodeHost] = field(default_factory=list)
    etcd: EtcdAccess | None = None
    # Component name -> command-line flags as {flag: value}, where the target can read them,
    # and where it read each component's (for the evidence).
    component_flags: dict[str, dict[str, str]] = field(default_factory=dict)
    component_flags_source: dict[str, str] = field(default_factory=dict)
    capabilities: frozenset[str] = frozenset()
    # Hosts outside the cluster that egress tests may use: name -> address (own netns hosts).
    external_hosts: dict[str, str] = field(default_factory=dict)
    # Which of them the egress controls use, and how to recognise their answers.
    egress: EgressHosts | None = None
    # Image for probe pods (busybox, keyctl and curl): --probe-image, else the target's, else
    # kubeproof's own probe image pinned by digest (kubeproof.probeimage).
    probe_image: str = ""
    file_integrity: FileIntegrity = field(default_factory=FileIntegrity)
    # Where the cluster's administrative kubeconfigs may sit on control-plane nodes.
    admin_kubeconfigs: tuple[str, ...] = ADMIN_KUBECONFIGS
    # Labels the run namespace gets (e.g. pod-security enforce level of the app namespace).
    run_namespace_labels: dict[str, str] = field(default_factory=dict)

    def has(self, capability: str) -> bool:
        """Whether the target has a capability (one of the constants above)."""
        return capability in self.capabilities


class Target:
    """A source of a cluster for one test session: start() once, stop() at the end."""

    name = "abstract"

    @classmethod
    def from_config(cls, config: Any) -> Target:
        """The target configured by pytest options (config.getoption); cheap, no I/O on the
        cluster. Raises KubeproofError for bad options."""
        raise NotImplementedError

    def start(self) -> ClusterAccess:
        raise NotImplementedError

    def declared_nodes(self) -> list[str] | None:
        """The names of the nodes start() will give node access to, known from the options
        alone (no I/O), so that host controls can be parametrized by node at collection time;
        None when the target only learns them at start."""
        return None

    def stop(self) -> None:
        """Release what start() created (a no-op for clusters the suite does not own)."""
