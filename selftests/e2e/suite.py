"""Running the acceptance suite in a subprocess on the running local cluster (self-tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass
class SuiteRun:
    """One run's outcome: exit code, per-control verdicts, per-test results and the output."""

    returncode: int
    verdicts: dict[str, str]
    tests: list[dict]
    output: str

    def evidence(self, control: str) -> str:
        """Every evidence line and reason recorded by the control's tests, for messages."""
        lines = []
        for test in self.tests:
            if test["control"] == control:
                lines.append(f"{test['nodeid']}: {test['verdict']} {test.get('reason', '')}")
                lines += [f"    {e['label']}: {e['value']}" for e in test.get("evidence", [])]
        return "\n".join(lines)


def run_suite(*args: str, workers: int = 2, timeout: float = 900) -> SuiteRun:
    """Runs `pytest -m acceptance` (plus args) on the local target, reusing the running cluster."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "results.json"
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-m",
            "acceptance",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--kubeproof-json={report}",
            *(["-n", str(workers)] if workers else []),
            *args,
        ]
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        output = result.stdout + result.stderr
        if not report.exists():
            raise AssertionError(
                f"the suite wrote no JSON report (exit {result.returncode}):\n{output[-3000:]}"
            )
        data = json.loads(report.read_text())
    verdicts = {c["id"]: c["verdict"] for c in data["controls"]}
    return SuiteRun(result.returncode, verdicts, data["tests"], output)
