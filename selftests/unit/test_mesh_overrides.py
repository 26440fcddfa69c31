"""mesh.mtls-strict: the namespace-, workload- and port-level PeerAuthentications that weaken
mTLS for the app's pods are found and named."""

from __future__ import annotations

import pytest

from conftest import control_helper

peerauth = control_helper("egress/peerauth.py")

PODS = {"pegress-1": {"app": "pegress"}, "other-1": {"app": "other"}}


def policy(name, mode=None, selector=None, ports=None):
    """A PeerAuthentication as API JSON."""
    spec = {}
    if mode:
        spec["mtls"] = {"mode": mode}
    if selector is not None:
        spec["selector"] = {"matchLabels": selector}
    if ports:
        spec["portLevelMtls"] = {port: {"mode": m} for port, m in ports.items()}
    return {"metadata": {"name": name, "namespace": "default"}, "spec": spec}


@pytest.mark.parametrize("mode", ["STRICT", "UNSET", None])
def test_mesh_overrides_none_when_nothing_weakens(mode):
    assert peerauth.overrides([policy("default", mode),
                               policy("app", mode, {"app": "pegress"})], PODS) == {}


@pytest.mark.parametrize("mode", ["PERMISSIVE", "DISABLE"])
def test_mesh_overrides_namespace_level(mode):
    assert peerauth.overrides([policy("default", mode)], PODS) == {
        "default": f"namespace-level mtls.mode {mode}, for pods other-1, pegress-1"}


def test_mesh_overrides_workload_level_matching_the_app():
    found = peerauth.overrides([policy("app", "PERMISSIVE", {"app": "pegress"})], PODS)
    assert found == {"app": "workload-level (matchLabels {'app': 'pegress'}) mtls.mode "
                            "PERMISSIVE, for pods pegress-1"}


def test_mesh_overrides_workload_level_matching_no_pod():
    assert peerauth.overrides([policy("gone", "DISABLE", {"app": "gone"})], PODS) == {}


def test_mesh_overrides_empty_selector_is_namespace_wide():
    assert peerauth.overrides([policy("all", "DISABLE", {})], PODS) == {
        "all": "namespace-level mtls.mode DISABLE, for pods other-1, pegress-1"}


def test_mesh_overrides_port_level_under_strict():
    found = peerauth.overrides([policy("app", "STRICT", {"app": "pegress"},
                                       {"8080": "DISABLE", "9090": "STRICT"})], PODS)
    assert found == {"app": "workload-level (matchLabels {'app': 'pegress'}) portLevelMtls "
                            "8080 mode DISABLE, for pods pegress-1"}


def test_mesh_overrides_weak_namespace_policy_counts_beside_a_strict_workload_policy():
    found = peerauth.overrides([policy("default", "PERMISSIVE"),
                                policy("app", "STRICT", {"app": "pegress"})], PODS)
    assert list(found) == ["default"]
