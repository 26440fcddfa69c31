"""Mandatory access control facts of a node: is SELinux / AppArmor loaded, and enforcing."""

from __future__ import annotations

from dataclasses import dataclass

import nodefacts
from testinfra.host import Host


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
        raise nodefacts.Inconclusive(f"{path} does not exist on the node: cannot tell")
    return text


def filesystems(host: Host) -> list[str]:
    """The filesystem types the kernel has registered (/proc/filesystems)."""
    return [line.split()[-1] for line in _proc(host, "/proc/filesystems").splitlines() if line]


def selinux(host: Host) -> SELinux:
    loaded = "selinuxfs" in filesystems(host)
    mount = None
    for line in _proc(host, "/proc/mounts").splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "selinuxfs":
            mount = fields[1]
    enforce = nodefacts.read(host, f"{mount}/enforce") if mount else None
    return SELinux(loaded, mount, enforce.strip() if enforce is not None else None)


def apparmor(host: Host) -> AppArmor:
    enabled = (nodefacts.read(host, "/sys/module/apparmor/parameters/enabled") or "").strip()
    profiles = nodefacts.read(host, "/sys/kernel/security/apparmor/profiles")
    enforced = None
    if profiles is not None:
        enforced = sum(1 for line in profiles.splitlines() if line.endswith("(enforce)"))
    return AppArmor(enabled == "Y", enforced)


def active_lsms(host: Host) -> list[str] | None:
    """The kernel's active LSMs from securityfs, None when securityfs is not mounted."""
    text = nodefacts.read(host, "/sys/kernel/security/lsm")
    return text.strip().split(",") if text is not None else None
