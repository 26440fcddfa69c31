"""A local run's summary keeps the cluster's own controls apart from this machine's host
controls, which the local target does not own."""

from __future__ import annotations

from kubeproof.targets.local import summary_lines


def test_host_controls_the_local_target_does_not_own_are_listed_apart_with_their_reason():
    lines = summary_lines({"host.selinux-enforcing": "fail", "host.firewall": "fail",
                           "host.hids": "pass", "rbac.authorization-mode": "pass",
                           "auth.third-party": "fail", "mesh.installed": "skip",
                           "tls.api-server": "not run"})
    assert lines[0] == "the local cluster's own controls: 1 fail, 2 pass, 1 skip"
    assert lines[1].startswith("this machine's host controls (2), which the local target "
                               "does not own")
    assert lines[2:] == ["  host.selinux-enforcing: fail (the kernel loads no SELinux)",
                         "  host.firewall: fail (the machine's own inbound policy, not the "
                         "local target's to change)"]


def test_a_run_without_those_host_controls_adds_nothing():
    assert summary_lines({"rbac.authorization-mode": "pass"}) == []
