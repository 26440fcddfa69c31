"""workload.default-namespace-unused: nothing runs or is kept in the default namespace
(CIS 5.6.4), read as the admin identity."""

from __future__ import annotations

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT

DEFAULT = "default"
# What the cluster itself keeps in every cluster's default namespace (one object per name, so
# no other object can take these names there).
BUILT_IN = {"services": {"kubernetes"}, "configmaps": {"kube-root-ca.crt"},
            "serviceaccounts": {"default"}}


def _names(admin_api, resource: str) -> list[str]:
    core = admin_api.core
    listing = {"pods": core.list_namespaced_pod, "services": core.list_namespaced_service,
               "configmaps": core.list_namespaced_config_map,
               "secrets": core.list_namespaced_secret,
               "serviceaccounts": core.list_namespaced_service_account,
               "deployments": admin_api.apps.list_namespaced_deployment}[resource]
    return [o.metadata.name for o in listing(DEFAULT, _request_timeout=REQUEST_TIMEOUT).items]


@kubeproof.control("workload.default-namespace-unused")
def test_default_namespace_holds_only_what_the_cluster_puts_there(admin_api, evidence):
    """The default namespace has no pods, Deployments, Secrets or ConfigMaps, and no
    Services or service accounts other than the cluster's own `kubernetes` and `default`."""
    with evidence.canary("the admin identity lists the default namespace's built-in objects"):
        services = _names(admin_api, "services")
        assert "kubernetes" in services, f"no Service 'kubernetes' in default: {services}"
    found = {}
    for resource in ("pods", "deployments", "services", "configmaps", "secrets",
                     "serviceaccounts"):
        names = [n for n in _names(admin_api, resource)
                 if n not in BUILT_IN.get(resource, set())]
        evidence.add(f"{resource} in {DEFAULT}", names or "none beyond the built-in ones")
        if names:
            found[resource] = names
    assert not found, f"the default namespace is in use: {found}"
