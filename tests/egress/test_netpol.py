"""Network policies: default deny in every application namespace, enforced by the CNI (item 9).

An application namespace is one that is not kube-*, not a kubeproof run namespace (labelled
kubeproof.io/run-id), and runs workload pods (probe pods aside); the app namespace always is.
"""

from __future__ import annotations

import pytest

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.probes import IDLE, RUN_ID_LABEL

CONNECT = "curl -sS -o /dev/null --connect-timeout 2 -m 3 http://{}:{}/"
REFUSED_CURL_EXITS = {7, 28}  # connection refused / rejected, connect timeout (dropped)
LISTENER = {"command": ["httpd", "-f", "-p", "8080", "-h", "/tmp"], "container": {
    "ports": [{"containerPort": 8080}],
    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}}
CLIENT = {"command": IDLE}
# The enforcer programs a new pod's own chain asynchronously (kube-router fills its peers' sets
# first, see egressprobe.py), and until then the pod is not filtered at all. Before the module's
# probes run, the app-namespace client therefore polls the run namespace's listener, which its
# egress default deny must refuse, until it is refused (curl exit 7 or 28, the refusals
# expect_blocked counts: its policy is then in force) or SETTLE_GRACE seconds have passed
# (egress is not enforced; the tests judge what they see).
SETTLE_GRACE = 8
SETTLE = r"""
tries=0; end=$(( $(date +%s) + {grace} ))
while [ "$(date +%s)" -lt "$end" ]; do
  tries=$((tries + 1))
  curl -s -o /dev/null --connect-timeout 1 -m 2 http://{ip}:8080/
  case $? in 7|28) echo "yes $tries"; exit 0 ;; esac  # refused or dropped, as expect_blocked
  sleep 0.3
done
echo "no $tries"
"""


def application_namespaces(admin_api, app_namespace: str) -> list[str]:
    """The application namespaces (see the module docstring)."""
    names = {app_namespace}
    run_namespaces = {ns.metadata.name for ns in admin_api.core.list_namespace(
        label_selector=RUN_ID_LABEL, _request_timeout=REQUEST_TIMEOUT).items}
    for pod in admin_api.core.list_pod_for_all_namespaces(
            label_selector=f"!{RUN_ID_LABEL}", _request_timeout=REQUEST_TIMEOUT).items:
        ns = pod.metadata.namespace
        if not ns.startswith("kube-") and ns not in run_namespaces:
            names.add(ns)
    return sorted(names)


def selects_all(policy) -> bool:
    """Whether a NetworkPolicy applies to every pod of its namespace."""
    selector = policy.spec.pod_selector
    return not (selector.match_labels or selector.match_expressions)


def denies_all(policy, direction: str) -> bool:
    """Whether a policy is a default deny for a direction (all pods, that type, no rules)."""
    rules = policy.spec.ingress if direction == "Ingress" else policy.spec.egress
    return selects_all(policy) and direction in (policy.spec.policy_types or []) and not rules


def allows_dns(policy) -> bool:
    """Whether a policy lets every pod send DNS queries (UDP 53, by number or name 'dns')."""
    if not selects_all(policy) or "Egress" not in (policy.spec.policy_types or []):
        return False
    return any((p.protocol or "TCP") == "UDP" and str(p.port) in ("53", "dns")
               for rule in policy.spec.egress or [] for p in rule.ports or [])


CHECKS = {
    "ingress-default-deny": lambda p: denies_all(p, "Ingress"),
    "egress-default-deny": lambda p: denies_all(p, "Egress"),
    "dns-allowed": allows_dns,
}


@kubeproof.control("netpol.default-deny")
@pytest.mark.parametrize("check", list(CHECKS))
def test_application_namespaces_have_default_deny(cluster, admin_api, evidence, check):
    """Every application namespace has a default-deny ingress and egress policy allowing DNS."""
    with evidence.canary("the namespaces, pods and network policies can be listed"):
        namespaces = application_namespaces(admin_api, cluster.app_namespace)
        policies = {ns: admin_api.networking.list_namespaced_network_policy(
            ns, _request_timeout=REQUEST_TIMEOUT).items for ns in namespaces}
    evidence.add("application namespaces and their policies",
                 {ns: [p.metadata.name for p in items] for ns, items in policies.items()})
    found = {ns: [p.metadata.name for p in items if CHECKS[check](p)]
             for ns, items in policies.items()}
    evidence.add(f"policies that are {check}", found)
    missing = [ns for ns, names in found.items() if not names]
    assert not missing, f"application namespaces without a {check} NetworkPolicy: {missing}"


