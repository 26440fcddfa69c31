"""The existing target: a cluster the user already has, through a kubeconfig and context."""

from __future__ import annotations

import getpass
import os
import ssl
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes.client.exceptions import ApiException

from kubeproof import hosts, kube, nodepods
from kubeproof.errors import KubeproofError
from kubeproof.nodeprocesses import CONTROL_PLANE
from kubeproof.nodeprocesses import flags as parse_flags
from kubeproof.targets.base import (
    ADMIN_KUBECONFIGS,
    CAN_RUN_PODS,
    COMPONENT_FLAGS,
    ETCD_ACCESS,
    NODE_ACCESS,
    SERVICE_MESH,
    ClusterAccess,
    EtcdAccess,
    FileIntegrity,
    Identity,
    NodeHost,
    Target,
)

REACH_TIMEOUT = (3, 10)
STATIC_POD_FLAGS = "the component's kube-system static pod (command and args)"


def read_kubeconfig(path: Path, option: str) -> dict[str, Any]:
    """The parsed kubeconfig at path, or a KubeproofError saying what is wrong with it."""
    if not path.is_file():
        raise KubeproofError(f"kubeconfig {path} does not exist: pass {option} PATH or set "
                             f"KUBECONFIG to a kubeconfig file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise KubeproofError(f"kubeconfig {path} is not valid YAML{line}: fix it or pass "
                             f"another {option}") from None
    except OSError as exc:
        raise KubeproofError(f"kubeconfig {path} cannot be read ({exc.strerror}): check its "
                             f"permissions or pass another {option}") from None
    if not isinstance(data, dict) or not data.get("contexts") or not data.get("clusters"):
        raise KubeproofError(f"kubeconfig {path} has no clusters or contexts: it is not a "
                             f"kubeconfig; pass another {option}")
    return data


def pick_context(data: dict[str, Any], path: Path, wanted: str | None, option: str) -> str:
    """The context to use: the one asked for, else current-context; it must exist."""
    names = [c.get("name") for c in data["contexts"] if isinstance(c, dict)]
    name = wanted or data.get("current-context")
    if not name:
        raise KubeproofError(f"kubeconfig {path} has no current-context: pass {option} with "
                             f"one of {', '.join(names)}")
    if name not in names:
        raise KubeproofError(f"context {name!r} is not in kubeconfig {path}: pass {option} with "
                             f"one of {', '.join(names)}")
    return name


