"""Egress controls: the app reaches its one registered external host, and nothing else, not
even by IP (checklist item 11).

Probes run from pods in the app namespace, so they get the app's NetworkPolicies and egress
path (on a mesh, its sidecar); the registered host's answer is recognised by its known body,
never by a status code, so a proxy's error page cannot pass for it.
"""

from __future__ import annotations

import pytest
from egressprobe import Outcome, Request, enforcement, parse, polls, script

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.probes import IDLE, RUN_ID_LABEL
from kubeproof.targets.base import EGRESS_TEST_HOSTS, SERVICE_MESH, EgressHosts

MESH_UID = 1337  # Istio's proxy uid: its traffic is not redirected to the sidecar


@pytest.fixture
def egress(cluster) -> EgressHosts:
    """The target's external test hosts (skips, saying how to get them, when it has none)."""
    kubeproof.require(cluster, EGRESS_TEST_HOSTS)
    return cluster.egress


@pytest.fixture(scope="module")
def app_namespace_pods(request, cluster, new_probe_runner):
    """Probe pods in the app namespace, one per identity (uid, sidecar or not), shared by this
    module's tests; the app's own identity's is created at once (with the probe preflight's
    pods), the others when a test first needs them. Deleted at the end."""
    runner = new_probe_runner()
    created: dict[tuple[int | None, bool], object] = {}
    running: dict[tuple[int | None, bool], object] = {}

    def create(uid: int | None, no_sidecar: bool):
        container = {"env": [{"name": "CA_PEM", "value": cluster.egress.ca_pem}]}
        if uid is not None:
            container["securityContext"] = {"runAsUser": uid}
        pod = {"metadata": {"annotations": {"sidecar.istio.io/inject": "false"}}} \
            if no_sidecar else None
        created[uid, no_sidecar] = runner.create(
            runner.manifest("egress", IDLE, container=container, pod=pod), cluster.app_namespace)

    def pod_for(uid: int | None, no_sidecar: bool):
        if (uid, no_sidecar) not in running:
            if (uid, no_sidecar) not in created:
                create(uid, no_sidecar)
            running[uid, no_sidecar] = runner.running(created[uid, no_sidecar])
        return running[uid, no_sidecar]

    try:
        try:
            if cluster.has(EGRESS_TEST_HOSTS):
                create(None, False)
        finally:
            request.getfixturevalue("probe_preflight")  # its one reason comes first
        yield runner, pod_for
    finally:
        runner.delete_all()


@pytest.fixture
def from_app_namespace(cluster, egress, app_namespace_pods, evidence):
    """Runs curl requests in a probe pod of the app namespace; their outcomes by label."""
    runner, pod_for = app_namespace_pods

    def run(requests: list[Request], uid: int | None = None,
            no_sidecar: bool = False) -> dict[str, Outcome]:
        registered = f"http://{egress.registered}/"
        barrier = barrier_url(cluster, egress)
        text = script(requests, wait_for=registered, body=egress.bodies[egress.registered],
                      barrier=barrier, barrier_body=egress.bodies.get(egress.unregistered, ""))
        pod = pod_for(uid, no_sidecar)
        where = f"{pod.metadata.namespace}/{pod.metadata.name}"
        done = runner.exec(pod, ["sh", "-c", text])
        evidence.add("probe pod", f"{where} (uid {uid or 65534}"
                     f"{', sidecar injection off' if no_sidecar else ''}), shared by this "
                     f"module's tests; the requests below ran in it by exec; "
                     + WAITED[enforcement(done.stdout)].format(
                         url=registered, polls=polls(done.stdout), barrier=barrier)
                     + " (the enforcer programs a new pod's policies asynchronously)")
        outcomes = parse(done.stdout, requests, where)
        missing = [r.label for r in requests if r.label not in outcomes]
        if missing:
            raise kubeproof.Inconclusive(
                f"probe pod {where} reported no result for {missing} (exec exit "
                f"{done.exit_code}); output tail: {done.stdout[-400:]} {done.stderr[-200:]}")
        return outcomes

    return run


