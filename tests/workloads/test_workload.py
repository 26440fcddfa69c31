"""The app containers' hardening: privilege escalation, read-only root, MAC profile and
service account token (checklist items 2 and 6)."""

from __future__ import annotations

import macprofile
import pytest

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.targets.base import NODE_ACCESS

# Capabilities a mesh's init container may add (it programs the pod's iptables).
MESH_INIT = {"istio-init": {"NET_ADMIN", "NET_RAW"}, "linkerd-init": {"NET_ADMIN", "NET_RAW"}}
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def declared_escalation(ac) -> list[str]:
    """What is wrong with a container's declared privilege settings (empty: nothing)."""
    sc = ac.container.security_context
    caps = sc.capabilities if sc else None
    drop = set(caps.drop or []) if caps else set()
    add = set(caps.add or []) if caps else set()
    allowed = MESH_INIT.get(ac.container.name, set()) if ac.init else set()
    problems = []
    if not sc or sc.allow_privilege_escalation is not False:
        problems.append("allowPrivilegeEscalation is not false")
    if sc and sc.privileged:
        problems.append("privileged")
    if "ALL" not in drop:
        problems.append(f"capabilities.drop {sorted(drop)} lacks ALL")
    if add - allowed:
        problems.append(f"capabilities.add {sorted(add - allowed)}")
    return problems


@kubeproof.control("workload.no-privilege-escalation")
def test_app_containers_declare_no_privilege_escalation(app_containers, evidence):
    """App containers declare allowPrivilegeEscalation false and drop all capabilities."""
    found = {ac.name: declared_escalation(ac) for ac in app_containers}
    evidence.add("declared privilege settings (problems per container)", found)
    bad = {name: problems for name, problems in found.items() if problems}
    assert not bad, f"app containers that may escalate privileges: {bad}"


@kubeproof.control("workload.no-privilege-escalation")
def test_app_processes_run_without_privileges(app_processes, evidence):
    """App processes run with no_new_privs set and no capabilities (as their node sees them)."""
    bad = {}
    for ac, proc in app_processes:
        seen = {k: proc.status.get(k) for k in ("NoNewPrivs", "CapPrm", "CapEff", "CapBnd")}
        evidence.add(ac.name, f"node {proc.node} pid {proc.pid}: {seen}")
        if seen["NoNewPrivs"] != "1" or int(seen["CapEff"], 16) or int(seen["CapPrm"], 16):
            bad[ac.name] = seen
    assert not bad, f"app processes that can gain privileges or hold capabilities: {bad}"


@kubeproof.control("workload.readonly-rootfs")
def test_app_containers_cannot_write_their_root_filesystem(cluster, run_id, app_containers,
                                                           container_process, evidence):
    """App containers cannot write to their root filesystem (a write into the running
    container's root, from its node, fails with EROFS)."""
    kubeproof.require(cluster, NODE_ACCESS)
    written = {}
    for ac in (ac for ac in app_containers if not ac.init):
        proc = container_process(ac.pod, ac.container.name)
        root = f"/proc/{proc.pid}/root"
        with evidence.canary(f"the node sees the root filesystem of {ac.name}"):
            listing = proc.host.run("ls -A %s", root)
            assert listing.rc == 0, f"ls {root}: {listing.stderr}"
            evidence.add(f"{ac.name} root ({proc.node} pid {proc.pid})", listing.stdout.split())
        target = f"{root}/.kubeproof-write-{run_id}"
        attempt = proc.host.run("touch %s", target)
        evidence.add(f"write {target}", f"rc {attempt.rc}: {attempt.stderr.strip()}")
        if attempt.rc == 0:
            proc.host.run("rm -f %s", target)
            written[ac.name] = target
        elif "Read-only file system" not in attempt.stderr:
            raise kubeproof.Inconclusive(f"the write into {ac.name} failed, but not because the "
                                         f"root is read-only: {attempt.stderr.strip()}")
    assert not written, f"wrote into the root filesystem of {written} (file removed again)"


