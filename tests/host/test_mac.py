"""host.mac-single-tool: exactly one mandatory access control system is in use."""

from __future__ import annotations

import macfacts

import kubeproof

pytestmark = kubeproof.control("host.mac-single-tool")


def test_exactly_one_mac_system_is_in_use(host, evidence):
    """Exactly one mandatory access control system (SELinux or AppArmor) is in use."""
    with evidence.canary("the node's kernel facts are readable (/proc/filesystems)"):
        evidence.add("filesystems", " ".join(macfacts.filesystems(host)))
    selinux = macfacts.selinux(host)
    apparmor = macfacts.apparmor(host)
    evidence.add("selinux", selinux)
    evidence.add("apparmor", apparmor)
    evidence.add("active LSMs (securityfs)", macfacts.active_lsms(host))
    in_use = []
    if macfacts.selinux_in_use(selinux):
        in_use.append("SELinux (enforcing)")
    if macfacts.apparmor_in_use(apparmor):
        in_use.append(f"AppArmor ({apparmor.profiles_enforced} profiles enforced)")
    evidence.add("in use", in_use)
    assert len(in_use) == 1, (
        f"{len(in_use)} MAC systems in use ({', '.join(in_use) or 'none'}): exactly one of "
        f"SELinux enforcing or AppArmor with enforced profiles is required; "
        f"SELinux {selinux}, AppArmor {apparmor}")
