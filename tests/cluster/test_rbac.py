"""RBAC controls: what the app user may and may not do, how the API server authorizes, and
whether the cluster's roles and bindings stay least-privilege and as reviewed (item 2)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import rbacfacts
import yaml

import kubeproof
from kubeproof.kube import api_path

RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rbac"


def _app_user_can_list_own_pods(cluster, app_api, evidence) -> None:
    """Canary: the app user lists pods in its own namespace (review and request agree)."""
    own = cluster.app_namespace
    with evidence.canary(f"{cluster.app_user} lists pods in its own namespace {own}",
                         guard=app_api.guard):
        canary = app_api.check_access("list", "pods", namespace=own)
        evidence.add("own namespace", str(canary))
        assert canary.review_allowed and canary.request_allowed, str(canary)


@kubeproof.control("rbac.app-user-denied-kube-system")
@pytest.mark.parametrize("verb", ["get", "list"])
def test_app_user_cannot_read_pods_in_kube_system(cluster, app_api, evidence, verb):
    """The app user cannot get or list pods in kube-system."""
    _app_user_can_list_own_pods(cluster, app_api, evidence)
    result = app_api.check_access(verb, "pods", namespace="kube-system")
    kubeproof.assert_denied(evidence, result)


@kubeproof.control("rbac.app-user-denied-istio-system")
@pytest.mark.parametrize("verb", ["get", "list"])
def test_app_user_cannot_read_pods_in_istio_system(cluster, admin_api, app_api, evidence, verb):
    """The app user cannot get or list pods in istio-system (present or not)."""
    _app_user_can_list_own_pods(cluster, app_api, evidence)
    # RBAC is decided before the namespace is looked up, so an absent namespace still answers
    # 403 when denied; it counts as denied only if the access review says so too.
    exists = admin_api.request("GET", api_path("namespaces", name="istio-system"))
    evidence.add("namespace istio-system", f"{exists.request} -> {exists.status}")
    result = app_api.check_access(verb, "pods", namespace="istio-system")
    kubeproof.assert_denied(evidence, result)


# (verb, resource, API group, namespace or None for cluster scope; "own" = app namespace)
OWN_JOB = [
    ("list", "pods", "", "own"),
    ("create", "deployments", "apps", "own"),
    ("create", "configmaps", "", "own"),
    ("delete", "services", "", "own"),
    ("get", "secrets", "", "own"),
]
BEYOND = [
    ("list", "nodes", "", None),
    ("list", "namespaces", "", None),
    ("create", "namespaces", "", None),
    ("list", "persistentvolumes", "", None),
    ("list", "clusterroles", RBAC_GROUP, None),
    ("create", "clusterrolebindings", RBAC_GROUP, None),
    ("list", "secrets", "", "kube-system"),
    ("get", "secrets", "", "default"),
]


def _case_id(case) -> str:
    verb, resource, _, namespace = case
    return f"{verb}-{resource}" + (f"-in-{namespace}" if namespace else "")


def _check(app_api, cluster, case):
    verb, resource, group, namespace = case
    namespace = cluster.app_namespace if namespace == "own" else namespace
    return app_api.check_access(verb, resource, namespace=namespace, group=group)


@kubeproof.control("rbac.app-user-scoped")
@pytest.mark.parametrize("case", OWN_JOB, ids=_case_id)
def test_app_user_can_work_in_its_namespace(cluster, app_api, evidence, case):
    """The app user can do its job in its own namespace (so its denials are not a broken
    credential)."""
    result = _check(app_api, cluster, case)
    evidence.add("access check", str(result))
    if not result.agree:
        raise kubeproof.Inconclusive(f"access review and real request disagree: {result}")
    assert result.review_allowed and result.request_allowed, f"app user refused: {result}"


@kubeproof.control("rbac.app-user-scoped")
@pytest.mark.parametrize("case", BEYOND, ids=_case_id)
def test_app_user_has_nothing_cluster_scoped(cluster, app_api, evidence, case):
    """The app user can do nothing cluster-scoped nor read secrets of other namespaces."""
    _app_user_can_list_own_pods(cluster, app_api, evidence)
    kubeproof.assert_denied(evidence, _check(app_api, cluster, case))


# Powers that reach beyond any namespace: (verb, resource, subresource, API group, namespace)
BEYOND_NAMESPACE = {
    "impersonate-users": ("impersonate", "users", "", "", None),
    "impersonate-groups": ("impersonate", "groups", "", "", None),
    "impersonate-serviceaccounts-in-kube-system": ("impersonate", "serviceaccounts", "", "",
                                                   "kube-system"),
    "escalate-clusterroles": ("escalate", "clusterroles", "", RBAC_GROUP, None),
    "bind-clusterroles": ("bind", "clusterroles", "", RBAC_GROUP, None),
    "proxy-to-nodes": ("get", "nodes", "proxy", "", None),
    "approve-certificatesigningrequests": ("update", "certificatesigningrequests", "approval",
                                           "certificates.k8s.io", None),
    "create-mutatingwebhookconfigurations": ("create", "mutatingwebhookconfigurations", "",
                                             "admissionregistration.k8s.io", None),
    "create-validatingwebhookconfigurations": ("create", "validatingwebhookconfigurations", "",
                                               "admissionregistration.k8s.io", None),
    "create-tokens-in-kube-system": ("create", "serviceaccounts", "token", "", "kube-system"),
    # A pod in kube-system runs with any of its service accounts and may mount host paths.
    "create-pods-in-kube-system": ("create", "pods", "", "", "kube-system"),
    "create-pods-in-default": ("create", "pods", "", "", "default"),
    "everything": ("*", "*", "", "*", None),
}
RULES_IN = ["kube-system", "default"]


def _rules_beyond(app_api, namespace: str, evidence) -> list[dict]:
    """The app identity's resource rules in a namespace (SelfSubjectRulesReview) that go past
    discovery and self-reviews."""
    answer = app_api.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                             body={"spec": {"namespace": namespace}})
    if answer.status != 201:
        raise kubeproof.Inconclusive(f"{answer.request} -> {answer.status} {answer.message}")
    status = answer.body["status"]
    if status.get("incomplete"):
        evidence.add(f"rules review in {namespace} incomplete", status.get("evaluationError"))
    rules = status.get("resourceRules") or []
    return [r for r in rules if not rbacfacts.discovery_only(r)]


@kubeproof.control("rbac.app-user-scoped")
@pytest.mark.parametrize("case", [*BEYOND_NAMESPACE, *(f"rules-in-{ns}" for ns in RULES_IN)])
def test_app_user_has_no_power_beyond_its_namespace(cluster, app_api, evidence, case):
    """The API server grants the app user no impersonation, escalation, node, CSR, webhook,
    token or pod-creation power, and no rules in other namespaces."""
    _app_user_can_list_own_pods(cluster, app_api, evidence)
    if case.startswith("rules-in-"):
        namespace = case.removeprefix("rules-in-")
        beyond = _rules_beyond(app_api, namespace, evidence)
        kubeproof.expect_denied(evidence, f"rules of {cluster.app_user} in {namespace}",
                                denied=not beyond, detail=beyond or "discovery only",
                                guard=app_api.guard)
        return
    verb, resource, subresource, group, namespace = BEYOND_NAMESPACE[case]
    allowed, reason = app_api.review(verb, resource, namespace, group, subresource=subresource)
    what = f"{verb} {resource}{'/' + subresource if subresource else ''}" + (
        f" in {namespace}" if namespace else "")
    kubeproof.expect_denied(evidence, f"access review: {cluster.app_user} may {what}",
                            denied=not allowed, guard=app_api.guard,
                            detail=reason or ("allowed" if allowed else "denied"))


@kubeproof.control("rbac.authorization-mode")
@pytest.mark.parametrize(("mode", "wanted"), [("RBAC", True), ("AlwaysAllow", False),
                                              ("ABAC", False)],
                         ids=["RBAC-enabled", "AlwaysAllow-absent", "ABAC-absent"])
def test_api_server_authorization_mode(request, apiserver_flags, evidence, mode, wanted):
    """The API server authorizes with RBAC, never AlwaysAllow or ABAC."""
    if "authorization-config" in apiserver_flags:
        path = apiserver_flags["authorization-config"]
        _, text = request.getfixturevalue("node_text")(path)
        config = yaml.safe_load(text) or {}
        modes = [a.get("type", "") for a in config.get("authorizers") or []]
        source = f"--authorization-config={path} authorizers"
    else:
        # kube-apiserver's default, when the flag is absent, is AlwaysAllow.
        value = apiserver_flags.get("authorization-mode", "AlwaysAllow")
        modes = [m for m in value.split(",") if m]
        source = f"--authorization-mode={value}"
    evidence.add("authorization modes", source)
    with evidence.canary("kube-apiserver flags were read"):
        assert apiserver_flags.get("secure-port") or apiserver_flags.get("etcd-servers"), \
            apiserver_flags
    if wanted:
        assert mode in modes, f"{mode} is not among the API server's authorizers: {source}"
    else:
        assert mode not in modes, f"the API server authorizes with {mode}: {source}"


# --- rbac.least-privilege --------------------------------------------------------------------

RBAC_LISTS = {"bindings": (("ClusterRoleBinding", "clusterrolebindings"),
                           ("RoleBinding", "rolebindings")),
              "roles": (("ClusterRole", "clusterroles"), ("Role", "roles"))}


def _rbac_objects(admin_api) -> dict[str, list[dict]]:
    """Every binding and role of the cluster, as the API returns them (kind added)."""
    objs: dict[str, list[dict]] = {}
    for key, kinds in RBAC_LISTS.items():
        objs[key] = []
        for kind, resource in kinds:
            answer = admin_api.request("GET", api_path(resource, group=RBAC_GROUP))
            if answer.status != 200:
                raise kubeproof.Inconclusive(f"{answer.request} -> {answer.status} "
                                             f"{answer.message}")
            objs[key] += [{**item, "kind": kind} for item in answer.body["items"]]
    return objs


@kubeproof.control("rbac.least-privilege")
@pytest.mark.parametrize("rule", list(rbacfacts.LEAST_PRIVILEGE))
def test_rbac_is_least_privilege(admin_api, evidence, rule):
    """Only system:masters is cluster-admin, broad groups get no more than discovery, and no
    role grants wildcards or escalation beyond Kubernetes' own defaults."""
    with evidence.canary("the admin lists every role and binding"):
        objs = _rbac_objects(admin_api)
    evidence.add("examined", {k: len(v) for k, v in objs.items()})
    with evidence.canary("the listing holds the bootstrap cluster-admin binding"):
        assert any(b["metadata"]["name"] == "cluster-admin" for b in objs["bindings"]), \
            "no ClusterRoleBinding cluster-admin listed"
    findings = list(rbacfacts.LEAST_PRIVILEGE[rule](objs))
    evidence.add("findings", findings or "none")
    assert not findings, f"{rule}: " + "; ".join(findings)