@pytest.fixture(scope="module")
def netpol_pods(request, cluster, run_namespace, new_probe_runner):
    """A listener and a client in the run namespace and a client in the app namespace, created
    at once (with the probe preflight's pods) and shared by this module's probes; deleted at
    the end of the module."""
    runner = new_probe_runner()
    wanted = {"listener": (run_namespace, LISTENER), "client": (run_namespace, CLIENT),
              "app-ns-client": (cluster.app_namespace, CLIENT)}
    try:
        try:
            created = {key: runner.create(runner.manifest(
                f"kp-netpol-{key}", spec["command"], container=spec.get("container")),
                namespace) for key, (namespace, spec) in wanted.items()}
        finally:
            request.getfixturevalue("probe_preflight")  # its one reason comes first
        running = {key: runner.wait(pod, "running") for key, pod in created.items()}
        stopped = {key: pod.status.phase for key, pod in running.items()
                   if pod.status.phase != "Running"}
        if stopped:
            raise kubeproof.Inconclusive(f"probe pods ended before running: {stopped}")
        yield runner, running, settle(runner, running["app-ns-client"],
                                      running["listener"].status.pod_ip)
    finally:
        runner.delete_all()


def settle(runner, client, listener_ip: str) -> str:
    """Wait (bounded) until the client's own egress policy refuses the listener; what the wait
    saw, for the evidence."""
    command = ["sh", "-c", SETTLE.format(grace=SETTLE_GRACE, ip=listener_ip)]
    enforced, tries = [*runner.exec(client, command, timeout=SETTLE_GRACE + 10).stdout.split(),
                       "?", "?"][:2]
    where = f"{client.metadata.namespace}/{client.metadata.name}"
    if enforced == "yes":
        return (f"{where} polled {listener_ip}:8080 {tries} time(s) until refused: its own "
                f"policy was in force before the probes ran")
    if enforced == "no":
        return (f"{where} was not refused by {listener_ip}:8080 within {SETTLE_GRACE} s "
                f"({tries} polls): no egress policy refuses it; the probes ran anyway")
    return f"{where}: the wait printed no result; the probes ran anyway"


def connect(probe_pods, evidence, client, ip: str, port: int) -> int:
    """Try a TCP/HTTP connection from a client pod; curl's exit code (0: connected)."""
    command = ["sh", "-c", CONNECT.format(ip, port)]
    result = probe_pods.exec(client, command, timeout=15)
    evidence.add(f"{client.metadata.namespace}/{client.metadata.name} -> {ip}:{port}",
                 f"curl exit {result.exit_code} {result.stderr.strip() or result.stdout.strip()}")
    return result.exit_code


def resolve(probe_pods, evidence, client) -> tuple[bool, str]:
    """Resolve kubernetes.default.svc.<cluster domain> from a client pod."""
    resolv = probe_pods.exec(client, ["cat", "/etc/resolv.conf"]).stdout
    search = next((line.split()[1:] for line in resolv.splitlines()
                   if line.startswith("search")), [])
    domain = next((s.split(".", 1)[1] for s in search if s.startswith("svc.")), "cluster.local")
    name = f"kubernetes.default.svc.{domain}"
    result = probe_pods.exec(client, ["timeout", "3", "nslookup", name], timeout=15)
    answer = (result.stdout + result.stderr).strip()
    evidence.add(f"DNS {name} from {client.metadata.namespace}/{client.metadata.name}",
                 f"exit {result.exit_code}: {answer}")
    return result.exit_code == 0 and "Address" in answer.split(name, 1)[-1], answer


def listens(ip: str, port: int) -> str:
    """The guard of a canary showing that something listens at ip:port."""
    return f"{ip}:{port} listens"


def has_network(pod) -> str:
    """The guard of a canary showing that a pod's network works."""
    return f"pod {pod.metadata.namespace}/{pod.metadata.name} has a network"


def expect_blocked(evidence, what: str, code: int, guard: tuple[str, str]) -> None:
    """A connection attempt must not have connected; an unexpected curl error is Inconclusive.
    guard: the canaries that the target listens and the client has a network."""
    __tracebackhide__ = True
    if code not in REFUSED_CURL_EXITS | {0}:
        raise kubeproof.Inconclusive(f"{what}: curl failed with exit {code}, which is neither "
                                     f"a connection nor a refusal")
    kubeproof.expect_denied(evidence, what, denied=code != 0, detail=f"curl exit {code}",
                            guard=guard)


