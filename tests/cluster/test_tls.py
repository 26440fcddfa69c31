"""TLS controls: the API server speaks only modern TLS with the cluster CA's certificate, and
every control-plane hop is configured with certificates (checklist item 1)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import warnings

import pytest
import requests

import kubeproof
from kubeproof import connect
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.nodeprocesses import processes

CONNECT_TIMEOUT = 5
RUNNER = "the kubeproof runner"  # where the connections made by this process come from
LEGACY_INSECURE_PORT = 8080  # the removed --insecure-port's default (bound to 127.0.0.1)
TLS_ONLY_ANSWER = "Client sent an HTTP request to an HTTPS server"  # Go's answer to plaintext


def _connect(host: str, port: int) -> socket.socket:
    """A TCP connection to the API server; failing to connect is Inconclusive, not a refusal."""
    try:
        return socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise kubeproof.Inconclusive(f"cannot connect to the API server {host}:{port}: "
                                     f"{exc}") from exc


def _context(cluster_ca: str, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A verifying client context trusting only the cluster CA, pinned to one version if given."""
    ctx = ssl.create_default_context(cadata=cluster_ca)
    if version is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = version
        if version < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let OpenSSL 3 offer legacy versions
    return ctx


def _handshake(api_server, ctx: ssl.SSLContext) -> dict[str, str]:
    """A full TLS handshake with the API server; what was negotiated (ssl errors propagate)."""
    with _connect(api_server.host, api_server.port) as raw, \
            ctx.wrap_socket(raw, server_hostname=api_server.host) as tls:
        cert = tls.getpeercert()
        return {"version": tls.version(), "cipher": tls.cipher()[0],
                "subject": str(cert.get("subject")), "issuer": str(cert.get("issuer")),
                "subjectAltName": str(cert.get("subjectAltName"))}


def _offered_version(ctx: ssl.SSLContext, host: str) -> str:
    """The legacy_version field of the ClientHello this context sends (e.g. 0301 for TLS 1.0)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=host)
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the ServerHello
        tls.do_handshake()
    hello = outgoing.read()
    if len(hello) < 11 or hello[0] != 0x16 or hello[5] != 0x01:
        raise AssertionError(f"no ClientHello was produced: {hello[:16].hex()}")
    return hello[9:11].hex()


def _peer_certificate(api_server) -> str | None:
    """The API server's certificate (base64 DER) from a handshake verified with the cluster
    CA."""
    with _connect(api_server.host, api_server.port) as raw, \
            _context(api_server.cluster_ca).wrap_socket(raw, server_hostname=api_server.host) \
            as tls:
        return connect.first_certificate(ssl.DER_cert_to_PEM_cert(tls.getpeercert(True)))


def _plaintext_ports(flags: dict[str, str]) -> list[int]:
    """Where a legacy insecure port may listen: 8080, and --insecure-port when it is not 0.
    The flag is never taken on trust: --insecure-port=0 still probes 8080."""
    value = flags.get("insecure-port") or "0"
    if not value.isdigit():
        raise kubeproof.Inconclusive(f"kube-apiserver --insecure-port={value!r} is not a port")
    return sorted({LEGACY_INSECURE_PORT, int(value)} - {0})


def _plain_get(host: str, port: int) -> connect.Attempt:
    """A plaintext HTTP GET /version from this process."""
    url = f"http://{connect.url_host(host)}:{port}/version"
    conn = http.client.HTTPConnection(host, port, timeout=CONNECT_TIMEOUT)
    try:
        conn.request("GET", "/version")
        answer = conn.getresponse()
        body = answer.read(200).decode("utf-8", "replace")
        return connect.Attempt(url, RUNNER, connect.Outcome.ANSWERED, answer.status, body)
    except (OSError, http.client.HTTPException) as exc:
        return connect.from_exception(url, RUNNER, exc)
    finally:
        conn.close()


def _serves_plaintext(attempt: connect.Attempt) -> bool:
    """Whether an attempt got an API answer over plaintext (a TLS-only server's 400 is a
    refusal; a timeout is Inconclusive)."""
    if attempt.refused():
        return False
    return not (attempt.status == 400 and TLS_ONLY_ANSWER in attempt.body)


@kubeproof.control("tls.api-server")
def test_api_server_certificate_chains_to_cluster_ca(api_server, evidence):
    """The API server's certificate chains to the cluster CA and names its address."""
    with evidence.canary(f"TCP connection to {api_server.host}:{api_server.port}"):
        _connect(api_server.host, api_server.port).close()
    try:
        negotiated = _handshake(api_server, _context(api_server.cluster_ca))
    except ssl.SSLCertVerificationError as exc:
        evidence.add("handshake", f"{type(exc).__name__}: {exc}")
        pytest.fail(f"{api_server.url}: certificate not verified against the cluster CA "
                    f"(kube-root-ca.crt): {exc.verify_message}")
    evidence.add("handshake", negotiated)
    assert negotiated["version"] in ("TLSv1.2", "TLSv1.3"), negotiated


