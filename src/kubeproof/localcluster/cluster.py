"""The local reference cluster's life cycle: bring-up in order with readiness, and teardown."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import string
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from .. import probeimage
from ..errors import KubeproofError
from . import configs, hids, imagepolicy, leftovers, network, oidc, pki, testhosts
from . import layout as L
from .components import Components, resolve
from .layout import Layout, cache_dir
from .processes import Processes
from .readiness import dns_query, http_ok, https_ok, socket_accepts
from .shell import run

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "local"
# The identity provider starts first (it is the slowest) and is waited for last.
IDENTITY_PROVIDER = ("keycloak",)
# Start order; each entry waits for the ones before it to be ready.
CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
NODE = ("containerd", "kubelet", "kube-proxy", "netpol")
# The registry of the images' signatures and the admission webhook that checks them.
IMAGE_POLICY = ("registry", "policy-controller")
ALL_COMPONENTS = IDENTITY_PROVIDER + CONTROL_PLANE + NODE + IMAGE_POLICY
# Components that watch the API server (restarted with it, see LocalCluster.restart).
API_CLIENTS = ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "netpol",
               "policy-controller")
CNI_STATE = Path("/var/lib/cni/networks/kubeproof")
# containerd 1.6 keeps shim sockets and runc state here whatever its own state directory is.
SHIM_SOCKETS = Path("/run/containerd/s")
OWNER_FILE = L.RUN_DIR / "state-dir"


def running_owner() -> Path | None:
    """The state dir of the local cluster whose processes run now, if any (one at a time)."""
    if not OWNER_FILE.exists():
        return None
    owner = Path(OWNER_FILE.read_text())
    alive = any(Processes(Layout(owner)).pid(n) for n in ALL_COMPONENTS)
    return owner if alive else None
RUNTIME_LEFTOVERS = (Path("/run/containerd/runc/k8s.io"), Path("/run/containerd/fifo"))


def _say(message: str) -> None:
    print(f"kubeproof: {message}", flush=True)


class LocalCluster:
    """One local cluster in one state directory."""

    def __init__(self, state_dir: Path, progress: Callable[[str], None] = _say):
        self.layout = Layout(state_dir)
        self.processes = Processes(self.layout)
        self.progress = progress
        self._components: Components | None = None
        self.flag_overrides: dict[str, dict[str, str | None]] = {}

    @property
    def components(self) -> Components:
        if self._components is None:
            self._components = resolve()
        return self._components

    # ---- state -------------------------------------------------------------------------

    def expected_components(self) -> list[str]:
        """The components this cluster runs, less any a mutant stopped on purpose."""
        if not self.layout.state_file.exists():
            return []
        started = json.loads(self.layout.state_file.read_text())["components"]
        return [n for n in started if not self._stopped_marker(n).exists()]

    def is_running(self) -> bool:
        """Whether every component of this state directory runs and the API server is ready."""
        expected = self.expected_components()
        return bool(expected) and all(self.processes.pid(n) for n in expected) and self.api_ready()

    def dead_components(self) -> list[str]:
        """Components that should run but do not, when at least one other still runs."""
        expected = self.expected_components()
        dead = [n for n in expected if not self.processes.pid(n)]
        return dead if len(dead) < len(expected) else []

    def _stopped_marker(self, name: str) -> Path:
        return self.layout.pids / f"{name}.stopped"

    def lock(self) -> FileLock:
        """The lock that keeps concurrent starters of this state dir from racing."""
        path = self.layout.root.parent / f".{self.layout.root.name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(path))

    def probe_image(self) -> str:
        """The probe image pinned by digest (built locally, imported at bring-up)."""
        return probeimage.reference()

    def api_ready(self) -> bool:
        pki_dir = self.layout.pki
        return https_ok(
            f"{L.API_URL}/readyz",
            pki_dir / "ca.crt",
            pki_dir / "admin.crt",
            pki_dir / "admin.key",
        )

    # ---- bring-up ----------------------------------------------------------------------

    def up(self) -> None:
        """Brings the cluster up from nothing; on failure removes what was started and raises."""
        components = self.components
        started = time.monotonic()
        self._preflight()
        self.down(quiet=True)
        aide_init = None
        try:
            self.layout.make_dirs()
            OWNER_FILE.write_text(str(self.layout.root))
            pki.create_pki(self.layout.pki)
            configs.write_all(self.layout)
            oidc.write_files(self.layout)
            aide_init = hids.start_init(self.layout, list(components.binaries.values()))
            network.set_up()
            testhosts.set_up(self.layout)
            self._start_all(components)
            self.progress(hids.finish_init(self.layout, aide_init))
            self.layout.state_file.write_text(
                json.dumps(
                    {
                        "components": [n for n in ALL_COMPONENTS if self.processes.pid(n)],
                        "versions": components.versions,
                    },
                    indent=2,
                )
            )
        except BaseException:
            if aide_init is not None and aide_init.poll() is None:
                aide_init.kill()
            if os.environ.get("KUBEPROOF_KEEP_FAILED"):
                self.progress(
                    f"bring-up failed; KUBEPROOF_KEEP_FAILED is set: left in {self.layout.root}"
                )
                raise
            kept = self._keep_logs()
            self.progress(
                f"bring-up failed; component logs kept in {kept}; removing what was started"
            )
            self.down(quiet=True)
            raise
        self.progress(
            f"local cluster ready in {time.monotonic() - started:.1f}s "
            f"(state in {self.layout.root})"
        )

    def _keep_logs(self) -> Path:
        """Copies the component logs out of the state directory (teardown deletes it)."""
        target = cache_dir() / "logs" / f"failed-bring-up-{time.strftime('%Y%m%dT%H%M%S')}"
        if self.layout.logs.is_dir():
            shutil.copytree(self.layout.logs, target, dirs_exist_ok=True)
        return target

    def _preflight(self) -> None:
        """Refuses to start without root, or while a cluster of another state dir runs."""
        if os.geteuid() != 0:
            raise KubeproofError(
                "local cluster: must run as root (it starts a kubelet and containerd)"
            )
        owner = running_owner()
        if owner is not None and owner != self.layout.root:
            raise KubeproofError(
                f"local cluster: another local cluster runs from {owner}; stop it with "
                f"`python -m kubeproof.localcluster down --state-dir {owner}`"
            )

    def _start_all(self, c: Components) -> None:
        flags = self.flags()
        b = c.binaries
        self.progress("starting the identity provider (Keycloak), etcd, containerd and the "
                      "image registry")
        self.processes.start("keycloak", oidc.argv(b["keycloak"], self.layout),
                             oidc.environment(b["keycloak"], self.layout))
        self._start("etcd", flags)
        self._start("containerd", flags)
        imagepolicy.set_up_netns()
        self.processes.start("registry", imagepolicy.registry_argv(
            b["registry"], self.layout, imagepolicy.ensure_key(b["cosign"])))
        self.processes.wait_ready("etcd", self._etcd_ready, 30)
        self.progress("starting kube-apiserver")
        self._start("kube-apiserver", flags)
        self.processes.wait_ready(
            "containerd", lambda: socket_accepts(self.layout.containerd_socket), 30
        )
        self._import_images(c)
        self.processes.wait_ready("registry", lambda: http_ok(imagepolicy.REGISTRY_URL), 30)
        imagepolicy.sign_images(b["cosign"], c.pinned_images, self.progress)
        self.processes.wait_ready("kube-apiserver", self.api_ready, 90)
        # RBAC first: the kubelet's certificate request is approved only if it is in place.
        self.apply_manifests()
        # The image policy is in force before any pod of the app namespace is created.
        self.progress("starting the image policy webhook (policy-controller)")
        self._start_image_policy()
        self.progress("starting controller-manager, scheduler, kubelet, kube-proxy")
        for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"):
            self._start(name, flags)
        self.progress("waiting for the node, cluster DNS and the demo app")
        self.processes.wait_ready("kubelet", self._node_ready, 90)
        if "netpol" in b:
            self._start("netpol", flags)  # it needs the registered Node to find its pods
            self.processes.wait_ready("netpol", self._netpol_ready, 60)
        self.processes.wait_ready("kube-proxy", self._dns_ready, 120)
        self.processes.wait_ready("kube-apiserver", self._app_ready, 90)
        self.progress("waiting for the identity provider")
        self.processes.wait_ready("keycloak", lambda: oidc.ready(self.layout), 120)
        oidc.write_app_kubeconfig(self.layout)
        # The API server fetches the issuer's keys every 10 s until it has them.
        self.processes.wait_ready("kube-apiserver", self._app_user_authenticated, 30)

    def flags(self) -> dict[str, dict[str, str]]:
        """Every component's flags: the hardened defaults with any mutant overrides applied."""
        flags = configs.component_flags(self.layout, self.components.binaries)
        if "netpol" in self.components.binaries:
            flags["netpol"] = netpol_flags(self.layout, self.components.versions)
        for component, overrides in self.flag_overrides.items():
            for name, value in overrides.items():
                if value is None:
                    flags[component].pop(name, None)
                else:
                    flags[component][name] = value
        return flags

    def _start_image_policy(self) -> None:
        """Starts policy-controller and waits until it has taken over its webhook."""
        self.processes.start("policy-controller",
                             imagepolicy.webhook_argv(self.components.binaries["policy-controller"]),
                             imagepolicy.webhook_environment(self.layout))
        self.wait_for_image_policy()

    def wait_for_image_policy(self) -> None:
        """Waits until policy-controller has filled in its validating webhook's configuration."""
        self.processes.wait_ready("policy-controller",
                                  lambda: imagepolicy.webhook_configured(self.kubectl), 60)

    def _start(self, name: str, flags: dict[str, dict[str, str]]) -> None:
        if name == "policy-controller":
            self._start_image_policy()
            return
        binary = self.components.binaries[name]
        env = {"PATH": f"{self.components.binaries['runc'].parent}:/usr/sbin:/usr/bin:/sbin:/bin"}
        self.processes.start(name, configs.argv(binary, flags[name]), env)

    def _etcd_ready(self) -> bool:
        """etcd answers its health check on the metrics port (plain HTTP on loopback, as
        kubeadm's probe does), whatever its client port's TLS settings are."""
        return http_ok(f"{configs.ETCD_METRICS_URL}/health")

    def _import_images(self, c: Components) -> None:
        self.progress(f"importing {len(c.images)} images into containerd")
        for image in c.images:
            self.ctr("images", "import", "--no-unpack", str(image))
        # CRI finds an image by digest only under a name@digest record, which a pull makes
        # and an import does not: pods pin the images by digest.
        for image in c.pinned_images:
            self.ctr("images", "tag", "--force", imagepolicy.tagged(image),
                     imagepolicy.pinned(image))

    def ctr(self, *args: str) -> str:
        """Runs ctr against this cluster's containerd, in the CRI namespace."""
        result = subprocess.run(
            [
                str(self.components.binaries["ctr"]),
                "--address",
                str(self.layout.containerd_socket),
                "--namespace",
                "k8s.io",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise KubeproofError(
                f"local cluster: ctr {' '.join(args)} failed: {result.stderr.strip()}"
            )
        return result.stdout

    def kubectl(self, *args: str, input: str | None = None, kubeconfig: Path | None = None) -> str:
        """Runs the cluster's own kubectl as admin (bring-up only; tests use the API client)."""
        argv = [
            str(self.components.binaries["kubectl"]),
            f"--kubeconfig={kubeconfig or self.layout.admin_kubeconfig}",
            *args,
        ]
        result = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=120)
        if result.returncode != 0:
            raise KubeproofError(
                f"local cluster: kubectl {' '.join(args)} failed: {result.stderr.strip()}"
            )
        return result.stdout

    def apply_manifests(self) -> None:
        """Applies fixtures/local/*.yaml (server-side) with the cluster's values filled in, and
        policy-controller's own manifests (its CRDs first: the fixtures hold a policy)."""
        upstream = self.components.image_policy_manifests
        crds = sorted(upstream.glob("300-*.yaml"))
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                     input="\n---\n".join(p.read_text() for p in crds))
        self.kubectl("wait", "--for=condition=Established", "--timeout=30s",
                     *(f"--filename={p}" for p in crds))
        values = {
            **self.components.versions,
            "DNS_SERVICE_IP": L.DNS_SERVICE_IP,
            "APP_NAMESPACE": L.APP_NAMESPACE,
            "APP_USER": L.APP_USER,
            **testhosts.manifest_values(),
            **imagepolicy.manifest_values(self.components.pinned_images,
                                          imagepolicy.signing_dir() / "cosign.pub"),
        }
        text = "\n---\n".join(
            [string.Template(path.read_text()).substitute(values)
             for path in sorted(FIXTURES.glob("*.yaml"))]
            + [p.read_text() for p in sorted(upstream.glob("*.yaml")) if p not in crds]
        )
        self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=text)

    def _node_ready(self) -> bool:
        """The kubelet answers its health check and its Node is Ready."""
        if not http_ok("http://127.0.0.1:10248/healthz"):
            return False
        try:
            out = self.kubectl(
                "get",
                "node",
                L.NODE_NAME,
                "-o",
                "jsonpath={.status.conditions[?(@.type=='Ready')].status}",
            )
        except KubeproofError:
            return False
        return out.strip() == "True"

    def _dns_ready(self) -> bool:
        answer = dns_query(L.DNS_SERVICE_IP, f"kubernetes.default.svc.{L.CLUSTER_DOMAIN}")
        return answer is not None and answer[0] == 0 and answer[1] > 0

    def _app_ready(self) -> bool:
        out = self.kubectl(
            "get",
            "deployment",
            "pegress",
            "-n",
            L.APP_NAMESPACE,
            "-o",
            "jsonpath={.status.readyReplicas}",
        )
        return out.strip() == "1"

    def _app_user_authenticated(self) -> bool:
        """The API server accepts the app user's ID token (its JWT authenticator is ready)."""
        try:
            self.kubectl("auth", "whoami", kubeconfig=self.layout.app_kubeconfig)
        except KubeproofError:
            return False
        return True

    def _netpol_ready(self) -> bool:
        """kube-router has synced: the app namespace's policies are chains in the filter table."""
        return "KUBE-NWPLCY-" in run("iptables-save", "-t", "filter", check=False)

    # ---- component restarts (mutants) ----------------------------------------------------

    def _stop(self, name: str) -> None:
        """Stops one component; policy-controller's drain (45 s, for a Service's endpoints
        to move on) is cut short: nothing routes around it here."""
        self.processes.stop(name, timeout=1 if name == "policy-controller" else 10)

    def stop_component(self, name: str) -> None:
        """Stops one component; for the policy enforcer also removes its rules (no enforcement)."""
        self._stop(name)
        self._stopped_marker(name).touch()
        if name == "netpol":
            leftovers.remove_iptables("iptables", leftovers.KUBE_ROUTER_CHAINS)
            leftovers.remove_ipsets()

    def start_component(self, name: str) -> None:
        """Starts a stopped component again with the current flags and waits for it."""
        self._stopped_marker(name).unlink(missing_ok=True)
        self._start(name, self.flags())
        readiness = {"netpol": self._netpol_ready}.get(name, lambda: True)
        self.processes.wait_ready(name, readiness, 60)

    def restart(self, component: str, overrides: dict[str, str | None] | None = None,
                kubelet_config: dict | None = None) -> None:
        """Restarts one component with flag overrides (None removes a flag) and, for the
        kubelet, changed config-file keys; no changes restores the hardened settings.

        Restarting etcd or the API server restarts what depends on it too: a client that saw
        the restarting API server refuse it sits in a watch back-off of up to 30 s.
        """
        self.flag_overrides[component] = dict(overrides or {})
        if component == "kubelet":
            configs.write_kubelet_config(self.layout, kubelet_config or {})
        clients = tuple(n for n in API_CLIENTS if n in self.components.binaries)
        chain = {"etcd": ("etcd", "kube-apiserver", *clients),
                 "kube-apiserver": ("kube-apiserver", *clients)}.get(component, (component,))
        for name in reversed(chain):
            self._stop(name)
        readiness = {"kube-apiserver": self.api_ready, "etcd": self._etcd_ready,
                     "kubelet": self._node_ready, "netpol": self._netpol_ready}
        for name in chain:
            self._start(name, self.flags())
            self.processes.wait_ready(name, readiness.get(name, lambda: True), 90)

    # ---- teardown --------------------------------------------------------------------------

    def down(self, quiet: bool = False) -> None:
        """Stops every component and removes everything the cluster left on the host."""
        started = time.monotonic()
        if not quiet:
            self.progress("tearing down the local cluster")
        for name in (
            "policy-controller",
            "registry",
            "keycloak",
            "netpol",
            "kube-proxy",
            "kubelet",
            "kube-scheduler",
            "kube-controller-manager",
        ):
            self._stop(name)
        self._kill_pods()
        for name in ("containerd", "kube-apiserver", "etcd"):
            self._stop(name)
        for pid in leftovers.processes_mentioning(str(self.layout.containerd_socket)):
            _kill(pid)
        imagepolicy.tear_down_netns()
        testhosts.tear_down(self.layout)
        leftovers.unmount_all(L.RUN_DIR, self.layout.root)
        leftovers.remove_netns()
        leftovers.remove_cgroups()
        leftovers.remove_iptables("iptables")
        leftovers.remove_iptables("ip6tables")
        leftovers.remove_ipsets()
        network.tear_down()
        shutil.rmtree(CNI_STATE, ignore_errors=True)
        for path in RUNTIME_LEFTOVERS:
            shutil.rmtree(path, ignore_errors=True)
        for sock in SHIM_SOCKETS.glob("*"):
            if not socket_accepts(sock):  # a killed shim's socket; live ones belong to others
                sock.unlink(missing_ok=True)
        shutil.rmtree(L.RUN_DIR, ignore_errors=True)
        shutil.rmtree(self.layout.root, ignore_errors=True)
        if not quiet:
            self.progress(f"local cluster removed in {time.monotonic() - started:.1f}s")

    def _kill_pods(self) -> None:
        """Kills every container process by its pod cgroup (shims are killed afterwards)."""
        for path in leftovers.kubepods_cgroups():
            procs = path / "cgroup.procs"
            if procs.exists():
                for pid in procs.read_text().split():
                    _kill(int(pid))


def _kill(pid: int) -> None:
    import os
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def netpol_flags(layout: Layout, pinned: dict[str, str]) -> dict[str, str]:
    """kube-router's flags: the NetworkPolicy firewall only (kube-proxy keeps services)."""
    return {
        "kubeconfig": str(layout.kubeconfig("netpol")),
        "hostname-override": L.NODE_NAME,
        "run-firewall": "true",
        "run-router": "false",
        "run-service-proxy": "false",
        "run-loadbalancer": "false",
        "service-cluster-ip-range": L.SERVICE_CIDR,
        "service-node-port-range": "30000-32767",
        "health-port": "0",
        "iptables-sync-period": "5m",
        "v": "1",
    }
