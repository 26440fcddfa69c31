"""Runtime threat detection on every node (checklist item 10, CKS)."""

from __future__ import annotations

import re

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.targets.base import NODE_ACCESS

DETECTOR = re.compile(r"(^|/)(falco|tracee)([:@/-]|$)")
PROCESSES = ("falco", "tracee", "tracee-ebpf")


@kubeproof.control("runtime.ids")
def test_a_runtime_detector_runs_on_every_node(cluster, admin_api, request, evidence):
    """A runtime detector (Falco or Tracee) runs on every node."""
    with evidence.canary("the nodes and every namespace's pods can be listed"):
        nodes = [n.metadata.name for n in
                 admin_api.core.list_node(_request_timeout=REQUEST_TIMEOUT).items]
        pods = admin_api.core.list_pod_for_all_namespaces(
            field_selector="status.phase=Running", _request_timeout=REQUEST_TIMEOUT).items
        assert nodes, "no nodes"
    covered: dict[str, list[str]] = {node: [] for node in nodes}
    for pod in pods:
        images = [c.image for c in pod.spec.containers]
        if pod.spec.node_name in covered and any(DETECTOR.search(i) for i in images):
            covered[pod.spec.node_name].append(f"pod {pod.metadata.namespace}/"
                                               f"{pod.metadata.name} {images}")
    if cluster.has(NODE_ACCESS):
        for node, host in request.getfixturevalue("node_hosts"):
            running = [p for name in PROCESSES for p in host.process.filter(comm=name)]
            if running and node.name in covered:
                covered[node.name].append(f"host processes {[p.comm for p in running]}")
    evidence.add("detectors per node", covered)
    bare = [node for node, found in covered.items() if not found]
    assert not bare, (f"no Falco or Tracee pod (image falco/tracee) or host process on nodes "
                      f"{bare}")