# What the probe's wait saw of its own egress policy, for the evidence.
WAITED = {
    "yes": "polled {url} {polls} time(s) until it answered while {barrier} was refused (the "
           "pod's own egress policy in force)",
    "no": "polled {url} {polls} time(s): it answered, but {barrier} was not refused within the "
          "grace (egress is not enforced)",
    "unknown": "polled {url} {polls} time(s) until it answered (no barrier: the target gives "
               "no address for the unregistered host)",
    "noanswer": "polled {url} {polls} time(s) until the deadline: it never answered",
    None: "the probe's log has no wait result",
}


def barrier_url(cluster, egress: EgressHosts) -> str:
    """The URL of the unregistered host's raw IP ("" when there is none): a request every
    hardened egress setup refuses, so its refusal shows the probe pod's own policy in force."""
    ip = cluster.external_hosts.get(egress.unregistered)
    return f"http://{ip}/" if ip and egress.unregistered in egress.bodies else ""


def canary(egress: EgressHosts) -> Request:
    """The registered host by name: the path the app itself uses."""
    return Request("canary", f"http://{egress.registered}/")


def check_canary(evidence, egress: EgressHosts, outcome: Outcome) -> None:
    """The same pod reaches the registered host, so a refusal is not a dead network."""
    with evidence.canary(f"the same pod reaches {egress.registered} by name",
                         guard=f"pod {outcome.pod}"):
        evidence.add("canary request", str(outcome))
        assert outcome.reached(egress.bodies[egress.registered]), str(outcome)


def expect_blocked(evidence, egress: EgressHosts, outcome: Outcome, host: str,
                   gateway: str) -> None:
    """The request did not get the host's answer; the evidence names what refused it."""
    __tracebackhide__ = True
    reached = outcome.reached(egress.bodies[host])
    if not reached:
        evidence.add("refused by", outcome.refusal(gateway))
    kubeproof.expect_denied(evidence, f"{outcome.request} (from the app namespace)",
                            denied=not reached, detail=str(outcome), guard=f"pod {outcome.pod}")


# ---- egress.registered-host-allowed ---------------------------------------------------------

def app_pod_with_target(cluster, admin_api):
    """A running app pod (not a probe) whose container fetches TARGET_URL, with its port."""
    pods = admin_api.core.list_namespaced_pod(cluster.app_namespace,
                                              label_selector=f"!{RUN_ID_LABEL}",
                                              _request_timeout=REQUEST_TIMEOUT).items
    for pod in pods:
        if pod.status.phase != "Running":
            continue
        for container in pod.spec.containers:
            env = {e.name: e.value for e in container.env or []}
            if "TARGET_URL" in env and container.ports:
                return pod, container.ports[0].container_port, env["TARGET_URL"]
    raise kubeproof.Inconclusive(
        f"no running app pod in {cluster.app_namespace} with a TARGET_URL and a port (pods: "
        f"{[p.metadata.name for p in pods]}): the demo app's / endpoint is the egress probe")


@kubeproof.control("egress.registered-host-allowed")
def test_app_reaches_registered_host(cluster, admin_api, egress, evidence):
    """The app pod reaches the external host registered by a ServiceEntry."""
    pod, port, target = app_pod_with_target(cluster, admin_api)
    evidence.add("app pod", f"{pod.metadata.namespace}/{pod.metadata.name}, TARGET_URL={target}")
    if egress.registered not in target:
        raise kubeproof.Inconclusive(f"the app fetches {target}, not the registered test host "
                                     f"{egress.registered}")
    proxy = (f"/api/v1/namespaces/{pod.metadata.namespace}/pods/"
             f"{pod.metadata.name}:{port}/proxy")
    with evidence.canary("the app answers /healthz through the API server's pod proxy"):
        health = admin_api.request("GET", f"{proxy}/healthz")
        evidence.add("healthz", f"{health.request} -> {health.status}")
        assert health.status == 200, f"{health.request} -> {health.status} {health.message}"
    fetched = admin_api.request("GET", f"{proxy}/")
    body = fetched.body if isinstance(fetched.body, str) else str(fetched.body)
    evidence.add("the app's fetch of TARGET_URL", f"{fetched.request} -> {fetched.status}: "
                 f"{body.strip()[:200]}")
    assert fetched.status == 200 and egress.bodies[egress.registered].strip() in body, (
        f"the app did not get the registered host's answer: {fetched.request} -> "
        f"{fetched.status}: {body.strip()[:300]}")


