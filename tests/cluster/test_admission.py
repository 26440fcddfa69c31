"""Pod security admission: application namespaces enforce a pod security standard, and the
PodSecurity plugin exempts nothing that would let pods bypass it (item 6).

Pod Security Admission (PSA) namespace labels on current clusters; the PodSecurityPolicy
admission plugin with a restricted policy on clusters before 1.25. Whichever the cluster
has is named in the evidence; neither is a failure.
"""

from __future__ import annotations

import admissionconfig
import pytest

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.podsecurity import PSA_LABEL, restricted_psp_gaps
from kubeproof.targets.base import NODE_ACCESS

# A baseline level counts only with a written reason on the namespace.
JUSTIFICATION = "kubeproof.io/pod-security-baseline-justification"
CONFIG_FLAG = "admission-control-config-file"


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
    listed = admin_api.request("GET", "/apis/policy/v1beta1/podsecuritypolicies")
    if listed.status != 200:
        raise kubeproof.Inconclusive(f"cannot list PodSecurityPolicies: {listed.request} -> "
                                     f"{listed.status} {listed.message}")
    restricted = [p["metadata"]["name"] for p in (listed.body or {}).get("items", [])
                  if not restricted_psp_gaps(p.get("spec") or {})]
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
def test_app_namespace_enforces_pod_security(cluster, admin_api, known_flags, evidence):
    """The application namespace enforces the restricted pod security standard (PSA label, or
    a restricted PodSecurityPolicy)."""
    namespace = cluster.app_namespace
    with evidence.canary(f"the admin reads namespace {namespace}"):
        ns = admin_api.core.read_namespace(namespace, _request_timeout=REQUEST_TIMEOUT)
    labels = {k: v for k, v in (ns.metadata.labels or {}).items() if k.startswith(PSA_LABEL)}
    evidence.add(f"PSA labels on {namespace}", labels or "none")
    flags = known_flags("kube-apiserver")
    disabled = "PodSecurity" in flags.get("disable-admission-plugins", "").split(",")
    evidence.add("PodSecurity admission plugin",
                 "disabled (--disable-admission-plugins)" if disabled
                 else "enabled (built in since 1.25)" if flags else "flags unknown")
    level = labels.get(PSA_LABEL + "enforce")
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


def _pod_security_entry(node_text, path: str, evidence) -> dict | None:
    """The PodSecurity entry of the AdmissionConfiguration file the API server names."""
    node, text = node_text(path)
    entry = admissionconfig.plugin_entry(admissionconfig.load_yaml(text, path), path)
    evidence.add(f"PodSecurity entry of {path} (node {node})", entry or "none")
    return entry


def _pod_security_settings(node_text, entry: dict, admission_path: str, evidence) -> dict:
    """The defaults and exemptions of the plugin's configuration, inline or in its own file."""
    path = admissionconfig.configuration_path(entry, admission_path)
    if path is None:
        evidence.add("PodSecurity configuration", f"inline in {admission_path}")
        return admissionconfig.pod_security_settings(entry.get("configuration"),
                                                     f"{admission_path} (inline)")
    node, text = node_text(path)
    evidence.add("PodSecurity configuration", f"{path} (node {node})")
    return admissionconfig.pod_security_settings(admissionconfig.load_yaml(text, path), path)


@kubeproof.control("admission.pod-security")
def test_pod_security_plugin_exempts_nothing(cluster, request, apiserver_flags, evidence):
    """The PodSecurity admission plugin exempts no user, no runtime class and not the
    application namespace (an exemption bypasses pod security entirely)."""
    with evidence.canary("kube-apiserver flags were read"):
        assert apiserver_flags.get("secure-port") or apiserver_flags.get("etcd-servers"), \
            apiserver_flags
    path = apiserver_flags.get(CONFIG_FLAG)
    evidence.add(f"--{CONFIG_FLAG}", path or "(absent)")
    if not path:
        evidence.add("PodSecurity configuration", "none: the built-in defaults apply "
                     "(privileged where no namespace label says otherwise) and nothing is "
                     "exempt")
        return
    if not cluster.has(NODE_ACCESS):
        raise kubeproof.Inconclusive(f"--{CONFIG_FLAG}={path} is set, but the {cluster.target} "
                                     f"target cannot read node files to see its exemptions")
    node_text = request.getfixturevalue("node_text")
    entry = _pod_security_entry(node_text, path, evidence)
    if entry is None:
        evidence.add("PodSecurity configuration", f"none in {path}: the built-in defaults "
                     f"apply and nothing is exempt")
        return
    settings = _pod_security_settings(node_text, entry, path, evidence)
    evidence.add("PodSecurity defaults", settings["defaults"])
    evidence.add("PodSecurity exemptions", settings["exemptions"])
    bypasses = admissionconfig.bypasses(settings["exemptions"], cluster.app_namespace)
    assert not bypasses, f"the PodSecurity admission plugin exempts: {bypasses}"
