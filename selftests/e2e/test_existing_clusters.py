"""The existing target as a new user meets it, against the local cluster through its admin
kubeconfig: kubeproof's own probe image by default, a preflight that ends probe controls at
once when the image cannot be pulled, and runs that clean up after runs that were killed.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import threading

from suite import REPO, poll, run_suite

from kubeproof import probeimage
from kubeproof.kube import Clients
from kubeproof.localcluster import hids
from kubeproof.localcluster import layout as L
from kubeproof.probes import RUN_ID_LABEL
from kubeproof.runs import live_runs
from kubeproof.targets.base import Identity


def unpullable() -> str:
    """A probe image the cluster admits (the probe image's signed digest, which the app
    namespace's image policy asks for) but cannot pull: its registry is a loopback port where
    nothing listens, so no name is looked up and nothing leaves the machine."""
    return f"127.0.0.1:9/kubeproof/no-such-probe@{probeimage.reference().split('@', 1)[1]}"


# On the local cluster the app namespace's NetworkPolicy stops a plaintext request before any
# sidecar could (there is no Istio): mesh.mtls-strict stays inconclusive there, and says so.
INCONCLUSIVE_HERE = {"tests/egress/test_mesh.py::test_plaintext_request_to_app_is_refused",
                     "tests/egress/test_mesh.py::test_no_peer_authentication_weakens_mtls_for_the_app"}


def existing(local_cluster, app_token: bool = False) -> list[str]:
    """The options a user gives for the local cluster as an existing one (no probe options):
    the app user impersonated, or (app_token) its own kubeconfig with the identity provider's
    ID token, as the local target uses it."""
    app = ([f"--app-kubeconfig={local_cluster.layout.app_kubeconfig}"] if app_token
           else [f"--app-user={L.APP_USER}", f"--app-group={L.APP_GROUP}"])
    return ["--target=existing", f"--kubeconfig={local_cluster.layout.admin_kubeconfig}",
            *app, f"--app-namespace={L.APP_NAMESPACE}"]


def objects_of(clients: Clients, run_id: str) -> list[str]:
    """The namespaces and pods labelled with a run id that still exist."""
    selector = f"{RUN_ID_LABEL}={run_id}"
    return ([f"namespace/{n.metadata.name}" for n in clients.core.list_namespace(
                label_selector=selector).items]
            + [f"pod/{p.metadata.namespace}/{p.metadata.name}" for p in
               clients.core.list_pod_for_all_namespaces(label_selector=selector).items])


def etcd_options(local_cluster) -> list[str]:
    """etcd client access as a kubeadm user would pass it (the API server's client pair)."""
    pki = local_cluster.layout.pki
    return [f"--etcd-endpoint=https://127.0.0.1:{L.ETCD_CLIENT_PORT}",
            f"--etcd-ca={pki / 'etcd-ca.crt'}", f"--etcd-cert={pki / 'apiserver-etcd-client.crt'}",
            f"--etcd-key={pki / 'apiserver-etcd-client.key'}"]


def test_existing_target_runs_probes_from_kubeproofs_image_then_stops_at_once_without_it(
        local_cluster, hardened_run):
    normal = run_suite(*existing(local_cluster), *etcd_options(local_cluster))
    inconclusive = [normal.evidence_of(t["nodeid"]) for t in normal.tests
                    if t["verdict"] == "error" and t["nodeid"] not in INCONCLUSIVE_HERE]
    assert not inconclusive, "with no probe options every probe is conclusive:\n" + \
        "\n".join(inconclusive)
    # With the etcd options the etcd controls run there as on the local target (all but the
    # check of the API server's encryption flags, which the local cluster shows no pod for).
    etcd_tests = [t["nodeid"] for t in normal.tests
                  if t["control"] in ("etcd.isolated", "encryption.at-rest")
                  and hardened_run.verdict_of.get(t["nodeid"]) == "pass"
                  and "lacks component-flags" not in t["reason"]]
    assert len(etcd_tests) >= 3
    differ = [normal.evidence_of(n) for n in etcd_tests if normal.verdict_of[n] != "pass"]
    assert not differ, "\n".join(differ)

    image = unpullable()
    unpullable_run = run_suite(*existing(local_cluster), *etcd_options(local_cluster),
                               f"--probe-image={image}")
    stopped = {t["nodeid"] for t in unpullable_run.tests if "probe preflight:" in t["reason"]}
    assert stopped, f"no test names the preflight:\n{unpullable_run.output[-3000:]}"
    for test in unpullable_run.tests:
        if test["nodeid"] in stopped:
            assert test["verdict"] == "error", unpullable_run.evidence_of(test["nodeid"])
            # Stopped on the pod's state, not at the end of a deadline.
            assert "cannot start" in test["reason"] and "ErrImagePull" in test["reason"], \
                test["reason"]
        else:
            # Tests that start no pod are untouched by the probe image.
            assert test["verdict"] == normal.verdict_of[test["nodeid"]], \
                unpullable_run.evidence_of(test["nodeid"])
    lines = [line for line in unpullable_run.output.splitlines()
             if line.startswith("kubeproof: probe preflight:")]
    assert len(lines) == 1 and image in lines[0] and "--probe-image" in lines[0], \
        unpullable_run.output[-3000:]


def test_a_killed_run_leaves_nothing_once_the_next_run_is_done(local_cluster):
    admin = Clients(Identity(local_cluster.layout.admin_kubeconfig))
    before = {ns.metadata.labels[RUN_ID_LABEL] for ns in admin.core.list_namespace(
        label_selector=RUN_ID_LABEL).items}
    argv = [sys.executable, "-m", "pytest", "-c", str(REPO / "pytest.ini"), "-m", "acceptance",
            "-p", "no:cacheprovider", "-q", "-n", "2"]
    victim = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def probe_pod_of_new_run():
            pods = admin.core.list_pod_for_all_namespaces(label_selector=RUN_ID_LABEL).items
            return next((p.metadata.labels[RUN_ID_LABEL] for p in pods
                         if p.metadata.labels[RUN_ID_LABEL] not in before), None)

        killed = poll(probe_pod_of_new_run, 120, "a probe pod of the new run")
    finally:
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
    left = objects_of(admin, killed)
    assert any(o.startswith("pod/") for o in left), left
    assert killed in live_runs(admin), "the killed run held no lease while it ran"
    # Its lease runs out (LEASE_SECONDS after its last renewal); until then it counts as live.
    poll(lambda: killed not in live_runs(admin), 60, "the killed run's lease expired")

    after = run_suite("--control=seccomp.keyctl-denied", workers=0)
    assert "removed" in after.output and "ended without cleaning up" in after.output, \
        after.output[-2000:]
    poll(lambda: not objects_of(admin, killed), 90,
         f"every object of killed run {killed} gone (left: {objects_of(admin, killed)})")


def test_two_concurrent_runs_give_identical_verdicts(local_cluster, hardened_run):
    outcomes = {}

    def run(name: str) -> None:
        outcomes[name] = run_suite(workers=1)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("first", "second")]
    started = datetime.datetime.now(datetime.UTC)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(outcomes) == {"first", "second"}, "a concurrent run did not finish"
    for name, outcome in outcomes.items():
        differ = [f"{nodeid}: {verdict} alone, {outcome.verdict_of.get(nodeid)} concurrently\n"
                  f"{outcome.evidence_of(nodeid)}"
                  for nodeid, verdict in hardened_run.verdict_of.items()
                  if outcome.verdict_of.get(nodeid) != verdict]
        assert not differ, f"the {name} run (from {started:%H:%M:%S}) differs:\n" + \
            "\n".join(differ)


def test_node_pods_give_host_checks_the_verdicts_local_access_gives(local_cluster, hardened_run):
    """--node-access pod: every check both targets can run has the local target's verdict
    (the local target reaches its node directly, the existing one through node pods), the
    component flag checks included, read from the components' processes."""
    aide = hids.file_integrity(local_cluster.layout)  # where this node keeps AIDE
    # The app user's own token, as locally: auth.third-party's sign-in check needs it.
    by_pods = run_suite(*existing(local_cluster, app_token=True), *etcd_options(local_cluster),
                        "--node-access=pod", f"--aide-config={aide.aide_config}",
                        f"--hids-canary={aide.canary}")
    both = [t["nodeid"] for t in by_pods.tests if "lacks " not in t["reason"]
            and "lacks " not in next((h["reason"] for h in hardened_run.tests
                                      if h["nodeid"] == t["nodeid"]), "lacks ")]
    host_checks = [n for n in both if n.startswith("tests/host/")]
    assert len(host_checks) >= 20, f"host checks did not run through node pods: {host_checks}"
    # The API shows no static pods here (the components are host processes): the flag checks
    # read the components' command lines through the node pods.
    flag_checks = [n for n in both if "test_component_flag[" in n]
    from_processes = [n for n in flag_checks if "flags read from: process " in
                      by_pods.evidence_of(n)]
    assert len(flag_checks) >= 20 and from_processes == flag_checks, (
        f"component flags were not read from the processes: {flag_checks}")
    # Node pods mount the host read-only: AIDE's detection test cannot change its canary.
    detection = "tests/host/test_hids.py::test_aide_reports_a_changed_file_in_its_scope" \
        f"[{L.NODE_NAME}]"
    assert by_pods.verdict_of[detection] == "error" and "node pods mount the host read-only" \
        in by_pods.evidence_of(detection), by_pods.evidence_of(detection)
    # Nor can it try a write to /usr: its canary, a file in /var/tmp, cannot be made either.
    usr_write = "tests/host/test_os.py::test_node_runs_an_immutable_os" \
        f"[{L.NODE_NAME}-usr-refuses-writes]"
    assert by_pods.verdict_of[usr_write] == "error" and "Read-only file system" \
        in by_pods.evidence_of(usr_write), by_pods.evidence_of(usr_write)
    differ = [f"{n}: {hardened_run.verdict_of[n]} locally\n{by_pods.evidence_of(n)}"
              for n in both if n not in (detection, usr_write)
              and by_pods.verdict_of[n] != hardened_run.verdict_of[n]]
    assert not differ, "\n".join(differ)
