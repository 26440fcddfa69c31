"""The local cluster's host network: node address, kernel switches and the egress guard."""

from __future__ import annotations

from pathlib import Path

from ..errors import KubeproofError
from . import layout as L
from .shell import run, succeeds

GUARD_CHAIN = "KUBEPROOF-GUARD"
# Where forwarded pod traffic may go once kube-proxy has translated it: a packet still bound
# for a service address was not translated (no rules yet, or none for it) and would follow
# the default route off the machine.
FORWARD_NETWORKS = tuple(n for n in L.OWN_NETWORKS if n != L.SERVICE_CIDR)
# The host's own connections to service addresses (the API server calling a webhook, say)
# that kube-proxy has not translated are refused on the machine for the same reason.
HOST_GUARD = ("-d", L.SERVICE_CIDR, "-j", "REJECT", "--reject-with", "icmp-net-unreachable")
SYSCTLS = {
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
    "net/bridge/bridge-nf-call-ip6tables": "1",
    # The policy enforcer refuses a pod's connection with an ICMP error that the host sends;
    # the kernel limits those per destination (after a burst of 6, one a second), so a probe
    # pod's seventh refused connection waited a second for its SYN's retry. The machine-wide
    # limit (net/ipv4/icmp_msgs_per_sec) still holds.
    "net/ipv4/icmp_ratelimit": "0",
}


def set_up() -> None:
    """Creates the node interface, sets forwarding sysctls and installs the egress guard."""
    if not Path("/proc/sys/net/bridge").is_dir():
        raise KubeproofError(
            "local cluster: the kernel has no br_netfilter (load it with "
            "`modprobe br_netfilter`); NetworkPolicy enforcement needs it"
        )
    for key, value in SYSCTLS.items():
        (Path("/proc/sys") / key).write_text(value)
    if not succeeds("ip", "link", "show", L.NODE_INTERFACE):
        # A veth pair stands in for a dummy interface (this kernel may lack the dummy driver).
        run(
            "ip",
            "link",
            "add",
            L.NODE_INTERFACE,
            "type",
            "veth",
            "peer",
            "name",
            f"{L.NODE_INTERFACE}p",
        )
    run("ip", "addr", "replace", f"{L.NODE_IP}/24", "dev", L.NODE_INTERFACE)
    run("ip", "link", "set", f"{L.NODE_INTERFACE}p", "up")
    run("ip", "link", "set", L.NODE_INTERFACE, "up")
    install_guard()


def install_guard() -> None:
    """Drops forwarded pod traffic to anything outside the cluster's own networks, and refuses
    the host's connections to service addresses kube-proxy has not translated.

    The rules live in the mangle table's FORWARD chain, which runs before the filter rules
    that kube-proxy and the policy enforcer manage, so nothing they accept can bypass it.
    """
    remove_guard()
    run("iptables", "-w", "-t", "mangle", "-N", GUARD_CHAIN)
    for network in FORWARD_NETWORKS:
        run("iptables", "-w", "-t", "mangle", "-A", GUARD_CHAIN, "-d", network, "-j", "RETURN")
    run("iptables", "-w", "-t", "mangle", "-A", GUARD_CHAIN, "-j", "DROP")
    run(
        "iptables",
        "-w",
        "-t",
        "mangle",
        "-I",
        "FORWARD",
        "1",
        "-s",
        L.CLUSTER_CIDR,
        "-j",
        GUARD_CHAIN,
    )
    run("ip6tables", "-w", "-t", "mangle", "-I", "FORWARD", "1", "-i", L.BRIDGE, "-j", "DROP")
    # filter OUTPUT runs after kube-proxy's DNAT in nat OUTPUT: translated traffic passes.
    run("iptables", "-w", "-I", "OUTPUT", "1", *HOST_GUARD)


def remove_guard() -> None:
    """Removes the egress guard (only at teardown, after every pod is gone)."""
    while succeeds(
        "iptables", "-w", "-t", "mangle", "-D", "FORWARD", "-s", L.CLUSTER_CIDR, "-j", GUARD_CHAIN
    ):
        pass
    succeeds("iptables", "-w", "-t", "mangle", "-F", GUARD_CHAIN)
    succeeds("iptables", "-w", "-t", "mangle", "-X", GUARD_CHAIN)
    while succeeds(
        "ip6tables", "-w", "-t", "mangle", "-D", "FORWARD", "-i", L.BRIDGE, "-j", "DROP"
    ):
        pass
    while succeeds("iptables", "-w", "-D", "OUTPUT", *HOST_GUARD):
        pass


def guard_rules() -> str:
    """The guard chain as iptables lists it (evidence for reports and self-tests)."""
    return run("iptables", "-w", "-t", "mangle", "-S", GUARD_CHAIN, check=False)


def tear_down() -> None:
    """Removes the node interface, the pod bridge and the guard."""
    for link in (L.NODE_INTERFACE, L.BRIDGE):
        if succeeds("ip", "link", "show", link):
            run("ip", "link", "delete", link)
    remove_guard()
