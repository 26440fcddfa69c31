"""The node's packet filter as rules and input-hook chains, from nftables (which also shows
iptables-nft rules) and from the legacy iptables tables."""

from __future__ import annotations

from dataclasses import dataclass, field

import nodefacts

FAMILIES = {"ipv4": ("ip", "inet"), "ipv6": ("ip6", "inet")}
LEGACY = {"ipv4": "iptables-legacy-save", "ipv6": "ip6tables-legacy-save"}
# Statements that do not filter: a rule made only of these and a drop is unconditional.
NEUTRAL = {"counter", "log", "limit"}


@dataclass
class InputChain:
    """A base chain on the input hook: where it comes from, its policy, its last rule."""

    source: str  # e.g. "nft ip filter INPUT" or "iptables-legacy-save filter INPUT"
    family: str  # ip, ip6, inet
    policy: str
    last_rule_drops: bool

    @property
    def default_deny(self) -> bool:
        return self.policy in ("drop", "reject") or self.last_rule_drops


@dataclass
class Ruleset:
    tools: list[str] = field(default_factory=list)
    drop_rules: int = 0  # rules anywhere whose verdict is drop or reject
    rules: int = 0
    input_chains: list[InputChain] = field(default_factory=list)


def _verdict_only(exprs: list[dict]) -> bool:
    """An nft rule that drops or rejects without matching anything first."""
    kinds = [next(iter(e)) for e in exprs]
    return bool(kinds) and kinds[-1] in ("drop", "reject") and set(kinds[:-1]) <= NEUTRAL


def _drops(exprs: list[dict]) -> bool:
    return any(next(iter(e)) in ("drop", "reject") for e in exprs)


def nftables(host, ruleset: Ruleset) -> None:
    result = nodefacts.run(host, "nft -j list ruleset")
    if result.rc != 0:
        raise nodefacts.Inconclusive(f"`nft -j list ruleset` failed: {result.stderr.strip()}")
    ruleset.tools.append("nft")
    objects = nodefacts.as_json(result.stdout, "nft -j list ruleset").get("nftables", [])
    chains = {}
    last: dict[tuple, list[dict]] = {}
    for obj in objects:
        if "chain" in obj and obj["chain"].get("hook") == "input" and \
                obj["chain"].get("type") == "filter":
            c = obj["chain"]
            chains[(c["family"], c["table"], c["name"])] = c
        elif "rule" in obj:
            r = obj["rule"]
            ruleset.rules += 1
            ruleset.drop_rules += _drops(r.get("expr", []))
            last[(r["family"], r["table"], r["chain"])] = r.get("expr", [])
    for key, chain in chains.items():
        ruleset.input_chains.append(InputChain(
            f"nft {' '.join(key)}", chain["family"], chain.get("policy", "accept"),
            _verdict_only(last.get(key, []))))


def legacy(host, family: str, ruleset: Ruleset, tool: str | None = None) -> None:
    """The legacy (x_tables) filter table, which applies besides nftables when loaded. The
    save command without -t lists only loaded tables (naming one would load it)."""
    tool = tool or LEGACY[family]
    if nodefacts.run(host, "command -v %s", tool).rc != 0:
        return
    result = nodefacts.run(host, tool)
    if result.rc != 0:
        raise nodefacts.Inconclusive(f"`{tool}` failed: {result.stderr.strip()}")
    table, policy, last, seen = None, "accept", "", False
    for line in result.stdout.splitlines():
        words = line.split()
        if line.startswith("*"):
            table = line[1:].strip()
            seen = seen or table == "filter"
        elif table != "filter":
            continue
        elif line.startswith(":INPUT "):
            policy = words[1].lower()
        elif line.startswith("-A "):
            ruleset.rules += 1
            ruleset.drop_rules += "DROP" in words or "REJECT" in words
            if words[1] == "INPUT":
                last = line
    if not seen:
        return  # the legacy filter table is not loaded: it filters nothing
    ruleset.tools.append(tool)
    last_drops = last.split()[2:4] in (["-j", "DROP"], ["-j", "REJECT"])
    ruleset.input_chains.append(InputChain(f"{tool} filter INPUT",
                                           FAMILIES[family][0], policy, last_drops))


def read(host) -> Ruleset:
    """Every source of packet filtering on the node (Inconclusive when none can be read)."""
    ruleset = Ruleset()
    if nodefacts.run(host, "command -v nft").rc == 0:
        nftables(host, ruleset)
        for family in FAMILIES:
            legacy(host, family, ruleset)
    elif nodefacts.run(host, "command -v iptables-save").rc == 0:
        legacy(host, "ipv4", ruleset, "iptables-save")
        legacy(host, "ipv6", ruleset, "ip6tables-save")
    else:
        raise nodefacts.Inconclusive("neither nft nor iptables-save is on the node: cannot "
                                     "read its packet filter")
    return ruleset
