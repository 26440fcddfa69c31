"""rbac.least-privilege's findings: nothing is exempt by a name or label an attacker chooses."""

from __future__ import annotations

from conftest import control_helper

rbacfacts = control_helper("cluster/rbacfacts.py")
DEFAULTS = {"kubernetes.io/bootstrapping": "rbac-defaults"}


def role(name: str, rules: list[dict], labels: dict | None = None) -> dict:
    return {"kind": "ClusterRole", "metadata": {"name": name, "labels": labels}, "rules": rules}


def binding(name: str, role_name: str, kind: str, who: str, namespace: str | None = None) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": "RoleBinding" if namespace else "ClusterRoleBinding", "metadata": meta,
            "roleRef": {"kind": "ClusterRole", "name": role_name},
            "subjects": [{"kind": kind, "name": who}]}


ALL = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
BASE = {
    "roles": [role("cluster-admin", [ALL, {"nonResourceURLs": ["*"], "verbs": ["*"]}], DEFAULTS),
              role("system:discovery", [{"nonResourceURLs": ["/api", "/version"],
                                         "verbs": ["get"]}], DEFAULTS),
              role("system:basic-user", [{"apiGroups": ["authorization.k8s.io"],
                                          "resources": ["selfsubjectaccessreviews"],
                                          "verbs": ["create"]}], DEFAULTS)],
    "bindings": [binding("cluster-admin", "cluster-admin", "Group", "system:masters"),
                 binding("system:discovery", "system:discovery", "Group",
                         "system:authenticated"),
                 binding("system:basic-user", "system:basic-user", "Group",
                         "system:authenticated")],
}


def findings(rule: str, roles=(), bindings=()) -> list[str]:
    objs = {"roles": BASE["roles"] + list(roles), "bindings": BASE["bindings"] + list(bindings)}
    return list(rbacfacts.LEAST_PRIVILEGE[rule](objs))


def test_the_bootstrap_defaults_alone_have_no_findings():
    assert all(findings(rule) == [] for rule in rbacfacts.LEAST_PRIVILEGE)


def test_authenticated_bound_to_cluster_admin_by_a_system_named_binding():
    evil = binding("system:kubeproof-evil", "cluster-admin", "Group", "system:authenticated")
    assert findings("no-cluster-admin-outside-masters", bindings=[evil])
    assert findings("no-broad-group-bindings", bindings=[evil])


def test_any_user_but_masters_bound_to_cluster_admin():
    for kind, who in [("User", "system:kube-scheduler"), ("Group", "system:nodes"),
                      ("ServiceAccount", "default")]:
        assert findings("no-cluster-admin-outside-masters",
                        bindings=[binding("b", "cluster-admin", kind, who)]), who


def test_broad_group_may_have_discovery_but_not_more():
    reader = role("system:reader", [{"apiGroups": [""], "resources": ["secrets"],
                                     "verbs": ["get"]}])
    sneaky = binding("system:public-info-viewer", "system:reader", "Group",
                     "system:unauthenticated")
    assert findings("no-broad-group-bindings", roles=[reader], bindings=[sneaky])
    assert findings("no-broad-group-bindings", bindings=[
        binding("x", "absent-role", "Group", "system:serviceaccounts:pegress")])


def test_system_named_and_labelled_role_with_wildcards_or_escalation_is_found():
    fake = role("system:kubeproof-anything", [ALL, {"apiGroups": ["rbac.authorization.k8s.io"],
                                                    "resources": ["clusterroles"],
                                                    "verbs": ["escalate", "bind"]}], DEFAULTS)
    assert findings("no-wildcard-custom-roles", roles=[fake])
    assert findings("no-escalate-bind-impersonate", roles=[fake])


def test_a_default_role_with_an_extra_rule_is_found_but_its_own_rules_are_not():
    edit = role("edit", [rbacfacts.DEFAULT_GRANTS["edit"][0]], DEFAULTS)
    assert findings("no-escalate-bind-impersonate", roles=[edit]) == []
    grown = role("edit", [rbacfacts.DEFAULT_GRANTS["edit"][0],
                          {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"]}],
                 DEFAULTS)
    assert findings("no-escalate-bind-impersonate", roles=[grown])
    unlabelled = role("system:controller:namespace-controller",
                      rbacfacts.DEFAULT_GRANTS["system:controller:namespace-controller"])
    assert findings("no-wildcard-custom-roles", roles=[unlabelled])


def test_default_service_account_binding_in_any_namespace():
    sa = {**binding("b", "edit", "ServiceAccount", "default", "pegress")}
    assert findings("no-default-service-account-bindings", bindings=[sa])