# --- rbac.reconcile-drift --------------------------------------------------------------------

RESOURCES = {"Role": "roles", "ClusterRole": "clusterroles",
             "RoleBinding": "rolebindings", "ClusterRoleBinding": "clusterrolebindings"}


def _manifests() -> list[str]:
    """Every RBAC document kept in fixtures/rbac/, as raw YAML text (placeholders intact)."""
    docs = []
    for path in sorted(RBAC_FIXTURES.glob("*.yaml")):
        docs += [d for d in path.read_text().split("\n---\n") if yaml.safe_load(d)]
    return docs


def _manifest_id(doc: str) -> str:
    obj = yaml.safe_load(doc)
    return f"{obj['kind']}-{obj['metadata']['name']}"


def _atoms(rules):
    """Each rule as (apiGroup, resource or URL, verb, resourceName) tuples; '*' = any name."""
    for r in rules or []:
        for verb in r.get("verbs") or []:
            for url in r.get("nonResourceURLs") or []:
                yield ("url", url, verb, "*")
            for group in r.get("apiGroups") or []:
                for resource in r.get("resources") or []:
                    for name in r.get("resourceNames") or ["*"]:
                        yield (group, resource, verb, name)


def _covered(atom, rules) -> bool:
    """Whether some rule grants the atom (wildcards and name restrictions considered)."""
    for have in _atoms(rules):
        if all(h in (a, "*") for h, a in zip(have, atom, strict=True)):
            return True
        if atom[0] == "url" and have[0] == "url" and have[1].endswith("*") \
                and atom[1].startswith(have[1][:-1]) and have[2] in (atom[2], "*"):
            return True
    return False