def parse_ssh_host(value: str) -> tuple[str, int]:
    """HOST or HOST:PORT (or [v6]:PORT) as (host, port)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else 22
    if value.count(":") == 1:
        host, port = value.split(":")
        if not port.isdigit():
            raise KubeproofError(f"--ssh-host {value!r}: the port must be a number")
        return host, int(port)
    return value, 22


def etcd_access(opt: Any) -> EtcdAccess | None:
    """etcd client access from --etcd-endpoint/-ca/-cert/-key: all four or none."""
    names = ("etcd_endpoint", "etcd_ca", "etcd_cert", "etcd_key")
    given = {name: opt(name) for name in names if opt(name)}
    if not given:
        return None
    if len(given) < len(names):
        missing = ", ".join("--" + n.replace("_", "-") for n in names if n not in given)
        raise KubeproofError(f"etcd access needs all of --etcd-endpoint, --etcd-ca, --etcd-cert "
                             f"and --etcd-key: {missing} missing")
    if not given["etcd_endpoint"].startswith("https://"):
        raise KubeproofError(f"--etcd-endpoint {given['etcd_endpoint']!r}: give etcd's client "
                             f"URL, https://HOST:PORT")
    files = {}
    for name in names[1:]:
        path = Path(given[name]).expanduser()
        if not path.is_file():
            raise KubeproofError(f"--{name.replace('_', '-')} {path} does not exist: pass the "
                                 f"etcd client's certificate files (kubeadm keeps them in "
                                 f"/etc/kubernetes/pki on control-plane nodes)")
        files[name] = path
    return EtcdAccess(given["etcd_endpoint"].rstrip("/"), files["etcd_ca"], files["etcd_cert"],
                      files["etcd_key"])


class ExistingTarget(Target):
    """A cluster the user already has: admin kubeconfig, app identity, optional SSH nodes."""

    name = "existing"

    def __init__(self, admin: Identity, app: Identity, app_namespace: str,
                 nodes: list[NodeHost], etcd: EtcdAccess | None = None,
                 node_pods: bool = False, file_integrity: FileIntegrity | None = None,
                 admin_kubeconfigs: tuple[str, ...] = ADMIN_KUBECONFIGS) -> None:
        self.admin = admin
        self.app = app
        self.app_namespace = app_namespace
        self.nodes = nodes
        self.etcd = etcd
        # Node access through a privileged pod per node (nodepods.py) instead of SSH.
        self.node_pods = node_pods
        self.file_integrity = file_integrity or FileIntegrity()
        self.admin_kubeconfigs = admin_kubeconfigs

    @classmethod
    def from_config(cls, config: Any) -> ExistingTarget:
        """Read and check the existing target's options (files and contexts, no network)."""
        opt = config.getoption
        default = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config"
        kubeconfig = Path(opt("kubeconfig") or default).expanduser()
        data = read_kubeconfig(kubeconfig, "--kubeconfig")
        context = pick_context(data, kubeconfig, opt("context"), "--context")
        target = cls.from_admin(config, kubeconfig, context)
        # kubeproof may run on a control-plane node: the kubeconfig it was given is then one.
        target.admin_kubeconfigs = tuple(dict.fromkeys((*target.admin_kubeconfigs,
                                                        str(kubeconfig))))
        return target

    @classmethod
    def from_admin(cls, config: Any, kubeconfig: Path, context: str) -> ExistingTarget:
        """The target for an admin kubeconfig and context and the other options."""
        opt = config.getoption
        admin = Identity(kubeconfig, context)

        if opt("app_user") and opt("app_kubeconfig"):
            raise KubeproofError("give the app identity once: --app-user (impersonated) or "
                                 "--app-kubeconfig, not both")
        if opt("app_user"):
            app = Identity(kubeconfig, context, opt("app_user"), tuple(opt("app_group")))
        elif opt("app_kubeconfig") or opt("app_context"):
            app_path = Path(opt("app_kubeconfig") or kubeconfig).expanduser()
            app_data = read_kubeconfig(app_path, "--app-kubeconfig")
            app_context = pick_context(app_data, app_path, opt("app_context"), "--app-context")
            app = Identity(app_path, app_context)
        else:
            raise KubeproofError("the existing target needs the app identity: pass --app-user "
                                 "NAME [--app-group GROUP] to impersonate it, or "
                                 "--app-kubeconfig PATH [--app-context NAME]")
        if opt("app_group") and not opt("app_user"):
            raise KubeproofError("--app-group needs --app-user (groups are impersonated)")

        nodes = []
        if opt("ssh_host"):
            key = Path(opt("ssh_key")).expanduser() if opt("ssh_key") else None
            if key is not None and not key.is_file():
                raise KubeproofError(f"SSH key {key} does not exist: pass --ssh-key PATH to the "
                                     f"private key that logs in to the nodes")
            known = Path(opt("ssh_known_hosts") or "~/.ssh/known_hosts").expanduser()
            if not known.is_file():
                raise KubeproofError(f"known_hosts file {known} does not exist: add the nodes' "
                                     f"verified host keys to it or pass --ssh-known-hosts PATH")
            user = opt("ssh_user") or getpass.getuser()
            for value in opt("ssh_host"):
                host, port = parse_ssh_host(value)
                nodes.append(NodeHost(name=host, spec=f"paramiko://{user}@{host}:{port}",
                                      ssh_identity_file=key, known_hosts=known,
                                      sudo=user != "root",
                                      runtime_endpoint=opt("node_runtime_endpoint")))
        elif (opt("ssh_key") or opt("ssh_user") or opt("ssh_known_hosts")
              or opt("node_runtime_endpoint")):
            raise KubeproofError("SSH options need at least one --ssh-host HOST[:PORT]")
        node_pods = opt("node_access") == "pod"
        if node_pods and nodes:
            raise KubeproofError("give node access once: --node-access pod (node pods) or "
                                 "--ssh-host (SSH), not both")
        if opt("node_access") == "ssh" and not nodes:
            raise KubeproofError("--node-access ssh needs at least one --ssh-host HOST[:PORT]")
        return cls(admin, app, opt("app_namespace"), nodes, etcd_access(opt), node_pods,
                   FileIntegrity(opt("aide_config"), opt("hids_canary")),
                   tuple(dict.fromkeys((*ADMIN_KUBECONFIGS, *opt("admin_kubeconfig_on_node")))))

    def declared_nodes(self) -> list[str]:
        """The SSH hosts, or with node pods the cluster's nodes (one API list)."""
        if self.node_pods:
            return self._cluster_nodes()
        return [node.name for node in self.nodes]

    def _cluster_nodes(self) -> list[str]:
        admin = kube.Clients(self.admin)
        try:
            return sorted(n.metadata.name for n in admin.core.list_node(
                _request_timeout=REACH_TIMEOUT).items)
        except ApiException as exc:
            raise KubeproofError(f"--node-access pod: {self.admin.label} cannot list nodes "
                                 f"({exc.status} {exc.reason}): it needs to list nodes and "
                                 f"create privileged pods") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeproofError(f"--node-access pod: the API server is unreachable "
                                 f"({_short(exc)})") from None

    def start(self) -> ClusterAccess:
        """Connect and check: SSH to nodes, API reachable, credentials accepted, namespace."""
        for node in self.nodes:
            hosts.check_reachable(node)  # SSH nodes (node pods are listed below)
        admin = kube.Clients(self.admin)
        server = admin.api.configuration.host
        reach(admin, server, f"context {self.admin.context}")
        app = kube.Clients(self.app)
        reach(app, server, f"app identity {self.app.label}")
        try:
            admin.core.read_namespace(self.app_namespace, _request_timeout=REACH_TIMEOUT)
        except ApiException as exc:
            if exc.status == 404:
                raise KubeproofError(f"app namespace {self.app_namespace!r} does not exist on "
                                     f"{server}: pass --app-namespace NAME") from None
            raise KubeproofError(f"cannot read namespace {self.app_namespace!r} as "
                                 f"{self.admin.label}: {exc.status} {exc.reason}") from None
        if self.node_pods:
            self.nodes = [NodeHost(name, nodepods.spec_for(name))
                          for name in self._cluster_nodes()]
        flags = component_flags(admin)
        capabilities = {SERVICE_MESH}  # a mesh may be installed: the mesh controls judge it
        if admin.review("create", "pods", self.app_namespace)[0]:
            capabilities.add(CAN_RUN_PODS)
        if self.nodes:
            capabilities.add(NODE_ACCESS)
        if flags:
            capabilities.add(COMPONENT_FLAGS)
        if self.etcd:
            capabilities.add(ETCD_ACCESS)
        return ClusterAccess(
            target=self.name, admin=self.admin, app=self.app,
            app_user=self.app.impersonate_user or whoami(app) or self.app.label,
            app_namespace=self.app_namespace, nodes=list(self.nodes), etcd=self.etcd,
            component_flags=flags, capabilities=frozenset(capabilities),
            component_flags_source=static_pod_sources(flags),
            file_integrity=self.file_integrity, admin_kubeconfigs=self.admin_kubeconfigs,
        )


