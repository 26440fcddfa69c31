"""The CI gate: the run's exit status from the control verdicts and the waivers (--fail-on)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

FAIL_ON = ("fail", "error", "never")
DEFAULT = "fail"


@dataclass(frozen=True)
class Gate:
    """The gate's decision: the exit status and every reason the run failed."""

    fail_on: str
    exit_status: int
    reasons: list[str] = field(default_factory=list)

    @property
    def line(self) -> str:
        """One line for the terminal and the reports."""
        state = "FAILED" if self.exit_status else "passed"
        why = ": " + "; ".join(self.reasons) if self.reasons else ""
        return f"gate {state} (--fail-on {self.fail_on}, exit {self.exit_status}){why}"

    def as_dict(self) -> dict[str, Any]:
        return {"fail_on": self.fail_on, "exit_status": self.exit_status,
                "failed": bool(self.exit_status), "reasons": self.reasons, "line": self.line}


def _listed(ids: list[str], what: str) -> str:
    shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
    return f"{len(ids)} control(s) {what}: {shown}"


def decide(pytest_status: int, control_verdicts: dict[str, str], other_failures: int,
           waiver_problems: list[str], fail_on: str) -> Gate:
    """The exit status of the run.

    --fail-on fail (default): any failed or errored control, or a stale or expired waiver,
    fails the run; error: only errored controls do; never: control verdicts and waivers never
    do. Waived controls never fail the run. Tests that are not controls failing, and pytest's
    own statuses other than 0 and 1 (interrupted, usage error, no tests), are kept as they are.
    """
    if int(pytest_status) not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return Gate(fail_on, int(pytest_status), [f"pytest ended with status {int(pytest_status)}"])
    failed = sorted(c for c, v in control_verdicts.items() if v == "fail")
    errors = sorted(c for c, v in control_verdicts.items() if v == "error")
    reasons = []
    if fail_on == "fail" and failed:
        reasons.append(_listed(failed, "failed"))
    if fail_on in ("fail", "error") and errors:
        reasons.append(_listed(errors, "errored (inconclusive)"))
    if fail_on == "fail":
        reasons.extend(waiver_problems)
    if other_failures:
        reasons.append(f"{other_failures} test(s) that are not controls failed")
    return Gate(fail_on, int(bool(reasons)), reasons)
