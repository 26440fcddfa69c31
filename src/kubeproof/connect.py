"""Connection attempts (from the runner, or with curl on a node) and what their outcome proves.

Only a refusal is evidence of a denial: the SYN answered with a reset (nothing listens), a
connection reset by the peer, or a TLS alert. A timeout, an unreachable network or a client
that failed on its own proves nothing either way, and is Inconclusive.
"""

from __future__ import annotations

import enum
import errno
import http.client
import re
import ssl
from dataclasses import dataclass

from kubeproof.verdicts import Inconclusive

CONNECT_TIMEOUT = 5  # seconds to establish a connection
MAX_TIME = 15  # seconds for a whole curl request


class Outcome(enum.StrEnum):
    """How a connection attempt ended."""

    ANSWERED = "answered"  # an HTTP response came back
    REFUSED = "refused"  # the SYN was answered with a reset: nothing listens there
    RESET = "reset"  # connected, then reset by the peer
    TLS_ALERT = "tls-alert"  # the server ended the TLS handshake with an alert
    CLOSED = "closed"  # connected, then closed without a reply
    TIMEOUT = "timeout"  # no answer before the deadline
    UNREACHABLE = "unreachable"  # no route to the address
    FAILED = "failed"  # the client failed for another reason (its own setup, a tool missing)

    def __str__(self) -> str:
        return self.value


REFUSALS = {Outcome.REFUSED, Outcome.RESET, Outcome.TLS_ALERT}
NO_EVIDENCE = {Outcome.TIMEOUT, Outcome.UNREACHABLE, Outcome.FAILED}


@dataclass(frozen=True)
class Attempt:
    """One connection attempt: to what, from where, how it ended and what came back."""

    url: str
    origin: str  # where the connection was made from, e.g. "curl on node node1"
    outcome: Outcome
    status: int | None = None  # the HTTP status of an answer
    body: str = ""  # the start of the answer's body
    certificate: str | None = None  # the server's TLS certificate (base64 DER), if shown
    detail: str = ""  # the client's error message

    def _proves_something(self) -> None:
        """Inconclusive when the attempt shows neither a refusal nor an accepted connection."""
        __tracebackhide__ = True
        if self.outcome in NO_EVIDENCE:
            raise Inconclusive(f"{self.url} ({self.origin}): {self.outcome}, which proves "
                               f"nothing either way: {self.detail}")

    def refused(self) -> bool:
        """Whether the server refused (reset or TLS alert: True; an HTTP answer: False);
        Inconclusive for a timeout, a network or client failure, or a close without reply."""
        __tracebackhide__ = True
        self._proves_something()
        if self.outcome is Outcome.CLOSED:
            raise Inconclusive(f"{self.url} ({self.origin}): the connection was accepted and "
                               f"closed without a reply, neither served nor refused")
        return self.outcome in REFUSALS

    def accepted_connection(self) -> bool:
        """Whether something listens there (False only when the SYN was answered with a
        reset); Inconclusive for a timeout or a network or client failure."""
        __tracebackhide__ = True
        self._proves_something()
        return self.outcome is not Outcome.REFUSED

    def summary(self) -> dict[str, object]:
        """The attempt for the evidence (the certificate is left out)."""
        shown: dict[str, object] = {"url": self.url, "from": self.origin,
                                    "outcome": str(self.outcome)}
        if self.status is not None:
            shown["status"] = self.status
        if self.body:
            shown["body"] = self.body
        if self.detail:
            shown["detail"] = self.detail
        return shown


def url_host(address: str) -> str:
    """The host part of a URL that reaches a server bound to address from the same machine
    (a wildcard address is reached on loopback; an IPv6 literal gets brackets)."""
    address = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
    return f"[{address}]" if ":" in address else address


