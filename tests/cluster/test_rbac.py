"""RBAC controls: what the app user may and may not do (checklist item 2)."""

from __future__ import annotations

import pytest

import kubeproof


@kubeproof.control("rbac.app-user-denied-kube-system")
@pytest.mark.parametrize("verb", ["get", "list"])
def test_app_user_cannot_read_pods_in_kube_system(cluster, app_api, evidence, verb):
    """The app user cannot get or list pods in kube-system."""
    own = cluster.app_namespace
    with evidence.canary(f"{cluster.app_user} lists pods in its own namespace {own}"):
        canary = app_api.check_access("list", "pods", namespace=own)
        evidence.add("own namespace", str(canary))
        assert canary.review_allowed and canary.request_allowed, str(canary)
    result = app_api.check_access(verb, "pods", namespace="kube-system")
    kubeproof.assert_denied(evidence, result)
