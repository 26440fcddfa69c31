"""Least-privilege findings in a cluster's RBAC: who is cluster-admin, what broad groups may
do, and which roles grant wildcards or escalation beyond the cluster's own defaults.

Nothing is exempt by name: a name (`system:…`) and a label are the attacker's to choose. A
default is exempt only for the exact rules Kubernetes' bootstrap policy gives it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

DEFAULTS_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
# The one subject the bootstrap policy binds to cluster-admin.
CLUSTER_ADMINS = {("Group", "system:masters")}
# Groups every user, every anonymous request or every service account is in.
BROAD_GROUPS = ("system:authenticated", "system:unauthenticated", "system:serviceaccounts")
SELF_REVIEWS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"}
ESCALATING_VERBS = {"escalate", "bind", "impersonate"}

_ALL = {"apiGroups": ["*"], "resources": ["*"]}
_IMPERSONATE_SA = {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}
_KUBELET_API = ["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"]
# Rules with wildcards or escalating verbs that the bootstrap policy of Kubernetes 1.35 gives
# its default roles (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata of
# k8s.io/kubernetes; admin and edit aggregate system:aggregate-to-edit's).
DEFAULT_GRANTS: dict[str, list[dict]] = {
    "cluster-admin": [{**_ALL, "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}],
    "admin": [_IMPERSONATE_SA],
    "edit": [_IMPERSONATE_SA],
    "system:aggregate-to-edit": [_IMPERSONATE_SA],
    "system:kube-controller-manager": [{**_ALL, "verbs": ["list", "watch"]}],
    "system:kubelet-api-admin": [
        {"apiGroups": [""], "resources": _KUBELET_API, "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["nodes/configz", "nodes/healthz", "nodes/pods"],
         "verbs": ["*"]}],
    "system:controller:clusterrole-aggregation-controller": [
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
         "verbs": ["escalate", "get", "list", "patch", "update", "watch"]}],
    "system:controller:generic-garbage-collector": [
        {**_ALL, "verbs": ["delete", "get", "list", "patch", "update", "watch"]}],
    "system:controller:horizontal-pod-autoscaler": [
        {"apiGroups": ["custom.metrics.k8s.io"], "resources": ["*"],
         "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["external.metrics.k8s.io"], "resources": ["*"],
         "verbs": ["get", "list", "watch"]}],
    "system:controller:namespace-controller": [
        {**_ALL, "verbs": ["delete", "deletecollection", "get", "list", "watch"]}],
    "system:controller:resourcequota-controller": [{**_ALL, "verbs": ["list", "watch"]}],
}


def rule_key(rule: dict) -> str:
    """A rule in a canonical form (lists sorted, empty keys dropped), for comparing."""
    return json.dumps({k: sorted(v) for k, v in rule.items() if v}, sort_keys=True)


def is_default(obj: dict) -> bool:
    """Whether an object carries the bootstrap policy's label (anyone can set it)."""
    key, value = DEFAULTS_LABEL
    return (obj["metadata"].get("labels") or {}).get(key) == value


def where(obj: dict) -> str:
    """'Kind namespace/name' of an RBAC object."""
    ns = obj["metadata"].get("namespace")
    return f"{obj['kind']} {ns + '/' if ns else ''}{obj['metadata']['name']}"


def subject(s: dict, binding_namespace: str | None = None) -> str:
    """'Kind namespace/name' of a binding's subject."""
    ns = s.get("namespace") or binding_namespace or ""
    return f"{s['kind']} {ns + '/' if s['kind'] == 'ServiceAccount' else ''}{s['name']}"


def _bindings_with_subjects(objs: dict) -> Iterator[tuple[dict, dict]]:
    for b in objs["bindings"]:
        for s in b.get("subjects") or []:
            yield b, s


def cluster_admin_subjects(objs: dict) -> Iterator[str]:
    """Subjects other than the group system:masters bound to cluster-admin."""
    for b, s in _bindings_with_subjects(objs):
        ref = b["roleRef"]
        if ref["kind"] == "ClusterRole" and ref["name"] == "cluster-admin" \
                and (s["kind"], s["name"]) not in CLUSTER_ADMINS:
            yield (f"{where(b)} binds {subject(s, b['metadata'].get('namespace'))} "
                   f"to cluster-admin")


