"""Verdicts, evidence and canaries: how a control test's outcome becomes its verdict."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from kubeproof.redact import redact


class Verdict(enum.StrEnum):
    """The one verdict each control test ends in."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"
    WAIVED = "waived"

    def __str__(self) -> str:
        return self.value


# Worst first: combining the verdicts of setup, call and teardown keeps the worst.
_SEVERITY = [Verdict.ERROR, Verdict.FAIL, Verdict.WAIVED, Verdict.SKIP, Verdict.PASS]


class Inconclusive(Exception):
    """The evidence could not be established: the probe's own setup failed or was denied,
    a node was unreachable, a watch timed out. The verdict is error, never fail or pass."""


def worst(*verdicts: Verdict | None) -> Verdict | None:
    """The most severe of some verdicts (error > fail > waived > skip > pass)."""
    present = [v for v in verdicts if v is not None]
    return min(present, key=_SEVERITY.index) if present else None


# A control's tests combine differently: a skipped check (not applicable, a capability the
# target lacks) does not hide the checks that passed; the control skips only when all do.
_CONTROL_SEVERITY = [Verdict.ERROR, Verdict.FAIL, Verdict.WAIVED, Verdict.PASS, Verdict.SKIP]


def control_verdict(verdicts: list[Verdict]) -> Verdict | None:
    """A control's verdict from its tests': error > fail > waived > pass > skip (as InSpec
    does: skipped only when every test skipped); None when it has no test."""
    return min(verdicts, key=_CONTROL_SEVERITY.index) if verdicts else None


def verdict_of(
    when: str, outcome: str, exc_type: type[BaseException] | None, wasxfail: bool
) -> Verdict:
    """The verdict of one test phase from pytest's outcome and the exception raised, if any.

    A failed assertion in the test body is a fail; anything else that goes wrong (an
    Inconclusive, an API error, a broken fixture) is an error. An xfail is how a waiver is
    applied: a waived failure is waived, a waived control that passes is a fail.
    """
    if outcome == "skipped":
        return Verdict.WAIVED if wasxfail else Verdict.SKIP
    if outcome == "passed":
        return Verdict.FAIL if wasxfail else Verdict.PASS
    if when != "call" or exc_type is None:
        return Verdict.ERROR
    if issubclass(exc_type, (AssertionError, pytest.fail.Exception)) and not issubclass(
        exc_type, Inconclusive
    ):
        return Verdict.FAIL
    return Verdict.ERROR


def jsonable(value: Any) -> Any:
    """A JSON-friendly copy of an evidence value (API models, dataclasses, bytes, paths)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    return str(value)


Guard = str | tuple[str, ...]


def _guards(guard: Guard) -> tuple[str, ...]:
    return (guard,) if isinstance(guard, str) else tuple(guard)


class Evidence:
    """What a control test saw, kept for the report: labelled values, redacted on entry."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, Any]] = []
        # (label, what it guards, succeeded)
        self.canaries: list[tuple[str, str, bool]] = []

    def add(self, label: str, value: Any) -> Any:
        """Record one piece of evidence (credentials are masked); returns the value as given."""
        self.entries.append((label, redact(jsonable(value))))
        return value

    def guarded(self, guard: Guard) -> bool:
        """Whether a canary succeeded for each identity and path the guard names."""
        ok = {g for _, g, passed in self.canaries if passed}
        return all(g in ok for g in _guards(guard))

    @contextmanager
    def canary(self, label: str, guard: str = "") -> Iterator[None]:
        """Run a canary: what the same identity and path must be allowed to do.

        guard names that identity and path (e.g. "pegress at the API server", "pod ns/name");
        a denial counts only after a canary with the same guard got through (without a guard
        the canary is a precondition that guards no denial). If the block fails (assertion
        or any error) the test ends as error, never as a pass or a fail.
        """
        __tracebackhide__ = True
        try:
            yield
        except Exception as exc:
            self.canaries.append((label, guard, False))
            self.add(f"canary: {label}", f"failed: {type(exc).__name__}: {exc}")
            raise Inconclusive(f"canary failed ({label}): {type(exc).__name__}: {exc}") from exc
        self.canaries.append((label, guard, True))
        self.add(f"canary: {label}", f"ok (guards {guard})" if guard else "ok")

    def as_list(self) -> list[dict[str, Any]]:
        """The evidence as a list of {label, value} records."""
        return [{"label": label, "value": value} for label, value in self.entries]


def expect_denied(evidence: Evidence, what: str, *, denied: bool, detail: Any,
                  guard: Guard) -> None:
    """Assert a forbidden action was refused; the refusal counts only after a canary on the
    same identity and path (guard: one name, or several that must all have succeeded).

    Allowed -> fail (with the detail as evidence). Denied without such a canary -> error.
    """
    __tracebackhide__ = True
    evidence.add(what, detail)
    if not denied:
        pytest.fail(f"{what}: allowed, expected a denial; evidence: {redact(jsonable(detail))}")
    if not evidence.guarded(guard):
        raise Inconclusive(
            f"{what}: denied, but no canary succeeded on the same identity and path "
            f"({', '.join(_guards(guard))}), so the denial proves nothing"
        )
