"""Istio PeerAuthentication overrides: the namespace-level, workload-level and port-level
settings that make mTLS PERMISSIVE or DISABLE for a namespace's pods.

Policies are API objects as JSON. Istio applies a policy of the pod's namespace without a
selector to every pod there, one with a selector to the pods whose labels match it, and a
port-level mode to that port over the policy's own; selector policies in the root namespace
are ignored, and the mesh-wide policy (root namespace, no selector) is judged on its own.
"""

from __future__ import annotations

from typing import Any

WEAK_MODES = {"PERMISSIVE", "DISABLE"}


def applies_to(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a policy of the pod's namespace applies to a pod with these labels (no
    selector, or empty matchLabels: every pod of the namespace)."""
    selector = (policy.get("spec") or {}).get("selector") or {}
    wanted = selector.get("matchLabels") or {}
    return all(labels.get(key) == value for key, value in wanted.items())


def weak_settings(policy: dict[str, Any]) -> list[str]:
    """The PERMISSIVE or DISABLE settings of a policy, as text: its mode and each port's."""
    spec = policy.get("spec") or {}
    found = []
    mode = (spec.get("mtls") or {}).get("mode")
    if mode in WEAK_MODES:
        found.append(f"mtls.mode {mode}")
    for port, setting in sorted((spec.get("portLevelMtls") or {}).items()):
        if (setting or {}).get("mode") in WEAK_MODES:
            found.append(f"portLevelMtls {port} mode {setting['mode']}")
    return found


def scope(policy: dict[str, Any]) -> str:
    """Whether a policy is namespace-level or workload-level, as text (with its selector)."""
    selector = (policy.get("spec") or {}).get("selector")
    if selector and selector.get("matchLabels"):
        return f"workload-level (matchLabels {selector['matchLabels']})"
    return "namespace-level"


def overrides(policies: list[dict[str, Any]],
              pod_labels: dict[str, dict[str, str]]) -> dict[str, str]:
    """{policy name: what it weakens, for which pods} of the policies of one namespace that
    make mTLS PERMISSIVE or DISABLE for some of its pods ({pod name: labels})."""
    found = {}
    for policy in policies:
        weak = weak_settings(policy)
        hit = sorted(name for name, labels in pod_labels.items() if applies_to(policy, labels))
        if weak and hit:
            name = (policy.get("metadata") or {}).get("name", "?")
            found[name] = f"{scope(policy)} {', '.join(weak)}, for pods {', '.join(hit)}"
    return found
