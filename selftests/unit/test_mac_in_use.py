"""host.mac-single-tool: a MAC system's state that cannot be read is Inconclusive, counted
neither as in use nor as not in use."""

from __future__ import annotations

import sys

import pytest

from conftest import control_helper
from kubeproof.verdicts import Inconclusive

sys.modules.setdefault("nodefacts", control_helper("host/nodefacts.py"))  # imported by name
macfacts = control_helper("host/macfacts.py")


@pytest.mark.parametrize(("enabled", "enforced", "in_use"), [
    (False, None, False),  # not enabled: nothing to count
    (False, 3, False),
    (True, 0, False),
    (True, 2, True),
])
def test_mac_apparmor_in_use(enabled, enforced, in_use):
    assert macfacts.apparmor_in_use(macfacts.AppArmor(enabled, enforced)) is in_use


def test_mac_apparmor_unknown_profile_count_is_inconclusive():
    with pytest.raises(Inconclusive, match="cannot tell whether any profile is enforced"):
        macfacts.apparmor_in_use(macfacts.AppArmor(True, None))


@pytest.mark.parametrize(("loaded", "enforce", "in_use"), [
    (False, None, False),
    (True, "0", False),
    (True, "1", True),
])
def test_mac_selinux_in_use(loaded, enforce, in_use):
    state = macfacts.SELinux(loaded, "/sys/fs/selinux" if loaded else None, enforce)
    assert macfacts.selinux_in_use(state) is in_use


def test_mac_selinux_unknown_mode_is_inconclusive():
    with pytest.raises(Inconclusive, match="mode is unknown"):
        macfacts.selinux_in_use(macfacts.SELinux(True, None, None))
