"""TLS controls: the API server speaks only modern TLS with the cluster CA's certificate, and
every control-plane hop is configured with certificates (checklist item 1)."""

from __future__ import annotations

import contextlib
import socket
import ssl
import warnings

import pytest
import requests

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT

CONNECT_TIMEOUT = 5


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
    with evidence.canary("the same client completes a TLS 1.2+ handshake"):
        evidence.add("modern handshake", _handshake(api_server, _context(api_server.cluster_ca)))
    with evidence.canary(f"this client really offers {legacy} (ClientHello version {wire})"):
        offered = _offered_version(ctx, api_server.host)
        assert offered == wire, f"the ClientHello says {offered}"
    try:
        negotiated = _handshake(api_server, ctx)
    except ssl.SSLCertVerificationError as exc:
        # The server went as far as sending its certificate: it accepted the legacy version.
        negotiated = {"version": legacy, "then": f"certificate not verified: {exc}"}
    except (ssl.SSLError, ConnectionResetError) as exc:
        kubeproof.expect_denied(evidence, f"{legacy} handshake with {api_server.url}",
                                denied=True, detail=f"refused: {type(exc).__name__}: {exc}")
        return
    kubeproof.expect_denied(evidence, f"{legacy} handshake with {api_server.url}",
                            denied=False, detail=negotiated)


@kubeproof.control("tls.api-server")
@pytest.mark.parametrize("port", ["secure-port", "legacy-insecure-port"])
def test_api_server_serves_no_plaintext_http(cluster, api_server, evidence, port):
    """No port of the API server answers API requests over plaintext HTTP."""
    flags = cluster.component_flags.get("kube-apiserver", {})
    number = api_server.port if port == "secure-port" else int(flags.get("insecure-port") or 8080)
    if number == 0:
        evidence.add("plaintext port", "--insecure-port=0 (disabled)")
        return
    with evidence.canary(f"an HTTPS request to {api_server.url} gets an HTTP answer"):
        answer = requests.get(f"{api_server.url}/version", verify=api_server.ca_file,
                              timeout=REQUEST_TIMEOUT)
        evidence.add("over TLS", f"GET {api_server.url}/version -> {answer.status_code}")
    url = f"http://{api_server.host}:{number}/version"
    try:
        plain = requests.get(url, timeout=REQUEST_TIMEOUT, allow_redirects=False)
    except requests.ConnectionError as exc:
        kubeproof.expect_denied(evidence, f"GET {url}", denied=True,
                                detail=f"no connection: {exc.__class__.__name__}")
        return
    # A TLS-only Go server answers plaintext with 400 "Client sent an HTTP request to an
    # HTTPS server"; any other answer means something serves HTTP there.
    kubeproof.expect_denied(evidence, f"GET {url}", denied=plain.status_code == 400,
                            detail=f"{plain.status_code} {plain.text[:200]!r}")


# (component, flag, expectation): "set" = non-empty, "true", or "https" = every URL https://
COMPONENT_TLS = [
    ("kube-apiserver", "tls-cert-file", "set"),
    ("kube-apiserver", "tls-private-key-file", "set"),
    ("kube-apiserver", "client-ca-file", "set"),
    ("kube-apiserver", "etcd-servers", "https"),
    ("kube-apiserver", "etcd-cafile", "set"),
    ("kube-apiserver", "etcd-certfile", "set"),
    ("kube-apiserver", "etcd-keyfile", "set"),
    ("kube-apiserver", "kubelet-client-certificate", "set"),
    ("kube-apiserver", "kubelet-client-key", "set"),
    ("kube-apiserver", "kubelet-certificate-authority", "set"),
    ("etcd", "listen-client-urls", "https"),
    ("etcd", "cert-file", "set"),
    ("etcd", "key-file", "set"),
    ("etcd", "trusted-ca-file", "set"),
    ("etcd", "client-cert-auth", "true"),
    ("etcd", "listen-peer-urls", "https"),
    ("etcd", "peer-cert-file", "set"),
    ("etcd", "peer-key-file", "set"),
    ("etcd", "peer-trusted-ca-file", "set"),
    ("etcd", "peer-client-cert-auth", "true"),
]


def _meets(value: str | None, expectation: str) -> bool:
    if not value:
        return False
    if expectation == "true":
        return value.lower() == "true"
    if expectation == "https":
        return all(url.strip().startswith("https://") for url in value.split(","))
    return True


@kubeproof.control("tls.components")
@pytest.mark.parametrize(("component", "flag", "expectation"), COMPONENT_TLS,
                         ids=[f"{c}--{f}" for c, f, _ in COMPONENT_TLS])
def test_component_tls_flag(component_flags, evidence, component, flag, expectation):
    """etcd and the API server set certificate, key and CA for every hop."""
    flags = component_flags(component)
    if component == "etcd" and "config-file" in flags:
        raise kubeproof.Inconclusive(f"etcd reads --config-file={flags['config-file']}; "
                                     f"kubeproof checks etcd's command-line flags only")
    with evidence.canary(f"{component}'s command line was read"):
        assert len(flags) > 1, flags
    value = flags.get(flag)
    evidence.add(f"{component} --{flag}", value if value is not None else "(absent)")
    assert _meets(value, expectation), (
        f"{component} --{flag}={value if value is not None else '(absent)'}: expected "
        f"{ {'set': 'a file', 'true': 'true', 'https': 'https:// URLs only'}[expectation] }")


KUBELET_TLS = {
    "serving-certificate": lambda c: bool((c.get("tlsCertFile") and c.get("tlsPrivateKeyFile"))
                                          or c.get("serverTLSBootstrap")),
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
