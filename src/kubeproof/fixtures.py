"""Session and test fixtures that control tests use: cluster, clients, probes, hosts, evidence."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from kubernetes.client.exceptions import ApiException
from testinfra.host import Host

from kubeproof import catalogue, hosts, nodepods, probeimage, probes, runs, targets
from kubeproof.errors import KubeproofError
from kubeproof.kube import Clients, wait_for
from kubeproof.targets.base import (
    CAN_RUN_PODS,
    COMPONENT_FLAGS,
    EGRESS_TEST_HOSTS,
    ETCD_ACCESS,
    NODE_ACCESS,
    SERVICE_MESH,
    ClusterAccess,
    NodeHost,
)
from kubeproof.verdicts import Evidence, Inconclusive

RUN_ID = pytest.StashKey[str]()
CLUSTER = pytest.StashKey[ClusterAccess]()
CONTROL = pytest.StashKey[catalogue.Control]()
EVIDENCE = pytest.StashKey[Evidence]()
# The run's home namespace (holds its Lease), made by the process that owns the run.
HOME_NAMESPACE = pytest.StashKey[str]()
# Why there is no probe image (kubeproof's is not built and --probe-image was not given).
PROBE_IMAGE_PROBLEM = pytest.StashKey[str]()

# What to do when a target lacks a capability: said in the skip reason.
HOW_TO_ENABLE = {
    CAN_RUN_PODS: "the admin identity must be allowed to create pods in the app namespace",
    NODE_ACCESS: "give node access with --node-access pod (a privileged pod per node) or "
    "--ssh-host HOST --ssh-key KEY (existing target)",
    EGRESS_TEST_HOSTS: "the egress controls need a registered and an unregistered external "
    "test host with known answers; the local target creates them (netns hosts under "
    "kubeproof.test)",
    SERVICE_MESH: "the local target runs no Istio: istiod + pilot-agent work with PyPI's plain "
    "Envoy (with PILOT_ENABLE_METADATA_EXCHANGE=false), but sidecar injection and the traffic "
    "redirect (istio-cni, as PSA restricted forbids istio-init) are not wired; its egress is "
    "enforced by an Envoy egress gateway and NetworkPolicy instead. Run the mesh controls with "
    "--target existing against a cluster that should have Istio",
    ETCD_ACCESS: "give etcd client access with --etcd-endpoint URL --etcd-ca --etcd-cert "
    "--etcd-key PATH (existing target)",
    COMPONENT_FLAGS: "the existing target reads control-plane flags from kube-system static "
    "pods (kubeadm); managed control planes do not show them",
}


def start_target(config: pytest.Config) -> ClusterAccess:
    """Build and start the selected target once per process; stopped at unconfigure. The
    process that owns the run (not an xdist worker) also begins it: see begin_run."""
    if CLUSTER in config.stash:
        return config.stash[CLUSTER]
    target = targets.from_config(config)
    access = target.start()
    config.add_cleanup(target.stop)
    access.probe_image = config.getoption("probe_image") or access.probe_image
    if not access.probe_image:
        try:
            access.probe_image = probeimage.default_reference()
        except KubeproofError as exc:
            config.stash[PROBE_IMAGE_PROBLEM] = str(exc)
    if access.has(CAN_RUN_PODS) and not hasattr(config, "workerinput"):
        begin_run(config, access)
    config.stash[CLUSTER] = access
    return access


def say(config: pytest.Config, line: str) -> None:
    """One kubeproof line on the terminal, now (when there is one)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"kubeproof: {line}", yellow=True)


