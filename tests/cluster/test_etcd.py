"""etcd isolation: client certificates required, none of the cluster CA's accepted, ports
unreachable from workloads (item 4)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest
import requests

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.targets.base import ETCD_ACCESS

# The canary: the API server through its Service, with the same tool as the probes.
CANARY = ("kubernetes.default.svc", 443)
REFUSED = ("refused", "timed out", "timeout", "unreachable", "no route")


# How a TLS server that refuses a client certificate ends the connection: an alert in the
# handshake, or (TLS 1.3, after it) a reset; a refused connection or a timeout says nothing.
TLS_REFUSALS = ("alert", "certificate", "connection reset", "connection aborted")


def _get(url: str, etcd, cert: tuple[str, str] | None) -> requests.Response | Exception:
    """GET url on etcd with a client certificate (or none); the TLS or connection error
    it ended in otherwise."""
    try:
        return requests.get(url, cert=cert, verify=str(etcd.ca_file), timeout=REQUEST_TIMEOUT)
    except requests.RequestException as exc:
        return exc


def _refused_in_tls(answer: requests.Response | Exception) -> bool:
    """Whether etcd refused the client in TLS (False: it answered); any other failure
    (refused connection, timeout) is Inconclusive."""
    if isinstance(answer, requests.Response):
        return False
    if isinstance(answer, requests.exceptions.SSLError) or any(
            word in str(answer).lower() for word in TLS_REFUSALS):
        return True
    raise kubeproof.Inconclusive(f"etcd neither answered nor refused in TLS: {answer}")


def _detail(answer: requests.Response | Exception) -> str:
    if isinstance(answer, requests.Response):
        return f"{answer.status_code} {answer.text[:200]!r}"
    return f"refused in TLS: {answer}"


@kubeproof.control("etcd.isolated")
def test_etcd_requires_client_certificate(cluster, evidence):
    """etcd refuses a TLS client that presents no client certificate."""
    kubeproof.require(cluster, ETCD_ACCESS)
    etcd = cluster.etcd
    url = f"{etcd.endpoint}/version"
    with evidence.canary(f"GET {url} with the client certificate {etcd.cert_file.name}",
                         guard=f"etcd {url}"):
        served = requests.get(url, cert=(str(etcd.cert_file), str(etcd.key_file)),
                              verify=str(etcd.ca_file), timeout=REQUEST_TIMEOUT)
        evidence.add("with client certificate", f"{served.status_code} {served.text[:120]}")
        assert served.status_code == 200, served.status_code
    bare = _get(url, etcd, None)
    kubeproof.expect_denied(evidence, f"GET {url} without a client certificate",
                            denied=_refused_in_tls(bare), detail=_detail(bare),
                            guard=f"etcd {url}")


@kubeproof.control("cis.etcd")
def test_etcd_refuses_client_certificates_of_the_cluster_ca(cluster, admin_api, evidence):
    """etcd refuses the admin identity's client certificate, which the cluster CA signed: it
    trusts a CA of its own (CIS 2.7), so no certificate the cluster CA issues reaches etcd."""
    kubeproof.require(cluster, ETCD_ACCESS)
    etcd = cluster.etcd
    url = f"{etcd.endpoint}/version"
    configuration = admin_api.api.configuration
    if not (configuration.cert_file and configuration.key_file):
        raise kubeproof.Inconclusive(f"the admin kubeconfig {cluster.admin.kubeconfig} holds "
                                     f"no client certificate: none of the cluster CA's to try")
    guard = f"etcd {url}"
    with evidence.canary(f"GET {url} with etcd's client certificate {etcd.cert_file.name}",
                         guard=guard):
        served = _get(url, etcd, (str(etcd.cert_file), str(etcd.key_file)))
        assert isinstance(served, requests.Response) and served.status_code == 200, served
    with evidence.canary("the admin identity's client certificate authenticates to the API "
                         "server", guard=guard):
        review = admin_api.self_review()
        assert review.status == 201, f"SelfSubjectReview -> {review.status}"
    answer = _get(url, etcd, (configuration.cert_file, configuration.key_file))
    kubeproof.expect_denied(evidence, f"GET {url} with the admin identity's client "
                            f"certificate (cluster CA)", denied=_refused_in_tls(answer),
                            detail=_detail(answer), guard=guard)


def _hosts_and_client_port(cluster, admin_api, flags: dict[str, str]
                           ) -> tuple[list[str], int]:
    """Where etcd may be found from a pod: every node address, etcd's own non-loopback
    addresses, and 127.0.0.1; and etcd's client port."""
    hosts: list[str] = []
    for node in admin_api.core.list_node(_request_timeout=REQUEST_TIMEOUT).items:
        hosts += [a.address for a in node.status.addresses or []
                  if a.type in ("InternalIP", "ExternalIP")]
    urls = [cluster.etcd.endpoint] if cluster.etcd else []
    urls += flags.get("etcd-servers", "").split(",")
    port = 2379
    for url in filter(None, urls):
        parts = urlsplit(url.strip())
        port = parts.port or port
        try:
            if not ipaddress.ip_address(parts.hostname).is_loopback:
                hosts.append(parts.hostname)
        except ValueError:
            hosts.append(parts.hostname)  # a DNS name: let the pod resolve it
    hosts.append("127.0.0.1")
    return list(dict.fromkeys(hosts)), port


