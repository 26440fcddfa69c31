"""Control-plane flags read from the components' processes over node access (for clusters
whose API shows no static pods)."""

from __future__ import annotations

import pytest

from conftest import CommandResult as Result
from conftest import FakeRootNode
from kubeproof.nodeprocesses import control_plane_flags, etcd_flags, flags
from kubeproof.targets.base import NodeHost
from kubeproof.verdicts import Inconclusive

APISERVER = ["/usr/local/bin/kube-apiserver", "--secure-port=6443", "--profiling=false",
             "--authorization-mode", "Node,RBAC", "--anonymous-auth=false"]


class FakeNode(FakeRootNode):
    """A root login on a node whose processes are {pid: argv} (environments {pid: {name:
    value}}), whose files are {path: text}; the pids in contained run in a container's PID
    namespace."""

    def __init__(self, processes: dict[int, list[str]], contained: tuple[int, ...] = (),
                 environments: dict[int, dict[str, str]] | None = None,
                 files: dict[str, str] | None = None):
        self.processes = processes
        self.contained = contained
        self.environments = environments or {}
        self.files = files or {}

    def run(self, command: str, *args: str) -> Result:
        if command.startswith("pgrep -x"):
            # pgrep -x matches the kernel's command name: 15 characters of the executable's.
            pids = [pid for pid, argv in self.processes.items()
                    if argv[0].rsplit("/", 1)[-1][:15] == args[0]]
            return Result(0, "".join(f"{pid}\n" for pid in pids)) if pids else Result(1)
        if command.startswith("tr ") and "/environ" in command:
            environment = self.environments.get(int(args[0]), {})
            return Result(0, "".join(f"{k}={v}\n" for k, v in environment.items()))
        if command.startswith("tr "):
            return Result(0, "\n".join(self.processes[int(args[0])]) + "\n")
        if command.startswith("cat -- "):
            return Result(0, self.files[args[0]]) if args[0] in self.files else \
                Result(1, "", f"cat: {args[0]}: No such file or directory")
        if "/ns/pid" in command:
            return Result(1 if int(args[0]) in self.contained else 0)
        raise AssertionError(f"unexpected command {command} {args}")


def test_flags_of_each_component_from_the_first_node_it_runs_on_and_its_oldest_process():
    worker = FakeNode({10: ["/usr/bin/kubelet", "--anonymous-auth=true"]})
    control = FakeNode({200: APISERVER, 31: ["etcd", "--client-cert-auth=false"],
                        30: ["etcd", "--client-cert-auth=true"]})
    second = FakeNode({5: ["etcd", "--client-cert-auth=false"]})
    found = control_plane_flags([(NodeHost("worker", "ssh://w"), worker),
                                 (NodeHost("cp1", "ssh://c"), control),
                                 (NodeHost("cp2", "ssh://d"), second)])
    assert sorted(found) == ["etcd", "kube-apiserver"]
    assert found["kube-apiserver"].flags == {"secure-port": "6443", "profiling": "false",
                                             "authorization-mode": "Node,RBAC",
                                             "anonymous-auth": "false"}
    assert found["kube-apiserver"].source == \
        "process 200 (kube-apiserver) on node cp1, /proc/200/cmdline"
    assert found["etcd"].flags == {"client-cert-auth": "true"}
    assert "process 30 " in found["etcd"].source


def test_no_control_plane_process_reads_as_nothing_found():
    assert control_plane_flags([(NodeHost("worker", "ssh://w"),
                                 FakeNode({10: ["/usr/bin/kubelet"]}))]) == {}


def test_a_workloads_etcd_in_a_container_does_not_count_and_long_names_are_found():
    node = FakeNode({40: ["etcd", "--client-cert-auth=false"],
                     50: ["/usr/local/bin/kube-controller-manager", "--profiling=false"],
                     60: ["/usr/local/bin/kube-controller", "--decoy=true"]}, contained=(40,))
    found = control_plane_flags([(NodeHost("n1", "ssh://n"), node)])
    assert sorted(found) == ["kube-controller-manager"]
    assert found["kube-controller-manager"].flags == {"profiling": "false"}


ETCD_CONFIG = """
name: cp1
listen-client-urls: https://10.0.0.5:2379
client-transport-security:
  cert-file: /etc/etcd/server.crt
  client-cert-auth: true
peer-transport-security:
  client-cert-auth: false
"""


def test_etcd_from_its_config_file_ignores_its_flags_and_environment():
    node = FakeNode({7: ["/usr/bin/etcd", "--config-file", "/etc/etcd/etcd.yaml",
                         "--client-cert-auth=false"]},
                    environments={7: {"ETCD_CERT_FILE": "/elsewhere.crt"}},
                    files={"/etc/etcd/etcd.yaml": ETCD_CONFIG})
    etcd = control_plane_flags([(NodeHost("cp1", "ssh://c"), node)])["etcd"]
    assert etcd.flags == {"name": "cp1", "listen-client-urls": "https://10.0.0.5:2379",
                          "cert-file": "/etc/etcd/server.crt", "client-cert-auth": "true",
                          "peer-client-cert-auth": "false"}
    assert etcd.source.endswith("its config file /etc/etcd/etcd.yaml (etcd then ignores its "
                                "command line and environment)")


def test_etcd_config_file_named_by_environment_and_unreadable_is_inconclusive():
    node = FakeNode({7: ["etcd"]}, environments={7: {"ETCD_CONFIG_FILE": "/gone.yaml"}})
    with pytest.raises(Inconclusive, match=r"cannot read /gone\.yaml on node cp1"):
        control_plane_flags([(NodeHost("cp1", "ssh://c"), node)])


def test_etcd_environment_fills_the_flags_its_command_line_does_not_give():
    settings, source = etcd_flags(
        ["etcd", "-cert-file=/a.crt", "-client-cert-auth"],
        {"ETCD_CERT_FILE": "/b.crt", "ETCD_TRUSTED_CA_FILE": "/ca.crt", "ETCDCTL_API": "3"},
        read=lambda path: pytest.fail("no config file to read"))
    assert settings == {"cert-file": "/a.crt", "client-cert-auth": "true",
                        "trusted-ca-file": "/ca.crt"}
    assert source == "its command line and environment (ETCD_TRUSTED_CA_FILE)"


def test_single_dash_flags_only_for_gos_flag_package():
    assert flags(["etcd", "-key-file", "/k", "--peer-auto-tls"], single_dash=True) == \
        {"key-file": "/k", "peer-auto-tls": "true"}
    assert flags(["kube-apiserver", "-v", "2", "--profiling=false"]) == {"profiling": "false"}
