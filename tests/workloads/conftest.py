"""Fixtures of the workload controls: the app's pods, pod-security admission as the app user,
and a node's view of a running container (its host process)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from kubernetes import client

from kubeproof import probes
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.podsecurity import PSA_LABEL
from kubeproof.probes import RUN_ID_LABEL
from kubeproof.verdicts import Inconclusive, expect_denied

# How an admission rejection names the policy that refused it: (pattern, label template).
_REFUSERS = (
    (r'violates PodSecurity "([^"]+)"', "Pod Security Admission {0}"),
    (r"PodSecurityPolicy|pod security polic", "PodSecurityPolicy"),
    (r"ValidatingAdmissionPolicy '([^']+)'", "ValidatingAdmissionPolicy {0}"),
    (r'admission webhook "([^"]+)" denied', "admission webhook {0}"),
)


@dataclass(frozen=True)
class PodSecurity:
    """The pod-security mechanisms the cluster has, as seen from the app namespace."""

    namespace: str
    server_version: str
    psa_labels: dict[str, str]
    psp_served: bool

    @property
    def psa_enforce(self) -> str | None:
        """The namespace's PSA enforce level and version (None without the label)."""
        level = self.psa_labels.get(PSA_LABEL + "enforce")
        if level is None:
            return None
        return f"{level}:{self.psa_labels.get(PSA_LABEL + 'enforce-version', 'latest')}"

    def describe(self) -> str:
        """The mechanisms as one line of evidence."""
        psa = (f"Pod Security Admission: namespace {self.namespace} enforce={self.psa_enforce}"
               if self.psa_enforce else
               f"Pod Security Admission: no enforce label on namespace {self.namespace}")
        psp = ("PodSecurityPolicy API: served" if self.psp_served else
               "PodSecurityPolicy API: not served (removed in Kubernetes 1.25)")
        return f"Kubernetes {self.server_version}; {psa}; {psp}"

    @staticmethod
    def refused_by(message: str) -> str | None:
        """The admission policy a rejection message names, or None."""
        for pattern, label in _REFUSERS:
            match = re.search(pattern, message, re.IGNORECASE)
            if match:
                return label.format(*match.groups())
        return None

    def expect_rejected(self, evidence, what: str, admission: probes.Admission,
                        violation: str, guard: str) -> str:
        """Assert admission refused a pod for `violation`, naming the refusing policy (which is
        returned). Admitted is a fail; refused for another reason, or by nothing that names a
        policy (a validation error, RBAC), proves nothing: Inconclusive. guard: the runner's
        admission_guard, which a canary admission must have passed."""
        __tracebackhide__ = True
        expect_denied(evidence, what, denied=not admission.admitted, detail=str(admission),
                      guard=guard)
        policy = self.refused_by(admission.message)
        if policy is None:
            raise Inconclusive(f"{what}: refused, but not by a named admission policy "
                               f"({admission}): the probe manifest itself may be invalid")
        squashed = admission.message.replace(" ", "").lower()
        if violation.lower() not in squashed:
            raise Inconclusive(f"{what}: {policy} refused the pod, but not for {violation}: "
                               f"{admission.message}")
        evidence.add("refused by", policy)
        return policy


@pytest.fixture(scope="session")
def pod_security(cluster, admin_api) -> PodSecurity:
    """Which of PSA and PSP the cluster has (for the evidence of admission controls)."""
    try:
        namespace = admin_api.core.read_namespace(cluster.app_namespace,
                                                  _request_timeout=REQUEST_TIMEOUT)
        version = client.VersionApi(admin_api.api).get_code(_request_timeout=REQUEST_TIMEOUT)
    except client.ApiException as exc:
        raise Inconclusive(f"cannot read namespace {cluster.app_namespace} or the server "
                           f"version: {exc.status} {exc.reason}") from exc
    policy_api = admin_api.request("GET", "/apis/policy/v1beta1")
    psp = policy_api.status == 200 and any(
        r.get("name") == "podsecuritypolicies" for r in policy_api.body.get("resources", []))
    labels = {k: v for k, v in (namespace.metadata.labels or {}).items()
              if k.startswith(PSA_LABEL)}
    return PodSecurity(cluster.app_namespace, version.git_version, labels, psp)


@pytest.fixture
def app_admission(cluster, app_api, run_id) -> probes.ProbePods:
    """Server-side dry-run admission of probe pods in the app namespace, as the app user
    (PSP decisions depend on who asks; nothing is created)."""
    return probes.ProbePods(app_api, cluster.app_namespace, run_id, cluster.probe_image)


