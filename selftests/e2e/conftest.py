"""Self-test fixtures that need the local reference cluster: one cluster for the whole run,
and one hardened suite run that the verdict table, the proof and the mutants compare with."""

from __future__ import annotations

import os
import signal

import pytest
from suite import SuiteRun, run_suite

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


@pytest.fixture(scope="session")
def hardened_run(local_cluster) -> SuiteRun:
    """The acceptance suite's results on the hardened local cluster (one run per session)."""
    return run_suite()


def pytest_configure(config):
    """A SIGTERM (a CI timeout, `kill`) interrupts like Ctrl-C, so that a mutant being applied
    is still reverted by its finally block."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def pytest_report_header(config):
    import test_mutants

    return f"kubeproof mutants: shuffled with seed {test_mutants.SEED}"


def pytest_terminal_summary(terminalreporter):
    """Prints the mutation table per test when mutants ran."""
    import test_mutants

    if test_mutants.TABLE:
        terminalreporter.write_sep("=", f"kubeproof mutation table (seed {test_mutants.SEED})")
        terminalreporter.write_line(test_mutants.mutation_table())
