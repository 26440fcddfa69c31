"""What counts as a restricted PodSecurityPolicy: the one definition that the podsecurity.*
and admission.pod-security controls share."""

from __future__ import annotations

from typing import Any

# Namespace labels of Pod Security Admission (enforce, audit, warn and their versions).
PSA_LABEL = "pod-security.kubernetes.io/"


def restricted_psp_gaps(spec: dict[str, Any]) -> list[str]:
    """What keeps a PodSecurityPolicy spec from being restricted (empty: it is restricted).

    Restricted means: no privileged, host network, PID or IPC; no privilege escalation; a
    non-root user; every capability dropped; and neither hostPath nor every volume type
    (`*`) allowed. An empty or missing volume list allows no volume at all.
    """
    volumes = spec.get("volumes") or []
    checks = {
        "privileged is allowed": bool(spec.get("privileged")),
        "hostNetwork is allowed": bool(spec.get("hostNetwork")),
        "hostPID is allowed": bool(spec.get("hostPID")),
        "hostIPC is allowed": bool(spec.get("hostIPC")),
        "allowPrivilegeEscalation is not false": spec.get("allowPrivilegeEscalation") is not False,
        "runAsUser.rule is not MustRunAsNonRoot":
            (spec.get("runAsUser") or {}).get("rule") != "MustRunAsNonRoot",
        "requiredDropCapabilities lacks ALL":
            "ALL" not in (spec.get("requiredDropCapabilities") or []),
        "hostPath volumes are allowed": "hostPath" in volumes,
        "every volume type is allowed (volumes: *)": "*" in volumes,
    }
    return [gap for gap, present in checks.items() if present]