def begin_run(config: pytest.Config, access: ClusterAccess) -> None:
    """Remove what dead runs left, then create this run's home namespace holding its renewed
    Lease (runs.py); at the end stop renewing, delete it and sweep once more."""
    clients = Clients(access.admin)
    run_id = config.stash[RUN_ID]
    try:
        if config.getoption("sweep_leftovers"):
            swept = runs.sweep(clients, run_id, everything=True)
            say(config, f"--sweep-leftovers removed {len(swept)} objects of other runs")
        namespace, lease = runs.begin(clients, run_id, access.run_namespace_labels,
                                      lambda line: say(config, line))
    except (ApiException, Inconclusive) as exc:
        say(config, f"this run holds no lease, dead runs were not swept: {str(exc)[:200]}")
        return
    config.stash[HOME_NAMESPACE] = namespace

    def end() -> None:
        lease.stop()
        probes.delete_namespace(clients.core, namespace)
        with contextlib.suppress(ApiException):  # else swept at the next run's start
            runs.sweep(clients, run_id)

    config.add_cleanup(end)


def require(cluster: ClusterAccess, capability: str) -> None:
    """Skip the test, saying so plainly, when the target lacks a capability."""
    if not cluster.has(capability):
        how = HOW_TO_ENABLE.get(capability, "")
        pytest.skip(f"the {cluster.target} target lacks {capability}" + (f": {how}" if how else ""))


@pytest.fixture(scope="session")
def run_id(pytestconfig: pytest.Config) -> str:
    """This run's id; every object the run creates carries it as kubeproof.io/run-id."""
    return pytestconfig.stash[RUN_ID]


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> ClusterAccess:
    """The started target's ClusterAccess (identities, namespace, nodes, capabilities); when a
    selected test probes with pods, their namespace and preflight begin now, on a thread."""
    config = request.config
    try:
        access = start_target(config)
    except KubeproofError as exc:
        if hasattr(config, "workerinput"):
            # xdist workers cannot end the run; every test errors with the one line instead.
            pytest.fail(f"kubeproof: {exc}", pytrace=False)
        pytest.exit(f"kubeproof: {exc}", returncode=exc.exit_code)
    if access.has(CAN_RUN_PODS) and any("run_namespace" in getattr(item, "fixturenames", ())
                                        for item in request.session.items):
        probe_setup(config, access)
    return access


@pytest.fixture(scope="session")
def admin_api(cluster: ClusterAccess) -> Clients:
    """API clients acting as the cluster admin."""
    return Clients(cluster.admin)


@pytest.fixture(scope="session")
def app_api(cluster: ClusterAccess) -> Clients:
    """API clients acting as the app user (impersonated or its own credentials)."""
    return Clients(cluster.app)


def wait_for_default_account(admin_api: Clients, namespace: str) -> None:
    """Wait until the controller-manager has made a new namespace's default ServiceAccount
    (pods are refused until then)."""
    wait_for(admin_api.core.list_namespaced_service_account, namespace, "default",
             lambda sa: True, 30, what="created", kind="ServiceAccount", core=admin_api.core,
             status=lambda sa: "present" if sa else "absent")


class ProbeSetup:
    """This process's probe namespace and probe preflight, made on a thread of their own so
    that the tests before the first probe run meanwhile; run_namespace and probe_preflight
    wait for them. The namespace is the run's home namespace, or (xdist worker) the worker's
    own, deleted at the end (close)."""

    def __init__(self, config: pytest.Config, access: ClusterAccess) -> None:
        self.config = config
        self.access = access
        self.clients = Clients(access.admin)  # the thread's own clients
        self.home = config.stash.get(HOME_NAMESPACE, None)
        self.made: str | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kubeproof-probe-setup")
        self.namespace = self._pool.submit(self._make_namespace)
        self.preflight = self._pool.submit(self._run_preflight)

    def _make_namespace(self) -> str:
        name = self.home
        if name is None:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "")
            name = self.made = probes.create_run_namespace(
                self.clients.core, self.config.stash[RUN_ID], worker,
                self.access.run_namespace_labels)
        wait_for_default_account(self.clients, name)
        return name

    def _run_preflight(self) -> None:
        if not self.access.probe_image:
            raise Inconclusive(f"probe preflight: {self.config.stash[PROBE_IMAGE_PROBLEM]}")
        runner = self.runner(self.clients)
        try:
            runner.preflight([self.access.app_namespace, runner.namespace])
        finally:
            runner.delete_all()

    def runner(self, clients: Clients) -> probes.ProbePods:
        """A probe-pod runner of these clients in the run namespace, with the run's probe
        image and --probe-timeout."""
        return probes.ProbePods(clients, self.namespace.result(), self.config.stash[RUN_ID],
                                self.access.probe_image, self.config.getoption("probe_timeout"))

    def close(self) -> None:
        """Stop the thread's pending work and delete the namespace it made (its pods go too,
        which ends a wait still running)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.made is not None:
            with contextlib.suppress(ApiException):
                probes.delete_namespace(self.clients.core, self.made)


PROBE_SETUP = pytest.StashKey[ProbeSetup]()


def probe_setup(config: pytest.Config, access: ClusterAccess) -> ProbeSetup:
    """This process's ProbeSetup, begun at the first call (closed at unconfigure)."""
    if PROBE_SETUP not in config.stash:
        setup = config.stash[PROBE_SETUP] = ProbeSetup(config, access)
        config.add_cleanup(setup.close)
    return config.stash[PROBE_SETUP]


