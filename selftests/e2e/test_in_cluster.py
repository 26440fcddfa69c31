"""kubeproof as a Job in the cluster it assesses (deploy/kubeproof.yaml, kubeproof's own
image): the same verdicts as the same options give from outside the cluster."""

from __future__ import annotations

import json
import sys

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from suite import REPO, poll, run_suite

from kubeproof import probeimage
from kubeproof.kube import Clients, pod_stuck
from kubeproof.localcluster.layout import cache_dir
from kubeproof.targets.base import Identity

sys.path.insert(0, str(REPO / "provision" / "local"))
from kubeproof_image_tag import tag

MANIFESTS = REPO / "deploy" / "kubeproof.yaml"
# checkov is not in kubeproof's image: static.manifests skips in the Job, it runs outside.
NOT_IN_IMAGE = {"static.manifests"}
MARKER = "=== kubeproof results.json ==="


def options(args: list[str]) -> list[str]:
    """The Job's kubeproof options other than the target and the report paths."""
    return [a for a in args if a.startswith("--") and not a.startswith(
        ("--target", "--kubeproof-", "--junitxml", "--color"))]


@pytest.fixture
def deployed(local_cluster):
    """deploy/kubeproof.yaml applied with kubeproof's own image; removed afterwards."""
    image_tag = tag(REPO, probeimage.reference())
    image = cache_dir() / "images" / f"kubeproof-{image_tag}.tar"
    assert image.is_file(), f"{image} is missing: make bootstrap builds kubeproof's image"
    local_cluster.ctr("images", "import", "--no-unpack", str(image))
    docs = list(yaml.safe_load_all(MANIFESTS.read_text()))
    admin = Clients(Identity(local_cluster.layout.admin_kubeconfig))
    rbac, batch = admin.rbac, client.BatchV1Api(admin.api)
    by_kind = {d["kind"]: d for d in docs}
    job = by_kind["Job"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["image"] = f"kubeproof.local/kubeproof:{image_tag}"
    # The kubelet removes an emptyDir once its pod has ended: the self-test has the results
    # file printed after the run, behind a marker, to read it from the log.
    script = (f'"$0" -m pytest "$@"; status=$?; echo {MARKER}; cat /reports/results.json;'
              f' exit $status')
    container["command"] = ["/bin/sh", "-c", script, "/opt/kubeproof/venv/bin/python"]
    # The local cluster is not kubeadm's: its admin kubeconfig is elsewhere on the node (the
    # outside run's --kubeconfig is that file, so the option changes nothing there).
    container["args"] = [*container["args"],
                         f"--admin-kubeconfig-on-node={local_cluster.layout.admin_kubeconfig}"]
    create = {"Namespace": lambda d: admin.core.create_namespace(d),
              "ServiceAccount": lambda d: admin.core.create_namespaced_service_account(
                  "kubeproof", d),
              "ClusterRole": rbac.create_cluster_role,
              "Role": lambda d: rbac.create_namespaced_role("kube-system", d),
              "RoleBinding": lambda d: rbac.create_namespaced_role_binding("kube-system", d),
              "ClusterRoleBinding": rbac.create_cluster_role_binding,
              "Job": lambda d: batch.create_namespaced_job("kubeproof", d)}
    assert set(by_kind) == {*create, "CronJob"}, f"deploy/ holds kinds {sorted(by_kind)}"
    try:
        for kind in create:
            create[kind](by_kind[kind])
        yield admin, job
    finally:
        canary = "kubeproof-anonymous-canary"
        for delete in (lambda: admin.core.delete_namespace("kubeproof"),
                       lambda: rbac.delete_cluster_role_binding("kubeproof"),
                       lambda: rbac.delete_cluster_role("kubeproof"),
                       lambda: rbac.delete_namespaced_role_binding(canary, "kube-system"),
                       lambda: rbac.delete_namespaced_role(canary, "kube-system")):
            try:
                delete()
            except ApiException as exc:
                if exc.status != 404:
                    raise


def test_the_in_cluster_job_gives_the_verdicts_of_an_outside_run(local_cluster, deployed):
    admin, job = deployed

    def finished_pod():
        pods = admin.core.list_namespaced_pod("kubeproof", label_selector="app=kubeproof").items
        for pod in pods:
            if reason := pod_stuck(pod):
                raise AssertionError(f"the Job's pod is stuck: {reason}")
            if pod.status.phase in ("Succeeded", "Failed"):
                return pod
        return None

    pod = poll(finished_pod, 600, "the Job's pod finished")
    log = admin.core.read_namespaced_pod_log(pod.metadata.name, "kubeproof")
    summary, _, results = log.partition(MARKER)
    assert "kubeproof: controls by checklist item" in summary, log[-3000:]
    inside = json.loads(results)
    assert inside["target"] == "in-cluster", inside.get("target")
    inside_verdicts = {t["nodeid"]: t for t in inside["tests"]}

    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    outside = run_suite("--target=existing",
                        f"--kubeconfig={local_cluster.layout.admin_kubeconfig}", *options(args))
    differ = []
    for test in outside.tests:
        there = inside_verdicts.get(test["nodeid"], {})
        if test["control"] not in NOT_IN_IMAGE and there.get("verdict") != test["verdict"]:
            differ.append(f"{test['nodeid']}: outside {test['verdict']}, in the Job "
                          f"{there.get('verdict')} ({there.get('reason', '')[:300]})\n"
                          f"{outside.evidence_of(test['nodeid'])}")
    assert not differ, "\n".join(differ)
    host_checks = [n for n, t in inside_verdicts.items() if n.startswith("tests/host/")
                   and t["verdict"] != "skip"]
    assert host_checks, "the Job ran no host check through node pods"
