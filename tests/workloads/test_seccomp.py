"""seccomp: the runtime's default profile refuses keyctl (checklist item 6, reference scenario)."""

from __future__ import annotations

import pytest

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT

DENIED = "Unable to dump key: Operation not permitted"
MARKER = "kubeproof: keyctl probe started"

# Where each case runs and what its container declares. PSA restricted requires a declared
# profile, so the "none declared" case runs in the run namespace, which must admit it.
CASES = {
    "runtime-default-declared": ("app", {"seccompProfile": {"type": "RuntimeDefault"}}),
    "no-profile-declared": ("run", {"seccompProfile": None}),
}


@pytest.fixture(scope="module")
def keyctl_pods(request, cluster, run_namespace, new_probe_runner):
    """One keyctl probe pod per selected case, created together when the first case runs
    (their starts overlap, with the probe preflight's too); each test waits for its own (a
    case whose pod was refused errors alone). Deleted at the end of the module."""
    runner = new_probe_runner()
    command = ["sh", "-c", f"echo '{MARKER}'; command -v keyctl; keyctl show 2>&1"]

    def create(where: str, security: dict):
        manifest = runner.manifest("kp-keyctl", command, container={"securityContext": security})
        try:
            return runner.create(manifest, cluster.app_namespace if where == "app"
                                 else run_namespace)
        except kubeproof.Inconclusive as exc:
            return exc

    try:
        pods = {case: create(*CASES[case]) for case in _selected_cases(request)}
        request.getfixturevalue("probe_preflight")
        yield runner, pods
    finally:
        runner.delete_all()


def _selected_cases(request) -> list[str]:
    """The cases of this module's tests that the run selected (-k may pick one)."""
    selected = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec and item.module is request.module and "case" in callspec.params:
            selected.add(callspec.params["case"])
    return [case for case in CASES if case in selected]


@kubeproof.control("seccomp.keyctl-denied")
@pytest.mark.parametrize("case", list(CASES))
def test_keyctl_is_denied_by_the_default_seccomp_profile(admin_api, keyctl_pods, evidence,
                                                         case):
    """A pod under the runtime's default seccomp profile cannot use keyctl."""
    runner, pods = keyctl_pods
    pod = pods[case]
    if isinstance(pod, Exception):
        raise pod
    namespace = pod.metadata.namespace
    labels = admin_api.core.read_namespace(namespace, _request_timeout=REQUEST_TIMEOUT)
    evidence.add("probe namespace", {"name": namespace, "labels": labels.metadata.labels})
    evidence.add("container seccompProfile", CASES[case][1]["seccompProfile"] or "none declared")
    run = runner.finish(pod)
    together = [p.metadata.name for c, p in pods.items() if c != case and hasattr(p, "metadata")]
    evidence.add("probe pod", f"{run.namespace}/{run.name}: phase {run.phase}, exit "
                              f"{run.exit_code} (started together with {together})")
    evidence.add("command", pod.spec.containers[0].command)
    evidence.add("log", run.logs)
    with evidence.canary("the probe pod started a shell and found keyctl"):
        assert MARKER in run.logs and "/keyctl" in run.logs, run.logs
    assert DENIED in run.logs, (f"keyctl show was not denied by seccomp in {run.namespace} "
                                f"({case}); log: {run.logs!r}")
