"""Which leftover objects a run may delete, and when a pod wait gives up at once."""

from __future__ import annotations

import datetime

from kubernetes import client

from kubeproof.kube import pod_stuck
from kubeproof.probes import RUN_ID_LABEL
from kubeproof.runs import abandoned

NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


def meta(run_id: str, age: float, deleting: bool = False) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(labels={RUN_ID_LABEL: run_id},
                               creation_timestamp=NOW - datetime.timedelta(seconds=age),
                               deletion_timestamp=NOW if deleting else None)


def test_only_old_objects_of_runs_without_a_live_lease_are_abandoned():
    assert abandoned(meta("dead", 60), "mine", live={"other"}, now=NOW)
    assert not abandoned(meta("mine", 600), "mine", live=set(), now=NOW)
    assert not abandoned(meta("other", 600), "mine", live={"other"}, now=NOW)
    # A run that has made its namespace but not yet its lease is left alone for a while.
    assert not abandoned(meta("new", 3), "mine", live=set(), now=NOW)
    assert not abandoned(meta("dead", 60, deleting=True), "mine", live=set(), now=NOW)
    assert abandoned(meta("other", 1), "mine", live=set(), now=NOW, grace=0)


def pod(reason: str | None, init: bool = False) -> client.V1Pod:
    state = client.V1ContainerState(
        waiting=client.V1ContainerStateWaiting(reason=reason, message="detail")
        if reason else None,
        running=None if reason else client.V1ContainerStateRunning())
    status = client.V1ContainerStatus(name="probe", image="i", image_id="", ready=False,
                                      restart_count=0, state=state)
    return client.V1Pod(status=client.V1PodStatus(
        phase="Pending", container_statuses=[] if init else [status],
        init_container_statuses=[status] if init else []))


def test_a_pod_is_stuck_only_in_states_it_will_not_leave():
    assert pod_stuck(pod("ErrImagePull")) == "container probe: ErrImagePull detail"
    assert pod_stuck(pod("ImagePullBackOff", init=True)).startswith("container probe")
    assert pod_stuck(pod("InvalidImageName"))
    assert pod_stuck(pod("ContainerCreating")) is None
    assert pod_stuck(pod(None)) is None
    assert pod_stuck(client.V1Pod()) is None
