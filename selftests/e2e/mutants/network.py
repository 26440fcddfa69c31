"""Network weakenings: NetworkPolicies, their enforcer, and the egress gateway's allow-list."""

from __future__ import annotations

import json
from collections.abc import Callable

from kubeproof.localcluster import testhosts
from kubeproof.localcluster.cluster import LocalCluster
from mutants.base import NS, Mutant, Step, kubectl_steps, patch_app

NETPOL = "tests/egress/test_netpol.py::"
EGRESS = "tests/egress/test_egress.py::"
# The bypass cases that run without a mesh (the sidecar ones skip on the local cluster).
IP_BYPASSES = (EGRESS + "test_ip_bypass_is_blocked[registered-ip-*]",
               EGRESS + "test_ip_bypass_is_blocked[unregistered-raw-ip]")

GATEWAY = ("-n", "egress")


def _policy(name: str, egress: list[dict], namespace: str = NS) -> str:
    return json.dumps(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": egress},
        }
    )


def policy_steps(name: str, egress: list[dict]) -> tuple[Step, Step]:
    """Adds a NetworkPolicy to the app namespace; revert deletes it."""
    return (
        lambda c: c.kubectl("apply", "-f", "-", input=_policy(name, egress)),
        lambda c: c.kubectl("delete", "networkpolicy", name, "-n", NS, "--ignore-not-found"),
    )


def _restart_gateway(c: LocalCluster) -> None:
    c.kubectl("rollout", "restart", "deployment/egress-gateway", *GATEWAY)
    c.kubectl("rollout", "status", "deployment/egress-gateway", *GATEWAY, "--timeout=90s")


def gateway_steps(change: Callable[[dict], None],
                  open_gateway_egress: bool = False) -> tuple[Step, Step]:
    """Rewrites the egress gateway's Envoy config and restarts it; revert re-applies the
    bootstrap manifests and restarts it again. open_gateway_egress also lets the gateway's
    own namespace send anywhere (its NetworkPolicy is a second layer behind the allow-list)."""

    def apply(c: LocalCluster) -> None:
        import yaml

        if open_gateway_egress:
            c.kubectl("apply", "-f", "-", input=_policy("kubeproof-mutant-any", [{}], "egress"))
        cm = json.loads(c.kubectl("get", "configmap", "egress-gateway", *GATEWAY, "-o", "json"))
        config = yaml.safe_load(cm["data"]["envoy.yaml"])
        change(config)
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "egress-gateway", "namespace": "egress"},
            "data": {"envoy.yaml": yaml.safe_dump(config)},
        }
        c.kubectl("replace", "-f", "-", input=json.dumps(body))
        _restart_gateway(c)

    def revert(c: LocalCluster) -> None:
        c.kubectl("delete", "networkpolicy", "kubeproof-mutant-any", *GATEWAY, "--ignore-not-found")
        c.apply_manifests()
        _restart_gateway(c)

    return apply, revert


ANY_HOST = {"name": "any-host", "dns_lookup_family": "V4_ONLY"}
TYPES = "type.googleapis.com/envoy.extensions."


def allow_any_host(config: dict) -> None:
    """The gateway forwards every Host/SNI to wherever DNS says (Istio's ALLOW_ANY)."""
    listeners = {listener["name"]: listener for listener in config["static_resources"]["listeners"]}
    hcm = listeners["http"]["filter_chains"][0]["filters"][0]["typed_config"]
    for vhost in hcm["route_config"]["virtual_hosts"]:
        if vhost["domains"] == ["*"]:
            vhost["routes"] = [{"match": {"prefix": "/"}, "route": {"cluster": "any-host"}}]
            vhost.pop("response_headers_to_add", None)
    hcm["http_filters"].insert(
        0,
        {
            "name": "envoy.filters.http.dynamic_forward_proxy",
            "typed_config": {
                "@type": TYPES + "filters.http.dynamic_forward_proxy.v3.FilterConfig",
                "dns_cache_config": ANY_HOST,
            },
        },
    )
    listeners["tls"]["filter_chains"].append(
        {
            "filters": [
                {
                    "name": "envoy.filters.network.sni_dynamic_forward_proxy",
                    "typed_config": {
                        "@type": TYPES
                        + "filters.network.sni_dynamic_forward_proxy.v3.FilterConfig",
                        "port_value": 443,
                        "dns_cache_config": ANY_HOST,
                    },
                },
                {
                    "name": "envoy.filters.network.tcp_proxy",
                    "typed_config": {
                        "@type": TYPES + "filters.network.tcp_proxy.v3.TcpProxy",
                        "stat_prefix": "any_tls",
                        "cluster": "any-host",
                    },
                },
            ]
        }
    )
    config["static_resources"]["clusters"].append(
        {
            "name": "any-host",
            "lb_policy": "CLUSTER_PROVIDED",
            "connect_timeout": "3s",
            "cluster_type": {
                "name": "envoy.clusters.dynamic_forward_proxy",
                "typed_config": {
                    "@type": TYPES + "clusters.dynamic_forward_proxy.v3.ClusterConfig",
                    "dns_cache_config": ANY_HOST,
                },
            },
        }
    )


