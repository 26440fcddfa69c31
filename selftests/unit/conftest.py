"""Fixtures for the unit self-tests: a kubeconfig writer, a local HTTPS API stand-in that
answers 401, and a local SSH server with its own host key."""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from types import ModuleType

import paramiko
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CONTROLS_MD_SHARED = Path(__file__).resolve().parents[3] / "shared" / "design" / "CONTROLS.md"
CONTROLS_MD_COPY = Path(__file__).resolve().parents[2] / "docs" / "CONTROLS.md"
CONTROL_TESTS = Path(__file__).resolve().parents[2] / "tests"


@dataclass
class CommandResult:
    """What testinfra's host.run returns, as far as kubeproof reads it."""

    rc: int
    stdout: str = ""
    stderr: str = ""


class FakeRootNode:
    """A fake testinfra host logged in as root; subclasses answer run()."""

    def check_output(self, command: str, *args: str) -> str:
        assert command == "id -u"
        return "0"


def write_kubeconfig(path: Path, server: str, ca_pem: bytes | None = None,
                     token: str = "not-a-real-token") -> Path:
    """A one-context kubeconfig (context 'ctx') for a server, with a token user."""
    cluster = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    }
    path.write_text(json.dumps(config))
    return path


def unused_port() -> int:
    """A 127.0.0.1 TCP port nothing listens on (bound then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(tmp: Path) -> tuple[Path, Path, bytes]:
    """A self-signed CA-capable certificate for 127.0.0.1: (cert file, key file, cert PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubeproof-selftest")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file, key_file = tmp / "server.crt", tmp / "server.key"
    cert_file.write_bytes(pem)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file, pem


class UnauthorizedApi:
    """A local HTTPS server that answers every request 401 like an API server, and records
    the request headers it saw."""

    def __init__(self, tmp: Path) -> None:
        cert_file, key_file, self.ca_pem = self_signed(tmp)
        self.headers: list[list[tuple[str, str]]] = []
        seen = self.headers

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self) -> None:
                seen.append(list(self.headers.items()))
                body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                   "message": "Unauthorized", "reason": "Unauthorized",
                                   "code": 401}).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def unauthorized_api(tmp_path: Path) -> Iterator[UnauthorizedApi]:
    """An HTTPS API stand-in on 127.0.0.1 that rejects every credential with 401."""
    server = UnauthorizedApi(tmp_path)
    yield server
    server.close()


class _LoginServer(paramiko.ServerInterface):
    """Accepts any public key and one exec request, answering it (exit status, stderr)."""

    def __init__(self, answer: tuple[int, str]) -> None:
        self.answer = answer
        self.commands: list[str] = []
        self.executed = threading.Event()

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.commands.append(command.decode())
        self.executed.set()
        return True


class SshServer:
    """A paramiko SSH server on 127.0.0.1 with a fresh host key. By default it only does the
    key exchange (enough to show host-key checking), then closes; with an answer it lets any
    key log in and answers one command with it (exit status, stderr)."""

    def __init__(self, answer: tuple[int, str] | None = None) -> None:
        self.answer = answer
        self.commands: list[str] = []
        self.host_key = paramiko.ECDSAKey.generate()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            server = (paramiko.ServerInterface() if self.answer is None
                      else _LoginServer(self.answer))
            # The client hangs up after refusing our host key: the expected end.
            with contextlib.suppress(paramiko.SSHException, EOFError, OSError):
                transport.start_server(server=server)
                if isinstance(server, _LoginServer):
                    self._answer(transport, server)
            # Closing before the client has checked our key would race its key exchange.
            transport.join(timeout=10)
            transport.close()

    def _answer(self, transport: paramiko.Transport, server: _LoginServer) -> None:
        channel = transport.accept(10)
        if channel is None or not server.executed.wait(10):
            return
        self.commands.extend(server.commands)
        status, stderr = server.answer
        channel.sendall_stderr(stderr.encode())
        channel.send_exit_status(status)
        channel.close()

    def close(self) -> None:
        self.stopping.set()
        self.sock.close()


@pytest.fixture
def ssh_server() -> Iterator[SshServer]:
    """A local SSH server with its own host key."""
    server = SshServer()
    yield server
    server.close()


@pytest.fixture
def ssh_key(tmp_path: Path) -> Path:
    """A client private key file."""
    path = tmp_path / "id_ecdsa"
    paramiko.ECDSAKey.generate().write_private_key_file(str(path))
    return path


def known_hosts_with(tmp_path: Path, port: int, key: paramiko.PKey) -> Path:
    """A known_hosts file holding one key for [127.0.0.1]:port."""
    path = tmp_path / "known_hosts"
    path.write_text(f"[127.0.0.1]:{port} {key.get_name()} {key.get_base64()}\n")
    return path


def control_helper(relative: str) -> ModuleType:
    """A helper module of the control tests (e.g. "workloads/macprofile.py"), imported from
    its file: tests/ is no package, and its directories on sys.path would shadow this conftest."""
    name = "kubeproof_controls_" + relative.removesuffix(".py").replace("/", "_")
    if name not in sys.modules:
        spec = util.spec_from_file_location(name, CONTROL_TESTS / relative)
        module = util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
