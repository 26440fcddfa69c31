"""Benchmark of the acceptance suite on a ready local cluster: full run and one control.

Run as root with the local cluster up (`python -m kubeproof.localcluster up`):
`python bench/acceptance_run.py [--rounds N] [--workers N]`. Prints wall times and the
ratio to the reference scenario's shell script, which waited a fixed 60 s for one probe pod.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from kubeproof.localcluster.cluster import LocalCluster
from kubeproof.localcluster.layout import default_state_dir

REPO = Path(__file__).resolve().parents[1]
REFERENCE_SCRIPT_SECONDS = 60


def wall_time(*args: str) -> float:
    """Seconds one pytest run takes, start to exit (its verdicts do not matter here)."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                   cwd=REPO, capture_output=True, check=False)
    return time.monotonic() - start


def report(label: str, seconds: list[float], goal: float) -> None:
    median = statistics.median(seconds)
    print(f"{label:44} median {median:5.1f} s  (runs: {' '.join(f'{s:.1f}' for s in seconds)};"
          f" goal < {goal:g} s; {REFERENCE_SCRIPT_SECONDS / median:.1f}x faster than the"
          f" reference script's fixed {REFERENCE_SCRIPT_SECONDS} s wait)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not LocalCluster(default_state_dir()).is_running():
        sys.exit("bench: bring the local cluster up first: python -m kubeproof.localcluster up")
    full = [wall_time("-m", "acceptance", "-n", str(args.workers)) for _ in range(args.rounds)]
    serial = [wall_time("-m", "acceptance") for _ in range(args.rounds)]
    seccomp = [wall_time("-m", "seccomp") for _ in range(args.rounds)]
    report(f"full acceptance run (-n {args.workers})", full, 20)
    report("full acceptance run (serial)", serial, 20)
    report("one control by marker (-m seccomp)", seccomp, 5)
    print(f"xdist speed-up: {statistics.median(serial) / statistics.median(full):.2f}x")


if __name__ == "__main__":
    main()