@pytest.fixture(scope="session")
def run_namespace(cluster: ClusterAccess, pytestconfig: pytest.Config) -> str:
    """A namespace for this run's probes, labelled with the run id (see ProbeSetup)."""
    require(cluster, CAN_RUN_PODS)
    return probe_setup(pytestconfig, cluster).namespace.result()


@pytest.fixture(scope="session")
def new_probe_runner(cluster: ClusterAccess, admin_api: Clients, run_namespace: str,
                     pytestconfig: pytest.Config) -> Callable[[], probes.ProbePods]:
    """A maker of probe-pod runners: the admin's, in the run namespace, with the run's probe
    image and --probe-timeout (for fixtures that keep their own pods)."""
    return lambda: probe_setup(pytestconfig, cluster).runner(admin_api)


@pytest.fixture(scope="session")
def probe_preflight(cluster: ClusterAccess, run_namespace: str,
                    pytestconfig: pytest.Config) -> None:
    """One probe pod each in the app and the run namespace, admitted, pulled and run, before
    any probe: if not, every probe test errors at once with the one reason (see ProbeSetup)."""
    probe_setup(pytestconfig, cluster).preflight.result()


@pytest.fixture
def probe_pods(probe_preflight: None, new_probe_runner: Callable[[], probes.ProbePods]
               ) -> Iterator[probes.ProbePods]:
    """A probe-pod runner in the run namespace; every pod it made is deleted afterwards."""
    runner = new_probe_runner()
    yield runner
    runner.delete_all()


@pytest.fixture(scope="session")
def node_hosts(cluster: ClusterAccess, admin_api: Clients, run_id: str,
               pytestconfig: pytest.Config) -> Iterator[list[tuple[NodeHost, Host]]]:
    """testinfra hosts of the cluster's nodes (skips when the target has no node access):
    local, SSH, or (--node-access pod) a node pod each, deleted at the end."""
    require(cluster, NODE_ACCESS)
    by_pod = [node.name for node in cluster.nodes if node.spec.startswith(nodepods.SPEC_PREFIX)]
    if not by_pod:
        yield [(node, hosts.host_for(node)) for node in cluster.nodes]
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    namespace = probes.create_run_namespace(admin_api.core, run_id,
                                            "nodes" + (f"-{worker}" if worker else ""),
                                            nodepods.PRIVILEGED)
    runner = probes.ProbePods(admin_api, namespace, run_id, cluster.probe_image,
                              pytestconfig.getoption("probe_timeout"))
    try:
        wait_for_default_account(admin_api, namespace)
        started = nodepods.start_node_pods(runner, by_pod)
        yield [(node, started[node.name]) for node in cluster.nodes]
    finally:
        runner.delete_all()
        probes.delete_namespace(admin_api.core, namespace)


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> Evidence:
    """The test's evidence recorder: evidence.add(label, value), evidence.canary(label)."""
    recorder = Evidence()
    request.node.stash[EVIDENCE] = recorder
    return recorder


@pytest.fixture
def control(request: pytest.FixtureRequest) -> catalogue.Control:
    """The catalogue record of the control this test proves."""
    return request.node.stash[CONTROL]
