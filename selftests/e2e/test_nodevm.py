"""The host controls on a real hardened host: the node VM (Debian 12 under QEMU TCG, SELinux
enforcing, read-only /usr, nftables, AIDE, containerd with SELinux labels), reached through
the existing target's SSH node access (paramiko, sudo, a pinned host key), exactly as a user
points kubeproof at a node. Each host check passes on the hardened VM and fails under its
mutant (mutants/nodevm.py), and passes again after the revert.

The cluster side of the existing target is the local cluster (its admin kubeconfig); only the
host controls run. Skipped on a machine without QEMU.
"""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import pytest
from mutants import NODEVM_MUTANTS, matching
from mutants.nodevm import root
from suite import REPO, SuiteRun, run_suite
from test_existing_clusters import existing
from test_mutants import TABLE, check_weakened

from kubeproof.nodevm.vm import NodeVM
from kubeproof.ssh import upload_tree

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-system-x86_64") is None,
    reason="QEMU is not installed (provision/local/bootstrap.sh installs qemu-system-x86)")

# QEMU user networking's addresses: the guest's own, and the gateway that stands for the host.
GUEST_ADDRESS, HOST_GATEWAY = "10.0.2.15", "10.0.2.2"
# Each host control's verdict on the hardened VM, and why where it is not a pass.
EXPECTED = {
    "host.selinux-enforcing": "pass",
    "host.mac-single-tool": "pass",
    "host.firewall": "pass",
    "host.hids": "pass",
    "host.runtime-selinux": "pass",
    # ID=debian is not an immutable container OS: the name check fails by design, while /usr
    # is read-only and refuses writes (tests/host/test_os.py says why the name counts).
    "host.immutable-os": "fail",
    # No kubelet runs on the VM: the kubelet's settings cannot be read (error, never a pass).
    "host.kubelet-hardening": "error",
    "host.runtime-seccomp": "error",
    # tests/host/test_kube_proxy.py: no kube-proxy runs on the VM (a skip that says so).
    "cis.kube-proxy": "skip",
}
# The checks of those controls the VM passes.
PASSING_ON_VM = [
    "tests/host/test_selinux.py::*", "tests/host/test_mac.py::*",
    "tests/host/test_firewall.py::*[*-ipv4]",
    "tests/host/test_firewall.py::test_packet_filter_has_rules[*]",
    "tests/host/test_hids.py::*", "tests/host/test_runtime.py::test_runtime_labels_*",
    "tests/host/test_os.py::*[*-usr-read-only]", "tests/host/test_os.py::*[*-usr-refuses-writes]",
]


def host_suite(local_cluster, vm: NodeVM, *tests: str) -> SuiteRun:
    """The host controls (or the tests named) against the VM, serially."""
    return run_suite(*existing(local_cluster), *vm.pytest_options(), *(tests or ["tests/host"]),
                     workers=0)


def ran(run: SuiteRun) -> dict[str, str]:
    """The verdicts of the controls a run ran."""
    return {c: v for c, v in run.verdicts.items() if v != "not run"}


@pytest.fixture(scope="module")
def node_vm():
    """The hardened node VM (SELinux variant), booted once for the module."""
    vm = NodeVM("selinux")
    if vm.is_running():
        vm.down()
    vm.up()
    yield vm
    vm.down()


@pytest.fixture(scope="module")
def vm_hardened(local_cluster, node_vm) -> SuiteRun:
    """The host controls' results on the hardened VM."""
    return host_suite(local_cluster, node_vm)


def test_host_controls_pass_on_the_hardened_vm(vm_hardened):
    """Every host control gives its expected verdict on the VM, and each check listed as
    passing passes with evidence read over SSH."""
    got = ran(vm_hardened)
    assert got == EXPECTED, "\n".join(
        f"{c}: {got.get(c)} (expected {v})\n{vm_hardened.evidence(c)}"
        for c, v in EXPECTED.items() if got.get(c) != v)
    passing = matching(PASSING_ON_VM, vm_hardened.verdict_of)
    failed = [n for n in passing if vm_hardened.verdict_of[n] != "pass"]
    assert passing and not failed, "\n".join(vm_hardened.evidence_of(n) for n in failed)
    evidence = vm_hardened.evidence("host.selinux-enforcing")
    assert "'enforce': '1'" in evidence, evidence


def test_vm_reaches_nothing_but_its_ssh_forward(node_vm):
    """The guest's network is QEMU's restricted user mode: a host listener on loopback is not
    reachable from the guest through the virtual gateway, and the SSH forward listens on
    127.0.0.1 only. Its canary: the same probe reaches the guest's own sshd."""
    probe = "timeout 5 bash -c '</dev/tcp/{}/{}'"
    own = node_vm.sudo(probe.format(GUEST_ADDRESS, 22))
    assert own[0] == 0, f"canary: the probe cannot reach the guest's own sshd: {own}"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        accepted = threading.Event()
        listener.settimeout(8)

        def accept() -> None:
            try:
                listener.accept()[0].close()
                accepted.set()
            except OSError:
                pass

        waiter = threading.Thread(target=accept)
        waiter.start()
        status, out, err = node_vm.sudo(probe.format(HOST_GATEWAY, port))
        waiter.join()
    assert status != 0 and not accepted.is_set(), (
        f"the guest reached a host listener on 127.0.0.1:{port} (exit {status}: {out}{err})")
    table = Path("/proc/net/tcp").read_text().splitlines()[1:]
    listening = [f for f in (line.split() for line in table) if f[3] == "0A"]  # LISTEN
    forward = [f for f in listening if int(f[1].split(":")[1], 16) == node_vm.port]
    assert forward and all(f[1].startswith("0100007F:") for f in forward), forward


