"""Self-test fixtures that need the local reference cluster: one cluster for the whole run."""

from __future__ import annotations

import os

import pytest

from kubeproof.localcluster.cluster import LocalCluster
from kubeproof.localcluster.layout import default_state_dir


@pytest.fixture(scope="session")
def local_cluster():
    """The hardened local cluster for the whole self-test session.

    A cluster that is already running is reused and left running; one this fixture starts is
    removed afterwards unless KUBEPROOF_SELFTEST_KEEP=1.
    """
    if os.geteuid() != 0:
        pytest.skip("the local cluster needs root")
    cluster = LocalCluster(default_state_dir())
    with cluster.lock():
        started = not cluster.is_running()
        if started:
            cluster.up()
    yield cluster
    if started and not os.environ.get("KUBEPROOF_SELFTEST_KEEP"):
        cluster.down()


def pytest_terminal_summary(terminalreporter):
    """Prints the mutation table when mutants ran."""
    import test_mutants

    if test_mutants.TABLE:
        terminalreporter.write_sep("=", "kubeproof mutation table")
        terminalreporter.write_line(test_mutants.pytest_terminal_summary_table())
