"""Containers run as non-root (checklist item 8, reference scenario).

The app image is a static binary without a shell or `id`, so "id -u inside the container"
is read where the kernel keeps it: the container's main process on its node
(/proc/PID/status, mapped through the process's user namespace), found by container id.
"""

from __future__ import annotations

import pytest

import kubeproof

ROOT_REQUESTS = {
    "pod-level": {"pod": {"spec": {"securityContext": {"runAsUser": 0}}},
                  "container": {"securityContext": {"runAsNonRoot": None, "runAsUser": None}}},
    "container-level": {"container": {"securityContext": {"runAsNonRoot": None,
                                                          "runAsUser": 0}}},
}


def effective(pod, container, field: str):
    """A securityContext field as it applies to a container (container overrides pod)."""
    own = getattr(container.security_context, field, None) if container.security_context else None
    if own is not None:
        return own
    return getattr(pod.spec.security_context, field, None) if pod.spec.security_context else None


@kubeproof.control("nonroot.app-runs-as-nonroot")
def test_app_containers_declare_a_non_root_uid(app_containers, evidence):
    """The app's containers declare runAsNonRoot and a non-zero uid."""
    declared = {ac.name: {"runAsNonRoot": effective(ac.pod, ac.container, "run_as_non_root"),
                          "runAsUser": effective(ac.pod, ac.container, "run_as_user")}
                for ac in app_containers}
    evidence.add("declared (effective securityContext)", declared)
    bad = {k: v for k, v in declared.items()
           if v["runAsNonRoot"] is not True or not v["runAsUser"]}
    assert not bad, f"containers without runAsNonRoot=true and a non-zero runAsUser: {bad}"


@kubeproof.control("nonroot.app-runs-as-nonroot")
def test_app_containers_really_run_as_non_root(app_processes, evidence):
    """The app's running containers' processes have a non-zero uid (`id -u` is not 0)."""
    uids = {}
    for ac, proc in app_processes:
        uids[ac.name] = proc.uid_inside()
        evidence.add(ac.name, f"node {proc.node} pid {proc.pid} ({proc.status.get('Name')}): "
                              f"Uid {proc.status['Uid']} -> uid {uids[ac.name]} in the container")
    root = [name for name, uid in uids.items() if uid == 0]
    assert not root, f"containers running as uid 0: {root} (all: {uids})"


@kubeproof.control("nonroot.root-pod-rejected")
@pytest.mark.parametrize("where", list(ROOT_REQUESTS))
def test_pod_asking_for_uid_0_is_rejected(pod_security, app_admission, evidence, where):
    """A pod asking to run as uid 0 is rejected in the app namespace."""
    evidence.add("pod security mechanism", pod_security.describe())
    with evidence.canary("a non-root pod is admitted for the app user (dry run)",
                         guard=app_admission.admission_guard):
        ok = app_admission.admit(app_admission.manifest("kp-nonroot", ["true"]))
        evidence.add("non-root pod", str(ok))
        assert ok.admitted, str(ok)
    admission = app_admission.admit(app_admission.manifest("kp-root", ["true"],
                                                           **ROOT_REQUESTS[where]))
    pod_security.expect_rejected(evidence, f"uid 0 pod ({where}) in {app_admission.namespace}",
                                 admission, "runAsUser", app_admission.admission_guard)
