"""The local reference cluster: real components, pinned versions, hardened, and a clean teardown."""

from __future__ import annotations

import json

from kubeproof.localcluster import imagepolicy, leftovers, network, testhosts
from kubeproof.localcluster import layout as L
from kubeproof.localcluster.readiness import dns_query
from kubeproof.localcluster.shell import run


def test_api_server_reports_the_pinned_kubernetes_version(local_cluster):
    version = json.loads(local_cluster.kubectl("version", "-o", "json"))
    expected = local_cluster.components.versions["KUBERNETES_VERSION"]
    assert version["serverVersion"]["gitVersion"] == expected, version
    assert version["clientVersion"]["gitVersion"] == expected, version


def test_node_is_ready_with_the_hardened_kubelet(local_cluster):
    node = json.loads(local_cluster.kubectl("get", "node", L.NODE_NAME, "-o", "json"))
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True", node["status"]["conditions"]
    flags = local_cluster.flags()["kubelet"]
    assert "config" in flags


def test_cluster_dns_answers_cluster_names_and_nothing_outside(local_cluster):
    assert dns_query(L.DNS_SERVICE_IP, "kubernetes.default.svc.cluster.local")[1] == 1
    rcode, answers = dns_query(L.DNS_SERVICE_IP, "example.com")
    assert rcode != 0 and answers == 0, "CoreDNS must not resolve names outside the cluster"


def test_egress_guard_drops_everything_outside_the_cluster_networks(local_cluster):
    rules = network.guard_rules().splitlines()
    assert rules[-1] == f"-A {network.GUARD_CHAIN} -j DROP", rules
    returns = {r.split()[3] for r in rules if r.endswith("-j RETURN")}
    assert returns == set(L.OWN_NETWORKS) - {L.SERVICE_CIDR}, "a packet still bound for a " \
        "service address after kube-proxy's DNAT would leave by the default route"
    host_guard = run("iptables", "-w", "-S", "OUTPUT")
    assert f"-A OUTPUT -d {L.SERVICE_CIDR} -j REJECT" in host_guard, host_guard


def test_teardown_leaves_nothing_behind(local_cluster):
    """Tears the session cluster down, checks the host, and brings it back up."""
    local_cluster.down()
    try:
        assert leftovers.processes_mentioning(str(local_cluster.layout.containerd_socket)) == []
        assert leftovers.mounts_under(L.RUN_DIR, local_cluster.layout.root) == []
        assert leftovers.cni_netns() == []
        assert leftovers.kubepods_cgroups() == []
        assert leftovers.iptables_leftovers("iptables") == []
        assert leftovers.iptables_leftovers("ip6tables") == []
        assert leftovers.ipsets() == []
        assert testhosts.leftovers() == []
        assert not imagepolicy.netns_exists()
        assert not local_cluster.layout.root.exists()
        for name in ("keycloak", "etcd", "kube-apiserver", "kubelet", "containerd"):
            assert local_cluster.processes.pid(name) is None, name
    finally:
        local_cluster.up()
