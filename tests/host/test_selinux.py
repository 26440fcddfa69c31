"""host.selinux-enforcing: SELinux is loaded, enforcing now and at the next boot."""

from __future__ import annotations

import re

import macfacts
import nodefacts
import pytest

import kubeproof

pytestmark = kubeproof.control("host.selinux-enforcing")

BOOT_CONFIG = "/etc/selinux/config"


def _boot_mode(host) -> tuple[str, list[str]]:
    """SELINUX= from the boot config, and kernel arguments that override it."""
    text = nodefacts.read(host, BOOT_CONFIG)
    mode = "unset" if text is not None else f"unset ({BOOT_CONFIG} does not exist)"
    for line in (text or "").splitlines():
        match = re.fullmatch(r"\s*SELINUX\s*=\s*(\w+)\s*", line)
        if match:
            mode = match.group(1).lower()
    cmdline = (nodefacts.read(host, "/proc/cmdline") or "").split()
    overrides = [arg for arg in cmdline if arg in ("selinux=0", "enforcing=0")]
    return mode, overrides


@pytest.mark.parametrize("aspect", ["loaded", "enforcing-now", "enforcing-at-boot"])
def test_selinux_enforcing(host, evidence, aspect):
    """SELinux is loaded, enforcing now and configured enforcing for the next boot."""
    with evidence.canary("the node's kernel facts are readable (/proc/filesystems)"):
        evidence.add("filesystems", " ".join(macfacts.filesystems(host)))
    state = macfacts.selinux(host)
    evidence.add("selinux", state)
    if aspect == "loaded":
        assert state.loaded, "SELinux is not loaded: the kernel registered no selinuxfs"
    elif aspect == "enforcing-now":
        assert state.enforce == "1", (
            f"SELinux is not enforcing now: {state.mount or 'no selinuxfs mount'}/enforce is "
            f"{state.enforce!r}")
    else:
        mode, overrides = _boot_mode(host)
        evidence.add(BOOT_CONFIG, {"SELINUX": mode, "kernel overrides": overrides})
        assert mode == "enforcing", (
            f"SELinux is not configured enforcing for the next boot: SELINUX={mode}")
        assert not overrides, f"the kernel command line overrides SELinux: {overrides}"
