"""Benchmark of the local reference cluster: cold build, warm bring-up, teardown, peak memory.

Run as root on a bootstrapped machine: `python bench/local_cluster.py [--rounds N]`.
Prints figures; asserts nothing. Cold build times come from the bootstrap's own timings
(`$KUBEPROOF_CACHE/timings.tsv`, written when a component is built from scratch).
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from kubeproof.localcluster.cluster import ALL_COMPONENTS, LocalCluster
from kubeproof.localcluster.layout import cache_dir

KIND_CREATE_SECONDS = (30, 60)  # kind's `create cluster`, as commonly reported


def session_rss(session: int) -> int:
    """Resident bytes of every process in a session (a component and what it started, such
    as Keycloak's kc.sh and its Java)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != session:
                continue
            for line in (stat.parent / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return total


def cluster_rss_mib(cluster: LocalCluster) -> float:
    """Resident memory of the cluster's processes plus its pods' cgroups, in MiB."""
    total = 0
    for name in ALL_COMPONENTS:
        pid = cluster.processes.pid(name)
        if pid:
            total += session_rss(pid)
    pods = Path("/sys/fs/cgroup/memory/kubepods/memory.usage_in_bytes")
    if pods.exists():
        total += int(pods.read_text())
    return total / 2**20


def measure_once(settle_seconds: float = 5) -> tuple[float, float, float]:
    """One bring-up and teardown in a fresh state dir: (up seconds, down seconds, peak MiB).

    Memory is sampled every half second during bring-up and for settle_seconds after it, so
    the steady state is in the figure too.
    """
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="kubeproof-bench-")), progress=print)
    peak = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.5):
            peak = max(peak, cluster_rss_mib(cluster))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.monotonic()
    cluster.up()
    up = time.monotonic() - start
    done.wait(settle_seconds)
    done.set()
    sampler.join()
    peak = max(peak, cluster_rss_mib(cluster))
    start = time.monotonic()
    cluster.down()
    return up, time.monotonic() - start, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    timings = cache_dir() / "timings.tsv"
    print("cold build (seconds, from the bootstrap's log of its last from-scratch builds):")
    if timings.exists():
        last = {}
        for line in timings.read_text().splitlines():
            name, seconds, _ = line.split("\t")
            last[name] = int(seconds)
        for name, seconds in last.items():
            print(f"  {name:32} {seconds:6d}")
        print(f"  {'total':32} {sum(last.values()):6d}")
    else:
        print("  (no timings recorded: the components were built before timings were kept)")
    rounds = [measure_once() for _ in range(args.rounds)]
    ups, downs, peaks = ([r[i] for r in rounds] for i in range(3))
    print(
        f"warm bring-up to node Ready + DNS + app ready (s): "
        f"{' '.join(f'{u:.1f}' for u in ups)}  median {sorted(ups)[len(ups) // 2]:.1f} (goal < 30)"
    )
    lo, hi = KIND_CREATE_SECONDS
    print(
        f"  ratio to kind create cluster ({lo}-{hi} s): {sorted(ups)[len(ups) // 2] / lo:.2f}"
        f"-{sorted(ups)[len(ups) // 2] / hi:.2f}"
    )
    print(
        f"teardown (s): {' '.join(f'{d:.1f}' for d in downs)}  median "
        f"{sorted(downs)[len(downs) // 2]:.1f} (goal < 5)"
    )
    print(f"peak memory of the cluster (MiB): {max(peaks):.0f}")


if __name__ == "__main__":
    main()