@kubeproof.control("workload.readonly-rootfs")
def test_app_security_context_gives_a_read_only_root(app_containers, admin_api, probe_pods,
                                                     evidence):
    """A probe pod with the app's securityContext (pod and container) cannot write its root."""
    serialize = admin_api.api.sanitize_for_serialization
    command = ["sh", "-c", "touch /scratch/ok && echo scratch-writable; touch /tmp/.kp 2>&1; "
                           "echo rootfs-write-exit=$?"]
    failures = {}
    for ac in app_containers:
        manifest = probe_pods.manifest("kp-rootfs", command, pod={"spec": {
            "volumes": [{"name": "scratch", "emptyDir": {}}]}}, container={
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]})
        # The app's securityContexts replace the probe's own, they are not merged into them.
        manifest["spec"]["securityContext"] = serialize(ac.pod.spec.security_context) or {}
        manifest["spec"]["containers"][0]["securityContext"] = (
            serialize(ac.container.security_context) or {})
        pod = probe_pods.wait(probe_pods.create(manifest, ac.pod.metadata.namespace))
        logs = probe_pods.logs(pod)
        evidence.add(f"probe {pod.metadata.namespace}/{pod.metadata.name} with the "
                     f"securityContext of {ac.name}", logs)
        with evidence.canary(f"the probe for {ac.name} writes to an emptyDir"):
            assert "scratch-writable" in logs, logs
        if "rootfs-write-exit=0" in logs:
            failures[ac.name] = logs
        elif "Read-only file system" not in logs:
            raise kubeproof.Inconclusive(f"the root write of the probe for {ac.name} failed, but "
                                         f"not because the root is read-only: {logs}")
    assert not failures, f"the securityContext of {list(failures)} allows root writes: {failures}"


def declared_profiles(ac, serialize) -> list[macprofile.Profile]:
    """The MAC profiles an app container declares (its own, its pod's, legacy annotations)."""
    return macprofile.mac_profiles(serialize(ac.pod), serialize(ac.container))


@kubeproof.control("workload.apparmor-or-selinux-profile")
def test_app_containers_have_a_mac_profile(cluster, request, admin_api, app_containers,
                                           evidence):
    """Each app container has a confining AppArmor profile or SELinux options applied."""
    serialize = admin_api.api.sanitize_for_serialization
    declared = {ac.name: declared_profiles(ac, serialize) for ac in app_containers}
    evidence.add("declared MAC profiles", {name: [str(p) for p in profiles] or "none"
                                           for name, profiles in declared.items()})
    missing = [name for name, profiles in declared.items() if not macprofile.confined(profiles)]
    if not missing:
        return
    kubeproof.require(cluster, NODE_ACCESS)
    support = {}
    for node, host in request.getfixturevalue("node_hosts"):
        apparmor = host.file("/sys/module/apparmor/parameters/enabled")
        support[node.name] = {
            "apparmor": apparmor.exists and apparmor.content_string.strip() == "Y",
            "selinux": host.file("/sys/fs/selinux/enforce").exists}
    evidence.add("node MAC support", support)
    if not any(any(s.values()) for s in support.values()):
        pytest.skip(f"no node supports AppArmor or SELinux ({support}), so no profile can "
                    f"apply to {missing}; host.mac-single-tool reports the nodes")
    assert not missing, (f"app containers without a confining AppArmor profile or SELinux "
                         f"type: {missing} (nodes support: {support})")


@kubeproof.control("workload.sa-token-not-automounted")
def test_app_pods_do_not_mount_a_service_account_token(app_pods, admin_api, evidence):
    """App pods do not mount a service account token."""
    mounted = {}
    for pod in app_pods:
        sa_name = pod.spec.service_account_name or "default"
        sa = admin_api.core.read_namespaced_service_account(
            sa_name, pod.metadata.namespace, _request_timeout=REQUEST_TIMEOUT)
        evidence.add(f"pod {pod.metadata.name}", {
            "automountServiceAccountToken (pod)": pod.spec.automount_service_account_token,
            f"automountServiceAccountToken (serviceaccount {sa_name})":
                sa.automount_service_account_token})
        token_volumes = {v.name for v in pod.spec.volumes or [] if v.projected and any(
            s.service_account_token for s in v.projected.sources or [])}
        for c in [*(pod.spec.init_containers or []), *pod.spec.containers]:
            for m in c.volume_mounts or []:
                if m.name in token_volumes or m.mount_path.startswith(TOKEN_DIR):
                    mounted[f"{pod.metadata.name}/{c.name}"] = f"{m.name} at {m.mount_path}"
    evidence.add("token mounts", mounted or "none")
    assert not mounted, f"app containers with a service account token mounted: {mounted}"


@kubeproof.control("workload.secrets-as-files")
def test_app_containers_take_no_secret_from_their_environment(app_containers, evidence):
    """App containers read Secrets as files, not as environment variables (CIS 5.4.1): no
    env valueFrom.secretKeyRef and no envFrom.secretRef."""
    found = {}
    for ac in app_containers:
        refs = [f"env {e.name} <- secret {e.value_from.secret_key_ref.name}"
                for e in ac.container.env or []
                if e.value_from and e.value_from.secret_key_ref]
        refs += [f"envFrom secret {e.secret_ref.name}" for e in ac.container.env_from or []
                 if e.secret_ref]
        evidence.add(f"container {ac.name}", refs or "no secret in its environment")
        if refs:
            found[ac.name] = refs
    assert not found, f"app containers take secrets from their environment: {found}"
