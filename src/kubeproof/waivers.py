"""Waivers: auditor-approved exceptions with an expiry, read from a YAML file (--waivers).

A waiver that matches a failing test turns its fail into waived. At the end of the run each
waiver is applied (it covered a failure), stale (everything it covers passed), expired (past
its expiry date: it covers nothing) or unused (nothing it covers passed or failed here).
Stale and expired waivers fail the run (see gate.py), so waiver files shrink over time.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubeproof import catalogue
from kubeproof.errors import KubeproofError

FIELDS = ("control", "scope", "justification", "approver", "expires")
REQUIRED = ("control", "justification", "approver", "expires")
SCOPES = ("namespace", "node")

APPLIED, STALE, EXPIRED, UNUSED = "applied", "stale", "expired", "unused"


@dataclass(frozen=True)
class Waiver:
    """One waiver of the file; index is its 1-based position there."""

    index: int
    control: str
    justification: str
    approver: str
    expires: datetime.date
    namespace: str | None = None
    node: str | None = None

    @property
    def scope(self) -> dict[str, str]:
        """The scope as given ({} when the waiver covers every test of the control)."""
        return {k: v for k, v in (("namespace", self.namespace), ("node", self.node)) if v}

    @property
    def label(self) -> str:
        """A short name for messages: waiver #2 (rbac.x, namespace pegress)."""
        scope = "".join(f", {k} {v}" for k, v in self.scope.items())
        return f"waiver #{self.index} ({self.control}{scope})"

    def expired(self, today: datetime.date) -> bool:
        """Whether the waiver is past its expiry date (it is valid through that day)."""
        return self.expires < today

    def covers(self, control_id: str, params: dict[str, Any], param_id: str) -> bool:
        """Whether the waiver covers a test of control_id with these parameters.

        A scoped waiver covers only tests parametrized by that namespace or node: a parameter
        value equal to it (or whose .name/.namespace is), or a dash-separated part of the id.
        """
        if control_id != self.control:
            return False
        return all(_names(value, params, param_id) for value in self.scope.values())


def _names(wanted: str, params: dict[str, Any], param_id: str) -> bool:
    for value in params.values():
        candidates = {value} if isinstance(value, str) else {
            getattr(value, "name", None), getattr(value, "namespace", None)}
        if wanted in candidates:
            return True
    return f"-{wanted}-" in f"-{param_id}-"


def load(path: str | Path) -> list[Waiver]:
    """Read and check a waiver file; raise KubeproofError with one line on any problem."""
    path = Path(path)
    where = f"waiver file {path}"
    if not path.is_file():
        raise KubeproofError(f"{where} does not exist: pass --waivers PATH to a YAML file")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise KubeproofError(f"{where} is not valid YAML{line}: {problem}") from None
    if not isinstance(doc, dict) or set(doc) != {"waivers"} or not isinstance(doc["waivers"],
                                                                             list):
        raise KubeproofError(f"{where} must hold one key, `waivers:`, with a list of waivers "
                             f"(control, justification, approver, expires, optional scope)")
    return [_waiver(where, i, entry) for i, entry in enumerate(doc["waivers"], start=1)]


def _waiver(where: str, index: int, entry: Any) -> Waiver:
    at = f"{where}, waiver #{index}"
    if not isinstance(entry, dict):
        raise KubeproofError(f"{at}: must be a mapping with {', '.join(FIELDS)}")
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        raise KubeproofError(f"{at}: unknown field {unknown[0]!r} (allowed: {', '.join(FIELDS)})")
    for name in REQUIRED:
        value = entry.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise KubeproofError(f"{at}: missing {name}")
    control_id = str(entry["control"])
    if not catalogue.exists(control_id):
        near = catalogue.nearest(control_id)
        hint = f"did you mean {', '.join(near)}?" if near else "no similar id"
        raise KubeproofError(f"{at}: unknown control id {control_id!r}: {hint} "
                             f"(pytest --list-controls prints them all)")
    scope = entry.get("scope") or {}
    if not isinstance(scope, dict) or set(scope) - set(SCOPES) or not all(
            isinstance(v, str) and v.strip() for v in scope.values()):
        raise KubeproofError(f"{at}: scope must map namespace and/or node to a name, "
                             f"got {scope!r}")
    return Waiver(index, control_id, str(entry["justification"]).strip(),
                  str(entry["approver"]).strip(), _date(at, entry["expires"]),
                  scope.get("namespace"), scope.get("node"))


def _date(at: str, value: Any) -> datetime.date:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError:
        raise KubeproofError(f"{at}: expires must be a date YYYY-MM-DD, got {value!r}") from None


def first_covering(waivers: list[Waiver], control_id: str, params: dict[str, Any],
                   param_id: str, today: datetime.date) -> Waiver | None:
    """The first unexpired waiver that covers a test (expired waivers cover nothing)."""
    for waiver in waivers:
        if not waiver.expired(today) and waiver.covers(control_id, params, param_id):
            return waiver
    return None


@dataclass(frozen=True)
class WaiverStatus:
    """What became of one waiver in this run."""

    waiver: Waiver
    status: str
    tests: tuple[str, ...]
    message: str

    @property
    def problem(self) -> bool:
        """Whether this waiver fails the run (stale or expired)."""
        return self.status in (STALE, EXPIRED)

    def as_dict(self) -> dict[str, Any]:
        w = self.waiver
        return {"index": w.index, "control": w.control, "scope": w.scope,
                "justification": w.justification, "approver": w.approver,
                "expires": w.expires.isoformat(), "status": self.status,
                "tests": list(self.tests), "message": self.message}


def evaluate(waivers: list[Waiver], verdicts_by_waiver: dict[int, dict[str, str]],
             today: datetime.date) -> list[WaiverStatus]:
    """Each waiver's status from the verdicts of the tests it covered ({index: {nodeid:
    verdict}})."""
    statuses = []
    for w in waivers:
        tests = verdicts_by_waiver.get(w.index, {})
        names = tuple(tests)
        who = f"approved by {w.approver}"
        if w.expired(today):
            status, message = EXPIRED, (
                f"{w.label} expired on {w.expires} ({who}): renew it with a new expiry date "
                f"or fix the control")
        elif any(v == "waived" for v in tests.values()):
            count = sum(v == "waived" for v in tests.values())
            status, message = APPLIED, (
                f"{w.label} applied to {count} failing test(s) ({who}, expires {w.expires})")
        elif tests and all(v == "pass" for v in tests.values()):
            status, message = STALE, (
                f"{w.label} is stale: the control passes ({len(tests)} test(s) passed); "
                f"remove the waiver")
        else:
            status, message = UNUSED, (
                f"{w.label} was not exercised: no test it covers passed or failed in this run"
                + (f" ({', '.join(sorted(set(tests.values())))})" if tests else ""))
        statuses.append(WaiverStatus(w, status, names, message))
    return statuses