def _script(targets: list[tuple[str, int]]) -> str:
    """The probe: TCP connects (busybox nc, in any probe image) to the canary and to each
    target, all at once; one line each with nc's exit code and message."""
    return "\n".join(
        f"(out=$(nc -w 3 {host} {port} </dev/null 2>&1); echo \"{tag} {host}:{port} rc=$? $out\") &"
        for tag, (host, port) in [("CANARY", CANARY)] + [("PROBE", t) for t in targets]
    ) + "\nwait"


def _parse(log: str) -> dict[str, tuple[int, str]]:
    """{host:port: (nc exit code, its message)} from the probe's log."""
    results = {}
    for line in log.splitlines():
        words = line.split(" ", 3)
        if len(words) >= 3 and words[0] in ("CANARY", "PROBE") and words[2].startswith("rc="):
            results[words[1]] = (int(words[2][3:]), words[3] if len(words) > 3 else "")
    return results


@pytest.fixture(scope="module")
def etcd_probe(probe_preflight, new_probe_runner):
    """One probe pod for both of etcd's ports: etcd_probe(command) -> the PodRun of the pod
    that ran it (started at the first call, shared by the calls with the same command)."""
    runner = new_probe_runner()
    runs = {}

    def run(command: list[str]):
        if tuple(command) not in runs:
            runs[tuple(command)] = runner.run("etcd", command)
        return runs[tuple(command)]

    yield run
    runner.delete_all()


@kubeproof.control("etcd.isolated")
@pytest.mark.parametrize("port", ["client", "peer"])
def test_workload_pod_cannot_reach_etcd(cluster, admin_api, known_flags, etcd_probe, evidence,
                                       port):
    """A workload pod cannot open a connection to etcd's client or peer port."""
    hosts, client_port = _hosts_and_client_port(cluster, admin_api,
                                                known_flags("kube-apiserver"))
    number = client_port if port == "client" else 2380
    command = ["sh", "-c", _script([(host, p) for p in (client_port, 2380) for host in hosts])]
    run = etcd_probe(command)
    evidence.add("probe pod", f"{run.namespace}/{run.name} phase={run.phase} "
                              f"exit={run.exit_code}")
    evidence.add("probe command", command)
    evidence.add("probe log", run.logs)
    results = _parse(run.logs)
    canary = "{}:{}".format(*CANARY)
    pod = f"pod {run.namespace}/{run.name}"
    with evidence.canary(f"the same pod connects to the API server's Service {canary}",
                         guard=pod):
        assert canary in results, f"no canary line in the probe's log: {run.logs[-300:]}"
        assert results[canary][0] == 0, f"nc {canary}: rc {results[canary][0]} " \
                                        f"{results[canary][1]}"
    reached, unclear = [], []
    for target in (f"{host}:{number}" for host in hosts):
        rc, message = results.get(target, (None, "no result line"))
        if rc == 0:
            reached.append(target)
        elif rc is None or not any(word in message.lower() for word in REFUSED):
            unclear.append(f"{target} rc={rc} {message}")
    if unclear and not reached:
        raise kubeproof.Inconclusive(f"the probe could not tell whether etcd is reachable: "
                                     f"{unclear}")
    kubeproof.expect_denied(evidence, f"TCP connections to etcd's {port} port {number}",
                            denied=not reached,
                            detail={"reached": reached or "none",
                                    "tried": [f"{h}:{number}" for h in hosts]}, guard=pod)
