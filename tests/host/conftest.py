"""Host controls run once per node: the `node` parameter, its testinfra host, its kubelet."""

from __future__ import annotations

import nodefacts
import pytest

from kubeproof import targets
from kubeproof.errors import KubeproofError
from kubeproof.targets.base import NodeHost
from kubeproof.verdicts import Inconclusive

# The one parameter when the target gives no node access: node_hosts then skips, saying how.
NO_NODES = "no-node-access"
# The one parameter when the target learns its nodes only at start.
UNKNOWN_NODES = "nodes-unknown-before-start"


def declared_nodes(config: pytest.Config) -> list[str]:
    """The node names host controls are parametrized with (no I/O on the cluster)."""
    try:
        names = targets.from_config(config).declared_nodes()
    except KubeproofError:
        return ["node"]  # the run ends on the bad option before any test (plugin)
    if names is None:
        return [UNKNOWN_NODES]
    return names or [NO_NODES]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "node" in metafunc.fixturenames:
        names = declared_nodes(metafunc.config)
        metafunc.parametrize("node", names, ids=names)


@pytest.fixture
def node_spec(node, node_hosts) -> NodeHost:
    """The target's description of the parametrized node (how it is reached)."""
    for spec, _ in node_hosts:
        if spec.name == node:
            return spec
    raise Inconclusive(f"node {node!r} is not among the target's nodes "
                       f"{[spec.name for spec, _ in node_hosts]}")


@pytest.fixture
def host(node_spec, node_hosts):
    """The testinfra Host of the parametrized node."""
    return next(testinfra_host for spec, testinfra_host in node_hosts if spec is node_spec)


@pytest.fixture(scope="session")
def _kubelets() -> dict:
    return {}


@pytest.fixture
def kubelet(node, host, _kubelets) -> nodefacts.Kubelet:
    """The node's running kubelet: command line, merged config file, defaults (cached)."""
    if node not in _kubelets:
        _kubelets[node] = nodefacts.find_kubelet(host)
    return _kubelets[node]
