"""This run's Lease, kept renewed while it runs, and removing what dead runs left behind.

Every object a run creates carries its run id (label kubeproof.io/run-id). The run that owns
the session (the xdist controller, or the only process) holds a coordination.k8s.io Lease
with that label in its home namespace and renews it. A run is live while one of its leases
has not expired; at start and at the end each run deletes the namespaces and pods of runs
that are not live, never those of a live one. An object whose run has no lease at all is
left alone for one lease duration, so a run that has just made its namespace is safe too.
"""

from __future__ import annotations

import datetime
import socket
import threading
from collections.abc import Callable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubeproof.kube import REQUEST_TIMEOUT, Clients
from kubeproof.probes import RUN_ID_LABEL, create_run_namespace, delete_namespace, delete_pod
from kubeproof.verdicts import Inconclusive

LEASE_NAME = "kubeproof-run"
LEASE_SECONDS = 15
RENEW_SECONDS = 5


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class RunLease:
    """The Lease that says this run is alive: created in its home namespace, renewed by a
    background thread until stop()."""

    def __init__(self, clients: Clients, namespace: str, run_id: str) -> None:
        self.coordination = client.CoordinationV1Api(clients.api)
        self.namespace = namespace
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.renew_errors: list[str] = []

    def start(self) -> None:
        """Create the Lease and start renewing it every RENEW_SECONDS."""
        now = _now()
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE_NAME, "labels": {RUN_ID_LABEL: self.run_id}},
            "spec": {"holderIdentity": f"{self.run_id}@{socket.gethostname()}",
                     "leaseDurationSeconds": LEASE_SECONDS, "acquireTime": now, "renewTime": now},
        }
        try:
            self.coordination.create_namespaced_lease(self.namespace, body,
                                                      _request_timeout=REQUEST_TIMEOUT)
        except ApiException as exc:
            raise Inconclusive(f"cannot create the run's Lease in {self.namespace}: "
                               f"{exc.status} {exc.reason}") from exc
        self._thread = threading.Thread(target=self._renew, name="kubeproof-lease", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            try:
                self.coordination.patch_namespaced_lease(
                    LEASE_NAME, self.namespace, {"spec": {"renewTime": _now()}},
                    _request_timeout=REQUEST_TIMEOUT)
            except (ApiException, OSError) as exc:
                self.renew_errors.append(str(exc)[:200])

    def stop(self) -> None:
        """Stop renewing (the Lease goes with the home namespace)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=RENEW_SECONDS + 10)


def live_runs(clients: Clients, now: datetime.datetime | None = None) -> set[str]:
    """The run ids that hold a Lease that has not expired."""
    now = now or _now()
    coordination = client.CoordinationV1Api(clients.api)
    live = set()
    for lease in coordination.list_lease_for_all_namespaces(
            label_selector=RUN_ID_LABEL, _request_timeout=REQUEST_TIMEOUT).items:
        spec = lease.spec
        renewed = spec.renew_time or spec.acquire_time or lease.metadata.creation_timestamp
        duration = datetime.timedelta(seconds=spec.lease_duration_seconds or LEASE_SECONDS)
        if renewed + duration > now:
            live.add(lease.metadata.labels[RUN_ID_LABEL])
    return live


def abandoned(meta: client.V1ObjectMeta, own_run_id: str, live: set[str],
              now: datetime.datetime, grace: float = LEASE_SECONDS) -> bool:
    """Whether an object labelled with a run id belongs to a dead run: not this run, no live
    lease, not being deleted already, and older than grace seconds."""
    run = (meta.labels or {}).get(RUN_ID_LABEL)
    return (run is not None and run != own_run_id and run not in live
            and meta.deletion_timestamp is None
            and meta.creation_timestamp + datetime.timedelta(seconds=grace) < now)


def sweep(clients: Clients, own_run_id: str, everything: bool = False) -> list[str]:
    """Delete the namespaces and pods of runs that are not live (with everything: of every
    other run, live or not); what was deleted, as kind/namespace/name."""
    now = _now()
    live = set() if everything else live_runs(clients, now)
    grace = 0 if everything else LEASE_SECONDS

    def dead(meta: client.V1ObjectMeta) -> bool:
        return abandoned(meta, own_run_id, live, now, grace)

    core = clients.core
    swept = []
    for ns in core.list_namespace(label_selector=RUN_ID_LABEL,
                                  _request_timeout=REQUEST_TIMEOUT).items:
        if dead(ns.metadata):
            delete_namespace(core, ns.metadata.name)
            swept.append(f"namespace/{ns.metadata.name}")
    for pod in core.list_pod_for_all_namespaces(label_selector=RUN_ID_LABEL,
                                                _request_timeout=REQUEST_TIMEOUT).items:
        if dead(pod.metadata) and f"namespace/{pod.metadata.namespace}" not in swept:
            delete_pod(core, pod.metadata.namespace, pod.metadata.name)
            swept.append(f"pod/{pod.metadata.namespace}/{pod.metadata.name}")
    return swept


def begin(clients: Clients, run_id: str, labels: dict[str, str],
          say: Callable[[str], None]) -> tuple[str, RunLease]:
    """Sweep dead runs, create this run's home namespace and its renewed Lease; (namespace,
    lease). Raises Inconclusive when the namespace cannot be created."""
    swept = sweep(clients, run_id)
    if swept:
        say(f"removed {len(swept)} objects of runs that ended without cleaning up: "
            + ", ".join(swept[:5]) + (" ..." if len(swept) > 5 else ""))
    namespace = create_run_namespace(clients.core, run_id, labels=labels)
    lease = RunLease(clients, namespace, run_id)
    lease.start()
    return namespace, lease
