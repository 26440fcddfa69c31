"""workload.apparmor-or-selinux-profile: only a confining AppArmor or SELinux profile counts,
read the way the kubelet reads it (container, legacy annotation, pod)."""

from __future__ import annotations

import pytest

from conftest import control_helper

macprofile = control_helper("workloads/macprofile.py")


def pod(container_sc=None, pod_sc=None, annotations=None, name="app"):
    """(pod, container) as API JSON with the given security contexts and annotations."""
    container = {"name": name, **({"securityContext": container_sc} if container_sc else {})}
    return ({"metadata": {"name": "p", "annotations": annotations or {}},
             "spec": {"containers": [container], "securityContext": pod_sc or {}}}, container)


def confined(**settings) -> bool:
    return macprofile.confined(macprofile.mac_profiles(*pod(**settings)))


LEGACY = macprofile.LEGACY_APPARMOR + "app"


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, False),
    ({"container_sc": {"seLinuxOptions": {}}}, False),
    ({"container_sc": {"seLinuxOptions": {"type": "spc_t"}}}, False),
    ({"container_sc": {"seLinuxOptions": {"type": "unconfined_t"}}}, False),
    ({"container_sc": {"seLinuxOptions": {"type": "container_t"}}}, True),
    ({"container_sc": {"seLinuxOptions": {"level": "s0:c123,c456"}}}, True),
    ({"pod_sc": {"seLinuxOptions": {"type": "container_t"}}}, True),
    ({"pod_sc": {"seLinuxOptions": {"type": "spc_t"}}}, False),
    # The container's options replace the pod's whole, they are not merged into them.
    ({"pod_sc": {"seLinuxOptions": {"type": "container_t"}},
      "container_sc": {"seLinuxOptions": {}}}, False),
    ({"pod_sc": {"seLinuxOptions": {"type": "container_t"}},
      "container_sc": {"seLinuxOptions": {"type": "spc_t"}}}, False),
    ({"container_sc": {"appArmorProfile": {"type": "RuntimeDefault"}}}, True),
    ({"container_sc": {"appArmorProfile": {"type": "Localhost", "localhostProfile": "k8s-app"}}},
     True),
    ({"container_sc": {"appArmorProfile": {"type": "Unconfined"}}}, False),
    ({"pod_sc": {"appArmorProfile": {"type": "RuntimeDefault"}}}, True),
    ({"pod_sc": {"appArmorProfile": {"type": "RuntimeDefault"}},
      "container_sc": {"appArmorProfile": {"type": "Unconfined"}}}, False),
    ({"annotations": {LEGACY: "runtime/default"}}, True),
    ({"annotations": {LEGACY: "localhost/k8s-app"}}, True),
    ({"annotations": {LEGACY: "localhost/"}}, False),
    ({"annotations": {LEGACY: "unconfined"}}, False),
    ({"annotations": {macprofile.LEGACY_APPARMOR + "sidecar": "runtime/default"}}, False),
    # The annotation comes before the pod's field, after the container's.
    ({"annotations": {LEGACY: "unconfined"},
      "pod_sc": {"appArmorProfile": {"type": "RuntimeDefault"}}}, False),
    ({"annotations": {LEGACY: "unconfined"},
      "container_sc": {"appArmorProfile": {"type": "RuntimeDefault"}}}, True),
    # A confining profile of one system does not make up for an opt-out of the other.
    ({"container_sc": {"appArmorProfile": {"type": "RuntimeDefault"},
                       "seLinuxOptions": {"type": "spc_t"}}}, False),
], ids=lambda value: str(value) if isinstance(value, bool) else None)
def test_mac_profile_confines(settings, expected):
    assert confined(**settings) is expected


def test_mac_profile_evidence_says_where_and_what():
    profiles = macprofile.mac_profiles(*pod(pod_sc={"seLinuxOptions": {"level": "s0:c1,c2"}},
                                            annotations={LEGACY: "localhost/k8s-app"}))
    assert [str(p) for p in profiles] == [
        f"AppArmor Localhost k8s-app (from annotation {LEGACY}): confines",
        "SELinux level=s0:c1,c2 (type: the runtime's default, container_t) (from the pod): "
        "confines"]