def drop_registered_host(config: dict) -> None:
    """The registered host leaves the gateway's allow-list (its ServiceEntry deleted)."""
    listeners = {listener["name"]: listener for listener in config["static_resources"]["listeners"]}
    hcm = listeners["http"]["filter_chains"][0]["filters"][0]["typed_config"]
    vhosts = hcm["route_config"]["virtual_hosts"]
    hcm["route_config"]["virtual_hosts"] = [v for v in vhosts if v["domains"] == ["*"]]
    config["static_resources"]["listeners"] = [
        listener
        for listener in config["static_resources"]["listeners"]
        if listener is not listeners["tls"]
    ]


MUTANTS = (
    Mutant(
        "default-deny NetworkPolicy deleted",
        (NETPOL + "test_application_namespaces_have_default_deny[ingress-default-deny]",
         NETPOL + "test_application_namespaces_have_default_deny[egress-default-deny]",
         NETPOL + "test_other_namespace_cannot_reach_the_app"),
        # The app namespace's egress stays denied: its DNS and gateway policies select every
        # pod for egress, and any such policy denies what it does not allow.
        *kubectl_steps([["delete", "networkpolicy", "default-deny", "-n", NS]], []),
    ),
    Mutant(
        "DNS egress policy deleted",
        (NETPOL + "test_application_namespaces_have_default_deny[dns-allowed]",
         NETPOL + "test_dns_resolves_from_the_app_namespace",
         EGRESS + "test_app_namespace_reaches_registered_host[*]"),
        *kubectl_steps([["delete", "networkpolicy", "allow-dns", "-n", NS]], []),
        # DNS from the app namespace is these tests' canary: without it they cannot conclude.
        breaks=(NETPOL + "test_app_namespace_cannot_reach_an_arbitrary_pod",
                EGRESS + "test_unregistered_host_is_blocked[*]", *IP_BYPASSES),
    ),
    Mutant(
        # The hole review found: a closed port read as "blocked by policy".
        "app declares a port it does not listen on",
        (),
        *patch_app([{"op": "add", "path": "/spec/template/spec/containers/0/ports/0",
                     "value": {"containerPort": 9090}}], relax_psa=False),
        breaks=(NETPOL + "test_other_namespace_cannot_reach_the_app",
                EGRESS + "test_app_reaches_registered_host"),
    ),
    Mutant(
        "NetworkPolicy enforcer stopped (rules flushed)",
        (NETPOL + "test_other_namespace_cannot_reach_the_app",
         NETPOL + "test_app_namespace_cannot_reach_an_arbitrary_pod"),
        lambda c: c.stop_component("netpol"),
        lambda c: c.start_component("netpol"),
    ),
    Mutant(
        "allow-all egress NetworkPolicy in the app namespace",
        (EGRESS + "test_unregistered_host_is_blocked[*-by-name]", *IP_BYPASSES),
        *policy_steps("kubeproof-mutant-allow-all-egress", [{}]),
    ),
    Mutant(
        "app egress policy allows the registered host's IP",
        (EGRESS + "test_ip_bypass_is_blocked[registered-ip-*]",),
        *policy_steps(
            "kubeproof-mutant-allow-registered-ip",
            [{"to": [{"ipBlock": {"cidr": f"{testhosts.REGISTERED.address}/32"}}]}],
        ),
    ),
    Mutant(
        "egress gateway allows any host (ALLOW_ANY)",
        # By name the unregistered host stays blocked: its address is not the gateway's, and
        # the app namespace may send only to the gateway.
        (EGRESS + "test_unregistered_host_is_blocked[*-via-registered-path]",),
        *gateway_steps(allow_any_host, open_gateway_egress=True),
    ),
    Mutant(
        "registered host removed from the egress gateway's allow-list",
        (EGRESS + "test_app_reaches_registered_host",
         EGRESS + "test_app_namespace_reaches_registered_host[*]"),
        *gateway_steps(drop_registered_host),
        # The registered host is the egress probes' canary.
        breaks=(EGRESS + "test_unregistered_host_is_blocked[*]", *IP_BYPASSES),
    ),
)
