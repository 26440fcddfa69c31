"""Mutation self-tests: every check that passes on the hardened cluster is made to fail by a
mutant, and passes again once the mutant is reverted and the cluster is as it was."""

from __future__ import annotations

import random

import pytest
from fingerprint import fingerprint, restored
from mutants import MUTANTS, Mutant, matching
from suite import SuiteRun, run_suite

# Mutants must not depend on their order: they run shuffled, and the seed is printed.
SEED = random.SystemRandom().randrange(1_000_000)
TABLE: list[tuple[str, str, str, str]] = []


def shuffled(seed: int) -> list[Mutant]:
    """The mutants in the order a seed gives."""
    order = list(MUTANTS)
    random.Random(seed).shuffle(order)
    return order


@pytest.fixture(scope="session")
def hardened_fingerprint(local_cluster, hardened_run):
    """The hardened cluster's fingerprint, taken once before the first mutant."""
    return fingerprint(local_cluster)


def _lines(run: SuiteRun, nodeids) -> str:
    return "\n".join(run.evidence_of(n) for n in nodeids)


def check_weakened(mutant: Mutant, hardened: SuiteRun, weakened: SuiteRun) -> list[str]:
    """What is wrong with a run under a mutant: a pattern that matches no test, a flipped test
    that did not fail, a broken one that did not error, or any other test that errored."""
    problems = []
    for pattern in (*mutant.flips, *mutant.breaks):
        if not matching([pattern], weakened.verdict_of):
            problems.append(f"pattern {pattern!r} matches no test of the run")
    flips = matching(mutant.flips, weakened.verdict_of)
    breaks = set(matching(mutant.breaks, weakened.verdict_of))
    not_passing = [n for n in flips if hardened.verdict_of.get(n) != "pass"]
    problems += [f"{n} does not pass on the hardened cluster ({hardened.verdict_of.get(n)}), "
                 f"so failing under the mutant proves nothing" for n in not_passing]
    not_failed = [n for n in flips if weakened.verdict_of[n] != "fail"]
    problems += [f"{n} is {weakened.verdict_of[n]}, expected fail" for n in not_failed]
    not_broken = [n for n in breaks if weakened.verdict_of[n] != "error"]
    problems += [f"{n} is {weakened.verdict_of[n]}, expected error (listed in breaks)"
                 for n in not_broken]
    errored = [n for n, v in weakened.verdict_of.items()
               if v == "error" and n not in breaks and hardened.verdict_of.get(n) != "error"]
    problems += [f"{n} errored (broken, not weakened)" for n in errored]
    if problems:
        problems.append(_lines(weakened, not_failed + not_broken + errored))
    return problems


@pytest.mark.parametrize("mutant", shuffled(SEED), ids=str)
def test_mutant_flips_its_tests(local_cluster, hardened_run, hardened_fingerprint,
                                mutant: Mutant):
    """Under the mutant each test it names fails and nothing else errors; after the revert the
    cluster's fingerprint is the hardened one and those tests pass again."""
    try:
        mutant.apply(local_cluster)
        weakened = run_suite()
    finally:
        mutant.revert(local_cluster)
    touched = matching((*mutant.flips, *mutant.breaks), weakened.verdict_of)
    drift = restored(local_cluster, hardened_fingerprint)
    again = run_suite(*touched, workers=0).verdict_of if touched else {}
    for nodeid in touched:
        TABLE.append((nodeid, mutant.name, weakened.verdict_of[nodeid],
                      again.get(nodeid, "not run")))
    problems = check_weakened(mutant, hardened_run, weakened)
    assert not problems, f"under '{mutant}':\n" + "\n".join(problems)
    assert not drift, f"reverting '{mutant}' left the cluster changed:\n" + "\n".join(drift)
    unrestored = [n for n in touched if again.get(n) != hardened_run.verdict_of.get(n)]
    assert not unrestored, f"after reverting '{mutant}' these are not as hardened: " + ", ".join(
        f"{n}: {again.get(n)}" for n in unrestored)


def mutation_table() -> str:
    """The table per test id: test, mutant, verdict under the mutant, after the revert."""
    rows = [("test", "mutant", "under mutant", "after revert"), *sorted(TABLE)]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
                     for row in rows)
