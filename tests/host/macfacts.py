"""Mandatory access control facts of a node: is SELinux / AppArmor loaded, and enforcing."""

from __future__ import annotations

from dataclasses import dataclass

import nodefacts
from testinfra.host import Host

from kubeproof.verdicts import Inconclusive


@dataclass
class SELinux:
    loaded: bool  # the kernel initialised SELinux (it registered selinuxfs)
    mount: str | None  # where selinuxfs is mounted
    enforce: str | None  # the content of <mount>/enforce: "1" enforcing, "0" permissive


@dataclass
class AppArmor:
    enabled: bool  # /sys/module/apparmor/parameters/enabled is Y
    profiles_enforced: int | None  # profiles in enforce mode (None: securityfs not readable)


def _proc(host: Host, path: str) -> str:
    """A /proc or /sys file that must be readable (Inconclusive otherwise)."""
    text = nodefacts.read(host, path)
    if text is None:
        raise Inconclusive(f"{path} does not exist on the node: cannot tell")
    return text


def filesystems(host: Host) -> list[str]:
    """The filesystem types the kernel has registered (/proc/filesystems)."""
    return [line.split()[-1] for line in _proc(host, "/proc/filesystems").splitlines() if line]


def selinux(host: Host) -> SELinux:
    """SELinux's state on the node: registered, where selinuxfs is mounted, its mode."""
    loaded = "selinuxfs" in filesystems(host)
    mount = None
    for line in _proc(host, nodefacts.HOST_MOUNTS).splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "selinuxfs":
            mount = fields[1]
    enforce = nodefacts.read(host, f"{mount}/enforce") if mount else None
    return SELinux(loaded, mount, enforce.strip() if enforce is not None else None)


def apparmor(host: Host) -> AppArmor:
    """AppArmor's state on the node: enabled, and how many profiles it enforces."""
    enabled = (nodefacts.read(host, "/sys/module/apparmor/parameters/enabled") or "").strip()
    profiles = nodefacts.read(host, "/sys/kernel/security/apparmor/profiles")
    enforced = None
    if profiles is not None:
        enforced = sum(1 for line in profiles.splitlines() if line.endswith("(enforce)"))
    return AppArmor(enabled == "Y", enforced)


def selinux_in_use(state: SELinux) -> bool:
    """Whether SELinux is in use (loaded and enforcing); Inconclusive when it is loaded but
    its mode cannot be read."""
    if not state.loaded:
        return False
    if state.enforce is None:
        raise Inconclusive(
            f"SELinux is loaded but its mode is unknown (selinuxfs mounted at {state.mount}, "
            f"enforce not readable): cannot tell whether it is in use")
    return state.enforce == "1"


def apparmor_in_use(state: AppArmor) -> bool:
    """Whether AppArmor is in use (enabled with profiles in enforce mode); Inconclusive when
    it is enabled but its profiles cannot be counted."""
    if not state.enabled:
        return False
    if state.profiles_enforced is None:
        raise Inconclusive(
            "AppArmor is enabled but /sys/kernel/security/apparmor/profiles is not readable "
            "(securityfs not mounted?): cannot tell whether any profile is enforced")
    return state.profiles_enforced > 0


def active_lsms(host: Host) -> list[str] | None:
    """The kernel's active LSMs from securityfs, None when securityfs is not mounted."""
    text = nodefacts.read(host, "/sys/kernel/security/lsm")
    return text.strip().split(",") if text is not None else None
