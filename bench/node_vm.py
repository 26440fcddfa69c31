"""Benchmark of the node VM: image build (from the cache's log, or timed when it misses),
boot to ready, one SSH command, the host controls against it, shutdown, QEMU's memory.

Run as root on a bootstrapped machine with the local cluster up (the existing target's cluster
side): `python bench/node_vm.py [--rounds N]`. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kubeproof.localcluster import layout as L
from kubeproof.nodevm import image
from kubeproof.nodevm.vm import NodeVM

REPO = Path(__file__).resolve().parents[1]


def qemu_rss_mib(vm: NodeVM) -> float:
    """QEMU's resident memory, in MiB."""
    pid = vm.processes.pid("qemu")
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def host_suite_seconds(vm: NodeVM) -> float:
    """Wall time of `pytest tests/host` against the VM through the existing target."""
    layout = L.Layout(L.default_state_dir())
    argv = [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "-q",
            "-p", "no:cacheprovider", "-m", "acceptance", "tests/host", "--target=existing",
            f"--kubeconfig={layout.admin_kubeconfig}", f"--app-user={L.APP_USER}",
            *vm.pytest_options()]
    start = time.monotonic()
    subprocess.run(argv, cwd=REPO, capture_output=True, timeout=600)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    start = time.monotonic()
    built = image.is_built(image.directory())
    where = image.ensure()
    build = time.monotonic() - start
    manifest = image.manifest(where)
    print(f"image {where.name}: " + (f"cached (built in {manifest['build_seconds']} s)" if built
                                      else f"built now in {build:.0f} s"))
    print(f"  root {manifest['sizes']['root.ext4'] / 2**20:.0f} MiB, "
          f"usr {manifest['sizes']['usr.ext4'] / 2**20:.0f} MiB (sparse files)")
    figures: dict[str, list[float]] = {"boot to ready": [], "one SSH command": [],
                                       "host controls": [], "down": [], "QEMU RSS MiB": []}
    vm = NodeVM("selinux")
    vm.down()
    try:
        for _ in range(rounds):
            figures["boot to ready"].append(vm.up(say=lambda *_: None))
            start = time.monotonic()
            vm.sudo("true")
            figures["one SSH command"].append(time.monotonic() - start)
            figures["host controls"].append(host_suite_seconds(vm))
            figures["QEMU RSS MiB"].append(qemu_rss_mib(vm))
            start = time.monotonic()
            vm.down()
            figures["down"].append(time.monotonic() - start)
    finally:
        vm.down()
    for name, values in figures.items():
        print(f"{name:16} median {statistics.median(values):7.1f}   "
              f"({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
