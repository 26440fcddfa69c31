"""SSH for provisioning a node: login keys, waiting for sshd, pinning the host key (a given
fingerprint or known_hosts, never accepted silently), uploading and running scripts."""

from __future__ import annotations

import os
import shlex
import socket
import stat
import threading
import time
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kubeproof.errors import KubeproofError

POLL_SECONDS = 2.0


def ensure_key(path: Path) -> Path:
    """An ed25519 login key at path (made once, mode 600), reused by later runs."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = ed25519.Ed25519PrivateKey.generate()
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                 serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    return path


def public_key_line(private_key: Path) -> str:
    """The OpenSSH public key line of a private key file (KubeproofError if unreadable)."""
    try:
        key = paramiko.PKey.from_path(private_key)
    except (paramiko.SSHException, OSError, ValueError) as exc:
        raise KubeproofError(f"SSH key {private_key} cannot be read ({exc}): pass --ssh-key PATH "
                             f"to an unencrypted private key") from None
    return f"{key.get_name()} {key.get_base64()} kubeproof"


def normalise_fingerprint(value: str) -> str:
    """'SHA256:abc' from 'SHA256:abc=' or 'abc' (the OpenSSH form ssh-keygen -l prints)."""
    value = value.strip()
    if not value.startswith("SHA256:"):
        value = f"SHA256:{value}"
    return value.rstrip("=")


def known_hosts_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def offered_host_key(host: str, port: int, timeout: float) -> paramiko.PKey:
    """The host key sshd at host:port presents (key exchange only, no login)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()


def wait_for_host_key(host: str, port: int, timeout: float, hint: str = "") -> paramiko.PKey:
    """Poll until sshd at host:port answers a key exchange, within a deadline
    (KubeproofError naming the last error when it does not)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    last = "no attempt"
    while True:
        left = deadline - time.monotonic()
        try:
            return offered_host_key(host, port, max(1.0, min(10.0, left)))
        except (OSError, EOFError, paramiko.SSHException) as exc:
            last = str(exc) or type(exc).__name__
        if time.monotonic() + POLL_SECONDS >= deadline:
            raise KubeproofError(f"SSH on {host}:{port} did not answer within {timeout:.0f} s "
                                 f"(last error: {last}){hint}")
        pause.wait(POLL_SECONDS)


def pin_host_key(host: str, port: int, key: paramiko.PKey, fingerprint: str | None,
                 known_hosts: Path, pinned: Path, hint: str = "") -> None:
    """Check the offered key against --ssh-host-key-fingerprint, else against known_hosts,
    and write it to the pinned known_hosts file that every later connection uses."""
    name = known_hosts_name(host, port)
    got = f"{key.get_name()} {key.fingerprint}"
    if fingerprint:
        if key.fingerprint.rstrip("=") != normalise_fingerprint(fingerprint):
            raise KubeproofError(f"SSH host key of {name} is {got}, not the pinned "
                                 f"{normalise_fingerprint(fingerprint)} "
                                 f"(--ssh-host-key-fingerprint): do not connect; check the "
                                 f"fingerprint out of band{hint}")
    else:
        known = paramiko.HostKeys()
        if known_hosts.is_file():
            known.load(str(known_hosts))
        entry = known.lookup(name)
        if not entry:
            raise KubeproofError(f"SSH host key of {name} ({got}) is neither pinned nor in "
                                 f"{known_hosts}: verify it out of band{hint}, then pass "
                                 f"--ssh-host-key-fingerprint {key.fingerprint}; kubeproof never "
                                 f"accepts unknown host keys")
        if not known.check(name, key):
            raise KubeproofError(f"SSH host key of {name} ({got}) does not match {known_hosts}: "
                                 f"do not connect; verify the key out of band{hint}")
    pinned.parent.mkdir(parents=True, exist_ok=True)
    pinned.write_text(f"{name} {key.get_name()} {key.get_base64()}\n")


def execute(client: paramiko.SSHClient, command: str, log: Path | None = None,
            timeout: float | None = None) -> tuple[int, str, str]:
    """Run a command; (exit status, stdout, stderr), stdout and stderr also appended to log.
    TimeoutError when it has not finished within timeout seconds (the channel is closed)."""
    transport = client.get_transport()
    assert transport is not None
    channel = transport.open_session()
    channel.settimeout(timeout)
    channel.exec_command(command)
    deadline = None if timeout is None else time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    while True:
        if deadline is not None and time.monotonic() > deadline:
            channel.close()
            raise TimeoutError(f"a command over SSH did not finish within {timeout:.0f} s")
        if channel.recv_ready():
            out += channel.recv(65536)
        elif channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
        elif channel.exit_status_ready() and not channel.recv_ready() \
                and not channel.recv_stderr_ready():
            break
        else:
            channel.status_event.wait(0.1)
    status = channel.recv_exit_status()
    channel.close()
    text_out, text_err = out.decode(errors="replace"), err.decode(errors="replace")
    if log is not None:
        with log.open("a") as f:
            f.write(f"\n$ {command}\n{text_out}{text_err}[exit {status}]\n")
    return status, text_out, text_err


def upload_tree(client: paramiko.SSHClient, local: Path, remote: str) -> int:
    """Copy a directory tree (files keep their mode); the number of files copied."""
    sftp = client.open_sftp()
    count = 0
    try:
        for directory, _dirs, files in os.walk(local):
            rel = Path(directory).relative_to(local)
            target = remote if str(rel) == "." else f"{remote}/{rel.as_posix()}"
            try:
                sftp.stat(target)
            except FileNotFoundError:
                sftp.mkdir(target, 0o700)
            for name in sorted(files):
                source = Path(directory) / name
                sftp.put(str(source), f"{target}/{name}")
                sftp.chmod(f"{target}/{name}", stat.S_IMODE(source.stat().st_mode))
                count += 1
    finally:
        sftp.close()
    return count


def as_root(user: str, command: str) -> str:
    """command run as root: as is for root, through sudo -n otherwise."""
    return command if user == "root" else f"sudo -n {command}"


def quote_env(env: dict[str, str]) -> str:
    return " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
