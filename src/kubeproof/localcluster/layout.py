"""Where the local cluster lives: its networks, addresses, names and state-directory paths."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "kubeproof-node"
NODE_IP = "10.243.0.1"
NODE_NETWORK = "10.243.0.0/24"
NODE_INTERFACE = "kubeproof0"
POD_CIDR = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
TEST_HOSTS_NETWORK = "10.242.0.0/24"
CLUSTER_DOMAIN = "cluster.local"
BRIDGE = "kubeproof-br0"
API_PORT = 6443
API_URL = f"https://{NODE_IP}:{API_PORT}"
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
APP_NAMESPACE = "pegress"
APP_USER = "pegress"
APP_GROUP = "hcom"
RUN_DIR = Path("/run/kubeproof-local")

# Networks pod traffic may reach; everything else is dropped before it can leave the machine.
OWN_NETWORKS = (POD_CIDR, CLUSTER_CIDR, SERVICE_CIDR, NODE_NETWORK, TEST_HOSTS_NETWORK)


def cache_dir() -> Path:
    """The build cache: binaries and image tarballs, keyed by version."""
    return Path(os.environ.get("KUBEPROOF_CACHE", Path.home() / ".cache" / "kubeproof"))


def default_state_dir() -> Path:
    """Where a cluster keeps its state unless --local-state-dir says otherwise."""
    return Path(os.environ.get("KUBEPROOF_LOCAL_STATE", "/var/lib/kubeproof/local"))


@dataclass(frozen=True)
class Layout:
    """Paths inside one cluster's state directory."""

    root: Path

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def run(self) -> Path:
        """Sockets and runtime state (short paths: unix sockets have a 108-byte limit)."""
        return RUN_DIR

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.config / "admin.kubeconfig"

    @property
    def app_kubeconfig(self) -> Path:
        return self.config / "pegress.kubeconfig"

    @property
    def containerd_socket(self) -> Path:
        return self.run / "containerd.sock"

    def kubeconfig(self, name: str) -> Path:
        return self.config / f"{name}.kubeconfig"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def make_dirs(self) -> None:
        for path in (self.pki, self.config, self.logs, self.data, self.run, self.pids):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
