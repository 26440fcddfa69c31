"""Running the acceptance suite in a subprocess on the running local cluster (self-tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class SuiteRun:
    """One run's outcome: exit code, per-control and per-test verdicts, results and output."""

    returncode: int
    verdicts: dict[str, str]
    tests: list[dict]
    untested: list[str] | None
    output: str

    @cached_property
    def verdict_of(self) -> dict[str, str]:
        """Each test's verdict by node id."""
        return {t["nodeid"]: t["verdict"] for t in self.tests}

    def evidence(self, control: str) -> str:
        """Every evidence line and reason recorded by a control's tests, for messages."""
        return "\n".join(self.evidence_of(t["nodeid"]) for t in self.tests
                         if t["control"] == control)

    def evidence_of(self, nodeid: str) -> str:
        """A test's verdict, reason and evidence lines, for messages."""
        lines = []
        for test in self.tests:
            if test["nodeid"] == nodeid:
                lines.append(f"{nodeid}: {test['verdict']} {test.get('reason', '')}")
                lines += [f"    {e['label']}: {e['value']}" for e in test.get("evidence", [])]
        return "\n".join(lines)


def run_suite(*args: str, workers: int = 2, timeout: float = 900) -> SuiteRun:
    """Runs `pytest -m acceptance` (plus args) on the local target, reusing the running cluster."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "results.json"
        # -c: the repo's pytest.ini, whatever paths the options name.
        argv = [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"),
                "-m", "acceptance", "-p", "no:cacheprovider", "-q",
                f"--kubeproof-json={report}", *(["-n", str(workers)] if workers else []), *args]
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        output = result.stdout + result.stderr
        if result.returncode not in (0, 1) or not report.exists():
            raise AssertionError(f"the suite did not run (exit {result.returncode}):\n"
                                 f"{output[-3000:]}")
        data = json.loads(report.read_text())
    verdicts = {c["id"]: c["verdict"] for c in data["controls"]}
    return SuiteRun(result.returncode, verdicts, data["tests"], data["untested"], output)


def poll(condition, timeout: float, what: str, interval: float = 0.5):
    """A deadline poll: condition()'s first truthy value before the deadline, else
    AssertionError naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(interval)
    raise AssertionError(f"not {what} after {timeout:g}s")
