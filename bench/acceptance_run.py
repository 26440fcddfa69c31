"""Benchmark of the acceptance suite on a ready local cluster: full run, one control, and
where the time goes.

Run as root with the local cluster up (`python -m kubeproof.localcluster up`):
`python bench/acceptance_run.py [--rounds N] [--workers N]`. Prints wall times against the
goals of the speed issue and the CIS family's (`-m cis`), the start-up time (collection
alone), the serial run's test time by area (from its JUnit file), the runner's peak RSS, and
the full-to-one-control ratio.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from kubeproof.localcluster.cluster import LocalCluster
from kubeproof.localcluster.layout import default_state_dir

REPO = Path(__file__).resolve().parents[1]


def wall_time(*args: str) -> float:
    """Seconds one pytest run takes, start to exit (its verdicts do not matter here)."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                   cwd=REPO, capture_output=True, check=False)
    return time.monotonic() - start


def report(label: str, seconds: list[float], goal: float) -> None:
    print(f"{label:44} median {statistics.median(seconds):5.1f} s  "
          f"(runs: {' '.join(f'{s:.1f}' for s in seconds)}; goal < {goal:g} s)")


def time_by_area(junit: Path) -> dict[str, float]:
    """Test time (setup, call and teardown) summed by area (tests/<area>/), from a JUnit file."""
    areas: dict[str, float] = collections.defaultdict(float)
    for case in ET.parse(junit).iter("testcase"):
        parts = case.get("classname", "").split(".")
        area = parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]
        areas[area] += float(case.get("time", 0))
    return dict(areas)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if not LocalCluster(default_state_dir()).is_running():
        sys.exit("bench: bring the local cluster up first: python -m kubeproof.localcluster up")
    startup = [wall_time("-m", "acceptance", "--collect-only") for _ in range(args.rounds)]
    full = [wall_time("-m", "acceptance", "-n", str(args.workers)) for _ in range(args.rounds)]
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "serial.xml"
        serial = [wall_time("-m", "acceptance", f"--junitxml={junit}")
                  for _ in range(args.rounds)]
        areas = time_by_area(junit)
    seccomp = [wall_time("-m", "seccomp") for _ in range(args.rounds)]
    cis = [wall_time("-m", "cis", "-n", str(args.workers)) for _ in range(args.rounds)]
    one = [wall_time("--control", "rbac.authorization-mode") for _ in range(args.rounds)]
    report("start-up (collection only)", startup, 1)
    report(f"full acceptance run (-n {args.workers})", full, 10)
    report("full acceptance run (serial)", serial, 15)
    report("one control by marker (-m seccomp)", seccomp, 3)
    report("--control rbac.authorization-mode", one, 2)
    report(f"CIS family (-m cis -n {args.workers})", cis, 2)
    print("serial run, test time by area (last round): " + ", ".join(
        f"{area} {seconds:.1f} s" for area, seconds in sorted(areas.items(),
                                                              key=lambda a: -a[1])))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"runner peak RSS (largest pytest process): {peak:.0f} MB (goal < 300 MB)")
    print(f"full serial run / one-control run: "
          f"{statistics.median(serial) / statistics.median(seccomp):.1f}x; "
          f"xdist speed-up: {statistics.median(serial) / statistics.median(full):.2f}x")


if __name__ == "__main__":
    main()
