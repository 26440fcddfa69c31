"""Egress probes: curl attempts from a probe pod in the app namespace, and what refused them.

A probe pod runs a canary (the registered host by name, the path the app uses) and then the
attempt under test, each as one curl call whose exit code, HTTP status, peer address, error
and body start it prints between markers. An attempt counts as "reached" only when the
answer carries the target host's known body, so a proxy's error page never passes for the
host; everything else is a refusal, described by the layer that produced it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

CURL = ("curl", "-sS", "-o", "/tmp/body", "-D", "/tmp/headers", "--connect-timeout", "3",
        "-m", "6", "-w", "%{http_code} %{remote_ip}")
SCRIPT_HEAD = r"""
printf '%s' "$CA_PEM" > /tmp/ca.pem
attempt() {
  label=$1; shift
  rm -f /tmp/body /tmp/headers /tmp/err
  w=$("$@" 2>/tmp/err); rc=$?
  echo "KP-BEGIN $label"
  echo "rc=$rc"
  echo "w=$w"
  echo "err=$(tr '\n' ' ' </tmp/err)"
  echo "denied=$(grep -ci '^x-kubeproof-egress: denied' /tmp/headers 2>/dev/null)"
  echo "server=$(sed -n 's/^[Ss]erver: *//p' /tmp/headers 2>/dev/null | tr -d '\r' | head -1)"
  echo "body=$(head -c 300 /tmp/body 2>/dev/null | tr '\n' ' ')"
  echo "KP-END"
}
"""
# curl exit codes a refusal shows up as.
CONNECT_FAILED, TIMEOUT, DNS_FAILED = 7, 28, 6
RESET_CODES = {35: "TLS handshake", 52: "empty reply", 56: "receive"}


@dataclass(frozen=True)
class Request:
    """One curl request: what it is, its URL and extra curl arguments."""

    label: str
    url: str
    args: tuple[str, ...] = ()

    @property
    def argv(self) -> list[str]:
        https = ("--cacert", "/tmp/ca.pem") if self.url.startswith("https:") else ()
        return [*CURL, *https, *self.args, self.url]

    def __str__(self) -> str:
        ca = ("--cacert", "<test hosts CA>") if self.url.startswith("https:") else ()
        return shlex.join(["curl", *ca, *self.args, self.url])


@dataclass(frozen=True)
class Outcome:
    """What one curl call saw."""

    request: str
    exit_code: int
    http_code: int
    remote: str
    error: str
    gateway_denied: bool
    server: str
    body: str
    pod: str  # namespace/name of the probe pod that made the request

    def reached(self, body: str) -> bool:
        """Whether the answer came from the host whose known body is given."""
        return self.exit_code == 0 and body.strip() in self.body

    def refusal(self, gateway: str = "") -> str:
        """Which layer refused the request, as far as the client can tell."""
        via = (f" by {self.remote}" if self.remote else "") + (
            " (the egress path of the registered host)"
            if self.remote and self.remote == gateway else "")
        if self.exit_code == 0 and self.gateway_denied:
            return f"egress gateway allow-list: HTTP {self.http_code}{via}: {self.body.strip()}"
        if self.exit_code == 0:
            return (f"answered HTTP {self.http_code}{via} (server {self.server or '?'}) without "
                    f"the host's body (a mesh black hole answers 502): {self.body.strip()[:120]}")
        if self.exit_code == CONNECT_FAILED:
            return (f"connection refused before reaching the host{via}: the NetworkPolicy "
                    f"enforcer's REJECT (ICMP port-unreachable, kube-router) or a closed port: "
                    f"{self.error}")
        if self.exit_code == TIMEOUT:
            return f"no answer in time{via}: packets dropped by a policy: {self.error}"
        if self.exit_code == DNS_FAILED:
            return f"name not resolved by the cluster DNS: {self.error}"
        if self.exit_code in RESET_CODES:
            return (f"connection closed during {RESET_CODES[self.exit_code]}{via}: no allowed "
                    f"route for this host/SNI: {self.error}")
        return f"curl exit {self.exit_code}{via}: {self.error}"

    def __str__(self) -> str:
        return (f"{self.request} -> exit {self.exit_code}, HTTP {self.http_code}, peer "
                f"{self.remote or '-'}, body {self.body.strip()[:80]!r}"
                + (f", error {self.error.strip()}" if self.error.strip() else ""))


# A new pod's NetworkPolicy rules (and the gateway's ingress rule naming it) are programmed
# asynchronously by the enforcer, and not at once: kube-router adds the pod to its peers' sets
# before it installs the pod's own chain, so for a moment the gateway admits a pod whose egress
# is not filtered yet. The wait therefore polls until the registered host answers *and* a
# request the namespace's policies must refuse (the barrier) is refused in the same round: the
# pod's own policy is then in force. Where nothing refuses the barrier within barrier_grace
# seconds of the first answer (egress not enforced at all), the requests run anyway and the
# tests judge what they see.
WAIT_FOR = r"""
tries=0; enforced=noanswer; answered=
end=$(( $(date +%s) + {deadline} ))
while [ "$(date +%s)" -lt "$end" ]; do
  tries=$((tries + 1))
  if curl -s -o /tmp/body --connect-timeout 1 -m 2 {url} && grep -qF {body} /tmp/body; then
    [ -z {barrier} ] && {{ enforced=unknown; break; }}
    if ! {{ curl -s -o /tmp/barrier --connect-timeout 1 -m 2 {barrier} \
            && grep -qF {barrier_body} /tmp/barrier; }}; then
      enforced=yes; break
    fi
    enforced=no; answered=${{answered:-$(date +%s)}}
    [ $(( $(date +%s) - answered )) -ge {grace} ] && break
  fi
  sleep 0.5
