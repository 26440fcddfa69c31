"""API helpers: impersonation headers, access-check paths, flag parsing."""

from __future__ import annotations

import pytest

from conftest import write_kubeconfig
from kubeproof.kube import Clients, api_path
from kubeproof.nodeprocesses import flags as parse_flags
from kubeproof.targets.base import Identity
from kubeproof.targets.existing import parse_ssh_host


def test_impersonation_sends_user_and_each_group(unauthorized_api, tmp_path):
    kubeconfig = write_kubeconfig(tmp_path / "kc", unauthorized_api.url, unauthorized_api.ca_pem)
    app = Clients(Identity(kubeconfig, "ctx", "pegress", ("hcom", "system:authenticated")))
    response = app.request("GET", "/api/v1/namespaces/kube-system/pods")
    assert response.status == 401
    headers = unauthorized_api.headers[-1]
    assert ("Impersonate-User", "pegress") in headers
    assert [v for k, v in headers if k == "Impersonate-Group"] == ["hcom", "system:authenticated"]


def test_access_check_with_rejected_credentials_is_inconclusive(unauthorized_api, tmp_path):
    from kubeproof.verdicts import Inconclusive

    kubeconfig = write_kubeconfig(tmp_path / "kc", unauthorized_api.url, unauthorized_api.ca_pem)
    with pytest.raises(Inconclusive, match="SelfSubjectAccessReview as kc:ctx failed: 401"):
        Clients(Identity(kubeconfig, "ctx")).check_access("get", "pods", "kube-system")


def test_api_paths():
    assert api_path("pods", "kube-system") == "/api/v1/namespaces/kube-system/pods"
    assert api_path("nodes", name="n1") == "/api/v1/nodes/n1"
    assert api_path("clusterroles", group="rbac.authorization.k8s.io") == (
        "/apis/rbac.authorization.k8s.io/v1/clusterroles")


def test_parse_flags():
    assert parse_flags(["kube-apiserver", "--authorization-mode=Node,RBAC", "--profiling",
                        "--v", "2"]) == {"authorization-mode": "Node,RBAC", "profiling": "true",
                                         "v": "2"}


def test_parse_ssh_host():
    assert parse_ssh_host("node1") == ("node1", 22)
    assert parse_ssh_host("10.0.0.5:2222") == ("10.0.0.5", 2222)
    assert parse_ssh_host("[::1]:22") == ("::1", 22)
