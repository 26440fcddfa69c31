"""Starting, reaching and stopping the node VM: QEMU's software emulation (TCG) booting the
cached image with its disks as throw-away snapshots, SSH forwarded from 127.0.0.1 only.

Every boot starts from the pristine image (`snapshot=on`), so whatever a mutant changed is gone
after `down`. The guest's user-mode network is `restrict=on`: it reaches nothing outside QEMU,
and the host reaches it only through the one SSH forward on loopback.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paramiko

from .. import ssh, sshhosts
from ..errors import KubeproofError
from ..localcluster.processes import Processes, tail
from . import image

STATE = Path(os.environ.get("KUBEPROOF_NODEVM_STATE", "/run/kubeproof-nodevm"))
# Kernel arguments per variant: which of the two exclusive MAC systems the kernel initialises.
VARIANTS = {
    "selinux": "lsm=landlock,lockdown,yama,selinux,bpf selinux=1 security=selinux",
    "apparmor": "lsm=landlock,lockdown,yama,apparmor,bpf apparmor=1 security=apparmor",
}
BASE_ARGS = "root=LABEL=root ro console=ttyS0,115200 net.ifnames=0 panic=-1 audit=1"
BOOT_BUDGET = 240.0  # seconds from QEMU's start to a login whose systemd says running
USER = "core"
# Console lines that mark the boot's phases, for the progress output.
PHASES = [
    ("kernel", "Linux version"),
    ("initramfs", "Run /init as init process"),
    ("MAC policy", "policy in"),
    ("systemd", "systemd 252"),
    ("containerd", "Started containerd.service"),
    ("sshd", "Started ssh.service"),
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")
POLL = 0.5


@dataclass
class RunLayout:
    """Where one running VM keeps its pid, console log and pinned host key."""

    root: Path

    @property
    def pids(self) -> Path:
        return self.root

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    @property
    def port_file(self) -> Path:
        return self.root / "port"

    @property
    def image_file(self) -> Path:
        """Names the image directory the running VM booted (its keys and manifest)."""
        return self.root / "image"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (QEMU binds it next)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def qemu_argv(where: Path, run: RunLayout, port: int, kernel_args: str) -> list[str]:
    """The QEMU command line: TCG, two snapshot disks, restricted user network, serial console
    to a file."""
    disks = []
    for name in ("root", "usr"):
        disks += ["-drive", f"if=none,id={name},file={where / (name + '.ext4')},format=raw,"
                            f"snapshot=on,cache=unsafe",
                  "-device", f"virtio-blk-pci,drive={name}"]
    return [
        "qemu-system-x86_64", "-name", "kubeproof-nodevm", "-machine", "q35",
        "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", "1536",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(where / "vmlinuz"), "-initrd", str(where / "initrd.img"),
        "-append", kernel_args, *disks,
        "-netdev", f"user,id=n0,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", "virtio-net-pci,netdev=n0,romfile=",
        "-object", "rng-random,id=rng0,filename=/dev/urandom",
        "-device", "virtio-rng-pci,rng=rng0",
        "-serial", f"file:{run.log('console')}",
    ]


class NodeVM:
    """One node VM per variant (selinux, apparmor), its state under STATE/VARIANT."""

    def __init__(self, variant: str = "selinux", state: Path = STATE):
        if variant not in VARIANTS:
            raise KubeproofError(f"node VM variant {variant!r}: choose one of "
                                 f"{', '.join(VARIANTS)}")
        self.variant = variant
        self.run = RunLayout(state / variant)
        self.processes = Processes(self.run)  # type: ignore[arg-type]

    # -- state -----------------------------------------------------------------------------

    def is_running(self) -> bool:
        """Whether this variant's QEMU runs, booted by `up` (its image recorded)."""
        return self.processes.pid("qemu") is not None and self.run.image_file.is_file()

    @property
    def port(self) -> int:
        if not self.is_running():
            raise KubeproofError(f"the node VM ({self.variant}) is not running: "
                                 f"python -m kubeproof.nodevm up")
        return int(self.run.port_file.read_text())

    @property
    def image(self) -> Path:
        """The image directory the running VM booted."""
        self.port  # noqa: B018 (raises when not running)
        return Path(self.run.image_file.read_text())

    def kernel_args(self) -> str:
        """The running VM's kernel command line as QEMU was given it."""
        argv = self.processes.cmdline("qemu")
        return argv[argv.index("-append") + 1] if "-append" in argv else ""

    # -- up and down -----------------------------------------------------------------------

    def up(self, extra_kernel_args: str = "", say=print) -> float:
        """Boot the VM and wait until it is ready (SSH login as core, systemd running, the
        variant's MAC system loaded); the seconds it took. Builds the image on a cache miss."""
        if self.is_running():
            raise KubeproofError(f"the node VM ({self.variant}) is already running on "
                                 f"127.0.0.1:{self.port}: python -m kubeproof.nodevm down first")
        self.down()  # a QEMU an interrupted `up` left, and its stale state
        where = image.ensure(say)
        self.run.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        pub = (where / "ssh_host_ed25519_key.pub").read_text().split()
        port = free_port()
        self.run.known_hosts.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
        console = self.run.log("console")
        console.write_text("")
        args = " ".join(a for a in (BASE_ARGS, VARIANTS[self.variant], extra_kernel_args) if a)
        say(f"node VM ({self.variant}): booting image {where.name} under QEMU TCG "
            f"(budget {BOOT_BUDGET:.0f} s); console {console}")
        start = time.monotonic()
        self.run.port_file.write_text(str(port))
        self.run.image_file.write_text(str(where))
        try:
            self.processes.start("qemu", qemu_argv(where, self.run, port, args))
            self._wait_ready(where, port, start, say)
        except BaseException:
            self.down()
            raise
        took = time.monotonic() - start
        say(f"node VM ({self.variant}): ready in {took:.0f} s on 127.0.0.1:{port}")
        return took

    def _wait_ready(self, where: Path, port: int, start: float, say) -> None:
        deadline = start + BOOT_BUDGET
        console = self.run.log("console")
        seen: set[str] = set()
        pause = threading.Event()
        fingerprint = image.manifest(where)["host_key_sha256"]
        while True:
            text = ANSI.sub("", console.read_text(errors="replace"))
            for phase, marker in PHASES:
                if phase not in seen and marker in text:
                    seen.add(phase)
                    say(f"  {time.monotonic() - start:5.1f} s  {phase}")
            if self.processes.pid("qemu") is None:
                raise KubeproofError(f"the node VM's QEMU exited during boot; last lines of "
                                     f"{console}:\n{tail(console, 40)}\n"
                                     f"QEMU: {tail(self.run.log('qemu'))}")
            if "sshd" in seen:
                try:
                    key = ssh.offered_host_key("127.0.0.1", port, 5)
                    break
                except (OSError, EOFError, paramiko.SSHException):
                    pass
            if time.monotonic() > deadline:
                raise KubeproofError(f"the node VM was not ready within {BOOT_BUDGET:.0f} s; "
                                     f"last lines of {console}:\n{tail(console, 40)}")
            pause.wait(POLL)
        if key.fingerprint.rstrip("=") != ssh.normalise_fingerprint(fingerprint):
            raise KubeproofError(f"the node VM offers host key {key.fingerprint}, not the "
                                 f"image's {fingerprint}: do not connect")
        left = max(10.0, deadline - time.monotonic())
        try:
            state = self.sudo("systemctl is-system-running --wait", timeout=left)[1].strip()
        except TimeoutError:
            raise KubeproofError(f"the node VM's systemd did not finish booting within "
                                 f"{BOOT_BUDGET:.0f} s: python -m kubeproof.nodevm up again, "
                                 f"or read {console}") from None
        say(f"  {time.monotonic() - start:5.1f} s  systemd: {state}")
        if state != "running":
            failed = self.sudo("systemctl --failed --no-legend --plain")[1].strip()
            raise KubeproofError(f"the node VM booted {state!r}, not running; failed units:\n"
                                 f"{failed}")
        lsms = self.sudo("cat /sys/kernel/security/lsm")[1].strip()
        disabled = f"{self.variant}=0" in self.kernel_args().split()  # a boot mutant
        if self.variant not in lsms.split(",") and not disabled:
            raise KubeproofError(f"the node VM ({self.variant}) booted without {self.variant}: "
                                 f"active LSMs {lsms!r}")

    def down(self) -> None:
        """Stop QEMU (SIGTERM, then SIGKILL) and forget the run: the snapshot disks go with it."""
        self.processes.stop("qemu")
        for path in (self.run.port_file, self.run.known_hosts, self.run.image_file):
            path.unlink(missing_ok=True)

    # -- reaching it -----------------------------------------------------------------------

    def client(self) -> paramiko.SSHClient:
        """An SSH connection as core, with the pinned host key and the image's client key."""
        return sshhosts.connect("127.0.0.1", self.port, USER, self.image / "client_ed25519",
                                self.run.known_hosts)

    def sudo(self, command: str, timeout: float = 60) -> tuple[int, str, str]:
        """Run a command as root on the VM (sudo -n); (exit status, stdout, stderr)."""
        client = self.client()
        try:
            return ssh.execute(client, ssh.as_root(USER, command), timeout=timeout)
        finally:
            client.close()

    def pytest_options(self) -> list[str]:
        """The options that point the existing target's host controls at this VM."""
        return ["--ssh-host", f"127.0.0.1:{self.port}", "--ssh-user", USER,
                "--ssh-key", str(self.image / "client_ed25519"),
                "--ssh-known-hosts", str(self.run.known_hosts),
                "--aide-config", "/etc/kubeproof/aide.conf",
                "--hids-canary", "/etc/kubeproof/hids-canary",
                "--node-runtime-endpoint", "unix:///run/containerd/containerd.sock"]
