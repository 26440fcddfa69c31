"""The in-cluster target: kubeproof running in a pod (deploy/), its ServiceAccount the admin.

Everything else is the existing target's: the app identity by impersonation (--app-user),
node access by node pods (--node-access pod), etcd by its options. The ServiceAccount's
token is read from its projected file each time a client is made (kubelet rotates it),
through a kubeconfig that names the file and is never written with the token in it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubeproof import kube
from kubeproof.errors import KubeproofError
from kubeproof.targets.base import ClusterAccess, Identity
from kubeproof.targets.existing import ExistingTarget

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CONTEXT = "in-cluster"


def service_account_kubeconfig(directory: Path, host: str, port: str) -> dict[str, Any]:
    """A kubeconfig for the pod's ServiceAccount: the API server, its CA file, the token file."""
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return {
        "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT,
        "clusters": [{"name": CONTEXT, "cluster": {
            "server": server, "certificate-authority": str(directory / "ca.crt")}}],
        "users": [{"name": CONTEXT, "user": {"tokenFile": str(directory / "token")}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT}}],
    }


class InClusterTarget(ExistingTarget):
    """The cluster kubeproof runs in, as its pod's ServiceAccount."""

    name = "in-cluster"

    @classmethod
    def from_config(cls, config: Any) -> InClusterTarget:
        """The pod's ServiceAccount as the admin identity (KubeproofError outside a pod)."""
        host = os.environ.get("KUBERNETES_SERVICE_HOST")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        directory = Path(os.environ.get("KUBEPROOF_SERVICE_ACCOUNT_DIR", SERVICE_ACCOUNT_DIR))
        if not host:
            raise KubeproofError("--target in-cluster runs in a pod: KUBERNETES_SERVICE_HOST "
                                 "is not set; outside a cluster use --target existing")
        missing = [str(directory / f) for f in ("token", "ca.crt") if not (directory / f).is_file()]
        if missing:
            raise KubeproofError(f"--target in-cluster: {', '.join(missing)} missing: the pod "
                                 f"needs its ServiceAccount token mounted "
                                 f"(automountServiceAccountToken: true)")
        state = Path(tempfile.mkdtemp(prefix="kubeproof-incluster-"))
        kubeconfig = state / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(service_account_kubeconfig(directory, host, port)))
        kubeconfig.chmod(0o600)
        return cls.from_admin(config, kubeconfig, CONTEXT)

    def start(self) -> ClusterAccess:
        """Point the kubeconfig at the API server itself (the `kubernetes` Service's
        endpoint, when its certificate is valid there), then start as the existing target:
        the checks of what the API server's host serves need the host, not the Service IP."""
        data = yaml.safe_load(self.admin.kubeconfig.read_text())
        cluster = data["clusters"][0]["cluster"]
        direct = api_server_endpoint(kube.Clients(self.admin))
        if direct and direct != cluster["server"]:
            trial = dict(data, clusters=[{"name": CONTEXT,
                                          "cluster": dict(cluster, server=direct)}])
            probe = self.admin.kubeconfig.with_name("kubeconfig.direct")
            probe.write_text(yaml.safe_dump(trial))
            probe.chmod(0o600)
            try:
                answer = kube.Clients(Identity(probe, CONTEXT)).request(
                    "GET", "/version", timeout=(3, 10))
                if answer.status == 200:
                    probe.replace(self.admin.kubeconfig)
            except (urllib3.exceptions.HTTPError, OSError):
                pass  # the Service IP it is
        return super().start()


def api_server_endpoint(clients: kube.Clients) -> str | None:
    """https://ADDRESS:PORT of the first API server behind the `kubernetes` Service."""
    try:
        slices = client.DiscoveryV1Api(clients.api).list_namespaced_endpoint_slice(
            "default", label_selector="kubernetes.io/service-name=kubernetes",
            _request_timeout=(3, 10)).items
    except (ApiException, urllib3.exceptions.HTTPError, OSError):
        return None
    for endpoint_slice in slices:
        port = next((p.port for p in endpoint_slice.ports or [] if p.name == "https"), None)
        for endpoint in endpoint_slice.endpoints or []:
            for address in endpoint.addresses or []:
                if port:
                    host = f"[{address}]" if ":" in address else address
                    return f"https://{host}:{port}"
    return None
