"""Weakenings of the local cluster, by area, each naming the tests it must make fail."""

from __future__ import annotations

from mutants import components, network, rbac, workloads
from mutants.base import Mutant, matches, matching

MUTANTS: tuple[Mutant, ...] = (*rbac.MUTANTS, *components.MUTANTS, *workloads.MUTANTS,
                               *network.MUTANTS)

__all__ = ["MUTANTS", "Mutant", "matches", "matching"]
