"""Declarative configuration checks: one row schema (CIS id, component, where the value lives,
keys, rule, remediation) and the rules that judge a value.

Where a value lives (`source`): a component's command-line flag (FLAG), the kubelet's
effective setting (SETTING: its flag, else its config file's key, else its default; the
evidence names the source that won), or the mode or owner of files on the component's node
(MODE, OWNER). A row's test is one parametrized test per row, so its id carries the CIS id
(`[1.2.17-audit-log-maxage]`) and `-m cis`, `--control`, waivers and mutants work on it as on
every check. The rows are kubeproof.configtable.
"""

from __future__ import annotations

from dataclasses import dataclass

ABSENT = "(absent)"
FLAG, SETTING, MODE, OWNER = "flag", "setting", "mode", "owner"


@dataclass(frozen=True)
class Rule:
    """How a value is compared: `op` is one of set, unset, eq, gte, has, lacks, https, within,
    mode (octal permissions no wider than `value`), nonzero (a number or Go duration other
    than 0, 0s, 0m0s...); `value` its operand; `default` the
    component's value when a flag is absent (None: an absent flag is judged as absent)."""

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
                "within": f"only items of {self.value}",
                "mode": f"mode {self.value} or more restrictive",
                "nonzero": "not 0"}[self.op]

    def holds(self, value: str | None) -> bool:
        """Whether a value (None: absent, after the default) meets the rule."""
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
        if self.op == "nonzero":
            return any(c in "123456789" for c in value)
        if self.op == "mode":
            return (all(c in "01234567" for c in value)
                    and int(value, 8) & ~int(self.value, 8) == 0)
        raise ValueError(f"unknown rule {self.op!r}")


@dataclass(frozen=True)
class ConfigCheck:
    """One row of the configuration table: a recommendation about one component's
    configuration (every value its keys find must meet the rule), the catalogue control its
    test belongs to, and how to fix it."""

    cis: str  # the CIS Kubernetes Benchmark v1.12 id, "" where the benchmark has none
    name: str
    control: str
    component: str
    source: str  # FLAG, SETTING, MODE or OWNER (the module docstring)
    keys: tuple[str, ...]  # flags, kubelet setting names, or file locators (configtable)
    rule: Rule
    remediation: str

    @property
    def id(self) -> str:
        """The test id: CIS id and name (`1.2.17-audit-log-maxage`), else component and name."""
        return f"{self.cis}-{self.name}" if self.cis else f"{self.component}-{self.name}"

    def judge(self, found: dict[str, str | None]) -> tuple[bool, dict[str, str]]:
        """Whether every value found ({label: value}, None: absent) meets the rule, and what
        was seen per label (with the default said where a value is absent)."""
        if not found:
            raise ValueError(f"{self.id}: nothing to judge")
        seen, ok = {}, True
        for label, value in found.items():
            if value is None and self.rule.default is not None:
                seen[label] = f"{ABSENT}: default {self.rule.default!r}"
                value = self.rule.default
            else:
                seen[label] = ABSENT if value is None else value
            ok = ok and self.rule.holds(value)
        return ok, seen

    def file_values(self, files) -> dict[str, str | None]:
        """{path: mode or owner} of files (kubeproof.nodefiles.FileFacts), as the row's
        source (MODE or OWNER) asks."""
        return {f.path: f.mode if self.source == MODE else f.owner for f in files}

    def flag_values(self, flags: dict[str, str]) -> dict[str, str | None]:
        """{--flag: value or None} of the row's flags in a component's flags."""
        return {f"--{flag}": flags.get(flag) for flag in self.keys}
