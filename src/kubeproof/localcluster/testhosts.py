"""The local cluster's "external world": HTTP/HTTPS hosts in their own network namespaces.

Each test host is a network namespace on TEST_HOSTS_NETWORK, joined by a veth pair to a host
bridge, running a small Python server (HTTP on 80, HTTPS on 443 with a certificate from a test
CA) that answers every request with a known body. Pods reach them through the node (routed, no
NAT); the egress guard lets that network through and nothing else. Nothing here touches a
network outside the machine.

    python -m kubeproof.localcluster.testhosts serve NAME CERT KEY   (inside the netns)
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import layout as L
from . import pki
from .layout import Layout
from .processes import Processes
from .shell import delete_netns, run, succeeds

DOMAIN = "kubeproof.test"
BRIDGE = "kubeproof-th0"
HOST_SIDE_IP = "10.242.0.1"
# The egress gateway's Service address: the registered name resolves to it in the cluster.
EGRESS_GATEWAY_IP = "10.96.0.20"
# Networks the test hosts may answer (they have no default route).
REPLY_NETWORKS = (L.CLUSTER_CIDR, L.NODE_NETWORK)


@dataclass(frozen=True)
class TestHost:
    """One external test host: its short key, DNS name, address and interfaces."""

    __test__ = False  # not a pytest test class

    key: str
    address: str
    index: int

    @property
    def name(self) -> str:
        return f"{self.key}.{DOMAIN}"

    @property
    def netns(self) -> str:
        return f"kubeproof-th-{self.key}"

    @property
    def veth(self) -> str:
        return f"kpth{self.index}"

    @property
    def process(self) -> str:
        return f"testhost-{self.key}"

    @property
    def body(self) -> str:
        """The text every answer of this host carries."""
        return f"kubeproof test host {self.name}: reached\n"


HOSTS = (TestHost("registered", "10.242.0.2", 0), TestHost("unregistered", "10.242.0.3", 1))
REGISTERED, UNREGISTERED = HOSTS


def ca_file(layout: Layout) -> Path:
    return layout.pki / "testhosts" / "testhosts-ca.crt"


def addresses() -> dict[str, str]:
    """name -> address of every test host."""
    return {h.name: h.address for h in HOSTS}


def coredns_hosts() -> str:
    """The cluster DNS hosts file: the registered name points at the egress gateway (the
    Istio egress-gateway pattern), the unregistered one at its real address."""
    lines = [f"{EGRESS_GATEWAY_IP} {REGISTERED.name}",
             f"{UNREGISTERED.address} {UNREGISTERED.name}"]
    return "\n".join(lines) + "\n"


def manifest_values() -> dict[str, str]:
    """Values the bootstrap manifests use (fixtures/local/*.yaml)."""
    return {
        "TESTHOSTS_FILE": json.dumps(coredns_hosts()),
        "EGRESS_GATEWAY_IP": EGRESS_GATEWAY_IP,
        "REGISTERED_HOST": REGISTERED.name,
        "REGISTERED_HOST_IP": REGISTERED.address,
    }


def set_up(layout: Layout) -> None:
    """Creates the bridge, one netns + veth + server per host and the hosts' certificates."""
    tear_down(layout)
    certs = layout.pki / "testhosts"
    certs.mkdir(parents=True, exist_ok=True, mode=0o700)
    pki._make_ca(certs, "testhosts-ca", "kubeproof test hosts CA")
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "add", f"{HOST_SIDE_IP}/24", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")
    processes = Processes(layout)
    for host in HOSTS:
        pki._issue(certs, pki.CertSpec(host.key, "testhosts-ca", host.name, server=True,
                                       dns_names=(host.name,), ip_addresses=(host.address,)))
        run("ip", "netns", "add", host.netns)
        run("ip", "link", "add", host.veth, "type", "veth", "peer", "name", f"{host.veth}p")
        run("ip", "link", "set", f"{host.veth}p", "netns", host.netns)
        run("ip", "link", "set", host.veth, "master", BRIDGE, "up")
        inside = ("ip", "-n", host.netns)
        run(*inside, "link", "set", f"{host.veth}p", "name", "eth0")
        run(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
        run(*inside, "link", "set", "eth0", "up")
        run(*inside, "link", "set", "lo", "up")
        for network in REPLY_NETWORKS:
            run(*inside, "route", "add", network, "via", HOST_SIDE_IP)
        processes.start(host.process, [
            "ip", "netns", "exec", host.netns, sys.executable, "-m", __name__, "serve",
            host.name, str(certs / f"{host.key}.crt"), str(certs / f"{host.key}.key"),
        ])
    for host in HOSTS:
        processes.wait_ready(host.process, lambda h=host: _answers(h), 15)


def running(layout: Layout) -> bool:
    """Whether every test host's server process runs."""
    processes = Processes(layout)
    return all(processes.pid(h.process) for h in HOSTS)


def _answers(host: TestHost) -> bool:
    """Whether the host's HTTP server answers (from the node, never leaving the machine)."""
    import socket

    try:
        with socket.create_connection((host.address, 80), timeout=0.5):
            return True
    except OSError:
        return False


def tear_down(layout: Layout) -> None:
    """Stops the servers and removes every netns, veth and the bridge (already gone is fine)."""
    processes = Processes(layout)
    for host in HOSTS:
        processes.stop(host.process)
        delete_netns(host.netns)
        # Deleting the netns removes the veth pair asynchronously: gone by now is fine.
        succeeds("ip", "link", "delete", host.veth)
    if succeeds("ip", "link", "show", BRIDGE):
        run("ip", "link", "delete", BRIDGE)


def leftovers() -> list[str]:
    """Test-host netns, links and processes still present (empty after tear_down)."""
    found = [f"netns {h.netns}" for h in HOSTS if succeeds("ip", "netns", "pids", h.netns)]
    found += [f"link {n}" for n in [BRIDGE, *(h.veth for h in HOSTS)]
              if succeeds("ip", "link", "show", n)]
    from .leftovers import processes_mentioning

    found += [f"process {pid}" for pid in processes_mentioning(f"{__name__} serve")]
    return found


# ---- the server (runs inside a test host's netns) -------------------------------------------

def serve(name: str, cert: str, key: str) -> None:
    """Answers every GET on 80 (HTTP) and 443 (HTTPS) with the host's known body."""
    body = next(h.body for h in HOSTS if h.name == name).encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = "kubeproof-testhost"
        timeout = 10  # a stalled client cannot hold a thread for ever

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args) -> None:
            print(f"{name} {self.client_address[0]} Host={self.headers.get('Host')} "
                  f"{fmt % args}", flush=True)

    plain = ThreadingHTTPServer(("0.0.0.0", 80), Handler)
    tls = ThreadingHTTPServer(("0.0.0.0", 443), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    # The handshake happens on the handler's first read, in its own thread.
    tls.socket = context.wrap_socket(tls.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=tls.serve_forever, daemon=True).start()
    print(f"{name}: serving HTTP :80 and HTTPS :443", flush=True)
    plain.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "serve":
        sys.exit(__doc__)
    serve(*sys.argv[2:])
