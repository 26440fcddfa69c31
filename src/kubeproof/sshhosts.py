"""SSH node hosts: testinfra's paramiko backend with known host keys only, and the connection
it makes. Imported only when a node is reached over SSH (paramiko takes a tenth of a second
or more to import, which a run on local nodes does not need)."""

from __future__ import annotations

import functools
from pathlib import Path

import paramiko
from testinfra.backend.paramiko import ParamikoBackend

from kubeproof.errors import KubeproofError


class StrictParamikoBackend(ParamikoBackend):
    """testinfra's paramiko backend, but host keys must already be in known_hosts."""

    def __init__(self, hostspec: str, known_hosts: Path | None = None, **kwargs):
        super().__init__(hostspec, **kwargs)
        self.known_hosts = known_hosts

    @functools.cached_property
    def client(self) -> paramiko.SSHClient:  # type: ignore[override]
        return connect(self.host.name, int(self.host.port or 22), self.host.user,
                       self.ssh_identity_file, self.known_hosts, self.timeout)


def connect(hostname: str, port: int, user: str | None, key_file: str | Path | None,
            known_hosts: Path | None, timeout: float = 10) -> paramiko.SSHClient:
    """An SSH connection that refuses unknown and mismatching host keys (KubeproofError)."""
    where = f"{user + '@' if user else ''}{hostname}:{port}"
    if key_file is not None and not Path(key_file).is_file():
        raise KubeproofError(f"SSH key {key_file} does not exist: pass --ssh-key PATH to the "
                             f"private key that logs in to {where}")
    ssh = paramiko.SSHClient()
    ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
    if known_hosts is not None:
        if not known_hosts.is_file():
            raise KubeproofError(f"known_hosts file {known_hosts} does not exist: add the "
                                 f"nodes' verified host keys to it or pass --ssh-known-hosts PATH")
        ssh.load_host_keys(str(known_hosts))
    else:
        ssh.load_system_host_keys()
    source = str(known_hosts) if known_hosts else "~/.ssh/known_hosts"
    try:
        ssh.connect(hostname, port=port, username=user,
                    key_filename=str(key_file) if key_file else None, timeout=timeout,
                    allow_agent=key_file is None, look_for_keys=key_file is None)
    except paramiko.BadHostKeyException as exc:
        ssh.close()
        raise KubeproofError(
            f"SSH host key of {where} does not match {source} (got "
            f"{exc.key.get_name()} {exc.key.fingerprint}): if the node was rebuilt, verify the "
            f"new key out of band and replace its line in {source}; otherwise do not connect"
        ) from None
    except paramiko.AuthenticationException as exc:
        ssh.close()
        raise KubeproofError(f"SSH login to {where} was refused ({exc}): check --ssh-user and "
                             f"--ssh-key") from None
    except paramiko.SSHException as exc:
        ssh.close()
        if "not found in known_hosts" in str(exc):
            raise KubeproofError(
                f"SSH host {where} is not in {source}: verify its host key out of band and add "
                f"it (ssh-keyscan -p {port} {hostname} >> {source}, after checking the "
                f"fingerprint); kubeproof never accepts unknown host keys"
            ) from None
        raise KubeproofError(f"SSH to {where} failed: {exc}") from None
    except EOFError:
        ssh.close()
        raise KubeproofError(f"SSH to {where} failed: the server closed the connection during "
                             f"the handshake; check that sshd listens there") from None
    except (TimeoutError, OSError) as exc:
        ssh.close()
        raise KubeproofError(f"cannot reach {where} over SSH ({exc}): check --ssh-host and that "
                             f"sshd listens there") from None
    return ssh
