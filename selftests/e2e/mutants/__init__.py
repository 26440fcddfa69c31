"""Weakenings of the local cluster, by area, and of the node VM, each naming the tests it must
make fail."""

from __future__ import annotations

from mutants import components, network, nodevm, rbac, workloads
from mutants.base import Mutant, matches, matching

MUTANTS: tuple[Mutant, ...] = (*rbac.MUTANTS, *components.MUTANTS, *workloads.MUTANTS,
                               *network.MUTANTS)
# The node VM's: run by selftests/e2e/test_nodevm.py against the VM, not the local cluster.
NODEVM_MUTANTS = nodevm.MUTANTS
# Every mutant, for the proof: a check either kind made fail is proven.
ALL_MUTANTS: tuple[Mutant, ...] = (*MUTANTS, *NODEVM_MUTANTS)

__all__ = ["ALL_MUTANTS", "MUTANTS", "NODEVM_MUTANTS", "Mutant", "matches", "matching"]
