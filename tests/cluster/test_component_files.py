"""Control-plane files (CIS 1.1), one test per MODE or OWNER row of the configuration table:
each finds the component's process (over node access: the one that runs with the flags read
for it), locates the files the row names as that process sees them, and judges their mode or
owner."""

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
from kubeproof.nodeprocesses import (
    COMM_LENGTH,
    file_text,
    flags,
    in_host_pid_namespace,
    processes,
    run,
)

STATIC_POD_PATH = "/etc/kubernetes/manifests"  # the kubelet's staticPodPath as kubeadm sets it


@dataclasses.dataclass(frozen=True)
class Running:
    """A process of a component on a node: node, its testinfra host, the process (pid, in a
    container or not) and its flags."""

    node: object
    host: object
    process: nodefiles.Process
    flags: dict[str, str]

    @property
    def pid(self) -> int:
        return self.process.pid


@pytest.fixture(scope="session")
def running_components(node_hosts) -> dict[str, list[Running]]:
    """Every process of each control-plane component on the nodes kubeproof reaches."""
    found: dict[str, list[Running]] = {name: [] for name in CONTROL_PLANE}
    for node, host in node_hosts:
        for name in CONTROL_PLANE:
            for pid, argv in processes(host, name[:COMM_LENGTH]):
                if argv and posixpath.basename(argv[0]) == name:
                    contained = not in_host_pid_namespace(host, pid)
                    found[name].append(Running(node, host, nodefiles.Process(pid, contained),
                                               flags(argv)))
    return found


def _same_flags(process: dict[str, str], read: dict[str, str]) -> bool:
    """Whether a process runs with the flags kubeproof read for its component (those both
    name agree, and they share one at least, or the process reads its flags from the
    --config-file they came from): a workload's own etcd or API server is not the control
    plane's."""
    shared = set(process) & set(read)
    agree = all(process[k] == read[k] for k in shared)
    return agree and (bool(shared) or "config-file" in process)


@pytest.fixture
def running(running_components, component_flags, evidence) -> Callable[[str], Running]:
    """running(component) -> the process of the component whose flags are the ones read for
    it (a host process first); skips when no control-plane component runs on the nodes
    kubeproof reaches (a managed control plane); none that matches is Inconclusive."""

    def find(component: str) -> Running:
        if not any(running_components.values()):
            pytest.skip("no control-plane component runs on the nodes kubeproof reaches: "
                        "a managed control plane, or no access to a control-plane node")
        read = component_flags(component)
        matching = [r for r in running_components[component] if _same_flags(r.flags, read)]
        if not matching:
            raise kubeproof.Inconclusive(
                f"no {component} process on the nodes kubeproof reaches runs with the flags "
                f"read for it ({len(running_components[component])} process(es) of that "
                f"name)")
        where = min(matching, key=lambda r: (r.process.in_container, r.pid))
        evidence.add(f"{component} runs on", f"node {where.node.name}, pid {where.pid}"
                     f"{' (in a container)' if where.process.in_container else ''}")
        return where

    return find


def _static_pod_path(where: Running) -> str:
    """The kubelet's staticPodPath on the node (--pod-manifest-path, else its config file's
    staticPodPath, else kubeadm's)."""
    kubelets = [argv for _, argv in processes(where.host, "kubelet") if argv]
    if not kubelets:
        raise kubeproof.Inconclusive(f"no kubelet runs on node {where.node.name}, yet the "
                                     f"component runs in a container there")
    kubelet = flags(kubelets[0])
    if kubelet.get("pod-manifest-path"):
        return kubelet["pod-manifest-path"]
    if not kubelet.get("config"):
        return STATIC_POD_PATH
    text = file_text(where.host, where.node, kubelet["config"])
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise kubeproof.Inconclusive(f"the kubelet's {kubelet['config']} is not YAML: "
                                     f"{exc}") from None
    if not isinstance(config, dict):
        raise kubeproof.Inconclusive(f"the kubelet's {kubelet['config']} is not a mapping")
    return config.get("staticPodPath") or STATIC_POD_PATH


def _locate(check: ConfigCheck, where: Running, component_flags, cluster
            ) -> tuple[str, list[nodefiles.FileFacts]]:
    """(what was looked at, the files found) for the row's locator."""
    (locator,) = check.keys
    if locator.startswith("--"):
        looked, found = nodefiles.from_flag(where.host, locator,
                                            component_flags(check.component), where.process)
        if not found:
            raise kubeproof.Inconclusive(f"{looked} does not exist on node {where.node.name}")
        return looked, found
    if locator == "manifest":
        if not where.process.in_container:
            pytest.skip(f"{check.component} runs as a host process (pid {where.pid} on node "
                        f"{where.node.name}), not from a static pod manifest")
        path = f"{_static_pod_path(where)}/{check.component}.yaml"
        found = nodefiles.stat(where.host, path)
        if found is None:
            raise kubeproof.Inconclusive(f"{check.component} runs in a container on node "
                                         f"{where.node.name}, but {path} does not exist")
        return path, [found]
    if locator == "admin.conf":
        paths = cluster.admin_kubeconfigs
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
        owner = run(where.host, "ps -o user=,group= -p %s", str(where.pid)).stdout.split()
        owner = ":".join(owner) if len(owner) == 2 else ""
        if not owner:
            raise kubeproof.Inconclusive(f"cannot read the owner of pid {where.pid}")
        evidence.add(f"{check.component}'s process runs as", owner)
        check = dataclasses.replace(check, rule=Rule("eq", owner))
    ok, seen = check.judge(check.file_values(files))
    evidence.add(f"{check.source} of {looked} on node {where.node.name}", seen)
    wrong = {path: value for path, value in seen.items() if not check.rule.holds(value)}
    assert ok, f"{wrong}: expected {check.rule.expected()}. {check.remediation}"
