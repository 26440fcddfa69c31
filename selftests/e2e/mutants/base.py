"""What a mutant is: a weakening of the local cluster, its revert, and the tests it must flip.

A mutant is applied to the running hardened cluster, the suite runs once, and the mutant is
reverted. Object mutants go through the API (kubectl as admin); component mutants restart
one component with changed flags through the local cluster's own restart call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from kubeproof.localcluster import layout as L
from kubeproof.localcluster.cluster import LocalCluster
from kubeproof.testids import matches

Step = Callable[[LocalCluster], None]
NS = L.APP_NAMESPACE


def matching(patterns: Iterable[str], nodeids: Iterable[str]) -> list[str]:
    """The test ids that match any of the patterns, in the order given."""
    patterns = tuple(patterns)
    return [n for n in nodeids if any(matches(p, n) for p in patterns)]


@dataclass(frozen=True)
class Mutant:
    """One weakening: how to apply and revert it, and which tests it must make fail.

    flips are test ids relative to the repository (`tests/...::name[param]`), `*` a wildcard;
    each must match at least one test, and every test matched must fail under the mutant.
    breaks are tests (the same patterns) whose canary the mutant removes: they must end in
    error, and no other test may.
    """

    name: str
    flips: tuple[str, ...]
    apply: Step
    revert: Step
    breaks: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


def restart(component: str, **flags: str | None) -> tuple[Step, Step]:
    """Apply/revert steps that restart a component with flags changed (None drops a flag)."""
    overrides = {name.replace("_", "-"): value for name, value in flags.items()}
    return (lambda c: c.restart(component, overrides), lambda c: c.restart(component, {}))


def kubectl_steps(apply_args: list[list[str]], revert_args: list[list[str]],
                  reapply_fixtures: bool = True) -> tuple[Step, Step]:
    """Apply/revert steps made of kubectl calls; revert re-applies the bootstrap manifests."""

    def apply(c: LocalCluster) -> None:
        for args in apply_args:
            c.kubectl(*args)

    def revert(c: LocalCluster) -> None:
        for args in revert_args:
            c.kubectl(*args)
        if reapply_fixtures:
            c.apply_manifests()
            c.kubectl("rollout", "status", "deployment/pegress", "-n", NS, "--timeout=90s")

    return apply, revert


def create_steps(*objects: dict) -> tuple[Step, Step]:
    """Apply/revert steps that create API objects and delete them again."""

    def apply(c: LocalCluster) -> None:
        c.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                         "items": list(objects)}))

    def revert(c: LocalCluster) -> None:
        for obj in objects:
            where = ["-n", obj["metadata"]["namespace"]] if "namespace" in obj["metadata"] else []
            c.kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"], *where,
                      "--ignore-not-found")

    return apply, revert


RBAC_API = "rbac.authorization.k8s.io/v1"


def cluster_role_binding(name: str, role: str, *subjects: tuple[str, str]) -> dict:
    """A ClusterRoleBinding of (kind, name) subjects (User, Group) to a ClusterRole."""
    return {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": role},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": who}
                         for kind, who in subjects]}


def patch_app(patch: dict | list, relax_psa: bool = True) -> tuple[Step, Step]:
    """Patches the app Deployment (a dict: strategic merge; a list: JSON patch), after
    relaxing PSA so the weaker pod is admitted; revert rolls it back."""
    steps = []
    if relax_psa:
        steps.append(["label", "namespace", NS, "--overwrite",
                      "pod-security.kubernetes.io/enforce=privileged"])
    kind = "json" if isinstance(patch, list) else "strategic"
    steps.append(["patch", "deployment", "pegress", "-n", NS, f"--type={kind}", "-p",
                  json.dumps(patch)])
    steps.append(["rollout", "status", "deployment/pegress", "-n", NS, "--timeout=90s"])
    return kubectl_steps(steps, [["rollout", "undo", "deployment/pegress", "-n", NS]])


def container_patch(**security_context) -> dict:
    """A Deployment patch setting the app container's securityContext fields."""
    return {"spec": {"template": {"spec": {"containers": [
        {"name": "pegress", "securityContext": security_context}]}}}}
