"""Finding and removing what a local cluster leaves on the host: mounts, cgroups, netns, rules."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .shell import run, succeeds

# Chains created by the kubelet, kube-proxy and the policy enforcer; kubeproof's own guard.
CHAIN_PATTERN = re.compile(r"^(KUBE-|KUBEPROOF-|CNI-)")
KUBE_ROUTER_CHAINS = re.compile(r"^KUBE-(ROUTER-|POD-FW-|NWPLCY-|SRC-|DST-)")
IPSET_PATTERN = re.compile(r"^(KUBE-|kube-|inet6:KUBE-)")
CGROUP_ROOT = Path("/sys/fs/cgroup")


def mounts_under(*roots: Path) -> list[str]:
    """Mount points below any of roots, deepest first."""
    prefixes = tuple(str(r).rstrip("/") + "/" for r in roots)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefixes) or point in {p.rstrip("/") for p in prefixes}:
            points.append(point)
    return sorted(set(points), key=len, reverse=True)


def unmount_all(*roots: Path) -> None:
    """Unmounts everything below roots (lazy, so a busy mount cannot block teardown)."""
    for point in mounts_under(*roots):
        succeeds("umount", "-l", point)


def kubepods_cgroups() -> list[Path]:
    """The kubelet's pod cgroups in every v1 controller, deepest first."""
    found = []
    for controller in CGROUP_ROOT.iterdir():
        top = controller / "kubepods"
        if top.is_dir():
            found.extend(p for p in top.rglob("*") if p.is_dir())
            found.append(top)
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def remove_cgroups() -> list[Path]:
    """Removes the kubelet's pod cgroups; returns the ones that could not be removed."""
    stuck = []
    for path in kubepods_cgroups():
        try:
            path.rmdir()
        except OSError:
            stuck.append(path)
    return stuck


def cni_netns() -> list[str]:
    """Network namespaces created for pod sandboxes by the CNI plugins."""
    netns_dir = Path("/var/run/netns")
    return sorted(p.name for p in netns_dir.glob("cni-*")) if netns_dir.is_dir() else []


def remove_netns() -> None:
    for name in cni_netns():
        succeeds("ip", "netns", "delete", name)


def _rule_lines(save_output: str, pattern: re.Pattern = CHAIN_PATTERN) -> tuple[list[str], bool]:
    """iptables-save lines without the chains (and rules of) pattern; whether any were found."""
    kept, found = [], False
    for line in save_output.splitlines():
        chain = line[1:].split()[0] if line.startswith(":") else None
        target = re.search(r"-[AIj] (\S+)(?: .*-j (\S+))?", line) if line.startswith("-A") else None
        names = [chain] if chain else ([g for g in target.groups() if g] if target else [])
        if any(name and pattern.match(name) for name in names):
            found = True
            continue
        kept.append(line)
    return kept, found


def iptables_leftovers(binary: str = "iptables") -> list[str]:
    """Rules and chains of the cluster still present in any table."""
    dump = run(f"{binary}-save", check=False)
    return [
        line
        for line in dump.splitlines()
        if line.startswith((":", "-A")) and re.search(r"\b(KUBE-|KUBEPROOF-|CNI-)", line)
    ]


def remove_iptables(binary: str = "iptables", pattern: re.Pattern = CHAIN_PATTERN) -> None:
    """Removes every chain (and rule jumping to one) matching pattern, leaving other rules alone."""
    for table in ("raw", "mangle", "nat", "filter"):
        dump = run(f"{binary}-save", "-t", table, check=False)
        kept, found = _rule_lines(dump, pattern)
        if found:
            run(f"{binary}-restore", "-w", "-T", table, input="\n".join(kept) + "\n")


def ipsets() -> list[str]:
    if not shutil.which("ipset"):
        return []
    return [n for n in run("ipset", "list", "-n", check=False).split() if IPSET_PATTERN.match(n)]


def remove_ipsets() -> None:
    for name in ipsets():
        succeeds("ipset", "destroy", name)


def processes_mentioning(*needles: str) -> list[int]:
    """Pids whose command line mentions any needle (the cluster's paths), this process excluded."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(n in cmdline for n in needles):
            pids.append(int(entry.name))
    return pids