def outcome_of_exception(exc: BaseException) -> Outcome:
    """The outcome an exception from socket, ssl or http.client stands for."""
    if isinstance(exc, http.client.RemoteDisconnected):  # a ConnectionResetError too
        return Outcome.CLOSED
    if isinstance(exc, ConnectionRefusedError):
        return Outcome.REFUSED
    if isinstance(exc, ConnectionResetError):
        return Outcome.RESET
    if isinstance(exc, ssl.SSLEOFError):
        return Outcome.CLOSED
    if isinstance(exc, ssl.SSLError):
        return Outcome.TLS_ALERT if "ALERT" in str(exc.reason or exc).upper() else Outcome.FAILED
    if isinstance(exc, TimeoutError):
        return Outcome.TIMEOUT
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return Outcome.UNREACHABLE
    return Outcome.FAILED


def from_exception(url: str, origin: str, exc: BaseException) -> Attempt:
    """The attempt that ended in this exception."""
    return Attempt(url, origin, outcome_of_exception(exc),
                   detail=f"{type(exc).__name__}: {exc}")


# --- curl on a node ------------------------------------------------------------------------

MARK = "kubeproof-curl-status "  # starts the --write-out text after the body
WRITE_OUT = "\n" + MARK + "%{http_code}\n%{certs}"
_CONNECT_FAILED = re.compile(r"^\* connect to \S+ port \d+ failed: (.*)$", re.M)
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", re.S)


def first_certificate(text: str | None) -> str | None:
    """The first PEM certificate in a text as one line of base64 (None when there is none)."""
    found = _PEM.search(text or "")
    return "".join(found.group(1).split()) if found else None


def _error_line(stderr: str) -> str:
    """curl's own error message (its last 'curl: (N) ...' line)."""
    lines = [line for line in stderr.splitlines() if line.startswith("curl: (")]
    return lines[-1] if lines else stderr.strip()[-300:]


def _curl_failure(rc: int, stderr: str) -> Outcome:
    """The outcome of a curl run that got no HTTP answer, from its exit code and its verbose
    log (curl 7.88+ says only "Couldn't connect to server" for a refusal; -v says why)."""
    if rc == 7:
        reasons = _CONNECT_FAILED.findall(stderr)
        refused = reasons and all(r.strip() == "Connection refused" for r in reasons)
        return Outcome.REFUSED if refused else Outcome.UNREACHABLE
    if rc == 28:
        return Outcome.TIMEOUT
    if rc == 52:
        return Outcome.CLOSED
    error = _error_line(stderr).lower()
    if rc in (35, 56) and "reset by peer" in error:
        return Outcome.RESET
    if rc == 35 and "alert" in error:
        return Outcome.TLS_ALERT
    return Outcome.FAILED


def from_curl(url: str, origin: str, rc: int, stdout: str, stderr: str) -> Attempt:
    """The attempt a `curl --verbose --write-out WRITE_OUT` run made, from its exit code and
    output."""
    body, _, written = stdout.rpartition("\n" + MARK)
    status_text, _, certs = written.partition("\n")
    status = int(status_text) if status_text.strip().isdigit() else 0
    certificate = first_certificate(certs)
    if rc == 0 and status:
        return Attempt(url, origin, Outcome.ANSWERED, status, body[:200], certificate)
    detail = _error_line(stderr) if rc else f"curl exited 0 without an HTTP status: {stdout!r}"
    return Attempt(url, origin, _curl_failure(rc, stderr) if rc else Outcome.FAILED,
                   certificate=certificate, detail=detail)


def curl(host, url: str, origin: str) -> Attempt:
    """A GET of url with curl on a testinfra host. The server's certificate is not verified
    against a CA (--insecure): callers compare Attempt.certificate with the one they expect."""
    result = host.run(
        f"curl --silent --show-error --verbose --insecure --connect-timeout {CONNECT_TIMEOUT} "
        f"--max-time {MAX_TIME} --output - --write-out %s %s", WRITE_OUT, url)
    if result.rc == 127:
        return Attempt(url, origin, Outcome.FAILED, detail="curl is not installed there")
    return from_curl(url, origin, result.rc, result.stdout, result.stderr)
