"""The node's own packet filter: its input-hook chains from nftables (which also shows
iptables-nft rules) and from the legacy iptables filter table, leaving out the chains that
kube-proxy, the NetworkPolicy enforcer and kubeproof's egress guard write."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import nodefacts

from kubeproof import nodeprocesses
from kubeproof.verdicts import Inconclusive

FAMILIES = {"ipv4": ("ip", "inet"), "ipv6": ("ip6", "inet")}
LEGACY = {"ipv4": "iptables-legacy-save", "ipv6": "ip6tables-legacy-save"}
# Statements that do not filter: a rule made only of these and a drop is unconditional.
NEUTRAL = {"counter", "log", "limit", "comment"}
VERDICTS = {"drop", "reject"}
# Chains (and nftables tables) that belong to kube-proxy, to NetworkPolicy enforcers
# (kube-router: KUBE-ROUTER-*, KUBE-NWPLCY-*, KUBE-POD-FW-*; Calico; Cilium; Flannel; Weave;
# Antrea) or to kubeproof itself (KUBEPROOF-GUARD): they filter pod and service traffic, not
# the host's.
FOREIGN_PREFIXES = ("KUBE-", "cali-", "CILIUM_", "FLANNEL-", "WEAVE-", "ANTREA-", "KUBEPROOF-")
FOREIGN_TABLES = {"kube-proxy", "kube-router", "kube-network-policies", "calico", "cilium",
                  "antrea", "kubeproof"}


def foreign(name: str) -> bool:
    """Whether a chain or nftables table is written by Kubernetes networking or kubeproof."""
    return name.startswith(FOREIGN_PREFIXES) or name in FOREIGN_TABLES


@dataclass(frozen=True)
class Rule:
    """One rule, reduced to what the control needs: its verdict and where it jumps."""

    drops: bool  # its verdict is drop or reject
    unconditional: bool  # it drops without matching anything first
    jumps: tuple[str, ...] = ()  # chains it jumps or goes to


@dataclass
class InputChain:
    """A base chain on the input hook of the host's own filter: policy and host rules."""

    source: str  # e.g. "nft ip filter INPUT" or "iptables-legacy-save filter INPUT"
    family: str  # ip, ip6, inet
    policy: str
    last_rule_drops: bool  # its last host rule drops unconditionally
    rules: int  # host rules in it and in the host chains it jumps to
    drop_rules: int  # of those, the ones that drop or reject

    @property
    def default_deny(self) -> bool:
        """Whether traffic no rule accepts is dropped (drop policy or a final drop)."""
        return self.policy in VERDICTS or self.last_rule_drops

    @property
    def filters(self) -> bool:
        """Whether this chain drops or rejects anything (a rule, or its policy)."""
        return self.policy in VERDICTS or self.drop_rules > 0


