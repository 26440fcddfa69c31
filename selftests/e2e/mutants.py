"""Weakenings of the local cluster, each paired with the controls it must make fail.

A mutant is applied to the running hardened cluster, the suite runs, and the mutant is
reverted. Object mutants go through the API (kubectl as admin); component mutants restart
one component with changed flags through the local cluster's own restart call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from kubeproof.localcluster import layout as L
from kubeproof.localcluster import testhosts
from kubeproof.localcluster.cluster import LocalCluster

Step = Callable[[LocalCluster], None]
NS = L.APP_NAMESPACE


@dataclass(frozen=True)
class Mutant:
    """One weakening: how to apply and revert it, and which controls it must flip to fail."""

    name: str
    flips: tuple[str, ...]
    apply: Step
    revert: Step
    # Controls whose canary this mutant removes: they must end in error, not pass or fail.
    breaks: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


def restart(component: str, **flags: str | None) -> tuple[Step, Step]:
    """Apply/revert steps that restart a component with flags changed (None drops a flag)."""
    overrides = {name.replace("_", "-"): value for name, value in flags.items()}
    return (lambda c: c.restart(component, overrides), lambda c: c.restart(component, {}))


def kubectl_steps(
    apply_args: list[list[str]], revert_args: list[list[str]], reapply_fixtures: bool = True
) -> tuple[Step, Step]:
    """Apply/revert steps made of kubectl calls; revert re-applies the bootstrap manifests."""

    def apply(c: LocalCluster) -> None:
        for args in apply_args:
            c.kubectl(*args)

    def revert(c: LocalCluster) -> None:
        for args in revert_args:
            c.kubectl(*args)
        if reapply_fixtures:
            c.apply_manifests()
            c.kubectl("rollout", "status", "deployment/pegress", "-n", NS, "--timeout=90s")

    return apply, revert


def patch_app(patch: dict, relax_psa: bool = True) -> tuple[Step, Step]:
    """Patches the app Deployment (after relaxing PSA so the weaker pod is admitted)."""
    steps = []
    if relax_psa:
        steps.append(
            [
                "label",
                "namespace",
                NS,
                "--overwrite",
                "pod-security.kubernetes.io/enforce=privileged",
            ]
        )
    steps.append(
        ["patch", "deployment", "pegress", "-n", NS, "--type=strategic", "-p", json.dumps(patch)]
    )
    steps.append(["rollout", "status", "deployment/pegress", "-n", NS, "--timeout=90s"])
    return kubectl_steps(steps, [["rollout", "undo", "deployment/pegress", "-n", NS]])


def _container(**security_context) -> dict:
    return {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "pegress", "securityContext": security_context}]}
            }
        }
    }


CLUSTER_ADMIN_BINDING = [
    "create",
    "clusterrolebinding",
    "kubeproof-mutant-pegress-admin",
    "--clusterrole=cluster-admin",
    f"--user={L.APP_USER}",
]

MUTANTS = (
    Mutant(
        "app user bound to cluster-admin",
        ("rbac.app-user-denied-kube-system", "rbac.app-user-scoped", "rbac.least-privilege"),
        *kubectl_steps(
            [CLUSTER_ADMIN_BINDING],
            [["delete", "clusterrolebinding", "kubeproof-mutant-pegress-admin"]],
            reapply_fixtures=False,
        ),
    ),
    Mutant(
        "app user may read istio-system",
        ("rbac.app-user-denied-istio-system",),
        *kubectl_steps(
            [
                [
                    "create",
                    "clusterrolebinding",
                    "kubeproof-mutant-pegress-view",
                    "--clusterrole=view",
                    f"--user={L.APP_USER}",
                ]
            ],
            [["delete", "clusterrolebinding", "kubeproof-mutant-pegress-view"]],
            reapply_fixtures=False,
        ),
    ),
    Mutant(
        "app RoleBinding drifted from fixtures",
        ("rbac.reconcile-drift",),
        *kubectl_steps(
            [
                [
                    "patch",
                    "rolebinding",
                    "pegress-admin",
                    "-n",
                    NS,
                    "--type=json",
                    "-p",
                    json.dumps(
                        [
                            {
                                "op": "add",
                                "path": "/subjects/-",
                                "value": {
                                    "kind": "User",
                                    "name": "intruder",
                                    "apiGroup": "rbac.authorization.k8s.io",
                                },
                            }
                        ]
                    ),
                ]
            ],
            [["delete", "rolebinding", "pegress-admin", "-n", NS]],
        ),
    ),
    Mutant(
        "API server authorization AlwaysAllow",
        ("rbac.authorization-mode", "rbac.app-user-denied-kube-system"),
        *restart("kube-apiserver", authorization_mode="AlwaysAllow"),
    ),
    Mutant(
        "API server anonymous auth on",
        ("auth.anonymous-disabled",),
        *restart("kube-apiserver", anonymous_auth="true"),
    ),
    Mutant(
        "API server accepts TLS 1.0",
        ("tls.api-server",),
        *restart("kube-apiserver", tls_min_version="VersionTLS10"),
    ),
    Mutant(
        "API server does not verify the kubelet's certificate",
        ("tls.components",),
        *restart("kube-apiserver", kubelet_certificate_authority=None),
    ),
    Mutant(
        "API server without encryption at rest",
        ("encryption.at-rest",),
        *restart("kube-apiserver", encryption_provider_config=None),
    ),
    Mutant(
        "API server without audit",
        ("audit.enabled",),
        *restart(
            "kube-apiserver",
            audit_policy_file=None,
            audit_log_path=None,
            audit_log_maxage=None,
            audit_log_maxbackup=None,
            audit_log_maxsize=None,
        ),
    ),
    Mutant(
        "etcd without client certificate auth",
        ("etcd.isolated",),
        # etcd asks for client certificates whenever it has a trusted CA file
        *restart("etcd", client_cert_auth="false", trusted_ca_file=None),
    ),
    Mutant(
        "kubelet read-only port open",
        ("host.kubelet-hardening",),
        *restart("kubelet", read_only_port="10255"),
    ),
    Mutant(
        "kubelet seccompDefault off",
        ("seccomp.keyctl-denied", "host.runtime-seccomp"),
        lambda c: c.restart("kubelet", kubelet_config={"seccompDefault": False}),
        lambda c: c.restart("kubelet"),
    ),
    Mutant(
        "app namespace without PSA enforce",
        (
            "admission.pod-security",
            "podsecurity.restricted-admission",
            "podsecurity.privileged-rejected",
            "nonroot.root-pod-rejected",
        ),
        *kubectl_steps(
            [
                [
                    "label",
                    "namespace",
                    NS,
                    "pod-security.kubernetes.io/enforce-",
                    "pod-security.kubernetes.io/enforce-version-",
                ]
            ],
            [],
        ),
    ),
    Mutant(
        "app runs as root",
        ("nonroot.app-runs-as-nonroot",),
        *patch_app(
            {
                "spec": {
                    "template": {
                        "spec": {"securityContext": {"runAsNonRoot": False, "runAsUser": 0}}
                    }
                }
            }
        ),
    ),
    Mutant(
        "app may escalate privileges",
        ("workload.no-privilege-escalation",),
        *patch_app(_container(allowPrivilegeEscalation=True, capabilities={"add": ["NET_ADMIN"]})),
    ),
    Mutant(
        "app root filesystem writable",
        ("workload.readonly-rootfs",),
        *patch_app(_container(readOnlyRootFilesystem=False)),
    ),
    Mutant(
        "app mounts its service account token",
        ("workload.sa-token-not-automounted",),
        *patch_app(
            {"spec": {"template": {"spec": {"automountServiceAccountToken": True}}}},
            relax_psa=False,
        ),
    ),
    Mutant(
        "default-deny NetworkPolicy deleted",
        ("netpol.default-deny", "netpol.enforced"),
        *kubectl_steps([["delete", "networkpolicy", "default-deny", "-n", NS]], []),
    ),
    Mutant(
        "NetworkPolicy enforcer stopped",
        ("netpol.enforced",),
        lambda c: c.stop_component("netpol"),
        lambda c: c.start_component("netpol"),
    ),
)


# ---- egress (tests/egress/test_egress.py) ----------------------------------------------------

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


EGRESS_CANARY_USERS = ("egress.unregistered-host-blocked", "egress.ip-bypass-blocked")

MUTANTS += (
    Mutant(
        "allow-all egress NetworkPolicy in the app namespace",
        ("egress.unregistered-host-blocked", "egress.ip-bypass-blocked"),
        *policy_steps("kubeproof-mutant-allow-all-egress", [{}]),
    ),
    Mutant(
        "app egress policy allows the registered host's IP",
        ("egress.ip-bypass-blocked",),
        *policy_steps(
            "kubeproof-mutant-allow-registered-ip",
            [{"to": [{"ipBlock": {"cidr": f"{testhosts.REGISTERED.address}/32"}}]}],
        ),
    ),
    Mutant(
        "egress gateway allows any host (ALLOW_ANY)",
        ("egress.unregistered-host-blocked",),
        *gateway_steps(allow_any_host, open_gateway_egress=True),
    ),
    Mutant(
        "registered host removed from the egress gateway's allow-list",
        ("egress.registered-host-allowed",),
        *gateway_steps(drop_registered_host),
        breaks=EGRESS_CANARY_USERS,
    ),
)