@pytest.fixture
def compliant_admission(app_admission, evidence) -> probes.Admission:
    """Canary: a restricted-compliant probe pod (its image pinned by digest) is admitted
    (dry run) for the app user; every admission refusal in the app namespace stands by it."""
    with evidence.canary(f"a restricted-compliant pod with image {app_admission.image} is "
                         f"admitted for the app user (dry run)",
                         guard=app_admission.admission_guard):
        admission = app_admission.admit(app_admission.manifest("kp-compliant", ["true"]))
        evidence.add("compliant pod", str(admission))
        assert admission.admitted, str(admission)
    return admission


@pytest.fixture
def app_pods(cluster, admin_api) -> list[client.V1Pod]:
    """The running pods of the app namespace (probe pods excluded); none is Inconclusive."""
    pods = admin_api.core.list_namespaced_pod(
        cluster.app_namespace, label_selector=f"!{RUN_ID_LABEL}",
        _request_timeout=REQUEST_TIMEOUT).items
    running = [p for p in pods if p.status and p.status.phase == "Running"]
    if not running:
        raise Inconclusive(f"no running app pods in namespace {cluster.app_namespace}: "
                           f"nothing to check (pods seen: {[p.metadata.name for p in pods]})")
    return running


@dataclass(frozen=True)
class AppContainer:
    """One container of an app pod."""

    pod: client.V1Pod
    container: client.V1Container
    init: bool

    @property
    def name(self) -> str:
        return f"{self.pod.metadata.name}/{self.container.name}"


@pytest.fixture
def app_containers(app_pods) -> list[AppContainer]:
    """Every container of the app's running pods, init containers included."""
    return [AppContainer(pod, c, init) for pod in app_pods
            for init, group in ((True, pod.spec.init_containers), (False, pod.spec.containers))
            for c in group or []]


@dataclass(frozen=True)
class ContainerProcess:
    """A running container's main process as its node sees it."""

    node: str
    pid: int
    status: dict[str, str]
    host: object

    def uid_inside(self) -> int:
        """The process's real uid inside the container's user namespace."""
        host_uid = int(self.status["Uid"].split()[0])
        uid_map = self.host.run("cat /proc/%s/uid_map", str(self.pid)).stdout
        for line in uid_map.splitlines():
            inside, outside, length = (int(x) for x in line.split())
            if outside <= host_uid < outside + length:
                return inside + host_uid - outside
        raise Inconclusive(f"uid {host_uid} of pid {self.pid} on {self.node} is not mapped "
                           f"in its user namespace: {uid_map!r}")


def read_status(host, pid: int) -> dict[str, str]:
    """/proc/PID/status as {field: value}."""
    text = host.run("cat /proc/%s/status", str(pid)).stdout
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in
                                                 text.splitlines())}


@pytest.fixture
def container_process(node_hosts) -> Callable[[client.V1Pod, str], ContainerProcess]:
    """find(pod, container) -> the container's main process on its node, found by the
    container id in /proc/*/cgroup (cgroupfs and systemd drivers both name it there)."""

    def find(pod: client.V1Pod, container: str) -> ContainerProcess:
        status = next((s for s in pod.status.container_statuses or [] if s.name == container),
                      None)
        if status is None or not status.container_id or not status.state.running:
            raise Inconclusive(f"container {container} of pod {pod.metadata.name} is not "
                               f"running: {status}")
        cid = status.container_id.split("://", 1)[-1]
        ordered = sorted(node_hosts, key=lambda nh: nh[0].name != pod.spec.node_name)
        for node, host in ordered:
            found = host.run("grep -l -- %s /proc/[0-9]*/cgroup 2>/dev/null", cid).stdout
            pids = {int(path.split("/")[2]) for path in found.split()}
            statuses = {pid: read_status(host, pid) for pid in pids}
            roots = [pid for pid, st in statuses.items()
                     if st.get("PPid") and int(st["PPid"]) not in pids]
            if roots:
                pid = min(roots)
                return ContainerProcess(node.name, pid, statuses[pid], host)
        raise Inconclusive(f"no process of container {container} ({cid[:12]}) of pod "
                           f"{pod.metadata.name} found on nodes "
                           f"{[n.name for n, _ in node_hosts]}")

    return find


@pytest.fixture
def app_processes(cluster, app_containers, container_process, evidence) -> list:
    """(container, its main process on the node) for every running app container; finding
    each process is the canary (skips without node access)."""
    import kubeproof
    from kubeproof.targets.base import NODE_ACCESS

    kubeproof.require(cluster, NODE_ACCESS)
    found = []
    for ac in (ac for ac in app_containers if not ac.init):
        with evidence.canary(f"the node shows the main process of {ac.name}"):
            found.append((ac, container_process(ac.pod, ac.container.name)))
    return found
