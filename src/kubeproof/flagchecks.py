"""Declarative checks of control-plane command-line flags: one row schema (CIS id, component,
flags, rule, remediation) and the rules that judge a flag's value.

A row's test is one parametrized test per row (tests/cluster/test_component_flags.py), so its
id carries the CIS id (`[1.2.17-audit-log-maxage]`) and `-m cis`, `--control`, waivers and
mutants work on it as on every check. A flag that is absent is judged on the component's
default, which the rule states (`default`), and the evidence says so.
"""

from __future__ import annotations

from dataclasses import dataclass

ABSENT = "(absent)"


@dataclass(frozen=True)
class Rule:
    """How a flag's value is compared: `op` is one of set, unset, eq, gte, has, lacks, https,
    within; `value` its operand; `default` the component's value when the flag is absent
    (None: an absent flag is judged as absent)."""

    op: str
    value: str = ""
    default: str | None = None

    def expected(self) -> str:
        """The rule in words, for a failure message."""
        return {"set": "set (a file or value)", "unset": "not set",
                 "eq": f"= {self.value}", "gte": f">= {self.value}",
                 "has": f"a list that includes {self.value}",
                 "lacks": f"a list without {self.value}",
                 "https": "https:// URLs only",
                 "within": f"only items of {self.value}"}[self.op]

    def holds(self, value: str | None) -> bool:
        """Whether a flag's value (None: absent, after the default) meets the rule."""
        if self.op == "unset":
            return value is None
        if value is None:
            return False
        items = [v.strip() for v in value.split(",") if v.strip()]
        if self.op == "lacks":
            return self.value not in items
        if not items:
            return False
        if self.op == "set":
            return True
        if self.op == "eq":
            return value.lower() == self.value.lower()
        if self.op == "gte":
            return value.isdigit() and int(value) >= int(self.value)
        if self.op == "has":
            return self.value in items
        if self.op == "https":
            return all(v.startswith("https://") for v in items)
        if self.op == "within":
            return set(items) <= set(self.value.split(","))
        raise ValueError(f"unknown rule {self.op!r}")


@dataclass(frozen=True)
class FlagCheck:
    """One row of the flag table: a recommendation about one component's flags (all of them
    must meet the rule), the catalogue control its test belongs to, and how to fix it."""

    cis: str  # the CIS Kubernetes Benchmark v1.12 id, "" where the benchmark has none
    name: str
    control: str
    component: str
    flags: tuple[str, ...]
    rule: Rule
    remediation: str

    @property
    def id(self) -> str:
        """The test id: CIS id and name (`1.2.17-audit-log-maxage`), else component and name."""
        return f"{self.cis}-{self.name}" if self.cis else f"{self.component}-{self.name}"

    def judge(self, flags: dict[str, str]) -> tuple[bool, dict[str, str]]:
        """Whether the component's flags meet the rule, and what was seen per flag (with the
        default said where a flag is absent)."""
        seen, ok = {}, True
        for flag in self.flags:
            value = flags.get(flag)
            if value is None and self.rule.default is not None:
                seen[f"--{flag}"] = f"{ABSENT}: default {self.rule.default!r}"
                value = self.rule.default
            else:
                seen[f"--{flag}"] = ABSENT if value is None else value
            ok = ok and self.rule.holds(value)
        return ok, seen