@kubeproof.control("egress.registered-host-allowed")
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_app_namespace_reaches_registered_host(egress, from_app_namespace, evidence, scheme):
    """The app pod reaches the external host registered by a ServiceEntry."""
    request = Request("registered", f"{scheme}://{egress.registered}/")
    with evidence.canary("a probe pod runs in the app namespace and reports its request"):
        outcome = from_app_namespace([request])["registered"]
    evidence.add("request", str(outcome))
    assert outcome.reached(egress.bodies[egress.registered]), (
        f"the registered host did not answer: {outcome}; refused by: {outcome.refusal()}")


# ---- egress.unregistered-host-blocked -------------------------------------------------------

def unregistered_requests(egress: EgressHosts) -> dict[str, Request]:
    bad, good = egress.unregistered, egress.registered
    return {
        "http-by-name": Request("attempt", f"http://{bad}/"),
        "https-by-name": Request("attempt", f"https://{bad}/"),
        "http-via-registered-path": Request(
            "attempt", f"http://{bad}/", ("--connect-to", f"{bad}:80:{good}:80")),
        "https-via-registered-path": Request(
            "attempt", f"https://{bad}/", ("--connect-to", f"{bad}:443:{good}:443")),
    }


@kubeproof.control("egress.unregistered-host-blocked")
@pytest.mark.parametrize("case", ["http-by-name", "https-by-name", "http-via-registered-path",
                                  "https-via-registered-path"])
def test_unregistered_host_is_blocked(egress, from_app_namespace, evidence, case):
    """An unregistered external host is unreachable from the app pod."""
    request = unregistered_requests(egress)[case]
    outcomes = from_app_namespace([canary(egress), request])
    check_canary(evidence, egress, outcomes["canary"])
    expect_blocked(evidence, egress, outcomes["attempt"], egress.unregistered,
                   outcomes["canary"].remote)


# ---- egress.ip-bypass-blocked ---------------------------------------------------------------

BYPASSES = {
    # case: (target host role, request builder, probe pod options)
    "registered-ip-with-host-header": ("registered", lambda e, ip: Request(
        "attempt", f"http://{ip[e.registered]}/", ("-H", f"Host: {e.registered}")), {}),
    "registered-ip-with-tls-sni": ("registered", lambda e, ip: Request(
        "attempt", f"https://{e.registered}/",
        ("--resolve", f"{e.registered}:443:{ip[e.registered]}")), {}),
    "unregistered-raw-ip": ("unregistered", lambda e, ip: Request(
        "attempt", f"http://{ip[e.unregistered]}/"), {}),
    "pod-without-sidecar": ("registered", lambda e, ip: Request(
        "attempt", f"http://{ip[e.registered]}/", ("-H", f"Host: {e.registered}")),
        {"no_sidecar": True}),
    "as-proxy-uid-1337": ("registered", lambda e, ip: Request(
        "attempt", f"http://{ip[e.registered]}/", ("-H", f"Host: {e.registered}")),
        {"uid": MESH_UID}),
}


# Cases that bypass a sidecar: they mean something only where the app pods have one.
SIDECAR_BYPASSES = {"pod-without-sidecar", "as-proxy-uid-1337"}


@kubeproof.control("egress.ip-bypass-blocked")
@pytest.mark.parametrize("case", list(BYPASSES))
def test_ip_bypass_is_blocked(cluster, egress, from_app_namespace, evidence, case):
    """Requests to raw IP addresses, with or without a registered Host header, do not leave."""
    if case in SIDECAR_BYPASSES:
        kubeproof.require(cluster, SERVICE_MESH)
    role, build, options = BYPASSES[case]
    host = egress.registered if role == "registered" else egress.unregistered
    if host not in cluster.external_hosts:
        raise kubeproof.Inconclusive(f"the target gives no address for {host}")
    request = build(egress, cluster.external_hosts)
    outcomes = from_app_namespace([canary(egress), request], **options)
    check_canary(evidence, egress, outcomes["canary"])
    expect_blocked(evidence, egress, outcomes["attempt"], host, outcomes["canary"].remote)