def app_target(admin_api, namespace: str) -> tuple[str, str, int]:
    """A ready app pod's name, IP and first container port (8080 if none is declared)."""
    for pod in admin_api.core.list_namespaced_pod(
            namespace, label_selector=f"!{RUN_ID_LABEL}", _request_timeout=REQUEST_TIMEOUT).items:
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        if ready and pod.status.pod_ip:
            ports = [p.container_port for c in pod.spec.containers for p in c.ports or []]
            return pod.metadata.name, pod.status.pod_ip, (ports or [8080])[0]
    raise kubeproof.Inconclusive(f"no ready app pod with an IP in {namespace}")


@kubeproof.control("netpol.enforced")
def test_other_namespace_cannot_reach_the_app(cluster, admin_api, netpol_pods, run_namespace,
                                              evidence):
    """A pod in another namespace cannot reach the app's pod (its ingress is denied)."""
    name, ip, port = app_target(admin_api, cluster.app_namespace)
    evidence.add("app pod", f"{cluster.app_namespace}/{name} {ip}:{port}")
    with evidence.canary(f"the app pod listens on {port}: the API server's pod proxy reaches "
                         f"it (an allowed path), so a refused connection is the policy's",
                         guard=listens(ip, port)):
        answer = admin_api.request(
            "GET", f"/api/v1/namespaces/{cluster.app_namespace}/pods/{name}:{port}/proxy/")
        evidence.add("through the pod proxy", f"{answer.request} -> {answer.status}")
        # The proxy's own failure (nothing listens there) is a Status object; whatever the
        # pod answers, even an error of its own, shows that it listens.
        proxy_failed = isinstance(answer.body, dict) and answer.body.get("kind") == "Status" \
            and answer.status >= 500
        assert not proxy_failed, f"{answer.request} -> {answer.status} {answer.message}"
    probe_pods, pods, _ = netpol_pods
    with evidence.canary(f"the client reaches a listener pod in {run_namespace}",
                         guard=has_network(pods["client"])):
        assert connect(probe_pods, evidence, pods["client"], pods["listener"].status.pod_ip,
                       8080) == 0
    code = connect(probe_pods, evidence, pods["client"], ip, port)
    expect_blocked(evidence, f"{run_namespace} -> app pod {ip}:{port}", code,
                   (listens(ip, port), has_network(pods["client"])))


@kubeproof.control("netpol.enforced")
def test_app_namespace_cannot_reach_an_arbitrary_pod(cluster, netpol_pods, run_namespace,
                                                    evidence):
    """A pod in the app namespace cannot reach a pod in another namespace (egress denied)."""
    probe_pods, pods, settled = netpol_pods
    evidence.add("wait for the app-namespace client's own policy", settled)
    listener_ip = pods["listener"].status.pod_ip
    with evidence.canary(f"a client in {run_namespace} reaches the listener {listener_ip}",
                         guard=listens(listener_ip, 8080)):
        assert connect(probe_pods, evidence, pods["client"], listener_ip, 8080) == 0
    with evidence.canary(f"the client in {cluster.app_namespace} has a network (DNS resolves)",
                         guard=has_network(pods["app-ns-client"])):
        ok, answer = resolve(probe_pods, evidence, pods["app-ns-client"])
        assert ok, answer
    code = connect(probe_pods, evidence, pods["app-ns-client"], listener_ip, 8080)
    expect_blocked(evidence, f"{cluster.app_namespace} -> listener {listener_ip}:8080", code,
                   (listens(listener_ip, 8080), has_network(pods["app-ns-client"])))


@kubeproof.control("netpol.enforced")
def test_dns_resolves_from_the_app_namespace(cluster, netpol_pods, run_namespace, evidence):
    """DNS still resolves from the app namespace under its policies."""
    probe_pods, pods, settled = netpol_pods
    evidence.add("wait for the app-namespace client's own policy", settled)
    with evidence.canary(f"DNS resolves from {run_namespace} (no policies)"):
        ok, answer = resolve(probe_pods, evidence, pods["client"])
        assert ok, answer
    ok, answer = resolve(probe_pods, evidence, pods["app-ns-client"])
    assert ok, f"DNS does not resolve from {cluster.app_namespace}: {answer}"