def reach(clients: kube.Clients, server: str, who: str) -> None:
    """Check the API server answers and accepts the identity's credentials (KubeproofError)."""
    try:
        response = clients.request("GET", "/version", timeout=REACH_TIMEOUT)
    except urllib3.exceptions.MaxRetryError as exc:
        reason = exc.reason
        if isinstance(reason, (urllib3.exceptions.SSLError, ssl.SSLError)):
            raise KubeproofError(f"TLS with the API server {server} failed ({reason}): check the "
                                 f"kubeconfig's certificate-authority for {who}") from None
        raise KubeproofError(f"API server {server} is unreachable ({_short(reason)}): check the "
                             f"cluster is running and --kubeconfig/--context point at it") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise KubeproofError(f"API server {server} is unreachable ({_short(exc)}): check the "
                             f"cluster is running and --kubeconfig/--context point at it") from None
    if response.status == 401:
        raise KubeproofError(f"API server {server} rejected the credentials of {who} (401 "
                             f"Unauthorized): they are expired or wrong; refresh the kubeconfig "
                             f"and retry") from None
    if response.status == 403 and "impersonate" in response.message:
        raise KubeproofError(f"{who} cannot be impersonated ({response.message}): give the admin "
                             f"context the impersonate verb or use --app-kubeconfig") from None
    if response.status >= 500:
        raise KubeproofError(f"API server {server} answered {response.status} "
                             f"{response.message}: the cluster is unhealthy") from None


def whoami(clients: kube.Clients) -> str | None:
    """The user name the API server sees for an identity (SelfSubjectReview), if it tells."""
    response = clients.self_review()
    if response.status == 201 and isinstance(response.body, dict):
        return response.body.get("status", {}).get("userInfo", {}).get("username")
    return None


def component_flags(admin: kube.Clients) -> dict[str, dict[str, str]]:
    """Control-plane components' flags read from kube-system static pods, where visible."""
    try:
        pods = admin.core.list_namespaced_pod("kube-system", label_selector="tier=control-plane",
                                              _request_timeout=REACH_TIMEOUT).items
    except ApiException as exc:
        if exc.status == 403:
            return {}
        raise
    flags: dict[str, dict[str, str]] = {}
    for pod in pods:
        for container in pod.spec.containers:
            command = (container.command or []) + (container.args or [])
            if command and Path(command[0]).name in CONTROL_PLANE:
                flags.setdefault(Path(command[0]).name, {}).update(parse_flags(command))
    return flags


def static_pod_sources(flags: dict[str, dict[str, str]]) -> dict[str, str]:
    """Where each component's flags were read, for ClusterAccess.component_flags_source."""
    return dict.fromkeys(flags, STATIC_POD_FLAGS)


def _short(exc: Any) -> str:
    """A short reason from a urllib3/OS error (no object reprs)."""
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host name"
    return text.split(": ", 1)[-1][:120]