def files_named(mutant) -> list[str]:
    """The test files a mutant's patterns name: its weakened run runs only these (the whole
    host suite over emulated SSH costs about 40 s a run, one file about 10 s)."""
    return sorted({p.split("::")[0] for p in (*mutant.flips, *mutant.breaks)})


def _boot_pristine(vm: NodeVM) -> None:
    """Boot the VM again from its image (snapshot disks: whatever a mutant left is gone)."""
    vm.down()
    vm.up()


@pytest.mark.parametrize("mutant", NODEVM_MUTANTS, ids=str)
def test_nodevm_mutant_flips_its_tests(local_cluster, node_vm, vm_hardened, mutant):
    """Under the mutant each host test it names fails (or errors, for a canary it breaks) and
    nothing else in those tests' files errors; after the revert those tests pass again."""
    files = files_named(mutant)
    if mutant.kernel_args:  # a boot of its own; the hardened VM is booted again after it
        node_vm.down()
        try:
            node_vm.up(mutant.kernel_args)
            assert mutant.kernel_args in node_vm.kernel_args()
            weakened = host_suite(local_cluster, node_vm, *files)
        finally:
            _boot_pristine(node_vm)
    else:
        try:
            mutant.apply(node_vm)
            weakened = host_suite(local_cluster, node_vm, *files)
        finally:
            try:
                mutant.revert(node_vm)
            except BaseException:
                _boot_pristine(node_vm)  # the next mutants start from the hardened image
                raise
    touched = matching((*mutant.flips, *mutant.breaks), weakened.verdict_of)
    again = host_suite(local_cluster, node_vm, *touched).verdict_of if touched else {}
    for nodeid in touched:
        TABLE.append((nodeid, mutant.name, weakened.verdict_of[nodeid],
                      again.get(nodeid, "not run")))
    problems = check_weakened(mutant, vm_hardened, weakened)
    assert not problems, f"under '{mutant}':\n" + "\n".join(problems)
    unrestored = [n for n in touched if again.get(n) != vm_hardened.verdict_of.get(n)]
    if unrestored:
        _boot_pristine(node_vm)
    assert not unrestored, f"after reverting '{mutant}' these are not as hardened: " + ", ".join(
        f"{n}: {again.get(n)}" for n in unrestored)


def test_apparmor_node_counts_as_one_mac_system(local_cluster, node_vm):
    """The same image booted with AppArmor instead of SELinux: host.mac-single-tool passes on
    AppArmor's enforced profiles (SELinux is not loaded, so its control fails), and fails once
    the profiles are unloaded (aa-teardown); it passes again when they are loaded back."""
    vm = NodeVM("apparmor")
    vm.down()
    vm.up()
    tests = ("tests/host/test_mac.py", "tests/host/test_selinux.py")
    try:
        hardened = host_suite(local_cluster, vm, *tests)
        root("aa-teardown")(vm)
        weakened = host_suite(local_cluster, vm, tests[0])
        root("systemctl restart apparmor")(vm)
        again = host_suite(local_cluster, vm, tests[0])
    finally:
        vm.down()
    assert ran(hardened) == {"host.mac-single-tool": "pass",
                             "host.selinux-enforcing": "fail"}, hardened.output[-3000:]
    assert "AppArmor (" in hardened.evidence("host.mac-single-tool")
    assert ran(weakened) == {"host.mac-single-tool": "fail"}, weakened.output[-3000:]
    assert ran(again) == {"host.mac-single-tool": "pass"}, again.output[-3000:]


def test_node_provisioning_host_step_runs_on_the_vm(node_vm):
    """The terraform target's node scripts (provision/node), their host step only (the others
    are kubeadm, Calico and Istio on Flatcar): run for real as root on the VM, it leaves SELinux
    enforcing with the host's own policy type and the Kubernetes sysctls set, and a second run
    changes nothing."""
    client = node_vm.client()
    try:
        upload_tree(client, REPO / "provision" / "node", "/home/core/kubeproof-node")
    finally:
        client.close()
    others = "containerd kubeadm calico istio app-user app"
    command = (f"env KUBEPROOF_OUT=/home/core/kubeproof-out KUBEPROOF_SKIP_STEPS='{others}' "
               f"bash /home/core/kubeproof-node/provision.sh")
    first = node_vm.sudo(command, timeout=120)
    second = node_vm.sudo(command, timeout=120)
    assert first[0] == 0 and second[0] == 0, f"first: {first}\nsecond: {second}"
    assert "wrote: /etc/selinux/config" in first[2], first[2]
    assert "wrote:" not in second[2], f"the second run changed files:\n{second[2]}"
    status, out, err = node_vm.sudo(
        "sh -c 'getenforce; grep ^SELINUXTYPE= /etc/selinux/config; "
        "sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables'")
    assert out.split() == ["Enforcing", "SELINUXTYPE=default", "1", "1"], (status, out, err)
