"""host.firewall: a packet filter is active on the node and drops inbound traffic by default."""

from __future__ import annotations

import dataclasses

import firewallfacts
import nodefacts
import pytest

import kubeproof

pytestmark = kubeproof.control("host.firewall")


def _ipv6_addresses(host) -> list[str]:
    """The node's IPv6 addresses other than loopback ([] when IPv6 is off)."""
    text = nodefacts.read(host, "/proc/net/if_inet6") or ""
    return [f"{f[0]} {f[-1]}" for f in (line.split() for line in text.splitlines())
            if f and f[0] != "0" * 31 + "1"]


@pytest.fixture
def ruleset(host, evidence):
    """The node's packet filter, read as its canary (unreadable is Inconclusive)."""
    with evidence.canary("the node's packet filter can be listed"):
        rules = firewallfacts.read(host)
        evidence.add("read with", rules.tools)
    evidence.add("left out (kube-proxy, policy enforcer, egress guard chains with drops)",
                 rules.ignored)
    return rules


def _chains(ruleset, family: str | None = None) -> list:
    """The host's input chains, of one family (ipv4, ipv6) if given."""
    families = firewallfacts.FAMILIES[family] if family else ("ip", "ip6", "inet")
    return [c for c in ruleset.input_chains if c.family in families]


def test_packet_filter_has_rules(ruleset, evidence):
    """The host's own packet filter is active: its input filtering drops or rejects traffic
    (a rule or a drop policy); rules of kube-proxy, the policy enforcer and the egress guard
    do not count."""
    chains = _chains(ruleset)
    evidence.add("host input chains", [dataclasses.asdict(c) for c in chains])
    assert any(c.filters for c in chains), (
        f"no input chain of the host's own drops or rejects anything (read with "
        f"{ruleset.tools}; "
        + ("; ".join(f"{c.source}: policy {c.policy}, {c.drop_rules} drop rules"
                     for c in chains) or "no input chain at all")
        + f"; left out: {ruleset.ignored or 'nothing'})")


@pytest.mark.parametrize("family", list(firewallfacts.FAMILIES))
def test_inbound_traffic_is_denied_by_default(host, ruleset, evidence, family):
    """Inbound traffic the ruleset does not allow is dropped: a host input chain's policy is
    drop, or it ends in an unconditional drop/reject."""
    if family == "ipv6":
        addresses = _ipv6_addresses(host)
        evidence.add("IPv6 addresses", addresses)
        if not addresses:
            pytest.skip("IPv6 is off on the node (no address but loopback in "
                        "/proc/net/if_inet6): no inbound IPv6 traffic to filter")
    chains = _chains(ruleset, family)
    evidence.add(f"{family} host input chains", [dataclasses.asdict(c) for c in chains])
    deny = [c.source for c in chains if c.default_deny]
    assert deny, (
        f"no {family} input chain of the host's own drops by default: "
        + ("; ".join(f"{c.source} policy {c.policy}" for c in chains)
           or "no input chain at all"))
