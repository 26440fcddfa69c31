"""The hardened run: the acceptance suite on the local cluster gives exactly the verdicts of
the checked-in table selftests/expected/local.yaml (and the reason for each non-pass there)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from suite import SuiteRun

from kubeproof import catalogue

REPO = Path(__file__).resolve().parents[2]
EXPECTED = REPO / "selftests" / "expected" / "local.yaml"
VERDICTS = {"pass", "fail", "skip", "error", "untested"}
UNTESTED = "untested"


def load_table() -> dict[str, dict[str, str]]:
    """The expected table: control id -> {verdict, reason}."""
    return yaml.safe_load(EXPECTED.read_text())["controls"]


def actual_verdicts(run: SuiteRun) -> dict[str, str]:
    """Each control's verdict in a run; 'untested' for controls without a test."""
    assert isinstance(run.untested, list), f"the results' untested list: {run.untested!r}"
    return {c: UNTESTED if c in run.untested else v for c, v in run.verdicts.items()}


def reasons(run: SuiteRun, control: str) -> str:
    """Why a control did not pass in a run: its non-passing tests and their reasons."""
    lines = [f"{t['nodeid']} -> {t['verdict']}: {(t['reason'] or '').partition(chr(10))[0]}"
             for t in run.tests if t["control"] == control and t["verdict"] != "pass"]
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


def test_hardened_local_cluster_gives_the_expected_verdicts(hardened_run):
    """Every control's verdict on the hardened local cluster equals the checked-in table."""
    results = hardened_run
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
