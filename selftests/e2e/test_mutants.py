"""Mutation self-tests: every control that passes on the hardened cluster is flipped by a mutant."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mutants import MUTANTS, Mutant
from suite import run_suite

EXPECTED = Path(__file__).resolve().parents[1] / "expected" / "local.yaml"
TABLE: list[tuple[str, str, str, str]] = []


def expected_verdicts() -> dict[str, str]:
    """The hardened local cluster's expected verdict per control (the checked-in table)."""
    table = yaml.safe_load(EXPECTED.read_text())
    return {control: entry["verdict"] for control, entry in table["controls"].items()}


def test_every_passing_control_has_a_mutant():
    passing = {c for c, v in expected_verdicts().items() if v == "pass"}
    flipped = {c for m in MUTANTS for c in m.flips}
    assert sorted(passing - flipped) == [], "controls that pass on local but no mutant flips"


@pytest.fixture(scope="module")
def hardened():
    """The expected verdicts; the mutants compare against them."""
    return expected_verdicts()


@pytest.mark.parametrize("mutant", MUTANTS, ids=str)
def test_mutant_flips_its_controls(local_cluster, hardened, mutant: Mutant):
    """Under the mutant its controls fail, no other passing control errors, and revert restores."""
    mutant.apply(local_cluster)
    try:
        weakened = run_suite()
    finally:
        mutant.revert(local_cluster)
    restored = run_suite(*[f"--control={c}" for c in mutant.flips], workers=0)
    for control in mutant.flips:
        TABLE.append((control, mutant.name, weakened.verdicts[control], restored.verdicts[control]))
    not_flipped = {c: weakened.verdicts[c] for c in mutant.flips if weakened.verdicts[c] != "fail"}
    assert not not_flipped, "\n".join(
        f"{c} is {v} under '{mutant}', expected fail:\n{weakened.evidence(c)}"
        for c, v in not_flipped.items()
    )
    broken = {
        c: v
        for c, v in weakened.verdicts.items()
        if hardened.get(c) == "pass" and v == "error" and c not in mutant.breaks
    }
    assert not broken, f"'{mutant}' broke (not weakened) other controls: {broken}\n" + "\n".join(
        weakened.evidence(c) for c in broken
    )
    unrestored = {c: restored.verdicts[c] for c in mutant.flips if restored.verdicts[c] != "pass"}
    assert not unrestored, f"after reverting '{mutant}': {unrestored}\n" + "\n".join(
        restored.evidence(c) for c in unrestored
    )


def pytest_terminal_summary_table() -> str:
    """The mutation table: control, mutant, verdict under the mutant, verdict after revert."""
    rows = [("control", "mutant", "under mutant", "after revert"), *TABLE]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )
