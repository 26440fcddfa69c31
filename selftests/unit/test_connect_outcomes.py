"""Connection outcomes: only a refusal (reset, TLS alert) is evidence of a denial; a timeout,
an unreachable network or a failing client is Inconclusive. Real connections where this
machine can make them (curl and sockets against local servers), curl's output otherwise."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading

import pytest
import testinfra

from conftest import self_signed, unused_port
from kubeproof import connect
from kubeproof.verdicts import Inconclusive

Outcome = connect.Outcome
LOCAL = testinfra.get_host("local://")


def attempt(outcome: Outcome, **fields) -> connect.Attempt:
    return connect.Attempt("http://127.0.0.1:1/", "here", outcome, **fields)


@pytest.mark.parametrize(("outcome", "refused", "accepted"), [
    (Outcome.REFUSED, True, False),
    (Outcome.RESET, True, True),
    (Outcome.TLS_ALERT, True, True),
    (Outcome.ANSWERED, False, True),
])
def test_connect_outcome_with_evidence(outcome, refused, accepted):
    assert attempt(outcome).refused() is refused
    assert attempt(outcome).accepted_connection() is accepted


@pytest.mark.parametrize("outcome", [Outcome.TIMEOUT, Outcome.UNREACHABLE, Outcome.FAILED])
def test_connect_outcome_without_evidence_is_inconclusive(outcome):
    with pytest.raises(Inconclusive, match="proves nothing"):
        attempt(outcome, detail="x").refused()
    with pytest.raises(Inconclusive, match="proves nothing"):
        attempt(outcome).accepted_connection()


def test_connect_closed_without_reply_is_neither_served_nor_refused():
    with pytest.raises(Inconclusive, match="closed without a reply"):
        attempt(Outcome.CLOSED).refused()
    assert attempt(Outcome.CLOSED).accepted_connection() is True


def test_connect_curl_refused_for_real():
    url = f"http://127.0.0.1:{unused_port()}/"
    tried = connect.curl(LOCAL, url, "curl here")
    assert (tried.outcome, tried.status) == (Outcome.REFUSED, None), tried
    assert tried.summary()["from"] == "curl here"


def test_connect_curl_answer_and_certificate_for_real(unauthorized_api):
    tried = connect.curl(LOCAL, f"{unauthorized_api.url}/pods", "curl here")
    assert (tried.outcome, tried.status) == (Outcome.ANSWERED, 401), tried
    assert tried.certificate == connect.first_certificate(unauthorized_api.ca_pem.decode())
    assert "Unauthorized" in tried.body


def test_connect_curl_missing_is_inconclusive():
    class NoCurl:
        def run(self, *args):
            return LOCAL.run("exit 127")

    with pytest.raises(Inconclusive, match="curl is not installed"):
        connect.curl(NoCurl(), "http://127.0.0.1:1/", "curl here").refused()


def refused_log(address: str) -> str:
    """curl 7.88's verbose log of a refused connection."""
    return (f"*   Trying {address}:1...\n* connect to {address} port 1 failed: Connection "
            f"refused\n* Failed to connect to {address} port 1 after 0 ms: Couldn't connect "
            f"to server\ncurl: (7) Failed to connect to {address} port 1 after 0 ms: "
            f"Couldn't connect to server\n")


@pytest.mark.parametrize(("rc", "stderr", "outcome"), [
    (7, refused_log("::1"), Outcome.REFUSED),
    (7, "* connect to 10.0.0.9 port 1 failed: No route to host\ncurl: (7) Failed to connect",
     Outcome.UNREACHABLE),
    (7, "curl: (7) Couldn't connect to server", Outcome.UNREACHABLE),  # no -v log: unknown
    (28, "curl: (28) Connection timed out after 5001 milliseconds", Outcome.TIMEOUT),
    (52, "curl: (52) Empty reply from server", Outcome.CLOSED),
    (56, "curl: (56) Recv failure: Connection reset by peer", Outcome.RESET),
    (35, "curl: (35) OpenSSL/3.0.19: error:0A00042E:SSL routines::tlsv1 alert protocol "
         "version", Outcome.TLS_ALERT),
    (35, "curl: (35) OpenSSL SSL_connect: Connection reset by peer in connection to x:1",
     Outcome.RESET),
    (35, "curl: (35) error:0A00010B:SSL routines::wrong version number", Outcome.FAILED),
    (6, "curl: (6) Could not resolve host: nowhere", Outcome.FAILED),
])
def test_connect_curl_failure_outcome(rc, stderr, outcome):
    tried = connect.from_curl("u", "here", rc, "\n" + connect.MARK + "000\n", stderr)
    assert tried.outcome is outcome
    assert tried.detail.startswith("curl: (")


def test_connect_exception_refused_for_real():
    with pytest.raises(ConnectionRefusedError) as caught:
        socket.create_connection(("127.0.0.1", unused_port()), timeout=5)
    assert connect.outcome_of_exception(caught.value) is Outcome.REFUSED


def test_connect_exception_tls_alert_for_real(tmp_path):
    """A TLS 1.2+ server answers a TLS 1.0 ClientHello with a protocol_version alert."""
    cert, key, pem = self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        with conn, pytest.raises(ssl.SSLError):
            server_ctx.wrap_socket(conn, server_side=True)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_ctx = ssl.create_default_context(cadata=pem.decode())
    with pytest.warns(DeprecationWarning, match="TLSVersion"):
        client_ctx.minimum_version = client_ctx.maximum_version = ssl.TLSVersion.TLSv1
    client_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with socket.create_connection(listener.getsockname(), timeout=5) as raw, \
            pytest.raises(ssl.SSLError) as caught:
        client_ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    thread.join(5)
    listener.close()
    assert connect.outcome_of_exception(caught.value) is Outcome.TLS_ALERT, caught.value


@pytest.mark.parametrize(("exc", "outcome"), [
    (TimeoutError("timed out"), Outcome.TIMEOUT),
    (ConnectionResetError(104, "Connection reset by peer"), Outcome.RESET),
    (http.client.RemoteDisconnected("closed"), Outcome.CLOSED),
    (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), Outcome.CLOSED),
    (OSError(113, "No route to host"), Outcome.UNREACHABLE),
    (OSError(1, "Operation not permitted"), Outcome.FAILED),
])
def test_connect_exception_outcome(exc, outcome):
    assert connect.outcome_of_exception(exc) is outcome


@pytest.mark.parametrize(("address", "host"), [
    ("0.0.0.0", "127.0.0.1"), ("", "127.0.0.1"), ("::", "[::1]"), ("10.0.0.5", "10.0.0.5"),
    ("fd00::5", "[fd00::5]"),
])
def test_connect_url_host(address, host):
    assert connect.url_host(address) == host


def test_connect_first_certificate():
    pem = "-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\n-----END CERTIFICATE-----\n"
    assert connect.first_certificate("Subject: x\n" + pem + pem.replace("A", "C")) == "AAAABBBB"
    assert connect.first_certificate("no certificate") is None
    assert connect.first_certificate(None) is None
