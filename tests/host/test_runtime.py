"""host.runtime-seccomp and host.runtime-selinux: what the container runtime enforces.

Seccomp is proven in three parts, each a case: the kernel can filter system calls, the OCI
runtime that starts the containers was built with seccomp (`runc features`; docker: `docker
info`), and a workload that declares no profile still gets the runtime's default profile. The
last part is the one a configuration can take away: containerd's CRI has no global seccomp
switch and compiles its default profile in, but applies it only when asked, so either the
kubelet asks for every container (`seccompDefault: true`) or containerd's
`unset_seccomp_profile` names the default. seccomp.keyctl-denied proves the behaviour.
"""

from __future__ import annotations

import nodefacts
import pytest
import runtimefacts

import kubeproof
from kubeproof import nodeprocesses

DEFAULT_PROFILES = ("runtime/default", "docker/default")


@pytest.fixture(scope="session")
def _runtimes() -> dict:
    return {}


@pytest.fixture
def runtime(request, node, node_spec, host, evidence, _runtimes) -> runtimefacts.Runtime:
    """The container runtime the node's kubelet uses, or on a node that runs no kubelet (a
    host prepared for one) the one the target names (--node-runtime-endpoint); cached per
    node."""
    with evidence.canary("the runtime behind the kubelet's endpoint is found and readable"):
        if node not in _runtimes:
            prepared = node_spec.runtime_endpoint and not nodeprocesses.processes(host,
                                                                                   "kubelet")
            kubelet = None if prepared else request.getfixturevalue("kubelet")
            _runtimes[node] = runtimefacts.find_runtime(host, kubelet,
                                                        node_spec.runtime_endpoint)
        evidence.add("runtime", _runtimes[node].summary())
    return _runtimes[node]


def _kernel(host, runtime, kubelet, evidence) -> None:
    actions = nodefacts.read(host, "/proc/sys/kernel/seccomp/actions_avail")
    evidence.add("/proc/sys/kernel/seccomp/actions_avail", actions)
    assert actions and "errno" in actions.split(), (
        "the kernel offers no seccomp filter actions (no /proc/sys/kernel/seccomp/actions_avail)")


def _oci_runtime(host, runtime, kubelet, evidence) -> None:
    if runtime.kind == "docker":
        assert any(o.startswith("name=seccomp") for o in runtime.security_options), (
            f"docker runs without seccomp: SecurityOptions {runtime.security_options}")
        return
    runtime_type, binary = runtimefacts.oci_runtime(runtime)
    evidence.add("default CRI runtime", {"runtime_type": runtime_type, "binary": binary})
    if runtime_type != "io.containerd.runc.v2":
        raise kubeproof.Inconclusive(f"the default runtime is {runtime_type}: kubeproof reads "
                                     f"only runc's seccomp support")
    features = nodeprocesses.run(host, "%s features", binary)
    if features.rc == 0:
        seccomp = nodefacts.as_json(features.stdout, f"{binary} features")["linux"]["seccomp"]
        evidence.add(f"{binary} features: linux.seccomp", seccomp)
        assert seccomp.get("enabled") is True, f"{binary} was built without seccomp: {seccomp}"
        return
    version = nodeprocesses.run(host, "%s --version", binary)
    evidence.add(f"{binary} --version", version.stdout or version.stderr)
    if version.rc != 0:
        raise kubeproof.Inconclusive(f"cannot run {binary} on the node: {version.stderr}")
    assert "libseccomp:" in version.stdout, f"{binary} was built without libseccomp"


def _default_for_workloads(host, runtime, kubelet, evidence) -> None:
    seccomp_default, source = kubelet.config.get("seccompDefault"), "kubelet config"
    if "seccomp-default" in kubelet.flags:
        seccomp_default, source = kubelet.flags["seccomp-default"], "kubelet --seccomp-default"
    unset_profile = runtime.cri.get("unset_seccomp_profile", "")
    evidence.add("workloads without a profile get", {
        f"seccompDefault ({source})": seccomp_default,
        "containerd unset_seccomp_profile": unset_profile})
    assert nodefacts.as_bool(seccomp_default) is True or unset_profile in DEFAULT_PROFILES, (
        f"a workload that declares no seccomp profile runs unconfined: kubelet seccompDefault is "
        f"{seccomp_default!r} ({source}) and containerd's unset_seccomp_profile is "
        f"{unset_profile!r}; set seccompDefault: true")


PARTS = {"kernel": _kernel, "oci-runtime": _oci_runtime,
         "default-for-workloads": _default_for_workloads}


@kubeproof.control("host.runtime-seccomp")
@pytest.mark.parametrize("part", list(PARTS))
def test_runtime_applies_seccomp_by_default(host, runtime, kubelet, evidence, part):
    """The container runtime has seccomp enabled with a default profile."""
    PARTS[part](host, runtime, kubelet, evidence)


@kubeproof.control("host.runtime-selinux")
def test_runtime_labels_containers_with_selinux(runtime, evidence):
    """The container runtime labels containers with SELinux."""
    if runtime.kind == "docker":
        assert any(o.startswith("name=selinux") for o in runtime.security_options), (
            f"docker runs without --selinux-enabled: SecurityOptions "
            f"{runtime.security_options}")
        return
    enabled = runtime.cri.get("enable_selinux", False)
    evidence.add(f"enable_selinux in {runtime.config_path}", enabled)
    assert enabled is True, (
        f"containerd's CRI plugin has enable_selinux = {enabled!r} in {runtime.config_path}")