def _subjects(binding):
    ns = binding["metadata"].get("namespace", "")
    return {(s["kind"], s["name"], s.get("namespace") or (ns if s["kind"] == "ServiceAccount"
                                                         else ""))
            for s in binding.get("subjects") or []}


def reconcile_changes(desired: dict, live: dict | None) -> list[str]:
    """What `kubectl auth reconcile --remove-extra-permissions --remove-extra-subjects` would
    change to make live match desired (empty: no drift)."""
    if live is None:
        return ["create (absent from the cluster)"]
    if desired["kind"].endswith("Binding"):
        changes = []
        want_ref = {k: desired["roleRef"][k] for k in ("kind", "name")}
        have_ref = {k: live["roleRef"][k] for k in ("kind", "name")}
        if want_ref != have_ref:
            changes.append(f"recreate: roleRef is {have_ref}, the manifest says {want_ref}")
        want, have = _subjects(desired), _subjects(live)
        changes += [f"add subject {s}" for s in sorted(want - have)]
        changes += [f"remove extra subject {s}" for s in sorted(have - want)]
        return changes
    if desired.get("aggregationRule") or live.get("aggregationRule"):
        if desired.get("aggregationRule") != live.get("aggregationRule"):
            return [f"aggregationRule {live.get('aggregationRule')} -> "
                    f"{desired.get('aggregationRule')}"]
        return []  # the aggregation controller owns an aggregated role's rules
    want, have = desired.get("rules"), live.get("rules")
    return ([f"add rule {a}" for a in _atoms(want) if not _covered(a, have)]
            + [f"remove extra rule {a}" for a in _atoms(have) if not _covered(a, want)])


@kubeproof.control("rbac.reconcile-drift")
@pytest.mark.parametrize("doc", _manifests(), ids=_manifest_id)
def test_rbac_matches_reviewed_manifests(cluster, admin_api, evidence, doc):
    """The cluster's RBAC matches the manifests kept in fixtures/rbac/ (reconcile changes
    nothing)."""
    values = {"APP_NAMESPACE": cluster.app_namespace, "APP_USER": cluster.app_user}
    desired = yaml.safe_load(string.Template(doc).substitute(values))
    meta = desired["metadata"]
    path = api_path(RESOURCES[desired["kind"]], meta.get("namespace"), meta["name"],
                    group=RBAC_GROUP)
    response = admin_api.request("GET", path)
    with evidence.canary(f"the admin reads {desired['kind']} {meta['name']}"):
        assert response.status in (200, 404), f"{response.request} -> {response.status} " \
                                              f"{response.message}"
    evidence.add("live object", f"{response.request} -> {response.status}")
    changes = reconcile_changes(desired, response.body if response.status == 200 else None)
    evidence.add("reconcile would change", changes or "nothing")
    assert not changes, f"{desired['kind']} {meta['name']} drifted: " + "; ".join(changes)
