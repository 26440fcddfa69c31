"""host.firewall: only the host's own input filtering counts; drops that kube-proxy, the
NetworkPolicy enforcer or kubeproof's egress guard write are left out."""

from __future__ import annotations

import sys

import pytest

from conftest import control_helper

sys.modules.setdefault("nodefacts", control_helper("host/nodefacts.py"))  # imported by name
firewallfacts = control_helper("host/firewallfacts.py")

# iptables-save of the local reference cluster: kube-proxy, kube-router and the egress guard.
LOCAL_CLUSTER = """\
*mangle
:PREROUTING ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:KUBEPROOF-GUARD - [0:0]
-A FORWARD -s 10.244.0.0/16 -j KUBEPROOF-GUARD
-A KUBEPROOF-GUARD -d 10.244.0.0/16 -j RETURN
-A KUBEPROOF-GUARD -j DROP
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-ROUTER-INPUT - [0:0]
:KUBE-POD-FW-ABC - [0:0]
:KUBE-NWPLCY-DEF - [0:0]
-A INPUT -m comment --comment "kube-router netpol" -j KUBE-ROUTER-INPUT
-A INPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -j DROP
-A KUBE-ROUTER-INPUT -j KUBE-POD-FW-ABC
-A KUBE-POD-FW-ABC -m mark ! --mark 0x10000/0x10000 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-NWPLCY-DEF -j DROP
COMMIT
"""


def legacy(text: str) -> firewallfacts.Ruleset:
    ruleset = firewallfacts.Ruleset()
    assert firewallfacts.parse_save(text, "iptables-save", "ipv4", ruleset)
    return ruleset


def test_firewall_kubernetes_drops_are_not_the_hosts():
    ruleset = legacy(LOCAL_CLUSTER)
    [chain] = ruleset.input_chains
    assert (chain.policy, chain.drop_rules, chain.filters, chain.default_deny) == (
        "accept", 0, False, False)
    assert sorted(ruleset.ignored) == ["iptables-save filter KUBE-FIREWALL",
                                       "iptables-save filter KUBE-NWPLCY-DEF",
                                       "iptables-save filter KUBE-POD-FW-ABC"]


def test_firewall_final_drop_counts_even_before_a_foreign_jump():
    text = LOCAL_CLUSTER.replace("-A INPUT -j KUBE-FIREWALL\n",
                                 "-A INPUT -i lo -j ACCEPT\n-A INPUT -j DROP\n"
                                 "-A INPUT -j KUBE-FIREWALL\n")
    [chain] = legacy(text).input_chains
    assert (chain.drop_rules, chain.last_rule_drops, chain.default_deny) == (1, True, True)


def test_firewall_conditional_last_rule_is_no_default_deny():
    text = LOCAL_CLUSTER.replace("-A INPUT -j KUBE-FIREWALL\n",
                                 "-A INPUT -p tcp --dport 22 -j DROP\n")
    [chain] = legacy(text).input_chains
    assert (chain.drop_rules, chain.filters, chain.default_deny) == (1, True, False)


def test_firewall_drop_policy_and_host_user_chains_count():
    """A ufw-like host: policy DROP, its drops in its own chains reached from INPUT."""
    text = LOCAL_CLUSTER.replace(":INPUT ACCEPT", ":INPUT DROP").replace(
        "-A INPUT -j KUBE-FIREWALL\n",
        "-A INPUT -j ufw-before-input\n-A ufw-before-input -m conntrack --ctstate INVALID "
        "-j DROP\n-A ufw-before-input -j ufw-user-input\n-A ufw-user-input -p tcp --dport 23 "
        "-j REJECT\n")
    [chain] = legacy(text).input_chains
    assert (chain.policy, chain.drop_rules, chain.default_deny) == ("drop", 2, True)


def test_firewall_without_filter_table_adds_no_chain():
    ruleset = firewallfacts.Ruleset()
    text = LOCAL_CLUSTER.split("*filter")[0]
    assert firewallfacts.parse_save(text, "iptables-legacy-save", "ipv4", ruleset) is False
    assert ruleset.input_chains == []


# --- nftables, in the shape of `nft -j list ruleset` ----------------------------------------

