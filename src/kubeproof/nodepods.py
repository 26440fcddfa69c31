"""Node access without SSH: a short-lived privileged pod per node, and a testinfra backend
that runs the host checks' commands in it through the Kubernetes exec API.

Each pod is pinned to its node (spec.nodeName), shares the host's PID and network
namespaces, mounts the host's root read-only at /host and runs every command as
`chroot /host /bin/sh -c COMMAND`, so the host's own binaries read the host's own files,
processes and packet filter. The pods live in a namespace of their own, labelled with the
run id and Pod Security `privileged` for this purpose only, and are deleted at teardown (a
killed run's are swept by the next run, see runs.py).
"""

from __future__ import annotations

from kubernetes import client
from testinfra.backend import base
from testinfra.host import Host

from kubeproof.probes import ProbePods
from kubeproof.verdicts import Inconclusive

SPEC_PREFIX = "pod://"
HOST_ROOT = "/host"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PRIVILEGED = {f"pod-security.kubernetes.io/{mode}": "privileged"
              for mode in ("enforce", "audit", "warn")}
# A pod whose run never deletes it (and that no later run sweeps) still ends.
LIFETIME_SECONDS = 6 * 3600


def spec_for(node_name: str) -> str:
    """The NodeHost spec of a node reached through a node pod."""
    return f"{SPEC_PREFIX}{node_name}"


def node_pod_overrides(node_name: str) -> dict:
    """What makes a probe pod a node pod: pinned, host PID and network, root, host's / at
    /host read-only, tolerating every taint."""
    return {
        "pod": {"spec": {
            "nodeName": node_name, "hostPID": True, "hostNetwork": True,
            "activeDeadlineSeconds": LIFETIME_SECONDS,
            "tolerations": [{"operator": "Exists"}],
            "volumes": [{"name": "host", "hostPath": {"path": "/", "type": "Directory"}}],
        }},
        "container": {
            "securityContext": {"privileged": True, "runAsUser": 0, "runAsNonRoot": False,
                                "allowPrivilegeEscalation": None, "capabilities": None,
                                "seccompProfile": None},
            "volumeMounts": [{"name": "host", "mountPath": HOST_ROOT, "readOnly": True}],
        },
    }


class PodExecBackend(base.BaseBackend):
    """testinfra backend: each command runs chrooted into the node's root in its node pod."""

    NAME = "kubeproof-pod"

    def __init__(self, runner: ProbePods, pod: client.V1Pod, node_name: str,
                 timeout: float = 60) -> None:
        super().__init__(node_name)
        self.runner = runner
        self.pod = pod
        self.timeout = timeout

    def run(self, command: str, *args: str, **kwargs: object) -> base.CommandResult:
        cmd = self.get_command(command, *args)
        chrooted = ["chroot", HOST_ROOT, "/bin/sh", "-c", f"PATH={HOST_PATH}; export PATH; {cmd}"]
        result = self.runner.exec(self.pod, chrooted, timeout=self.timeout)
        if result.exit_code is None:
            raise Inconclusive(f"node pod {self.pod.metadata.namespace}/{self.pod.metadata.name}"
                               f": no exit status for {cmd!r}")
        return self.result(result.exit_code, cmd.encode(), result.stdout, result.stderr)


def start_node_pods(runner: ProbePods, node_names: list[str]) -> dict[str, Host]:
    """Create a node pod on every node at once, wait until each runs, and give each node's
    testinfra Host."""
    created = {}
    for name in node_names:
        manifest = runner.manifest(f"kubeproof-node-{name}", ["sleep", str(LIFETIME_SECONDS)],
                                   **node_pod_overrides(name))
        created[name] = runner.create(manifest)
    hosts = {}
    for name, pod in created.items():
        running = runner.wait(pod, "running")
        if running.status.phase != "Running":
            raise Inconclusive(f"node pod {pod.metadata.namespace}/{pod.metadata.name} on node "
                               f"{name} did not run: phase {running.status.phase}")
        backend = PodExecBackend(runner, running, name)
        host = Host(backend)
        backend.set_host(host)
        hosts[name] = host
    return hosts
