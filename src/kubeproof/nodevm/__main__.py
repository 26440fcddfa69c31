"""Command line for the node VM: `python -m kubeproof.nodevm build|up|down|status|flags`."""

from __future__ import annotations

import argparse
import shlex
import sys

import paramiko

from ..errors import KubeproofError
from . import image
from .vm import VARIANTS, NodeVM


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kubeproof.nodevm",
        description="A hardened Debian node VM (SELinux enforcing) under QEMU, for the host "
                    "controls: `up`, then run them with the options `flags` prints.")
    parser.add_argument("command", choices=("build", "up", "down", "status", "flags"))
    parser.add_argument("--variant", choices=tuple(VARIANTS), default="selinux",
                        help="which MAC system the kernel initialises (default: selinux)")
    parser.add_argument("--kernel-args", default="", metavar="ARGS",
                        help="up: extra kernel arguments (e.g. enforcing=0)")
    args = parser.parse_args(argv)
    vm = NodeVM(args.variant)
    try:
        if args.command == "build":
            print(image.ensure())
        elif args.command == "up":
            vm.up(args.kernel_args)
            print(shlex.join(vm.pytest_options()))
        elif args.command == "down":
            vm.down()
        elif args.command == "status":
            if not vm.is_running():
                print(f"not running ({args.variant})")
                return 1
            print(f"running ({args.variant}) on 127.0.0.1:{vm.port}: {vm.kernel_args()}")
        elif args.command == "flags":
            print(shlex.join(vm.pytest_options()))
    except (KubeproofError, OSError, paramiko.SSHException) as error:
        print(f"kubeproof: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
