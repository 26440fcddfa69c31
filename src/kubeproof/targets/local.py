"""The `local` target: the reference cluster built and run on this machine."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from ..errors import KubeproofError
from ..localcluster import hids, oidc, testhosts
from ..localcluster import layout as L
from ..localcluster.cluster import LocalCluster
from ..nodeprocesses import etcd_flags, parse_environment
from ..nodeprocesses import flags as parse_flags
from .base import (
    CAN_RUN_PODS,
    COMPONENT_FLAGS,
    EGRESS_TEST_HOSTS,
    ETCD_ACCESS,
    MUTABLE_COMPONENTS,
    NODE_ACCESS,
    ClusterAccess,
    EgressHosts,
    EtcdAccess,
    Identity,
    NodeHost,
    Target,
)


def _read(path: Path) -> str:
    """A file's text, or empty when it is missing (the egress tests then cannot verify TLS)."""
    return path.read_text() if path.exists() else ""


# The host controls judge the machine the local cluster runs on, which the local target does
# not make: they fail for what this machine's kernel and OS are, and pass on a host that has
# them (run them there with --target existing --ssh-host HOST).
HOST_CONTROLS_NOT_OWNED = {
    "host.selinux-enforcing": "the kernel loads no SELinux",
    "host.runtime-selinux": "without SELinux the runtime cannot label containers",
    "host.mac-single-tool": "neither SELinux nor AppArmor is loaded",
    "host.immutable-os": "a general-purpose OS with a writable /usr",
    "host.firewall": "the machine's own inbound policy, not the local target's to change",
}


def summary_lines(verdicts: dict[str, str]) -> list[str]:
    """The end of a local run's terminal summary: the cluster's own controls apart from this
    machine's host controls, which fail here by what the machine is (the exit status still
    counts them)."""
    host = {c: verdicts[c] for c in HOST_CONTROLS_NOT_OWNED if verdicts.get(c, "not run")
            != "not run"}
    if not host:
        return []
    own = Counter(v for c, v in verdicts.items() if c not in HOST_CONTROLS_NOT_OWNED
                  and v != "not run")
    lines = ["the local cluster's own controls: "
             + ", ".join(f"{n} {verdict}" for verdict, n in sorted(own.items())),
             f"this machine's host controls ({len(host)}), which the local target does not "
             f"own: they judge this machine's kernel and OS, and fail where it lacks what "
             f"they need; prove them on a host that has it (--target existing --ssh-host "
             f"HOST)"]
    lines += [f"  {c}: {v} ({HOST_CONTROLS_NOT_OWNED[c]})" for c, v in host.items()]
    return lines


class LocalTarget(Target):
    """Brings the local cluster up once per session (or reuses a kept one) and tears it down."""

    name = "local"

    def __init__(self, state_dir: Path, keep: bool):
        self.cluster = LocalCluster(state_dir)
        self.keep = keep
        self.reused = False

    @classmethod
    def from_config(cls, config: pytest.Config) -> LocalTarget:
        state_dir = config.getoption("local_state_dir", None) or L.default_state_dir()
        return cls(Path(state_dir), bool(config.getoption("keep_cluster", False)))

    def declared_nodes(self) -> list[str]:
        return [L.NODE_NAME]

    def start(self) -> ClusterAccess:
        """Brings the cluster up, or reuses a running one (kept, or started by the xdist
        controller); a lock keeps concurrent starters from racing."""
        with self.cluster.lock():
            if self.cluster.is_running():
                self.reused = True
                self.cluster.progress(
                    f"reusing the running local cluster in {self.cluster.layout.root}"
                )
            elif dead := self.cluster.dead_components():
                # Rebuilding under whoever runs it would pull the cluster from under them.
                root = self.cluster.layout.root
                raise KubeproofError(
                    f"the local cluster in {root} is only partly running ({', '.join(dead)} "
                    f"stopped; logs in {root / 'logs'}): restart it with `python -m "
                    f"kubeproof.localcluster down --state-dir {root}` and run again"
                )
            else:
                self.cluster.up()
            # The app identity is the identity provider's ID token: renewed when it runs out.
            oidc.write_app_kubeconfig(self.cluster.layout)
        return self.access()

    def _flags(self, name: str) -> tuple[dict[str, str], str]:
        """A component's settings read from its process on this machine, and where."""
        pid = self.cluster.processes.pid(name)
        where = f"the component's process on this machine (/proc/{pid}/cmdline)"
        argv = self.cluster.processes.cmdline(name)
        if name != "etcd" or pid is None:
            return parse_flags(argv), where
        environ = parse_environment(Path(f"/proc/{pid}/environ").read_bytes().decode())
        settings, source = etcd_flags(argv, environ, lambda path: Path(path).read_text())
        return settings, f"{where}: {source}"

    def access(self) -> ClusterAccess:
        """What the running cluster offers the controls (re-read after a component restart)."""
        layout = self.cluster.layout
        pki = layout.pki
        flags, sources = {}, {}
        for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                     "kubelet", "kube-proxy"):
            flags[name], sources[name] = self._flags(name)
        return ClusterAccess(
            target=self.name,
            admin=Identity(layout.admin_kubeconfig),
            app=Identity(layout.app_kubeconfig),
            app_user=L.APP_USER,
            app_namespace=L.APP_NAMESPACE,
            nodes=[NodeHost(L.NODE_NAME, "local://")],
            etcd=EtcdAccess(
                f"https://127.0.0.1:{L.ETCD_CLIENT_PORT}",
                pki / "etcd-ca.crt",
                pki / "apiserver-etcd-client.crt",
                pki / "apiserver-etcd-client.key",
            ),
            component_flags=flags,
            component_flags_source=sources,
            file_integrity=hids.file_integrity(layout),
            admin_kubeconfigs=(str(layout.admin_kubeconfig),),
            capabilities=frozenset(
                {CAN_RUN_PODS, NODE_ACCESS, ETCD_ACCESS, COMPONENT_FLAGS, MUTABLE_COMPONENTS}
                | ({EGRESS_TEST_HOSTS} if testhosts.running(layout) else set())
            ),
            external_hosts=testhosts.addresses(),
            egress=EgressHosts(
                registered=testhosts.REGISTERED.name,
                unregistered=testhosts.UNREGISTERED.name,
                bodies={h.name: h.body for h in testhosts.HOSTS},
                ca_pem=_read(testhosts.ca_file(layout)),
            ),
            probe_image=self.cluster.probe_image(),
        )

    def stop(self) -> None:
        if self.reused:
            return  # whoever started it tears it down
        if self.keep:
            self.cluster.progress(
                f"keeping the local cluster (--keep-cluster); remove it with "
                f"`python -m kubeproof.localcluster down --state-dir {self.cluster.layout.root}`"
            )
            return
        with self.cluster.lock():
            self.cluster.down()
