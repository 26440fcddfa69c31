"""Which checks are proven able to fail: a mutant of the local reference cluster made each
of them fail (selftests/e2e/mutants/), and they passed again once it was reverted.

The list is proven.txt beside this module, one test id per line; selftests/e2e/test_proof.py
keeps it equal to what the mutants flip and rewrites it when run as a script.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

PROVEN_FILE = Path(__file__).with_name("proven.txt")


@cache
def proven_checks() -> frozenset[str]:
    """The test ids that a mutant has made fail."""
    lines = PROVEN_FILE.read_text().splitlines() if PROVEN_FILE.exists() else []
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_proven(nodeid: str) -> bool:
    """Whether a mutant has made this very test fail."""
    return nodeid in proven_checks()
