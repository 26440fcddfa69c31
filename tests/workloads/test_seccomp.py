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


@kubeproof.control("seccomp.keyctl-denied")
@pytest.mark.parametrize("case", list(CASES))
def test_keyctl_is_denied_by_the_default_seccomp_profile(cluster, admin_api, probe_pods,
                                                         run_namespace, evidence, case):
    """A pod under the runtime's default seccomp profile cannot use keyctl."""
    where, security = CASES[case]
    namespace = cluster.app_namespace if where == "app" else run_namespace
    labels = admin_api.core.read_namespace(namespace, _request_timeout=REQUEST_TIMEOUT)
    evidence.add("probe namespace", {"name": namespace, "labels": labels.metadata.labels})
    evidence.add("container seccompProfile", security["seccompProfile"] or "none declared")
    command = ["sh", "-c", f"echo '{MARKER}'; command -v keyctl; keyctl show 2>&1"]
    run = probe_pods.run("kp-keyctl", command, namespace=namespace,
                         container={"securityContext": security})
    evidence.add("probe pod", f"{run.namespace}/{run.name}: phase {run.phase}, "
                              f"exit {run.exit_code}")
    evidence.add("log", run.logs)
    with evidence.canary("the probe pod started a shell and found keyctl"):
        assert MARKER in run.logs and "/keyctl" in run.logs, run.logs
    assert DENIED in run.logs, (f"keyctl show was not denied by seccomp in {run.namespace} "
                                f"({case}); log: {run.logs!r}")
