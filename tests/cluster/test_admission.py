"""Pod security admission: application namespaces enforce a pod security standard (item 6).

Pod Security Admission (PSA) namespace labels on current clusters; the PodSecurityPolicy
admission plugin with a restricted policy on clusters before 1.25. Whichever the cluster
has is named in the evidence; neither is a failure.
"""

from __future__ import annotations

import pytest

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT

PSA = "pod-security.kubernetes.io/"
# A baseline level counts only with a written reason on the namespace.
JUSTIFICATION = "kubeproof.io/pod-security-baseline-justification"


def _restricted_psp(psp: dict) -> bool:
    """Whether a PodSecurityPolicy spec is at least as strict as the restricted standard."""
    spec = psp.get("spec", {})
    return (not spec.get("privileged") and not spec.get("hostNetwork")
            and not spec.get("hostPID") and not spec.get("hostIPC")
            and spec.get("allowPrivilegeEscalation") is False
            and spec.get("runAsUser", {}).get("rule") == "MustRunAsNonRoot"
            and "ALL" in (spec.get("requiredDropCapabilities") or [])
            and "hostPath" not in (spec.get("volumes") or ["*"])
            and "*" not in (spec.get("volumes") or ["*"]))


def _psp_in_use(admin_api, namespace: str, flags: dict[str, str], evidence) -> bool:
    """Whether the PodSecurityPolicy plugin is on and the namespace's service accounts may
    use a restricted policy (only on clusters that still serve policy/v1beta1 PSPs)."""
    discovery = admin_api.request("GET", "/apis/policy/v1beta1")
    served = discovery.status == 200 and any(
        r.get("name") == "podsecuritypolicies" for r in discovery.body.get("resources", []))
    if not served:
        evidence.add("PodSecurityPolicy", "not served by this cluster (removed in 1.25)")
        return False
    plugins = flags.get("enable-admission-plugins", "")
    policies = admin_api.request("GET", "/apis/policy/v1beta1/podsecuritypolicies").body
    restricted = [p["metadata"]["name"] for p in (policies or {}).get("items", [])
                  if _restricted_psp(p)]
    usable = [name for name in restricted if _sa_may_use(admin_api, namespace, name)]
    evidence.add("PodSecurityPolicy", {"admission plugins": plugins or "(flags unknown)",
                                       "restricted policies": restricted,
                                       "usable by the namespace's service accounts": usable})
    return "PodSecurityPolicy" in plugins and bool(usable)


def _sa_may_use(admin_api, namespace: str, policy: str) -> bool:
    """Whether the namespace's default service account may use a PodSecurityPolicy."""
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": f"system:serviceaccount:{namespace}:default",
                       "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
                       "resourceAttributes": {"verb": "use", "group": "policy",
                                              "resource": "podsecuritypolicies",
                                              "name": policy, "namespace": namespace}}}
    answer = admin_api.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                               body=review)
    return answer.status == 201 and bool(answer.body.get("status", {}).get("allowed"))


@kubeproof.control("admission.pod-security")
def test_app_namespace_enforces_pod_security(cluster, admin_api, evidence):
    """The application namespace enforces the restricted pod security standard (PSA label, or
    a restricted PodSecurityPolicy)."""
    namespace = cluster.app_namespace
    with evidence.canary(f"the admin reads namespace {namespace}"):
        ns = admin_api.core.read_namespace(namespace, _request_timeout=REQUEST_TIMEOUT)
    labels = {k: v for k, v in (ns.metadata.labels or {}).items() if k.startswith(PSA)}
    evidence.add(f"PSA labels on {namespace}", labels or "none")
    flags = cluster.component_flags.get("kube-apiserver", {})
    disabled = "PodSecurity" in flags.get("disable-admission-plugins", "").split(",")
    evidence.add("PodSecurity admission plugin",
                 "disabled (--disable-admission-plugins)" if disabled
                 else "enabled (built in since 1.25)" if flags else "flags unknown")
    level = labels.get(PSA + "enforce")
    justification = (ns.metadata.annotations or {}).get(JUSTIFICATION, "").strip()
    if not disabled and level == "restricted":
        evidence.add("mechanism", "Pod Security Admission, enforce=restricted")
        return
    if not disabled and level == "baseline" and justification:
        evidence.add("mechanism", f"Pod Security Admission, enforce=baseline: {justification}")
        return
    if _psp_in_use(admin_api, namespace, flags, evidence):
        evidence.add("mechanism", "PodSecurityPolicy with a restricted policy")
        return
    why = ("the PodSecurity admission plugin is disabled" if disabled
           else f"enforce=baseline without a {JUSTIFICATION} annotation" if level == "baseline"
           else f"enforce={level}" if level else "no enforce label")
    pytest.fail(f"namespace {namespace} does not enforce pod security: {why}, and no "
                         f"restricted PodSecurityPolicy applies; labels: {labels or 'none'}")
