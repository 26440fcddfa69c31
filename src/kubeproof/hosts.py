"""Node hosts for testinfra: the local backend, or SSH (paramiko) with known host keys only
(kubeproof.sshhosts)."""

from __future__ import annotations

import testinfra
from testinfra.host import Host

from kubeproof.errors import KubeproofError
from kubeproof.targets.base import NodeHost


def host_for(node: NodeHost) -> Host:
    """A testinfra Host for a node: local backend for 'local://', strict paramiko otherwise."""
    if node.spec.startswith("local://"):
        return testinfra.get_host(node.spec)
    if not node.spec.startswith(("paramiko://", "ssh://")):
        raise KubeproofError(f"node {node.name}: unsupported host spec {node.spec!r}: use "
                             f"local:// or paramiko://user@host[:port]")
    from kubeproof.sshhosts import StrictParamikoBackend

    hostspec = node.spec.split("://", 1)[1]
    backend = StrictParamikoBackend(
        hostspec, known_hosts=node.known_hosts,
        ssh_identity_file=str(node.ssh_identity_file) if node.ssh_identity_file else None,
        sudo=node.sudo,
    )
    host = Host(backend)
    backend.set_host(host)
    return host


def check_reachable(node: NodeHost) -> None:
    """Connect once to a node to surface key, host-key and sudo problems early
    (KubeproofError)."""
    host = host_for(node)
    backend = host.backend
    if not node.spec.startswith("local://"):
        from kubeproof import ssh

        if node.sudo:
            try:
                status, _, err = ssh.execute(backend.client, "sudo -n true", timeout=30)
            except TimeoutError:
                status, err = 1, "no answer within 30 s"
            if status != 0:
                backend.client.close()
                raise KubeproofError(
                    f"node {node.name}: SSH user {backend.host.user} cannot run commands as "
                    f"root without a password (sudo -n true: {err.strip() or f'exit {status}'}): "
                    f"the host controls read root-only files; log in as root or give the user "
                    f"a NOPASSWD sudo rule")
        backend.client.close()
        del backend.client