LEGACY = {"TLSv1.0": (ssl.TLSVersion.TLSv1, "0301"), "TLSv1.1": (ssl.TLSVersion.TLSv1_1, "0302")}


@kubeproof.control("tls.api-server")
@pytest.mark.parametrize("legacy", list(LEGACY))
def test_api_server_refuses_legacy_tls(api_server, evidence, legacy):
    """The API server refuses TLS 1.0 and 1.1 handshakes."""
    version, wire = LEGACY[legacy]
    ctx = _context(api_server.cluster_ca, version)
    guard = f"{RUNNER} to {api_server.url}"
    with evidence.canary("the same client completes a TLS 1.2+ handshake", guard=guard):
        evidence.add("modern handshake", _handshake(api_server, _context(api_server.cluster_ca)))
    with evidence.canary(f"this client really offers {legacy} (ClientHello version {wire})"):
        offered = _offered_version(ctx, api_server.host)
        assert offered == wire, f"the ClientHello says {offered}"
    try:
        negotiated = _handshake(api_server, ctx)
    except ssl.SSLCertVerificationError as exc:
        # The server went as far as sending its certificate: it accepted the legacy version.
        negotiated = {"version": legacy, "then": f"certificate not verified: {exc}"}
    except OSError as exc:  # ssl.SSLError, a reset, a timeout
        attempt = connect.from_exception(api_server.url, RUNNER, exc)
        kubeproof.expect_denied(evidence, f"{legacy} handshake with {api_server.url}",
                                denied=attempt.refused(), detail=attempt.summary(),
                                guard=guard)
        return
    kubeproof.expect_denied(evidence, f"{legacy} handshake with {api_server.url}",
                            denied=False, detail=negotiated, guard=guard)


@kubeproof.control("tls.api-server")
@pytest.mark.parametrize("port", ["secure-port", "legacy-insecure-port"])
def test_api_server_serves_no_plaintext_http(known_flags, api_server, evidence, port):
    """No port of the API server answers API requests over plaintext HTTP."""
    flags = known_flags("kube-apiserver")
    numbers = [api_server.port] if port == "secure-port" else _plaintext_ports(flags)
    guard = f"{RUNNER} to {api_server.host}"
    with evidence.canary(f"an HTTPS request to {api_server.url} gets an HTTP answer",
                         guard=guard):
        answer = requests.get(f"{api_server.url}/version", verify=api_server.ca_file,
                              timeout=REQUEST_TIMEOUT)
        evidence.add("over TLS", f"GET {api_server.url}/version -> {answer.status_code}")
    attempts = [_plain_get(api_server.host, number) for number in numbers]
    _expect_no_plaintext(evidence, attempts, f"plaintext GET /version on {api_server.host} "
                                             f"ports {numbers} ({RUNNER})", guard)


def _expect_no_plaintext(evidence, attempts: list[connect.Attempt], what: str,
                         guard: str) -> None:
    """Assert that none of the plaintext attempts was served (after the guard's canary)."""
    __tracebackhide__ = True
    evidence.add("plaintext attempts", [a.summary() for a in attempts])
    served = [a.url for a in attempts if _serves_plaintext(a)]
    kubeproof.expect_denied(evidence, what, denied=not served,
                            detail=f"served at {served}" if served else "refused", guard=guard)


def _api_server_node(node_hosts):
    """The first reachable node a kube-apiserver process runs on (skips when none does)."""
    for node, host in node_hosts:
        if processes(host, "kube-apiserver"):
            return node, host
    pytest.skip(f"no kube-apiserver process runs on the nodes kubeproof reaches "
                f"({', '.join(n.name for n, _ in node_hosts)}): a managed control plane, or "
                f"no access to a control-plane node; the node-local insecure port is not probed")


