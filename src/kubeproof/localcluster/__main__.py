"""Command line for the local cluster: `python -m kubeproof.localcluster up|down|status|env`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import KubeproofError
from .cluster import LocalCluster
from .layout import default_state_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kubeproof.localcluster",
        description="The kubeproof local reference cluster.",
    )
    parser.add_argument("command", choices=("up", "down", "status", "env"))
    parser.add_argument("--state-dir", type=Path, default=default_state_dir())
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.state_dir)
    try:
        if args.command == "up":
            cluster.up()
            print(f"export KUBECONFIG={cluster.layout.admin_kubeconfig}")
        elif args.command == "down":
            cluster.down()
        elif args.command == "status":
            running = cluster.is_running()
            print("running" if running else "not running")
            return 0 if running else 1
        elif args.command == "env":
            print(f"export KUBECONFIG={cluster.layout.admin_kubeconfig}")
    except KubeproofError as error:
        print(f"kubeproof: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
