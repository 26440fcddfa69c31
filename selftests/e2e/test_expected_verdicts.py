"""The hardened run: the acceptance suite on the local cluster gives exactly the verdicts of
the checked-in table selftests/expected/local.yaml (and the reason for each non-pass there)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubeproof import catalogue

REPO = Path(__file__).resolve().parents[2]
EXPECTED = REPO / "selftests" / "expected" / "local.yaml"
VERDICTS = {"pass", "fail", "skip", "error", "untested"}
UNTESTED = "untested"


def load_table() -> dict[str, dict[str, str]]:
    """The expected table: control id -> {verdict, reason}."""
    return yaml.safe_load(EXPECTED.read_text())["controls"]


def run_acceptance(tmp_path: Path, *args: str, timeout: float = 900) -> tuple[dict, str]:
    """`pytest -m acceptance` in a subprocess from the repo root; its JSON results and output."""
    out = tmp_path / "results.json"
    # -c: the repo's pytest.ini, whatever paths the options name (pytest would otherwise
    # look for its configuration around a path argument such as a kubeconfig).
    argv = [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "-m", "acceptance",
            "-p", "no:cacheprovider", f"--kubeproof-json={out}", *args]
    proc = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), f"the suite did not run (exit {proc.returncode}):\n" \
                                      f"{output[-3000:]}"
    assert out.exists(), f"the suite wrote no JSON results:\n{output[-3000:]}"
    return json.loads(out.read_text()), output


def actual_verdicts(results: dict) -> dict[str, str]:
    """Each control's verdict in a results document; 'untested' for controls without a test."""
    untested = results["untested"]
    assert isinstance(untested, list), f"the results' untested list is missing: {untested!r}"
    return {c["id"]: UNTESTED if c["id"] in untested else c["verdict"]
            for c in results["controls"]}


def reasons(results: dict, control: str) -> str:
    """Why a control did not pass in a run: its non-passing tests and their reasons."""
    lines = [f"{t['nodeid']} -> {t['verdict']}: {(t['reason'] or '').partition(chr(10))[0]}"
             for t in results["tests"] if t["control"] == control and t["verdict"] != "pass"]
    return "; ".join(lines) or "(no test reason)"


def test_table_lists_every_catalogue_control_with_a_reason_for_each_non_pass():
    table = load_table()
    ids = [c.id for c in catalogue.CONTROLS]
    assert sorted(table) == sorted(ids), (
        f"missing: {sorted(set(ids) - set(table))}; unknown: {sorted(set(table) - set(ids))}")
    bad = {c: e for c, e in table.items() if e.get("verdict") not in VERDICTS}
    assert not bad, f"verdicts must be one of {sorted(VERDICTS)}: {bad}"
    unexplained = [c for c, e in table.items() if e["verdict"] != "pass" and not e.get("reason")]
    assert not unexplained, f"non-pass verdicts without a reason: {unexplained}"


def test_hardened_local_cluster_gives_the_expected_verdicts(local_cluster, tmp_path):
    """Every control's verdict on the hardened local cluster equals the checked-in table."""
    results, _ = run_acceptance(tmp_path, "-n", "2")
    actual = actual_verdicts(results)
    table = load_table()
    diff = [(c, table.get(c, {}).get("verdict", "(not in table)"), v)
            for c, v in actual.items() if table.get(c, {}).get("verdict") != v]
    if diff:
        width = max(len(c) for c, _, _ in diff)
        rows = [f"{'control':{width}}  expected  actual    reason"]
        for control, expected, got in diff:
            why = table.get(control, {}).get("reason", "")
            rows.append(f"{control:{width}}  {expected:8}  {got:8}  expected because: "
                        f"{why or '-'}\n{'':{width}}  actual: {reasons(results, control)}")
        pytest.fail("verdicts differ from selftests/expected/local.yaml:\n" + "\n".join(rows),
                    pytrace=False)