@kubeproof.control("tls.api-server")
def test_api_server_node_serves_no_plaintext_http(known_flags, api_server, node_hosts,
                                                  evidence):
    """On the API server's own node, nothing answers plaintext HTTP on the legacy insecure
    port (127.0.0.1:8080, or --insecure-port and --insecure-bind-address)."""
    node, host = _api_server_node(node_hosts)
    origin = f"curl on node {node.name}"
    flags = known_flags("kube-apiserver")
    with evidence.canary(f"from node {node.name}, {api_server.url} completes a TLS handshake "
                         f"with the certificate that chains to the cluster CA", guard=origin):
        expected = _peer_certificate(api_server)
        secure = connect.curl(host, f"{api_server.url}/version", origin)
        evidence.add("over TLS", secure.summary())
        assert expected and secure.certificate == expected, (
            f"the server at {api_server.url} seen from node {node.name} presents another "
            f"certificate than the one the cluster CA verifies")
    addresses = sorted({connect.url_host(a) for a in
                        ("127.0.0.1", flags.get("insecure-bind-address", "127.0.0.1"))})
    attempts = [connect.curl(host, f"http://{address}:{port}/version", origin)
                for address in addresses for port in _plaintext_ports(flags)]
    _expect_no_plaintext(evidence, attempts,
                         f"plaintext GET /version on the legacy insecure port ({origin})", origin)


# (The serving certificate is not a setting to read: a kubelet without one makes itself a
# self-signed one and reports its file, so test_kubelet_serves_a_cluster_ca_certificate
# checks the certificate it serves.)
KUBELET_TLS = {
    "client-ca": lambda c: bool(c.get("authentication", {}).get("x509", {}).get("clientCAFile")),
}


@kubeproof.control("tls.components")
@pytest.mark.parametrize("setting", list(KUBELET_TLS))
def test_kubelet_tls(admin_api, evidence, setting):
    """Every kubelet serves with a CA-issued certificate and verifies client certificates."""
    nodes = admin_api.core.list_node(_request_timeout=REQUEST_TIMEOUT).items
    configs = {}
    with evidence.canary("the live kubelet configuration (configz) is read on every node"):
        assert nodes, "no nodes listed"
        for node in nodes:
            name = node.metadata.name
            answer = admin_api.request("GET", f"/api/v1/nodes/{name}/proxy/configz")
            assert answer.status == 200, f"{answer.request} -> {answer.status} {answer.message}"
            configs[name] = answer.body["kubeletconfig"]
    failing = []
    for name, config in configs.items():
        shown = {k: config.get(k) for k in ("tlsCertFile", "tlsPrivateKeyFile",
                                             "serverTLSBootstrap")}
        shown["clientCAFile"] = config.get("authentication", {}).get("x509", {}).get(
            "clientCAFile")
        evidence.add(f"kubelet {name}", shown)
        if not KUBELET_TLS[setting](config):
            failing.append(f"{name}: {shown}")
    assert not failing, f"kubelet {setting} not configured: " + "; ".join(failing)


def _kubelet_endpoint(node) -> tuple[str, int]:
    """A node's InternalIP (else its first address) and its kubelet's port."""
    addresses = node.status.addresses or []
    ip = next((a.address for a in addresses if a.type == "InternalIP"),
              addresses[0].address if addresses else None)
    if not ip:
        raise kubeproof.Inconclusive(f"node {node.metadata.name} reports no address")
    return ip, node.status.daemon_endpoints.kubelet_endpoint.port or 10250


@kubeproof.control("tls.components")
def test_kubelet_serves_a_cluster_ca_certificate(admin_api, api_server, evidence):
    """Every kubelet serves a certificate that the cluster CA issued for its address (what the
    API server's --kubelet-certificate-authority checks), not a self-signed one."""
    with evidence.canary("the nodes are listed"):
        nodes = admin_api.core.list_node(_request_timeout=REQUEST_TIMEOUT).items
        assert nodes, "no nodes listed"
    ctx = ssl.create_default_context(cadata=api_server.cluster_ca)
    failing = []
    for node in nodes:
        ip, port = _kubelet_endpoint(node)
        try:
            with _connect(ip, port) as raw, ctx.wrap_socket(raw, server_hostname=ip) as tls:
                cert = tls.getpeercert()
            evidence.add(f"kubelet {node.metadata.name} {ip}:{port} ({RUNNER})",
                         {"verified against the cluster CA": True,
                          "issuer": str(cert.get("issuer")),
                          "subjectAltName": str(cert.get("subjectAltName"))})
        except ssl.SSLCertVerificationError as exc:
            evidence.add(f"kubelet {node.metadata.name} {ip}:{port} ({RUNNER})",
                         f"not verified against the cluster CA: {exc.verify_message}")
            failing.append(f"{node.metadata.name} {ip}:{port}: {exc.verify_message}")
        except (ssl.SSLError, OSError) as exc:
            raise kubeproof.Inconclusive(f"TLS handshake with the kubelet of "
                                         f"{node.metadata.name} at {ip}:{port} failed: "
                                         f"{exc}") from exc
    assert not failing, "kubelets serve certificates the cluster CA did not issue for them: " \
        + "; ".join(failing)

