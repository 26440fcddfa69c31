"""Control-plane files (CIS 1.1), one test per MODE or OWNER row of the configuration table:
each finds the node the component runs on (over node access), locates the files the row names
and judges their mode or owner."""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Callable

import pytest
import yaml

import kubeproof
from kubeproof import nodefiles
from kubeproof.configchecks import MODE, OWNER, ConfigCheck, Rule
from kubeproof.configtable import CONTROL_PLANE, PROCESS_OWNER, rows
from kubeproof.nodeprocesses import COMM_LENGTH, flags, in_host_pid_namespace, processes, run

STATIC_POD_PATH = "/etc/kubernetes/manifests"  # the kubelet's staticPodPath as kubeadm sets it
ADMIN_KUBECONFIGS = ("/etc/kubernetes/admin.conf", "/etc/kubernetes/super-admin.conf")


@dataclasses.dataclass(frozen=True)
class Running:
    """Where a component runs: node, its testinfra host, pid, and whether it is a host process
    (in the host's PID namespace) rather than a container's."""

    node: object
    host: object
    pid: int
    host_process: bool


@pytest.fixture(scope="session")
def running_components(node_hosts) -> dict[str, Running]:
    """The nodes kubeproof reaches on which each control-plane component runs (the first)."""
    found: dict[str, Running] = {}
    names = set(CONTROL_PLANE)
    for node, host in node_hosts:
        for name in sorted(names - set(found)):
            for pid, argv in processes(host, name[:COMM_LENGTH]):
                if argv and posixpath.basename(argv[0]) == name:
                    found[name] = Running(node, host, pid, in_host_pid_namespace(host, pid))
                    break
    return found


@pytest.fixture
def running(running_components, evidence) -> Callable[[str], Running]:
    """running(component) -> where it runs; skips when no control-plane component runs on
    the nodes kubeproof reaches (a managed control plane), and one missing where others run
    is Inconclusive."""

    def find(component: str) -> Running:
        if component not in running_components:
            if not running_components:
                pytest.skip("no control-plane component runs on the nodes kubeproof reaches: "
                            "a managed control plane, or no access to a control-plane node")
            raise kubeproof.Inconclusive(f"{component} runs on none of the nodes kubeproof "
                                         f"reaches (it sees {sorted(running_components)})")
        where = running_components[component]
        evidence.add(f"{component} runs on", f"node {where.node.name}, pid {where.pid}")
        return where

    return find


def _static_pod_path(where: Running) -> str:
    """The kubelet's staticPodPath on the node (--pod-manifest-path, else its config file's
    staticPodPath, else kubeadm's)."""
    kubelets = processes(where.host, "kubelet")
    if not kubelets:
        raise kubeproof.Inconclusive(f"no kubelet runs on node {where.node.name}, yet the "
                                     f"component runs in a container there")
    kubelet = flags(kubelets[0][1])
    if kubelet.get("pod-manifest-path"):
        return kubelet["pod-manifest-path"]
    if kubelet.get("config"):
        text = run(where.host, "cat -- %s", kubelet["config"]).stdout
        return (yaml.safe_load(text) or {}).get("staticPodPath") or STATIC_POD_PATH
    return STATIC_POD_PATH


def _locate(check: ConfigCheck, where: Running, component_flags, cluster
            ) -> tuple[str, list[nodefiles.FileFacts]]:
    """(what was looked at, the files found) for the row's locator."""
    (locator,) = check.keys
    if locator.startswith("--"):
        root = "" if where.host_process else f"/proc/{where.pid}/root"
        looked, found = nodefiles.from_flag(where.host, locator,
                                            component_flags(check.component), root)
        if not found:
            raise kubeproof.Inconclusive(f"{looked} does not exist on node {where.node.name}")
        return looked, found
    if locator == "manifest":
        if where.host_process:
            pytest.skip(f"{check.component} runs as a host process (pid {where.pid} on node "
                        f"{where.node.name}), not from a static pod manifest")
        path = f"{_static_pod_path(where)}/{check.component}.yaml"
        found = nodefiles.stat(where.host, path)
        if found is None:
            raise kubeproof.Inconclusive(f"{check.component} runs in a container on node "
                                         f"{where.node.name}, but {path} does not exist")
        return path, [found]
    if locator == "admin.conf":
        paths = list(ADMIN_KUBECONFIGS)
        if where.node.spec == "local://":
            paths.append(str(cluster.admin.kubeconfig))
        found = [f for f in (nodefiles.stat(where.host, p) for p in paths) if f]
        if not found:
            pytest.skip(f"no administrative kubeconfig on node {where.node.name} (looked at "
                        f"{', '.join(paths)})")
        return ", ".join(paths), found
    raise ValueError(f"{check.id}: unknown locator {locator!r}")


def _param(check: ConfigCheck):
    return pytest.param(check, id=check.id, marks=kubeproof.control(check.control))


@pytest.mark.parametrize("check", [_param(c) for c in rows((MODE, OWNER), CONTROL_PLANE)])
def test_component_file(running, component_flags, cluster, evidence, check: ConfigCheck):
    """A control-plane file's mode or owner meets the row's rule (CIS 1.1)."""
    where = running(check.component)
    looked, files = _locate(check, where, component_flags, cluster)
    if check.rule.value == PROCESS_OWNER:
        owner = run(where.host, "stat -c %%U:%%G /proc/%s", str(where.pid)).stdout.strip()
        if not owner:
            raise kubeproof.Inconclusive(f"cannot read the owner of pid {where.pid}")
        evidence.add(f"{check.component}'s process runs as", owner)
        check = dataclasses.replace(check, rule=Rule("eq", owner))
    ok, seen = check.judge({f.path: f.mode if check.source == MODE else f.owner
                            for f in files})
    evidence.add(f"{check.source} of {looked} on node {where.node.name}", seen)
    wrong = {path: value for path, value in seen.items() if not check.rule.holds(value)}
    assert ok, f"{wrong}: expected {check.rule.expected()}. {check.remediation}"
