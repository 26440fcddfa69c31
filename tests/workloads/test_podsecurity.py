"""Pod security admission in the app namespace, by attempt (checklist item 6).

Every pod is submitted as the app user with a server-side dry run: admission decides, nothing
is created. PSA (Kubernetes 1.25+) and PodSecurityPolicy (before 1.25) are both recognised.
"""

from __future__ import annotations

import pytest

import kubeproof
from kubeproof.kube import api_path
from kubeproof.podsecurity import restricted_psp_gaps

# Baseline allows it, restricted does not: refused only under the restricted level.
RESTRICTED_ONLY = {"container": {"securityContext": {"allowPrivilegeEscalation": None}}}

VIOLATIONS = {
    # privileged=true with allowPrivilegeEscalation=false is invalid before admission runs.
    "privileged": {"container": {"securityContext": {"privileged": True,
                                                     "allowPrivilegeEscalation": None}}},
    "hostNetwork": {"pod": {"spec": {"hostNetwork": True}}},
    "hostPID": {"pod": {"spec": {"hostPID": True}}},
    "hostIPC": {"pod": {"spec": {"hostIPC": True}}},
    "hostPath": {"pod": {"spec": {"volumes": [{"name": "host", "hostPath": {"path": "/"}}]}},
                 "container": {"volumeMounts": [{"name": "host", "mountPath": "/host"}]}},
    "hostPort": {"container": {"ports": [{"containerPort": 8080, "hostPort": 8080}]}},
    # Added capabilities: NET_RAW (CIS 5.2.8), and one no level allows (5.2.9).
    "NET_RAW": {"container": {"securityContext": {"capabilities": {"add": ["NET_RAW"]}}}},
    "SYS_ADMIN": {"container": {"securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}},
    # A Windows HostProcess pod (CIS 5.2.10); validation requires hostNetwork with it.
    "hostProcess": {"pod": {"spec": {"hostNetwork": True, "securityContext": {
        "windowsOptions": {"hostProcess": True}}}}},
}


def read_psp(admin_api, name: str) -> dict:
    """The spec of a PodSecurityPolicy; an unreadable policy is Inconclusive."""
    path = api_path("podsecuritypolicies", name=name, group="policy", version="v1beta1")
    answer = admin_api.request("GET", path)
    if answer.status != 200:
        raise kubeproof.Inconclusive(f"cannot read PodSecurityPolicy {name}: "
                                     f"{answer.request} -> {answer.status}")
    return (answer.body or {}).get("spec") or {}


@kubeproof.control("podsecurity.restricted-admission")
def test_app_namespace_admits_pods_under_the_restricted_policy(admin_api, pod_security,
                                                               app_admission,
                                                               compliant_admission, evidence):
    """A pod in the app namespace is admitted under the restricted policy."""
    evidence.add("pod security mechanism", pod_security.describe())
    compliant = compliant_admission
    annotations = compliant.pod.metadata.annotations or {}
    if pod_security.psp_served and "kubernetes.io/psp" in annotations:
        name = annotations["kubernetes.io/psp"]
        spec = read_psp(admin_api, name)
        gaps = restricted_psp_gaps(spec)
        evidence.add(f"PodSecurityPolicy {name}", spec)
        evidence.add(f"what keeps {name} from being restricted", gaps or "nothing")
        assert not gaps, f"the pod was admitted under PodSecurityPolicy {name}, which is not " \
                         f"restricted: {gaps}"
        return
    probe = app_admission.admit(app_admission.manifest("kp-baseline-only", ["true"],
                                                       **RESTRICTED_ONLY))
    evidence.add("pod allowed by baseline but not by restricted", str(probe))
    assert not probe.admitted, (f"a pod without allowPrivilegeEscalation=false was admitted: "
                                f"the namespace does not enforce restricted "
                                f"({pod_security.describe()})")
    policy = pod_security.refused_by(probe.message) or ""
    evidence.add("refused by", policy or "no named policy")
    assert policy.startswith("Pod Security Admission restricted"), (
        f"refused, but not by the restricted Pod Security level: {probe}")


@kubeproof.control("podsecurity.privileged-rejected")
@pytest.mark.parametrize("violation", list(VIOLATIONS))
def test_privileged_and_host_pods_are_rejected(pod_security, app_admission,
                                               compliant_admission, evidence, violation):
    """Privileged, host-namespace, hostPath, hostPort, added-capability and Windows
    HostProcess pods are rejected in the app namespace."""
    evidence.add("pod security mechanism", pod_security.describe())
    manifest = app_admission.manifest(f"kp-{violation.lower().replace('_', '-')}", ["true"],
                                      **VIOLATIONS[violation])
    admission = app_admission.admit(manifest)
    pod_security.expect_rejected(evidence, f"{violation} pod in {app_admission.namespace}",
                                 admission, violation, app_admission.admission_guard)
