"""The local cluster's egress guard: pod traffic to anything outside its own networks is dropped.

An "outside" host is made for the test: a network namespace on this machine with an address
outside the cluster's networks (10.240.0.0/24) and an HTTP server. The host itself reaches it
(the canary); a pod must not, and the guard's DROP counter must count the attempt.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from kubeproof.localcluster import network

NETNS = "kubeproof-outside"
HOST_SIDE, OUTSIDE = "10.240.0.1", "10.240.0.2"


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def outside_host(tmp_path):
    """An HTTP server in its own netns at 10.240.0.2, routed from the host; removed afterwards."""
    sh("ip", "netns", "add", NETNS)
    server = None
    try:
        sh("ip", "link", "add", "kp-out0", "type", "veth", "peer", "name", "kp-out1")
        sh("ip", "link", "set", "kp-out1", "netns", NETNS)
        sh("ip", "addr", "add", f"{HOST_SIDE}/24", "dev", "kp-out0")
        sh("ip", "link", "set", "kp-out0", "up")
        sh("ip", "-n", NETNS, "addr", "add", f"{OUTSIDE}/24", "dev", "kp-out1")
        sh("ip", "-n", NETNS, "link", "set", "kp-out1", "up")
        sh("ip", "-n", NETNS, "link", "set", "lo", "up")
        sh("ip", "-n", NETNS, "route", "add", "default", "via", HOST_SIDE)
        (tmp_path / "index.html").write_text("outside\n")
        # busybox httpd: python's http.server looks up its own name, which hangs without DNS
        server = subprocess.Popen(["ip", "netns", "exec", NETNS, "busybox", "httpd", "-f",
                                   "-p", f"{OUTSIDE}:8080", "-h", str(tmp_path)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        yield f"http://{OUTSIDE}:8080/"
    finally:
        if server:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "delete", "kp-out0"], capture_output=True)
        subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True)


def guard_drops() -> int:
    """Packets the guard's final DROP rule has counted."""
    out = subprocess.run(["iptables", "-w", "-t", "mangle", "-L", network.GUARD_CHAIN, "-v",
                          "-x", "-n"], capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[0]) for line in out.splitlines()[2:] if " DROP " in f" {line} ")


def wait_http(url: str, seconds: float) -> bytes:
    """The host's own GET of url, retried until the server listens (deadline)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_pod_cannot_reach_a_host_outside_the_cluster_networks(local_cluster, outside_host):
    assert wait_http(outside_host, 10), "canary: the host itself reaches the outside netns host"
    before = guard_drops()
    name = "kubeproof-selftest-guard"
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default",
                     "labels": {"kubeproof.io/run-id": "selftest-guard"}},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "probe", "image": local_cluster.probe_image(),
            "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", f"curl -sS -m 3 {outside_host} && echo REACHED || "
                                    "echo BLOCKED"]}]},
    }
    local_cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    try:
        local_cluster.kubectl("wait", f"pod/{name}", "-n", "default",
                              "--for=jsonpath={.status.phase}=Succeeded", "--timeout=60s")
        log = local_cluster.kubectl("logs", name, "-n", "default")
    finally:
        local_cluster.kubectl("delete", "pod", name, "-n", "default", "--wait=false",
                              "--grace-period=0", "--force")
    assert "BLOCKED" in log and "REACHED" not in log, log
    assert guard_drops() > before, "the guard's DROP rule counted no packet"