done
echo "waited=$tries"
echo "enforced=$enforced"
"""


def script(requests: list[Request], wait_for: str = "", body: str = "",
           barrier: str = "", barrier_body: str = "", deadline: float = 20.0,
           barrier_grace: float = 8.0) -> str:
    """The probe pod's shell script: optionally poll wait_for until its answer has body and
    the barrier URL's answer (if given) does not have barrier_body (at most about deadline
    seconds), then one marked curl call per request, in order."""
    lines = [SCRIPT_HEAD]
    if wait_for:
        lines.append(WAIT_FOR.format(
            deadline=int(deadline), url=shlex.quote(wait_for), body=shlex.quote(body.strip()),
            barrier=shlex.quote(barrier), barrier_body=shlex.quote(barrier_body.strip()),
            grace=int(barrier_grace)))
    for request in requests:
        lines.append(" ".join(shlex.quote(a) for a in ["attempt", request.label, *request.argv]))
    return "\n".join(lines) + "\n"


def parse(log: str, requests: list[Request], pod: str) -> dict[str, Outcome]:
    """The outcome of each request, by label, from the log of the probe pod (namespace/name)."""
    by_label = {r.label: r for r in requests}
    outcomes: dict[str, Outcome] = {}
    fields: dict[str, str] = {}
    label = None
    for line in log.splitlines():
        if line.startswith("KP-BEGIN "):
            label, fields = line.split(" ", 1)[1], {}
        elif line == "KP-END" and label in by_label:
            code, _, remote = fields.get("w", "").partition(" ")
            outcomes[label] = Outcome(
                str(by_label[label]), int(fields.get("rc", "-1") or -1),
                int(code) if code.isdigit() else 0, remote, fields.get("err", ""),
                fields.get("denied", "0").strip() not in ("", "0"), fields.get("server", ""),
                fields.get("body", ""), pod)
            label = None
        elif label is not None and "=" in line:
            key, _, value = line.partition("=")
            fields[key] = value
    return outcomes


def polls(log: str) -> int | None:
    """How many polls the probe's wait for the registered host took (None: it did not wait)."""
    value = _waited(log, "waited")
    return int(value) if value is not None else None


def enforcement(log: str) -> str | None:
    """What the wait saw of the pod's own egress policy: yes (the barrier was refused), no
    (nothing refused it), unknown (no barrier), noanswer (the registered host never answered),
    None (the probe did not wait)."""
    return _waited(log, "enforced")


def _waited(log: str, key: str) -> str | None:
    """The value of the wait's key=value line in the probe's log (None: no such line)."""
    for line in log.splitlines():
        if line.startswith(key + "="):
            return line.partition("=")[2]
    return None
