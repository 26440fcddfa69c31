"""RBAC weakenings: bindings and roles that give the app user, or everyone, too much."""

from __future__ import annotations

import json

from kubeproof.localcluster import layout as L
from mutants.base import (
    NS,
    RBAC_API,
    Mutant,
    cluster_role_binding,
    create_steps,
    kubectl_steps,
)

RBAC = "tests/cluster/test_rbac.py::"
APP_USER_DENIALS = (
    RBAC + "test_app_user_cannot_read_pods_in_kube_system[*]",
    RBAC + "test_app_user_cannot_read_pods_in_istio_system[*]",
    RBAC + "test_app_user_has_nothing_cluster_scoped[*]",
    RBAC + "test_app_user_has_no_power_beyond_its_namespace[*]",
)
LEAST = RBAC + "test_rbac_is_least_privilege"
# Tests whose canary acts as the app user (it lists its own pods, or has a pod admitted): a
# mutant that takes the app user's access away leaves them unable to run.
APP_USER_CANARIES = (*APP_USER_DENIALS, "tests/workloads/test_podsecurity.py::*",
                     "tests/workloads/test_nonroot.py::test_pod_asking_for_uid_0_is_rejected[*]",
                     "tests/workloads/test_images.py::test_image_*_is_refused")


def _user(role: str, name: str) -> dict:
    return cluster_role_binding(name, role, ("User", L.APP_USER))


MUTANTS = (
    Mutant(
        "app user bound to cluster-admin",
        (*APP_USER_DENIALS, LEAST + "[no-cluster-admin-outside-masters]"),
        *create_steps(_user("cluster-admin", "kubeproof-mutant-pegress-admin")),
    ),
    Mutant(
        "app user may read every namespace (view)",
        (RBAC + "test_app_user_cannot_read_pods_in_kube_system[*]",
         RBAC + "test_app_user_cannot_read_pods_in_istio_system[*]",
         RBAC + "test_app_user_has_no_power_beyond_its_namespace[rules-in-*]"),
        *create_steps(_user("view", "kubeproof-mutant-pegress-view")),
    ),
    Mutant(
        # The hole review found: a binding named system:… of system:authenticated was exempt.
        "every authenticated user is cluster-admin (binding named system:…)",
        (*APP_USER_DENIALS, LEAST + "[no-cluster-admin-outside-masters]",
         LEAST + "[no-broad-group-bindings]"),
        *create_steps(cluster_role_binding("system:kubeproof-mutant-authenticated",
                                           "cluster-admin", ("Group", "system:authenticated"))),
    ),
    Mutant(
        "role named system:… grants every verb and may escalate",
        (LEAST + "[no-wildcard-custom-roles]", LEAST + "[no-escalate-bind-impersonate]"),
        *create_steps({"apiVersion": RBAC_API, "kind": "ClusterRole",
                       "metadata": {"name": "system:kubeproof-mutant-anything",
                                    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
                       "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                                 {"apiGroups": [RBAC_API.split("/")[0]],
                                  "resources": ["clusterroles"], "verbs": ["escalate", "bind"]}]}),
    ),
    Mutant(
        "the app namespace's default service account may edit it",
        (LEAST + "[no-default-service-account-bindings]",),
        *create_steps({"apiVersion": RBAC_API, "kind": "RoleBinding",
                       "metadata": {"name": "kubeproof-mutant-default-sa", "namespace": NS},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                   "kind": "ClusterRole", "name": "edit"},
                       "subjects": [{"kind": "ServiceAccount", "name": "default",
                                     "namespace": NS}]}),
    ),
    Mutant(
        "app user may impersonate any user",
        (RBAC + "test_app_user_has_no_power_beyond_its_namespace[impersonate-users]",
         RBAC + "test_app_user_has_no_power_beyond_its_namespace[impersonate-groups]",
         RBAC + "test_app_user_has_no_power_beyond_its_namespace[rules-in-*]",
         LEAST + "[no-escalate-bind-impersonate]"),
        *create_steps(
            {"apiVersion": RBAC_API, "kind": "ClusterRole",
             "metadata": {"name": "kubeproof-mutant-impersonator"},
             "rules": [{"apiGroups": [""], "resources": ["users", "groups"],
                        "verbs": ["impersonate"]}]},
            _user("kubeproof-mutant-impersonator", "kubeproof-mutant-impersonator")),
    ),
    Mutant(
        "app user lost its RoleBinding (its credential does nothing)",
        (RBAC + "test_app_user_can_work_in_its_namespace[*]",
         RBAC + "test_rbac_matches_reviewed_manifests[RoleBinding-pegress-admin]"),
        *kubectl_steps([["delete", "rolebinding", "pegress-admin", "-n", NS]], []),
        # Their canary (the app user lists its own pods, or has a pod admitted) is what this
        # removes.
        breaks=APP_USER_CANARIES,
    ),
    Mutant(
        "app RoleBinding drifted from fixtures",
        (RBAC + "test_rbac_matches_reviewed_manifests[RoleBinding-pegress-admin]",),
        *kubectl_steps(
            [["patch", "rolebinding", "pegress-admin", "-n", NS, "--type=json", "-p",
              json.dumps([{"op": "add", "path": "/subjects/-",
                           "value": {"kind": "User", "name": "intruder",
                                     "apiGroup": "rbac.authorization.k8s.io"}}])]],
            [["delete", "rolebinding", "pegress-admin", "-n", NS]],
        ),
    ),
)
