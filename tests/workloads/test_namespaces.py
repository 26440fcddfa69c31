"""workload.default-namespace-unused: nothing runs or is kept in the default namespace
(CIS 5.6.4), read as the admin identity: workloads, Services, ConfigMaps and service
accounts (not Secrets: kubeproof's in-cluster account may not list them, and a Secret alone
runs nothing)."""

from __future__ import annotations

from kubernetes import client

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT

DEFAULT = "default"
# What the cluster itself keeps in every cluster's default namespace (one object per name, so
# no other object can take these names there).
BUILT_IN = {"services": {"kubernetes"}, "configmaps": {"kube-root-ca.crt"},
            "serviceaccounts": {"default"}}


def _listings(admin_api) -> dict:
    core, apps, batch = admin_api.core, admin_api.apps, client.BatchV1Api(admin_api.api)
    return {"pods": core.list_namespaced_pod,
            "deployments": apps.list_namespaced_deployment,
            "daemonsets": apps.list_namespaced_daemon_set,
            "statefulsets": apps.list_namespaced_stateful_set,
            "jobs": batch.list_namespaced_job, "cronjobs": batch.list_namespaced_cron_job,
            "services": core.list_namespaced_service,
            "configmaps": core.list_namespaced_config_map,
            "serviceaccounts": core.list_namespaced_service_account}


def _names(listing) -> list[str]:
    return [o.metadata.name for o in listing(DEFAULT, _request_timeout=REQUEST_TIMEOUT).items]


@kubeproof.control("workload.default-namespace-unused")
def test_default_namespace_holds_only_what_the_cluster_puts_there(admin_api, evidence):
    """The default namespace has no pods, workload controllers or ConfigMaps, and no
    Services or service accounts other than the cluster's own `kubernetes` and `default`."""
    listings = _listings(admin_api)
    with evidence.canary("the admin identity lists the default namespace's built-in objects"):
        services = _names(listings["services"])
        assert "kubernetes" in services, f"no Service 'kubernetes' in default: {services}"
    found = {}
    for resource, listing in listings.items():
        names = [n for n in _names(listing) if n not in BUILT_IN.get(resource, set())]
        evidence.add(f"{resource} in {DEFAULT}", names or "none beyond the built-in ones")
        if names:
            found[resource] = names
    assert not found, f"the default namespace is in use: {found}"
