"""Control-plane flags read from the components' processes over node access (for clusters
whose API shows no static pods)."""

from __future__ import annotations

from conftest import CommandResult as Result
from conftest import FakeRootNode
from kubeproof.nodeprocesses import control_plane_flags
from kubeproof.targets.base import NodeHost

APISERVER = ["/usr/local/bin/kube-apiserver", "--secure-port=6443", "--profiling=false",
             "--authorization-mode", "Node,RBAC", "--anonymous-auth=false"]


class FakeNode(FakeRootNode):
    """A root login on a node whose processes are {pid: argv}; the pids in contained run in
    a container's PID namespace."""

    def __init__(self, processes: dict[int, list[str]], contained: tuple[int, ...] = ()):
        self.processes = processes
        self.contained = contained

    def run(self, command: str, *args: str) -> Result:
        if command.startswith("pgrep -x"):
            # pgrep -x matches the kernel's command name: 15 characters of the executable's.
            pids = [pid for pid, argv in self.processes.items()
                    if argv[0].rsplit("/", 1)[-1][:15] == args[0]]
            return Result(0, "".join(f"{pid}\n" for pid in pids)) if pids else Result(1)
        if command.startswith("tr "):
            return Result(0, "\n".join(self.processes[int(args[0])]) + "\n")
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
