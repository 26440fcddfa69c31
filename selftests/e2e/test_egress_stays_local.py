"""The egress controls prove egress on the machine's own netns hosts: no packet of theirs
leaves the machine, and every request they make stays within the cluster's own networks."""

from __future__ import annotations

import ipaddress
import re

from suite import run_suite

from kubeproof.localcluster import layout as L
from kubeproof.localcluster import network, testhosts
from kubeproof.localcluster.shell import run

EGRESS = ("egress.registered-host-allowed", "egress.unregistered-host-blocked",
          "egress.ip-bypass-blocked")
OWN = [ipaddress.ip_network(n) for n in L.OWN_NETWORKS]
PODS = ipaddress.ip_network(L.CLUSTER_CIDR)
# The node's own address on the pod bridge, and link-local multicast (never routed: IGMP).
NODE_ON_BRIDGE = next(ipaddress.ip_network(L.POD_CIDR).hosts())
LINK_LOCAL_MULTICAST = ipaddress.ip_network("224.0.0.0/24")


def guard_drops() -> int:
    """Packets the egress guard has dropped (pod traffic bound outside the own networks)."""
    listing = run("iptables", "-w", "-t", "mangle", "-L", network.GUARD_CHAIN, "-v", "-x", "-n")
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "DROP":
            return int(fields[0])
    raise AssertionError(f"no DROP rule in {network.GUARD_CHAIN}:\n{listing}")


def foreign_pod_flows() -> list[str]:
    """Tracked connections from pods to addresses outside the cluster's own networks."""
    flows = []
    for line in run("conntrack", "-L", check=False).splitlines():
        match = re.search(r"src=(\S+) dst=(\S+)", line)
        if not match or ":" in match.group(1):
            continue
        src, dst = (ipaddress.ip_address(a) for a in match.groups())
        local = dst in LINK_LOCAL_MULTICAST or any(dst in net for net in OWN)
        if src in PODS and src != NODE_ON_BRIDGE and not local:
            flows.append(line)
    return flows


def test_egress_controls_send_nothing_off_the_machine(local_cluster):
    assert testhosts.running(local_cluster.layout), "the netns test hosts are not running"
    drops_before = guard_drops()
    result = run_suite(*(f"--control={c}" for c in EGRESS))
    drops_after = guard_drops()
    ran = {c: result.verdicts[c] for c in EGRESS}
    assert all(v == "pass" for v in ran.values()), (
        f"the egress controls must run (and pass) for this to mean anything: {ran}\n"
        + "\n".join(result.evidence(c) for c in EGRESS))
    assert drops_after == drops_before, (
        f"the egress guard dropped {drops_after - drops_before} pod packet(s) bound off the "
        "machine during the egress controls")
    flows = foreign_pod_flows()
    assert not flows, "pod connections to addresses outside the machine:\n" + "\n".join(flows)
