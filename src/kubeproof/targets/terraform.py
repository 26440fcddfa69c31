"""The terraform target: the reference scenario on AWS, created by Terraform at session start
(apply, SSH provisioning with the node scripts, kubeconfigs fetched) and destroyed at the end
(also after a failure or Ctrl-C) unless --keep-cluster."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from kubeproof import kube, ssh, sshhosts
from kubeproof.errors import KubeproofError
from kubeproof.targets import existing
from kubeproof.targets.base import (
    CAN_RUN_PODS,
    COMPONENT_FLAGS,
    NODE_ACCESS,
    ClusterAccess,
    FileIntegrity,
    Identity,
    NodeHost,
    Target,
)
from kubeproof.terraform_runner import Terraform, find_binary, tail

CHECKOUT = Path(__file__).resolve().parents[3]
APP_USER = "pegress"
APP_NAMESPACE = "pegress"
WORKSPACE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")


def say(message: str) -> None:
    print(f"kubeproof: {message}", flush=True)


def parse_vars(values: list[str]) -> dict[str, str]:
    """--tf-var NAME=VALUE words as a dict (KubeproofError for a malformed one)."""
    variables = {}
    for value in values:
        name, sep, val = value.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
            raise KubeproofError(f"--tf-var {value!r}: write it as NAME=VALUE, e.g. "
                                 f"control_cidr=203.0.113.7/32")
        variables[name] = val
    return variables


def _directory(option: str, value: str | None, default: Path, must_have: str) -> Path:
    path = Path(value).expanduser().resolve() if value else default
    if not path.is_dir() or not list(path.glob(must_have)):
        raise KubeproofError(f"{option} {path} has no {must_have}: pass {option} PATH to the "
                             f"kubeproof checkout's {default.relative_to(CHECKOUT)}")
    return path


class TerraformTarget(Target):
    """The reference scenario on AWS, created by Terraform and destroyed after the run."""

    name = "terraform"

    def __init__(self, terraform: Terraform, node_scripts: Path, ssh_key: Path,
                 fingerprint: str | None, known_hosts: Path, ssh_timeout: float, keep: bool,
                 worker: bool, file_integrity: FileIntegrity | None = None) -> None:
        self.terraform = terraform
        self.file_integrity = file_integrity or FileIntegrity()
        self.node_scripts = node_scripts
        self.ssh_key = ssh_key
        self.fingerprint = fingerprint
        self.known_hosts = known_hosts
        self.ssh_timeout = ssh_timeout
        self.keep = keep
        self.worker = worker
        self.state = terraform.workdir / ".kubeproof" / terraform.workspace
        self.applied = False
        self.stopped = False

    @classmethod
    def from_config(cls, config: Any) -> TerraformTarget:
        """Read and check the options (files, names; no terraform or network call)."""
        opt = config.getoption
        binary = find_binary()
        tf_dir = _directory("--tf-dir", opt("tf_dir"), CHECKOUT / "provision" / "terraform",
                            "*.tf")
        scripts = _directory("--tf-node-scripts", opt("tf_node_scripts"),
                             CHECKOUT / "provision" / "node", "provision.sh")
        workspace = opt("tf_workspace")
        if not WORKSPACE.match(workspace):
            raise KubeproofError(f"--tf-workspace {workspace!r}: use an environment name such as "
                                 f"staging or production")
        variables = parse_vars(opt("tf_var"))
        if "control_cidr" not in variables and not _var_elsewhere(tf_dir, "control_cidr"):
            raise KubeproofError("the terraform target needs control_cidr, the only network "
                                 "allowed to reach SSH and the API: pass --tf-var "
                                 "control_cidr=YOUR.PUBLIC.IP/32")
        state = tf_dir / ".kubeproof" / workspace
        if opt("ssh_key"):
            key = Path(opt("ssh_key")).expanduser()
            if not key.is_file():
                raise KubeproofError(f"SSH key {key} does not exist: pass --ssh-key PATH to the "
                                     f"private key whose public half the node gets")
        else:
            key = ssh.ensure_key(state / "id_ed25519")
        variables.setdefault("ssh_public_key", ssh.public_key_line(key))
        fingerprint = opt("ssh_host_key_fingerprint")
        if fingerprint and not re.fullmatch(r"(SHA256:)?[A-Za-z0-9+/]{43}=?",
                                            fingerprint.strip()):
            raise KubeproofError(f"--ssh-host-key-fingerprint {fingerprint!r} is not a SHA256 "
                                 f"fingerprint (ssh-keygen -lf KEY prints SHA256:...)")
        if opt("ssh_timeout") <= 0:
            raise KubeproofError("--ssh-timeout must be a positive number of seconds")
        terraform = Terraform(binary, tf_dir, workspace, variables, state / "terraform.log")
        known = Path(opt("ssh_known_hosts") or "~/.ssh/known_hosts").expanduser()
        return cls(terraform, scripts, key, fingerprint, known, opt("ssh_timeout"),
                   bool(opt("keep_cluster")), hasattr(config, "workerinput"),
                   FileIntegrity(opt("aide_config"), opt("hids_canary")))

    def declared_nodes(self) -> list[str]:
        return [self.node_name]

    @property
    def node_name(self) -> str:
        return f"kubeproof-{self.terraform.workspace}-node"

    def start(self) -> ClusterAccess:
        """Apply, provision the node over SSH, fetch the kubeconfigs; on any failure or
        interrupt, destroy what was created before raising."""
        if self.worker:
            # xdist worker: the controller has provisioned and left what workers need.
            return self.access(self._read_node())
        try:
            node = self._provision()
            return self.access(node)
        except BaseException:
            self.stop()
            raise

    def _provision(self) -> dict[str, Any]:
        tf = self.terraform
        say(f"terraform init and apply in {tf.workdir}, workspace {tf.workspace} "
            f"(log: {tf.log})")
        tf.init()
        self.applied = True  # from here on, stop() destroys (apply may fail half-way)
        tf.apply()
        outputs = tf.outputs()
        missing = [name for name in ("public_ip", "ssh_user") if not outputs.get(name)]
        if missing:
            raise KubeproofError(f"terraform outputs lack {', '.join(missing)}: the configuration "
                                 f"in {tf.workdir} must output public_ip and ssh_user")
        node = {
            "host": str(outputs["public_ip"]),
            "port": int(outputs.get("ssh_port") or 22),
            "user": str(outputs["ssh_user"]),
            "api_endpoint": outputs.get("api_endpoint") or f"https://{outputs['public_ip']}:6443",
            "instance_id": outputs.get("instance_id") or "",
        }
        hint = (f" (the instance's console shows its host key fingerprints: aws ec2 "
                f"get-console-output --latest --instance-id {node['instance_id']})"
                if node["instance_id"] else "")
        say(f"waiting for SSH on {node['host']}:{node['port']} (up to {self.ssh_timeout:.0f} s)")
        key = ssh.wait_for_host_key(node["host"], node["port"], self.ssh_timeout,
                                    hint=f": check that control_cidr includes this machine{hint}")
        ssh.pin_host_key(node["host"], node["port"], key, self.fingerprint, self.known_hosts,
                         self.pinned, hint=hint)
        self._run_node_scripts(node)
        (self.state / "node.json").write_text(json.dumps(node))
        return node

    @property
    def pinned(self) -> Path:
        return self.state / "known_hosts"

    def _read_node(self) -> dict[str, Any]:
        path = self.state / "node.json"
        if not path.is_file():
            raise KubeproofError(f"{path} is missing: the xdist controller did not provision the "
                                 f"terraform target")
        return json.loads(path.read_text())

    def _run_node_scripts(self, node: dict[str, Any]) -> None:
        """Upload the node scripts, run them as root, fetch the two kubeconfigs."""
        user = node["user"]
        client = sshhosts.connect(node["host"], node["port"], user, self.ssh_key, self.pinned)
        log = self.state / "provision.log"
        remote = None
        try:
            status, out, err = ssh.execute(client, "mktemp -d /tmp/kubeproof-node.XXXXXX")
            if status != 0:
                raise KubeproofError(f"cannot make a directory on {node['host']}: {tail(err)}")
            remote = out.strip()
            count = ssh.upload_tree(client, self.node_scripts, remote)
            say(f"running the node scripts ({count} files) on {node['host']} (log: {log})")
            env = ssh.quote_env({"KUBEPROOF_OUT": f"{remote}/out",
                                 "KUBEPROOF_API_ENDPOINT": node["api_endpoint"],
                                 "KUBEPROOF_NODE_NAME": self.node_name})
            status, out, err = ssh.execute(
                client, ssh.as_root(user, f"env {env} bash {remote}/provision.sh"), log=log)
            if status != 0:
                raise KubeproofError(f"node provisioning failed on {node['host']} (exit "
                                     f"{status}): {tail(out + err)} (full log: {log})")
            for name in ("admin", "app"):
                status, out, err = ssh.execute(
                    client, ssh.as_root(user, f"cat {remote}/out/{name}.kubeconfig"))
                if status != 0 or not out.strip():
                    raise KubeproofError(f"the node scripts left no {name} kubeconfig on "
                                         f"{node['host']} ({tail(err) or 'empty'}): see {log}")
                path = self.state / f"{name}.kubeconfig"
                path.touch(mode=0o600)
                path.write_text(out)
                existing.read_kubeconfig(path, "--tf-node-scripts")
        finally:
            if remote:
                with contextlib.suppress(Exception):
                    ssh.execute(client, ssh.as_root(user, f"rm -rf {remote}"))
            client.close()

    def access(self, node: dict[str, Any]) -> ClusterAccess:
        """What the provisioned cluster offers the controls (checked reachable)."""
        admin_identity = Identity(self.state / "admin.kubeconfig")
        app_identity = Identity(self.state / "app.kubeconfig")
        admin = kube.Clients(admin_identity)
        server = admin.api.configuration.host
        existing.reach(admin, server, "the admin kubeconfig from the node")
        app = kube.Clients(app_identity)
        existing.reach(app, server, "the app kubeconfig from the node")
        flags = existing.component_flags(admin)
        capabilities = {NODE_ACCESS}
        if admin.review("create", "pods", APP_NAMESPACE)[0]:
            capabilities.add(CAN_RUN_PODS)
        if flags:
            capabilities.add(COMPONENT_FLAGS)
        user = node["user"]
        spec = f"paramiko://{user}@{node['host']}:{node['port']}"
        return ClusterAccess(
            target=self.name, admin=admin_identity, app=app_identity,
            app_user=existing.whoami(app) or APP_USER, app_namespace=APP_NAMESPACE,
            nodes=[NodeHost(self.node_name, spec, ssh_identity_file=self.ssh_key,
                            known_hosts=self.pinned, sudo=user != "root")],
            component_flags=flags, component_flags_source=existing.static_pod_sources(flags),
            file_integrity=self.file_integrity,
            capabilities=frozenset(capabilities),
        )

    def stop(self) -> None:
        """terraform destroy (once), unless --keep-cluster or nothing was applied."""
        if self.stopped or self.worker or not self.applied:
            return
        self.stopped = True
        tf = self.terraform
        if self.keep:
            say(f"keeping the cluster (--keep-cluster); destroy it with: {tf.manual_destroy()}")
            return
        say(f"terraform destroy, workspace {tf.workspace} (log: {tf.log})")
        try:
            tf.destroy()
        except (KubeproofError, KeyboardInterrupt) as exc:
            print(f"kubeproof: DESTROY FAILED ({exc or 'interrupted'}): resources may remain; "
                  f"run {tf.manual_destroy()}", file=sys.stderr, flush=True)
            if isinstance(exc, KeyboardInterrupt):
                raise


def _var_elsewhere(tf_dir: Path, name: str) -> bool:
    """Whether a variable is set outside --tf-var: TF_VAR_name or a tfvars file Terraform
    loads by itself."""
    if os.environ.get(f"TF_VAR_{name}"):
        return True
    files = [tf_dir / "terraform.tfvars", *tf_dir.glob("*.auto.tfvars")]
    return any(f.is_file() and re.search(rf"^\s*{name}\s*=", f.read_text(), re.M) for f in files)
