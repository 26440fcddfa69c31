"""The one definition of a restricted PodSecurityPolicy, shared by podsecurity.* and
admission.pod-security."""

from __future__ import annotations

import pytest

from kubeproof.podsecurity import restricted_psp_gaps

RESTRICTED = {"privileged": False, "allowPrivilegeEscalation": False,
              "requiredDropCapabilities": ["ALL"], "runAsUser": {"rule": "MustRunAsNonRoot"},
              "volumes": ["configMap", "emptyDir", "projected", "secret", "downwardAPI",
                          "persistentVolumeClaim"],
              "hostNetwork": False, "hostPID": False, "hostIPC": False}


def test_restricted_psp_has_no_gaps():
    assert restricted_psp_gaps(RESTRICTED) == []


def test_restricted_psp_without_volumes_allows_none():
    assert restricted_psp_gaps({k: v for k, v in RESTRICTED.items() if k != "volumes"}) == []


@pytest.mark.parametrize(("change", "gap"), [
    ({"privileged": True}, "privileged is allowed"),
    ({"hostNetwork": True}, "hostNetwork is allowed"),
    ({"hostPID": True}, "hostPID is allowed"),
    ({"hostIPC": True}, "hostIPC is allowed"),
    ({"allowPrivilegeEscalation": None}, "allowPrivilegeEscalation is not false"),
    ({"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation is not false"),
    ({"runAsUser": {"rule": "RunAsAny"}}, "runAsUser.rule is not MustRunAsNonRoot"),
    ({"runAsUser": None}, "runAsUser.rule is not MustRunAsNonRoot"),
    ({"requiredDropCapabilities": ["NET_RAW"]}, "requiredDropCapabilities lacks ALL"),
    ({"volumes": ["secret", "hostPath"]}, "hostPath volumes are allowed"),
    ({"volumes": ["*"]}, "every volume type is allowed (volumes: *)"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_restricted_psp_gap(change, gap):
    assert restricted_psp_gaps({**RESTRICTED, **change}) == [gap]

