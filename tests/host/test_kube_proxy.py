"""cis.kube-proxy: kube-proxy's metrics service answers on loopback only (CIS 4.3.1), tried
from the node itself: its metrics port accepts on 127.0.0.1 (the canary) and refuses on every
other address the node has."""

from __future__ import annotations

import pytest

import kubeproof
from kubeproof import connect, nodeprocesses

pytestmark = kubeproof.control("cis.kube-proxy")

METRICS_PORT = 10249  # kube-proxy's metricsBindAddress port (its default)


def _addresses(host) -> list[str]:
    """The node's IPv4 addresses other than loopback."""
    result = nodeprocesses.run(host, "ip -o -4 addr show scope global")
    if result.rc != 0:
        raise kubeproof.Inconclusive(f"cannot list the node's addresses: {result.stderr.strip()}")
    return sorted({line.split()[3].split("/")[0] for line in result.stdout.splitlines()})


def test_kube_proxy_metrics_answer_on_loopback_only(host, node, evidence):
    """kube-proxy's metrics port (10249) refuses connections on the node's own non-loopback
    addresses, where it accepts them on 127.0.0.1 (CIS 4.3.1)."""
    running = nodeprocesses.processes(host, "kube-proxy")
    if not running:
        pytest.skip(f"no kube-proxy runs on node {node} (another service proxy, or none)")
    pid, argv = running[0]
    evidence.add("kube-proxy", {"pid": pid, "argv": argv})
    origin = f"curl on node {node}"
    loopback = connect.curl(host, f"http://127.0.0.1:{METRICS_PORT}/metrics", origin)
    with evidence.canary(f"kube-proxy's metrics answer on 127.0.0.1:{METRICS_PORT}",
                         guard=origin):
        assert loopback.accepted_connection(), loopback.summary()
    addresses = _addresses(host)
    with evidence.canary("the node has a non-loopback address to try", guard=origin):
        assert addresses, "no global IPv4 address"
    attempts = [connect.curl(host, f"http://{a}:{METRICS_PORT}/metrics", origin)
                for a in addresses]
    evidence.add("attempts on the node's other addresses", [a.summary() for a in attempts])
    accepted = [a.url for a in attempts if a.accepted_connection()]
    kubeproof.expect_denied(evidence, f"connections to kube-proxy's metrics off loopback "
                            f"({origin})", denied=not accepted,
                            detail=f"accepted at {accepted}" if accepted else "refused",
                            guard=origin)