@dataclass
class Ruleset:
    """What the node's packet filter holds: its tools, the host's input chains, and the
    foreign chains with drop rules that were left out."""

    tools: list[str] = field(default_factory=list)
    input_chains: list[InputChain] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def _host_chains(chains: dict[str, list[Rule]], start: str) -> list[str]:
    """start and every chain it reaches by jumps, leaving out foreign chains."""
    seen, todo = [], [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in chains or foreign(name):
            continue
        seen.append(name)
        todo.extend(target for rule in chains[name] for target in rule.jumps)
    return seen


def _host_rules(rules: list[Rule]) -> list[Rule]:
    """The rules that do not hand packets over to a foreign chain."""
    return [rule for rule in rules if not any(foreign(target) for target in rule.jumps)]


def input_chain(source: str, family: str, policy: str, chains: dict[str, list[Rule]],
                name: str) -> InputChain:
    """The host's view of one input base chain: its final rule is its last host rule (a
    foreign jump after a final drop is never reached), its drops those of the host rules in
    it and in the host chains it jumps to."""
    own = _host_rules(chains.get(name, []))
    last = own[-1] if own else None
    reached = [rule for chain in _host_chains(chains, name) for rule in _host_rules(chains[chain])]
    return InputChain(source, family, policy, bool(last and last.drops and last.unconditional),
                      len(reached), sum(rule.drops for rule in reached))


def foreign_drop_chains(prefix: str, chains: dict[str, list[Rule]]) -> list[str]:
    """The foreign chains that hold drop rules (what the evidence says was left out)."""
    return [f"{prefix} {name}" for name, rules in chains.items()
            if foreign(name) and any(rule.drops for rule in rules)]


# --- nftables -------------------------------------------------------------------------------

def _kind(statement: dict) -> str:
    """An `nft -j` statement's kind; iptables-nft shows some targets and matches as `xt`
    (REJECT, comment): those count as what they are."""
    kind = next(iter(statement))
    if kind == "xt":
        xt = statement["xt"]
        if xt.get("type") == "target":
            return str(xt.get("name", "")).lower()
        if xt.get("name") == "comment":
            return "comment"
    return kind


def nft_rule(exprs: list[dict]) -> Rule:
    """A rule from its `nft -j` statements."""
    kinds = [_kind(e) for e in exprs]
    unconditional = bool(kinds) and kinds[-1] in VERDICTS and set(kinds[:-1]) <= NEUTRAL
    jumps = tuple(e[k]["target"] for e in exprs for k in ("jump", "goto") if k in e)
    return Rule(any(kind in VERDICTS for kind in kinds), unconditional, jumps)


def parse_nft(objects: Iterable[dict], ruleset: Ruleset) -> None:
    """Adds the input chains of `nft -j list ruleset`'s objects to the ruleset; tables
    owned by Kubernetes networking or kubeproof are left out whole."""
    tables: dict[tuple[str, str], dict[str, list[Rule]]] = {}
    bases: list[dict] = []
    for obj in objects:
        if "chain" in obj:
            c = obj["chain"]
            tables.setdefault((c["family"], c["table"]), {}).setdefault(c["name"], [])
            if c.get("hook") == "input" and c.get("type") == "filter":
                bases.append(c)
        elif "rule" in obj:
            r = obj["rule"]
            chains = tables.setdefault((r["family"], r["table"]), {})
            chains.setdefault(r["chain"], []).append(nft_rule(r.get("expr", [])))
    for (family, table), chains in tables.items():
        prefix = f"nft {family} {table}"
        if foreign(table):
            if any(rule.drops for rules in chains.values() for rule in rules):
                ruleset.ignored.append(f"{prefix} (the whole table)")
        else:
            ruleset.ignored += foreign_drop_chains(prefix, chains)
    for c in bases:
        if not foreign(c["table"]) and not foreign(c["name"]):
            ruleset.input_chains.append(input_chain(
                f"nft {c['family']} {c['table']} {c['name']}", c["family"],
                c.get("policy", "accept"), tables[(c["family"], c["table"])], c["name"]))


def nftables(host, ruleset: Ruleset) -> None:
    """Reads the nftables ruleset of the node into the ruleset."""
    result = nodeprocesses.run(host, "nft -j list ruleset")
    if result.rc != 0:
        raise Inconclusive(f"`nft -j list ruleset` failed: {result.stderr.strip()}")
    ruleset.tools.append("nft")
    parse_nft(nodefacts.as_json(result.stdout, "nft -j list ruleset").get("nftables", []),
              ruleset)


# --- legacy iptables ------------------------------------------------------------------------

def save_rule(words: list[str]) -> Rule:
    """A rule from its iptables-save words (`-A CHAIN matches... -j TARGET options`)."""
    target = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-j", "-g")), "")
    drops = target in ("DROP", "REJECT")
    return Rule(drops, drops and words[2:3] == ["-j"], (target,) if target else ())


def parse_save(text: str, tool: str, family: str, ruleset: Ruleset) -> bool:
    """Adds the filter table's INPUT chain of an iptables-save text to the ruleset; False
    when the text has no filter table."""
    table, policy, seen = None, "accept", False
    chains: dict[str, list[Rule]] = {}
    for line in text.splitlines():
        words = line.split()
        if line.startswith("*"):
            table = line[1:].strip()
            seen = seen or table == "filter"
        elif table != "filter" or not words:
            continue
        elif words[0] == ":INPUT" and len(words) > 1:
            policy = words[1].lower()
        elif words[0] == "-A" and len(words) > 1:
            chains.setdefault(words[1], []).append(save_rule(words))
    if not seen:
        return False
    ruleset.ignored += foreign_drop_chains(f"{tool} filter", chains)
    ruleset.input_chains.append(input_chain(f"{tool} filter INPUT", FAMILIES[family][0],
                                            policy, chains, "INPUT"))
    return True


def legacy(host, family: str, ruleset: Ruleset, tool: str | None = None) -> None:
    """The legacy (x_tables) filter table, which applies besides nftables when loaded. The
    save command without -t lists only loaded tables (naming one would load it)."""
    tool = tool or LEGACY[family]
    if nodeprocesses.run(host, "command -v %s", tool).rc != 0:
        return
    result = nodeprocesses.run(host, tool)
    if result.rc != 0:
        raise Inconclusive(f"`{tool}` failed: {result.stderr.strip()}")
    if parse_save(result.stdout, tool, family, ruleset):
        ruleset.tools.append(tool)


def read(host) -> Ruleset:
    """Every source of packet filtering on the node (Inconclusive when none can be read)."""
    ruleset = Ruleset()
    if nodeprocesses.run(host, "command -v nft").rc == 0:
        nftables(host, ruleset)
        for family in FAMILIES:
            legacy(host, family, ruleset)
    elif nodeprocesses.run(host, "command -v iptables-save").rc == 0:
        legacy(host, "ipv4", ruleset, "iptables-save")
        legacy(host, "ipv6", ruleset, "ip6tables-save")
    else:
        raise Inconclusive("neither nft nor iptables-save is on the node: cannot "
                                     "read its packet filter")
    return ruleset