def discovery_only(rule: dict) -> bool:
    """Whether a rule grants only what every user may have: GETs of non-resource URLs
    (discovery, health, version) or creating reviews of one's own access."""
    verbs = set(rule.get("verbs") or [])
    if rule.get("nonResourceURLs"):
        return verbs <= {"get"}
    return verbs <= {"create"} and set(rule.get("resources") or []) <= SELF_REVIEWS \
        and set(rule.get("apiGroups") or []) <= {"authorization.k8s.io", "authentication.k8s.io"}


def _role_of(objs: dict, binding: dict) -> dict | None:
    ref, ns = binding["roleRef"], binding["metadata"].get("namespace")
    for role in objs["roles"]:
        meta = role["metadata"]
        if role["kind"] == ref["kind"] and meta["name"] == ref["name"] \
                and (ref["kind"] == "ClusterRole" or meta.get("namespace") == ns):
            return role
    return None


def broad_group_bindings(objs: dict) -> Iterator[str]:
    """Bindings that give every user, anonymous requests or every service account more than
    discovery and self-reviews."""
    for b, s in _bindings_with_subjects(objs):
        if s["kind"] != "Group" or not s["name"].startswith(BROAD_GROUPS):
            continue
        role = _role_of(objs, b)
        rules = [] if role is None else role.get("rules") or []
        beyond = [r for r in rules if not discovery_only(r)]
        if role is None or beyond:
            granted = "an absent role" if role is None else f"{beyond}"
            yield (f"{where(b)} gives {s['name']} {b['roleRef']['kind']} "
                   f"{b['roleRef']['name']}: {granted}")


def default_service_account_bindings(objs: dict) -> Iterator[str]:
    """Bindings of a namespace's `default` service account (pods use it unless told
    otherwise)."""
    for b, s in _bindings_with_subjects(objs):
        if s["kind"] == "ServiceAccount" and s["name"] == "default":
            yield (f"{where(b)} binds {subject(s, b['metadata'].get('namespace'))} to "
                   f"{b['roleRef']['kind']} {b['roleRef']['name']}")


def _undefaulted(role: dict, risky) -> Iterator[dict]:
    """The role's risky rules that are not its bootstrap default's own."""
    name = role["metadata"]["name"]
    own = {rule_key(r) for r in DEFAULT_GRANTS.get(name, [])} \
        if is_default(role) and role["kind"] == "ClusterRole" else set()
    for rule in role.get("rules") or []:
        if risky(rule) and rule_key(rule) not in own:
            yield rule


def _wildcard(rule: dict) -> bool:
    return "*" in (rule.get("verbs") or []) or "*" in (rule.get("resources") or [])


def _escalating(rule: dict) -> bool:
    return bool(ESCALATING_VERBS & set(rule.get("verbs") or []))


def wildcard_rules(objs: dict) -> Iterator[str]:
    """Rules granting `*` verbs or resources, beyond the defaults' own."""
    for role in objs["roles"]:
        for rule in _undefaulted(role, _wildcard):
            yield f"{where(role)} grants verbs {rule.get('verbs')} on {rule.get('resources')}"


def escalation_rules(objs: dict) -> Iterator[str]:
    """Rules granting escalate, bind or impersonate, beyond the defaults' own."""
    for role in objs["roles"]:
        for rule in _undefaulted(role, _escalating):
            verbs = sorted(ESCALATING_VERBS & set(rule.get("verbs") or []))
            yield f"{where(role)} grants {verbs} on {rule.get('resources')}"


LEAST_PRIVILEGE = {
    "no-cluster-admin-outside-masters": cluster_admin_subjects,
    "no-broad-group-bindings": broad_group_bindings,
    "no-wildcard-custom-roles": wildcard_rules,
    "no-default-service-account-bindings": default_service_account_bindings,
    "no-escalate-bind-impersonate": escalation_rules,
}
