"""cis.kube-proxy: kube-proxy's metrics service answers on loopback only (CIS 4.3.1), tried
from the node itself: its metrics port accepts on 127.0.0.1 (the canary) and refuses on every
other address the node has; and its kubeconfig's mode and owner (CIS 4.1.3, 4.1.4)."""

from __future__ import annotations

import nodefacts
import pytest

import kubeproof
from kubeproof import connect, nodefiles, nodeprocesses
from kubeproof.configchecks import MODE, OWNER, ConfigCheck
from kubeproof.configtable import PROXY, rows

pytestmark = kubeproof.control("cis.kube-proxy")

METRICS_PORT = 10249  # kube-proxy's metricsBindAddress port (its default)


def _addresses(host) -> list[str]:
    """The node's IPv4 addresses other than loopback."""
    result = nodeprocesses.run(host, "ip -o -4 addr show scope global")
    if result.rc != 0:
        raise kubeproof.Inconclusive(f"cannot list the node's addresses: {result.stderr.strip()}")
    return sorted({line.split()[3].split("/")[0] for line in result.stdout.splitlines()})


def _kube_proxy(host, node, evidence) -> tuple[nodefiles.Process, list[str]]:
    """kube-proxy's process and argv on the node (skips when none runs)."""
    running = [(pid, argv) for pid, argv in nodeprocesses.processes(host, PROXY) if argv]
    if not running:  # (an exiting process shows no command line)
        pytest.skip(f"no kube-proxy runs on node {node} (another service proxy, or none)")
    pid, argv = min(running)
    evidence.add("kube-proxy", nodefacts.process_evidence(pid, argv, ("config", "kubeconfig")))
    contained = not nodeprocesses.in_host_pid_namespace(host, pid)
    return nodefiles.Process(pid, contained), argv


def _kubeconfig(host, process: nodefiles.Process, argv: list[str]) -> str:
    """kube-proxy's kubeconfig as a node path: its --config file's
    clientConnection.kubeconfig (which wins over --kubeconfig), else --kubeconfig, as the
    process sees it."""
    flags = nodeprocesses.flags(argv)
    if flags.get("config"):
        path = nodefiles.as_seen_by(host, process, flags["config"])
        text = nodefacts.read(host, path)
        if text is None:
            raise kubeproof.Inconclusive(f"kube-proxy's --config {path} does not exist")
        connection = nodefacts.parse_yaml(text, path).get("clientConnection") or {}
        if isinstance(connection, dict) and connection.get("kubeconfig"):
            return nodefiles.as_seen_by(host, process, str(connection["kubeconfig"]))
    if flags.get("kubeconfig"):
        return nodefiles.as_seen_by(host, process, flags["kubeconfig"])
    raise kubeproof.Inconclusive("kube-proxy names no kubeconfig (it uses its in-cluster "
                                 "service account)")


@pytest.mark.parametrize("check", [pytest.param(c, id=c.id)
                                   for c in rows((MODE, OWNER), (PROXY,))])
def test_kube_proxy_kubeconfig_is_guarded(host, node, evidence, check: ConfigCheck):
    """kube-proxy's kubeconfig is mode 600 or tighter and owned by root:root (CIS 4.1.3,
    4.1.4), as its process sees it (a container's own file, under /proc/PID/root)."""
    process, argv = _kube_proxy(host, node, evidence)
    path = _kubeconfig(host, process, argv)
    found = nodefiles.stat(host, path)
    if found is None:
        raise kubeproof.Inconclusive(f"kube-proxy's kubeconfig {path} does not exist")
    ok, seen = check.judge(check.file_values([found]))
    evidence.add(f"{check.source} of kube-proxy's kubeconfig", seen)
    assert ok, f"{seen}: expected {check.rule.expected()}. {check.remediation}"


def test_kube_proxy_metrics_answer_on_loopback_only(host, node, evidence):
    """kube-proxy's metrics port (10249) refuses connections on the node's own non-loopback
    addresses, where it accepts them on 127.0.0.1 (CIS 4.3.1)."""
    _kube_proxy(host, node, evidence)
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
