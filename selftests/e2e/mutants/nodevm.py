"""Mutants of the node VM: weakenings of a real SELinux-enforcing host, applied over SSH as
root (sudo), or at boot through the kernel command line. Every boot starts from the pristine
image, so the VM is rebooted for a boot mutant and `down` forgets whatever a mutant changed.

The host test ids carry the node's name first (`[127.0.0.1-loaded]` on the VM,
`[kubeproof-node-loaded]` on the local cluster), so patterns name the node as `*`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from kubeproof.nodevm.vm import NodeVM
from mutants.base import Mutant

VMStep = Callable[[NodeVM], None]
SELINUX = "tests/host/test_selinux.py::test_selinux_enforcing"
MAC = "tests/host/test_mac.py::test_exactly_one_mac_system_is_in_use[*]"
OS = "tests/host/test_os.py::test_node_runs_an_immutable_os"
AIDE_CONF = "/etc/kubeproof/aide.conf"
CONTAINERD = "/etc/containerd/config.toml"


@dataclass(frozen=True)
class NodeVMMutant(Mutant):
    """A node VM mutant: steps run on the VM (apply, revert), or extra kernel arguments for a
    boot of its own (its steps then do nothing)."""

    kernel_args: str = ""


def root(*scripts: str) -> VMStep:
    """A step that runs shell scripts as root on the VM, each of which must succeed."""

    def step(vm: NodeVM) -> None:
        for script in scripts:
            status, out, err = vm.sudo(f"sh -c {shlex.quote(script)}")
            if status != 0:
                raise AssertionError(f"on the node VM `{script}` exited {status}: {err or out}")

    return step


def nothing(vm: NodeVM) -> None:
    """The step of a boot mutant: the kernel command line is the change."""


def reinit_aide() -> str:
    return (f"aide --config {AIDE_CONF} --init >/dev/null; "
            f"mv /var/lib/aide/aide.db.new /var/lib/aide/aide.db")


MUTANTS: tuple[NodeVMMutant, ...] = (
    NodeVMMutant(
        "node VM: SELinux switched to permissive now (setenforce 0)",
        (f"{SELINUX}[*-enforcing-now]", MAC),
        root("setenforce 0"), root("setenforce 1")),
    NodeVMMutant(
        "node VM: SELinux permissive at the next boot (/etc/selinux/config)",
        (f"{SELINUX}[*-enforcing-at-boot]",),
        root("sed -i 's/^SELINUX=.*/SELINUX=permissive/' /etc/selinux/config"),
        root("sed -i 's/^SELINUX=.*/SELINUX=enforcing/' /etc/selinux/config")),
    NodeVMMutant(
        "node VM: SELinux permissive on the kernel command line (enforcing=0)",
        (f"{SELINUX}[*-enforcing-now]", f"{SELINUX}[*-enforcing-at-boot]", MAC),
        nothing, nothing, kernel_args="enforcing=0"),
    NodeVMMutant(
        "node VM: SELinux not initialised at boot (left out of lsm=, selinux=0)",
        (f"{SELINUX}[*-loaded]", f"{SELINUX}[*-enforcing-now]", f"{SELINUX}[*-enforcing-at-boot]",
         MAC),
        nothing, nothing, kernel_args="lsm=landlock,lockdown,yama,bpf selinux=0"),
    NodeVMMutant(
        "node VM: /usr remounted writable",
        (f"{OS}[*-usr-read-only]", f"{OS}[*-usr-refuses-writes]"),
        root("mount -o remount,rw /usr"), root("mount -o remount,ro /usr")),
    NodeVMMutant(
        "node VM: host firewall ruleset flushed",
        ("tests/host/test_firewall.py::test_packet_filter_has_rules[*]",
         "tests/host/test_firewall.py::test_inbound_traffic_is_denied_by_default[*-ipv4]"),
        root("nft flush ruleset"), root("nft -f /etc/nftables.conf")),
    NodeVMMutant(
        "node VM: AIDE database removed",
        ("tests/host/test_hids.py::*",),
        root("mv /var/lib/aide/aide.db /var/lib/aide/aide.db.off"),
        root("mv /var/lib/aide/aide.db.off /var/lib/aide/aide.db")),
    NodeVMMutant(
        "node VM: AIDE's rule blind to content (p+u+g)",
        ("tests/host/test_hids.py::test_aide_reports_a_changed_file_in_its_scope[*]",),
        root(f"sed -i 's/^Watched = .*/Watched = p+u+g/' {AIDE_CONF}", reinit_aide()),
        root(f"sed -i 's/^Watched = .*/Watched = p+u+g+s+sha256/' {AIDE_CONF}", reinit_aide())),
    NodeVMMutant(
        "node VM: the AIDE canary changed before the run (no longer as in the database)",
        (),
        root("echo changed-before-the-run >> /etc/kubeproof/hids-canary"),
        root("sed -i '/^changed-before-the-run$/d' /etc/kubeproof/hids-canary"),
        breaks=("tests/host/test_hids.py::test_aide_reports_a_changed_file_in_its_scope[*]",)),
    NodeVMMutant(
        "node VM: containerd without SELinux labels (enable_selinux = false)",
        ("tests/host/test_runtime.py::test_runtime_labels_containers_with_selinux[*]",),
        root(f"sed -i 's/enable_selinux = true/enable_selinux = false/' {CONTAINERD}",
             "systemctl restart containerd"),
        root(f"sed -i 's/enable_selinux = false/enable_selinux = true/' {CONTAINERD}",
             "systemctl restart containerd")),
)