def chain(family, table, name, hook=None, policy="accept"):
    c = {"family": family, "table": table, "name": name, "handle": 1}
    if hook:
        c.update(type="filter", hook=hook, prio=0, policy=policy)
    return {"chain": c}


def rule(family, table, chain_name, *exprs):
    return {"rule": {"family": family, "table": table, "chain": chain_name, "handle": 2,
                     "expr": list(exprs)}}


COUNTER = {"counter": {"packets": 0, "bytes": 0}}
MATCH = {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}

IPTABLES_NFT = [
    chain("ip", "filter", "KUBE-FIREWALL"),
    chain("ip", "filter", "INPUT", "input"),
    rule("ip", "filter", "KUBE-FIREWALL", MATCH, COUNTER, {"drop": None}),
    rule("ip", "filter", "INPUT", COUNTER, {"jump": {"target": "KUBE-FIREWALL"}}),
    chain("ip", "mangle", "KUBEPROOF-GUARD"),
    chain("ip", "mangle", "FORWARD", "forward"),
    rule("ip", "mangle", "KUBEPROOF-GUARD", COUNTER, {"drop": None}),
    rule("ip6", "mangle", "FORWARD", MATCH, COUNTER, {"drop": None}),  # the IPv6 guard
    chain("ip", "kube-proxy", "filter-input", "input", policy="drop"),
    rule("ip", "kube-proxy", "filter-input", MATCH, {"drop": None}),
]


def nft(objects) -> firewallfacts.Ruleset:
    ruleset = firewallfacts.Ruleset()
    firewallfacts.parse_nft(objects, ruleset)
    return ruleset


def test_firewall_nft_kubernetes_tables_and_chains_are_left_out():
    ruleset = nft(IPTABLES_NFT)
    assert [(c.source, c.filters, c.default_deny) for c in ruleset.input_chains] == [
        ("nft ip filter INPUT", False, False)]
    assert ruleset.ignored == ["nft ip filter KUBE-FIREWALL", "nft ip mangle KUBEPROOF-GUARD",
                               "nft ip kube-proxy (the whole table)"]


@pytest.mark.parametrize(("policy", "last", "default_deny"), [
    ("drop", {"accept": None}, True),
    ("accept", {"reject": {"type": "icmpx", "expr": "admin-prohibited"}}, True),
    ("accept", {"drop": None}, True),
    ("accept", {"accept": None}, False),
])
def test_firewall_nft_host_input_chain(policy, last, default_deny):
    objects = [*IPTABLES_NFT, chain("inet", "host", "input", "input", policy),
               rule("inet", "host", "input", MATCH, {"accept": None}),
               rule("inet", "host", "input", COUNTER, last)]
    host = [c for c in nft(objects).input_chains if c.source == "nft inet host input"]
    assert [c.default_deny for c in host] == [default_deny]


def test_firewall_nft_iptables_nft_reject_and_comment():
    """iptables-nft shows REJECT and -m comment as xt statements (as `nft -j` prints them)."""
    reject = {"xt": {"type": "target", "name": "REJECT"}}
    comment = {"xt": {"type": "match", "name": "comment"}}
    objects = [chain("ip", "filter", "INPUT", "input"),
               rule("ip", "filter", "INPUT", MATCH, COUNTER, reject),
               rule("ip", "filter", "INPUT", comment, COUNTER, reject)]
    [c] = nft(objects).input_chains
    assert (c.drop_rules, c.default_deny) == (2, True)


def test_firewall_nft_conditional_drop_filters_without_default_deny():
    objects = [chain("inet", "host", "input", "input"),
               rule("inet", "host", "input", MATCH, {"drop": None})]
    [c] = nft(objects).input_chains
    assert (c.drop_rules, c.filters, c.default_deny) == (1, True, False)


def test_firewall_foreign_names():
    for name in ("KUBE-ROUTER-INPUT", "KUBE-NWPLCY-X", "KUBE-POD-FW-Y", "cali-INPUT",
                 "KUBEPROOF-GUARD", "KUBE-SERVICES", "kube-proxy"):
        assert firewallfacts.foreign(name), name
    for name in ("INPUT", "ufw-before-input", "filter_INPUT", "firewalld", "filter"):
        assert not firewallfacts.foreign(name), name
