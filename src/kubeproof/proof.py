"""Which checks are proven able to fail: a mutant of the local reference cluster or of the node
VM made each of them fail (selftests/e2e/mutants/), and they passed again once it was reverted.

The list is proven.txt beside this module, one test id per line, as the local cluster collects
them; selftests/e2e/test_proof.py keeps it equal to what the mutants flip and rewrites it when
run as a script. A host check's id begins its parameters with the node's name, so on any
target it counts as the proven check of the same function and aspect.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from kubeproof.localcluster.layout import NODE_NAME

PROVEN_FILE = Path(__file__).with_name("proven.txt")


@cache
def proven_checks() -> frozenset[str]:
    """The test ids that a mutant has made fail."""
    lines = PROVEN_FILE.read_text().splitlines() if PROVEN_FILE.exists() else []
    return frozenset(line for line in lines if line and not line.startswith("#"))


HOST_TESTS = "tests/host/"
LOCAL_NODE = NODE_NAME  # the local cluster's node, first in its host checks' ids


@cache
def _proven_host_checks() -> frozenset[tuple[str, str]]:
    """The proven host checks as (test function, parameters after the node name)."""
    checks = set()
    for nodeid in proven_checks():
        function, _, params = nodeid.partition("[")
        if nodeid.startswith(HOST_TESTS) and params.startswith(LOCAL_NODE):
            checks.add((function, params[len(LOCAL_NODE):-1]))
    return frozenset(checks)


def is_proven(nodeid: str) -> bool:
    """Whether a mutant has made this very test fail (a host check: on whichever node)."""
    if nodeid in proven_checks():
        return True
    function, _, params = nodeid.partition("[")
    if not (nodeid.startswith(HOST_TESTS) and params.endswith("]")):
        return False
    params = params[:-1]
    return any(function == f and params.endswith(aspect) and len(params) > len(aspect)
               for f, aspect in _proven_host_checks())
