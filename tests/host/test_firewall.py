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
    with evidence.canary("the node's packet filter can be listed"):
        rules = firewallfacts.read(host)
        evidence.add("read with", rules.tools)
    return rules


def test_packet_filter_has_rules(ruleset, evidence):
    """A packet filter is active on the node: it holds rules that drop or reject traffic."""
    evidence.add("rules", {"total": ruleset.rules, "drop or reject": ruleset.drop_rules})
    assert ruleset.drop_rules > 0, (
        f"no packet filter rule drops or rejects anything ({ruleset.rules} rules in "
        f"{ruleset.tools})")


@pytest.mark.parametrize("family", list(firewallfacts.FAMILIES))
def test_inbound_traffic_is_denied_by_default(host, ruleset, evidence, family):
    """Inbound traffic the ruleset does not allow is dropped: an input chain's policy is drop,
    or it ends in an unconditional drop/reject."""
    if family == "ipv6":
        addresses = _ipv6_addresses(host)
        evidence.add("IPv6 addresses", addresses)
        if not addresses:
            return  # IPv6 is off: nothing arrives over it
    chains = [c for c in ruleset.input_chains if c.family in firewallfacts.FAMILIES[family]]
    evidence.add(f"{family} input chains", [dataclasses.asdict(c) for c in chains])
    deny = [c.source for c in chains if c.default_deny]
    assert deny, (
        f"no {family} input chain drops by default: "
        + "; ".join(f"{c.source} policy {c.policy}" for c in chains)
        + (" (no input chain at all)" if not chains else ""))
