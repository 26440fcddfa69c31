"""Probe pods and the run namespace: create, wait, read logs, exec, and delete what was made."""

from __future__ import annotations

import copy
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream

from kubeproof.kube import (
    REQUEST_TIMEOUT,
    Clients,
    ObjectStuck,
    pod_status,
    pod_stuck,
    wait_for,
)
from kubeproof.verdicts import Inconclusive

RUN_ID_LABEL = "kubeproof.io/run-id"
TERMINAL_PHASES = ("Succeeded", "Failed")


def new_run_id() -> str:
    """A fresh run id, usable as a label value and in object names."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def unique_name(prefix: str) -> str:
    """An object name: the prefix and a random suffix (no counter shared between tests)."""
    return f"{prefix[:50]}-{secrets.token_hex(4)}"


def create_run_namespace(core: client.CoreV1Api, run_id: str, worker: str = "",
                         labels: dict[str, str] | None = None) -> str:
    """Create the namespace this run's probes live in, labelled with the run id; its name."""
    name = f"kubeproof-{run_id}{'-' + worker if worker else ''}".lower()[:63].rstrip("-")
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {RUN_ID_LABEL: run_id, **(labels or {})}},
    }
    try:
        core.create_namespace(body, _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        raise Inconclusive(
            f"cannot create the run namespace {name}: {exc.status} {exc.reason}"
        ) from exc
    return name


def delete_namespace(core: client.CoreV1Api, name: str) -> None:
    """Delete a namespace (already gone is fine)."""
    try:
        core.delete_namespace(name, propagation_policy="Background",
                              _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        if exc.status != 404:
            raise


def delete_pod(core: client.CoreV1Api, namespace: str, name: str) -> None:
    """Delete a pod at once (already gone is fine)."""
    try:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0,
                                   _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        if exc.status != 404:
            raise


def merge(base: dict[str, Any], extra: dict[str, Any] | None) -> dict[str, Any]:
    """A deep merge of two manifests' dicts (extra wins; None values remove keys)."""
    result = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# The command of a probe pod kept up for exec until it is deleted (it ends at once on TERM).
IDLE = ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
# The probe pod's own container: named in exec and log calls, as an injected sidecar makes
# the pod's containers two.
PROBE_CONTAINER = "probe"


def probe_pod_manifest(name: str, image: str, command: list[str], run_id: str,
                       pod: dict[str, Any] | None = None,
                       container: dict[str, Any] | None = None) -> dict[str, Any]:
    """A probe pod that satisfies the restricted Pod Security level unless overridden."""
    base_container = {
        "name": PROBE_CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65534,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {RUN_ID_LABEL: run_id, "app": "kubeproof-probe"}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "containers": [merge(base_container, container)],
        },
    }
    return merge(manifest, pod)


@dataclass(frozen=True)
class Admission:
    """What admission said to a create: admitted or not, with the API's status and message."""

    admitted: bool
    status: int
    message: str
    pod: client.V1Pod | None = None

    def __str__(self) -> str:
        return f"{'admitted' if self.admitted else 'rejected'} ({self.status}): {self.message}"


@dataclass(frozen=True)
class PodRun:
    """A probe pod that ran to completion: its phase, exit code and log."""

    namespace: str
    name: str
    phase: str
    exit_code: int | None
    logs: str


@dataclass(frozen=True)
class ExecResult:
    """The result of a command executed in a container."""

    command: list[str]
    exit_code: int | None
    stdout: str
    stderr: str


class ProbePods:
    """Creates probe pods, waits for them by watch, reads logs, execs; deletes all it made."""

    def __init__(self, clients: Clients, namespace: str, run_id: str, image: str,
                 timeout: float = 60.0) -> None:
        self.clients = clients
        self.namespace = namespace
        self.run_id = run_id
        self.image = image
        self.timeout = timeout
        self.created: list[tuple[str, str]] = []

    @property
    def admission_guard(self) -> str:
        """What a canary of pod admission for this runner's identity and namespace guards."""
        return f"pods of {self.clients.identity.label} in {self.namespace} reach admission"

    def manifest(self, prefix: str, command: list[str], *, image: str | None = None,
                 pod: dict[str, Any] | None = None,
                 container: dict[str, Any] | None = None) -> dict[str, Any]:
        """A probe pod manifest with a unique name (see probe_pod_manifest)."""
        return probe_pod_manifest(unique_name(prefix), image or self.image, command,
                                  self.run_id, pod, container)

    def admit(self, manifest: dict[str, Any], namespace: str | None = None,
              dry_run: bool = True) -> Admission:
        """Submit a pod and report admission's decision (server-side dry run by default)."""
        ns = namespace or self.namespace
        name = manifest["metadata"]["name"]
        try:
            created = self.clients.core.create_namespaced_pod(
                ns, manifest, dry_run="All" if dry_run else None,
                _request_timeout=REQUEST_TIMEOUT,
            )
        except ApiException as exc:
            if exc.status in (400, 403, 422):
                return Admission(False, exc.status, _api_message(exc))
            raise Inconclusive(f"creating pod {ns}/{name} failed: {exc.status} "
                               f"{_api_message(exc)}") from exc
        if not dry_run:
            self.created.append((ns, name))
        return Admission(True, 201, "created", created)

    def create(self, manifest: dict[str, Any], namespace: str | None = None) -> client.V1Pod:
        """Create a probe pod (tracked for deletion); a rejection is Inconclusive."""
        admission = self.admit(manifest, namespace, dry_run=False)
        if not admission.admitted:
            ns = namespace or self.namespace
            raise Inconclusive(
                f"probe pod {ns}/{manifest['metadata']['name']} was not admitted: {admission}"
            )
        return admission.pod

    def wait(self, pod: client.V1Pod, what: str = "finished",
             timeout: float | None = None) -> client.V1Pod:
        """Wait by watch until the pod finishes ('finished') or runs ('running')."""
        if what == "running":
            def done(p):
                return p.status is not None and (
                    p.status.phase in TERMINAL_PHASES or (
                        p.status.phase == "Running" and all(
                            cs.ready for cs in p.status.container_statuses or [])))
        else:
            def done(p):
                return p.status is not None and p.status.phase in TERMINAL_PHASES
        return wait_for(self.clients.core.list_namespaced_pod, pod.metadata.namespace,
                        pod.metadata.name, done, timeout or self.timeout, what=what,
                        core=self.clients.core, stuck=pod_stuck)

    def logs(self, pod: client.V1Pod, container: str | None = None) -> str:
        """The pod's log."""
        return self.clients.core.read_namespaced_pod_log(
            pod.metadata.name, pod.metadata.namespace, container=container or PROBE_CONTAINER,
            _request_timeout=REQUEST_TIMEOUT,
        )

    def run(self, prefix: str, command: list[str], *, namespace: str | None = None,
            timeout: float | None = None, **overrides: Any) -> PodRun:
        """Create a probe pod, wait until it finishes, and return its phase, exit code and log."""
        return self.finish(self.create(self.manifest(prefix, command, **overrides), namespace),
                           timeout)

    def finish(self, pod: client.V1Pod, timeout: float | None = None) -> PodRun:
        """Wait until a created probe pod finishes; its phase, exit code and log."""
        final = self.wait(pod, "finished", timeout)
        exit_code = None
        for cs in final.status.container_statuses or []:
            if cs.state and cs.state.terminated:
                exit_code = cs.state.terminated.exit_code
        return PodRun(final.metadata.namespace, final.metadata.name, final.status.phase,
                      exit_code, self.logs(final))

    def start(self, prefix: str, command: list[str], *, namespace: str | None = None,
              timeout: float | None = None, **overrides: Any) -> client.V1Pod:
        """Create a long-running probe pod and wait until it runs (for exec)."""
        return self.running(self.create(self.manifest(prefix, command, **overrides), namespace),
                            timeout)

    def running(self, pod: client.V1Pod, timeout: float | None = None) -> client.V1Pod:
        """Wait until a created long-running probe pod runs (for exec)."""
        running = self.wait(pod, "running", timeout)
        if running.status.phase != "Running":
            raise Inconclusive(f"probe pod {running.metadata.namespace}/{running.metadata.name} "
                               f"ended before running: {pod_status(running)}")
        return running

    def exec(self, pod: client.V1Pod, command: list[str], container: str | None = None,
             timeout: float | None = None) -> ExecResult:
        """Run a command in a running container (as the admin identity) and collect output."""
        resp = stream(
            self.clients.core.connect_get_namespaced_pod_exec,
            pod.metadata.name, pod.metadata.namespace, command=command,
            container=container or PROBE_CONTAINER,
            stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
        )
        deadline = time.monotonic() + (timeout or self.timeout)
        out: list[str] = []
        err: list[str] = []
        while resp.is_open():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                resp.close()
                raise Inconclusive(f"exec {command} in {pod.metadata.namespace}/"
                                   f"{pod.metadata.name} did not finish in time; "
                                   f"stdout so far: {''.join(out)[-500:]}")
            resp.update(timeout=min(1.0, remaining))
            out.append(resp.read_stdout() if resp.peek_stdout() else "")
            err.append(resp.read_stderr() if resp.peek_stderr() else "")
        resp.close()
        return ExecResult(command, resp.returncode, "".join(out), "".join(err))

    def preflight(self, namespaces: list[str]) -> None:
        """Start one probe pod in each namespace, together, and see each run to completion;
        the first that is refused, cannot pull its image or fails raises Inconclusive with
        one line saying which and what to do."""
        pods = []
        for namespace in namespaces:
            manifest = self.manifest("kubeproof-preflight", ["sh", "-c", "true"])
            admission = self.admit(manifest, namespace, dry_run=False)
            if not admission.admitted:
                raise Inconclusive(
                    f"probe preflight: a probe pod in {namespace} was not admitted ({admission});"
                    f" probe pods must satisfy that namespace's Pod Security level and "
                    f"admission policies")
            pods.append(admission.pod)
        for pod in pods:
            namespace = pod.metadata.namespace
            try:
                final = self.wait(pod, "finished")
            except ObjectStuck as exc:
                hint = ("mirror kubeproof's probe image into a registry the cluster can pull "
                        "from (python -m kubeproof.probeimage push docker://REGISTRY/kubeproof/"
                        "probe:TAG) and pass --probe-image" if "Image" in exc.reason
                        else "see the pod's events")
                # The same line from every worker: no pod name in it.
                raise Inconclusive(f"probe preflight: probe pods in {namespace} cannot start "
                                   f"({exc.reason}); {hint}") from exc
            except Inconclusive as exc:
                raise Inconclusive(f"probe preflight: {exc}") from exc
            if final.status.phase != "Succeeded":
                raise Inconclusive(f"probe preflight: a probe pod in {namespace} ran `sh -c "
                                   f"true` and ended {pod_status(final)}: the probe image "
                                   f"{self.image} needs a shell (busybox, keyctl, curl)")
        self.delete_all()

    def delete_all(self) -> None:
        """Delete every pod this runner created (already gone is fine)."""
        while self.created:
            namespace, name = self.created.pop()
            delete_pod(self.clients.core, namespace, name)


def _api_message(exc: ApiException) -> str:
    """The message of an API error's Status body."""
    try:
        return json.loads(exc.body).get("message", exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
