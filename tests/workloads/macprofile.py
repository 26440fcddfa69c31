"""The mandatory access control (MAC) profiles a container runs under, read from its pod as
the kubelet reads them (AppArmor and SELinux), and whether they confine it.

Pods and containers are API objects as JSON (camelCase keys), e.g. from
ApiClient.sanitize_for_serialization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LEGACY_APPARMOR = "container.apparmor.security.beta.kubernetes.io/"
CONFINING_APPARMOR = {"RuntimeDefault", "Localhost"}
# SELinux domains the targeted policy does not confine (container-selinux makes spc_t, the
# "super privileged container", and the runtime's own domain unconfined).
UNCONFINED_SELINUX_TYPES = {"spc_t", "unconfined_t", "unconfined_service_t",
                            "container_runtime_t", "kernel_t"}
SELINUX_FIELDS = ("user", "role", "type", "level")


@dataclass(frozen=True)
class Profile:
    """One MAC setting a container runs under: what it says, where it is set, whether it
    confines the container."""

    system: str  # AppArmor or SELinux
    setting: str
    source: str
    confines: bool

    def __str__(self) -> str:
        effect = "confines" if self.confines else "does not confine"
        return f"{self.system} {self.setting} (from {self.source}): {effect}"


def legacy_apparmor(value: str) -> tuple[str, bool]:
    """(setting, confines) of a legacy AppArmor annotation value."""
    if value == "runtime/default":
        return "RuntimeDefault", True
    if value.startswith("localhost/") and len(value) > len("localhost/"):
        return f"Localhost {value.removeprefix('localhost/')}", True
    return value or "(empty)", False


def apparmor_profile(pod: dict[str, Any], container: dict[str, Any]) -> Profile | None:
    """The AppArmor profile the kubelet applies to a container: the container's field, else
    the legacy annotation for it, else the pod's field (None: nothing declared)."""
    own = (container.get("securityContext") or {}).get("appArmorProfile")
    if own:
        return Profile("AppArmor", _apparmor_setting(own), "the container",
                       own.get("type") in CONFINING_APPARMOR)
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    legacy = annotations.get(LEGACY_APPARMOR + container.get("name", ""))
    if legacy is not None:
        setting, confines = legacy_apparmor(legacy)
        return Profile("AppArmor", setting, f"annotation {LEGACY_APPARMOR}"
                       f"{container.get('name')}", confines)
    inherited = ((pod.get("spec") or {}).get("securityContext") or {}).get("appArmorProfile")
    if inherited:
        return Profile("AppArmor", _apparmor_setting(inherited), "the pod",
                       inherited.get("type") in CONFINING_APPARMOR)
    return None


def _apparmor_setting(profile: dict[str, Any]) -> str:
    """An appArmorProfile field as text (type, and the profile name for Localhost)."""
    return " ".join(filter(None, (profile.get("type"), profile.get("localhostProfile"))))


def selinux_profile(pod: dict[str, Any], container: dict[str, Any]) -> Profile | None:
    """The SELinux options the kubelet applies to a container: its own seLinuxOptions replace
    the pod's whole (they are not merged). None: no option is set.

    A type confines unless it is an unconfined domain. Options without a type (only user,
    role or level) keep the runtime's default container type (container_t), which confines:
    they count, the level adding MCS separation. Empty options declare nothing.
    """
    own = (container.get("securityContext") or {}).get("seLinuxOptions")
    inherited = ((pod.get("spec") or {}).get("securityContext") or {}).get("seLinuxOptions")
    options, source = (own, "the container") if own is not None else (inherited, "the pod")
    options = {k: options[k] for k in SELINUX_FIELDS if (options or {}).get(k)}
    if not options:
        return None
    setting = ", ".join(f"{k}={v}" for k, v in options.items())
    if "type" not in options:
        setting += " (type: the runtime's default, container_t)"
    return Profile("SELinux", setting, source,
                   options.get("type") not in UNCONFINED_SELINUX_TYPES)


def mac_profiles(pod: dict[str, Any], container: dict[str, Any]) -> list[Profile]:
    """The AppArmor and SELinux profiles a container declares (empty: none)."""
    found = (apparmor_profile(pod, container), selinux_profile(pod, container))
    return [profile for profile in found if profile is not None]


def confined(profiles: list[Profile]) -> bool:
    """Whether declared profiles confine a container: at least one confines, and none opts it
    out (an explicit Unconfined or spc_t is taken as meant, whichever MAC the node runs)."""
    return bool(profiles) and all(profile.confines for profile in profiles)
