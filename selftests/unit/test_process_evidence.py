"""Process evidence carries only what the control read: host.hids keeps pid 1's executable,
not its command line; the kubelet's canary keeps the flags it reads, not its whole argv."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from conftest import CommandResult as Result
from conftest import FakeRootNode, control_helper
from kubeproof.targets.base import FileIntegrity
from kubeproof.verdicts import Evidence

nodefacts = sys.modules.setdefault("nodefacts", control_helper("host/nodefacts.py"))
test_hids = control_helper("host/test_hids.py")

INIT = ["/usr/lib/systemd/systemd", "--switched-root", "--system", "--deserialize=31",
        "--db-url=postgres://init:pid1-pa55@db/x"]
FALCO = ["/usr/bin/falco", "-o", "json_output=true", "--api-token", "falco-tok3n"]


class FakeNode(FakeRootNode):
    """A node as testinfra shows it: root, pid 1 and one falco process with these argv."""

    def run(self, command: str, *args: str) -> Result:
        if command.startswith("tr "):
            argv = {"1": INIT, "4242": FALCO}[args[0]]
            return Result(0, "\n".join(argv) + "\n")
        if command.startswith("pgrep -x"):
            return Result(0, "4242\n") if args[0] == "falco" else Result(1)
        if command.startswith("for p in"):
            return Result(0, "")  # no file integrity tool
        if command.startswith("if test -e"):
            return Result(3, "")  # no AIDE config (nodefacts.read's "missing")
        raise AssertionError(f"unexpected command {command} {args}")


def test_hids_keeps_only_pid_1s_executable_and_the_detectors_pids():
    evidence = Evidence()
    cluster = SimpleNamespace(file_integrity=FileIntegrity())
    test_hids.test_host_ids_or_runtime_detector_is_present(FakeNode(), cluster, evidence)
    shown = dict(evidence.entries)
    assert shown["pid 1"] == {"pid": 1, "executable": "/usr/lib/systemd/systemd",
                              "flags read": {}}
    assert shown["falco processes"] == [4242]
    text = json.dumps(evidence.as_list())
    for word in INIT[1:] + FALCO[1:]:
        assert word not in text, word


@pytest.mark.parametrize(("read", "flags"), [
    ((), {}),
    (("config", "kubeconfig"), {"config": "/var/lib/kubelet/config.yaml",
                                "kubeconfig": "/etc/kubernetes/kubelet.conf"}),
])
def test_process_evidence_names_only_the_flags_read(read, flags):
    argv = ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml", "--kubeconfig",
            "/etc/kubernetes/kubelet.conf", "--node-labels=team=pay", "--v=2"]
    shown = nodefacts.process_evidence(7, argv, read)
    assert shown == {"pid": 7, "executable": "/usr/bin/kubelet", "flags read": flags}
    assert "team=pay" not in json.dumps(shown)
