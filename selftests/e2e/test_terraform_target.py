"""The terraform target end to end without AWS: a fake `terraform` that records its calls and
whose outputs point at a real sshd (Debian's openssh-server) in a network namespace made here.

Upload, remote execution, the kubeconfig fetch and the testinfra host controls over SSH are
real; the kubeconfigs the fake node scripts leave point at the running local cluster, so the
cluster controls run against a real API. Teardown must call destroy on success, on a failing
test, on a failed provisioning and on Ctrl-C (during apply and during the tests).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubeproof import ssh
from kubeproof.localcluster import hids
from kubeproof.localcluster.layout import Layout

NETNS = "kubeproof-tfnode"
HOST_SIDE, NODE = "10.241.0.1", "10.241.0.2"
LOCAL = Path(os.environ.get("KUBEPROOF_LOCAL_STATE", "/var/lib/kubeproof/local"))
SSHD = "/usr/sbin/sshd"

FAKE_TERRAFORM = r'''#!PYTHON
"""A stand-in for terraform: records each call, prints the outputs the test chose."""
import json, os, signal, sys, time
args = sys.argv[1:]
mode = os.environ.get("FAKE_TF_MODE", "ok")
with open(os.environ["FAKE_TF_LOG"], "a") as log:
    log.write(json.dumps({"args": args, "cwd": os.getcwd()}) + "\n")
command = args[0] if args else ""
if command == "apply" and mode == "apply-fails":
    print("aws_instance.node: Creating...")
    print("Error: creating EC2 Instance: InvalidAMIID.NotFound: The image id does not exist")
    sys.exit(1)
if command == "apply" and mode == "no-credentials":
    print("Error: No valid credential sources found")
    print("Please see https://registry.terraform.io/providers/hashicorp/aws for more information")
    sys.exit(1)
if command == "apply" and mode == "apply-hangs":
    def interrupted(*_):
        print("Interrupt received. Gracefully shutting down...")
        sys.exit(1)
    signal.signal(signal.SIGINT, interrupted)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
    sys.exit(2)
if command == "output":
    with open(os.environ["FAKE_TF_OUTPUTS"]) as f:
        print(json.dumps({k: {"value": v, "type": "string", "sensitive": False}
                          for k, v in json.load(f).items()}))
'''

FAKE_NODE_SCRIPT = """#!/usr/bin/env bash
# Fake node provisioning: records what it was given and hands back the LOCAL cluster's
# kubeconfigs (the netns host shares this machine's filesystem).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
{{ echo "uid=$(id -u)"; echo "dir=$here"; echo "files=$(cd "$here" && ls | sort | tr '\\n' ' ')"
   echo "out=$KUBEPROOF_OUT"; echo "endpoint=$KUBEPROOF_API_ENDPOINT"
   echo "node=$KUBEPROOF_NODE_NAME"; echo "addr=$(ip -br addr show kp-tf1 | awk '{{print $3}}')"
}} > {marker}
[[ -e {fail_flag} ]] && {{ echo "calico: rollout timed out" >&2; exit 3; }}
mkdir -p "$KUBEPROOF_OUT"
cat {local}/config/admin.kubeconfig > "$KUBEPROOF_OUT/admin.kubeconfig"
cat {local}/config/pegress.kubeconfig > "$KUBEPROOF_OUT/app.kubeconfig"
echo "kubeproof-node: done"
"""

CONTROL_TESTS = """
import kubeproof
from testinfra.backend.paramiko import ParamikoBackend


@kubeproof.control("host.immutable-os")
def test_host_over_ssh(node_hosts, evidence):
    (node, host), = node_hosts
    evidence.add("node", node.spec)
    assert isinstance(host.backend, ParamikoBackend)
    assert host.check_output("id -u") == "0"
    assert host.interface("kp-tf1").addresses[0] == "10.241.0.2"
    assert host.file("/etc/os-release").contains("ID=")


@kubeproof.control("rbac.app-user-denied-kube-system")
def test_cluster_through_fetched_kubeconfigs(cluster, app_api, evidence):
    with evidence.canary("app user lists pods in its own namespace", guard=app_api.guard):
        own = app_api.check_access("list", "pods", namespace=cluster.app_namespace)
        evidence.add("own", str(own))
        assert own.review_allowed and own.request_allowed
    kubeproof.assert_denied(evidence, app_api.check_access("list", "pods",
                                                            namespace="kube-system"))
"""

FAILING_TEST = """
import kubeproof

@kubeproof.control("host.immutable-os")
def test_fails(node_hosts, evidence):
    evidence.add("x", "y")
    assert False, "a control that fails"
"""

BLOCKING_TEST = """
import pathlib, time
import kubeproof

@kubeproof.control("host.immutable-os")
def test_blocks(node_hosts, evidence):
    pathlib.Path({marker!r}).write_text("running")
    time.sleep(120)  # interrupted by the self-test
"""


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@dataclass
class NodeHost:
    fingerprint: str
    client_key: Path


@pytest.fixture(scope="module")
def netns_sshd(tmp_path_factory):
    """sshd (openssh-server) at 10.241.0.2:22 in its own netns, with a fresh host key and one
    authorized test key; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the netns SSH host needs root")
    if not Path(SSHD).is_file():
        pytest.skip("openssh-server is not installed: apt-get install -y openssh-server")
    tmp = tmp_path_factory.mktemp("sshd")
    subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True)  # a stale one
    subprocess.run(["ip", "link", "delete", "kp-tf0"], capture_output=True)
    sshd = None
    try:
        sh("ip", "netns", "add", NETNS)
        sh("ip", "link", "add", "kp-tf0", "type", "veth", "peer", "name", "kp-tf1")
        sh("ip", "link", "set", "kp-tf1", "netns", NETNS)
        sh("ip", "addr", "add", f"{HOST_SIDE}/24", "dev", "kp-tf0")
        sh("ip", "link", "set", "kp-tf0", "up")
        sh("ip", "-n", NETNS, "addr", "add", f"{NODE}/24", "dev", "kp-tf1")
        sh("ip", "-n", NETNS, "link", "set", "kp-tf1", "up")
        sh("ip", "-n", NETNS, "link", "set", "lo", "up")
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "host_key"))
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "client_key"))
        (tmp / "authorized_keys").write_text((tmp / "client_key.pub").read_text())
        config = tmp / "sshd_config"
        config.write_text(textwrap.dedent(f"""\
            ListenAddress {NODE}:22
            HostKey {tmp}/host_key
            PidFile {tmp}/sshd.pid
            AuthorizedKeysFile {tmp}/authorized_keys
            PermitRootLogin prohibit-password
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            UsePAM no
            StrictModes no
            Subsystem sftp internal-sftp
            """))
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        sshd = subprocess.Popen(["ip", "netns", "exec", NETNS, SSHD, "-D", "-e", "-f",
                                 str(config)], stdout=subprocess.DEVNULL,
                                stderr=open(tmp / "sshd.log", "w"))  # noqa: SIM115
        key = ssh.wait_for_host_key(NODE, 22, timeout=20)
        yield NodeHost(key.fingerprint, tmp / "client_key")
    finally:
        if sshd is not None:
            sshd.terminate()
            sshd.wait(timeout=10)
        subprocess.run(["ip", "link", "delete", "kp-tf0"], capture_output=True)
        subprocess.run(["ip", "netns", "delete", NETNS], capture_output=True)


class Fake:
    """The fake terraform, its call log and outputs, a Terraform dir and fake node scripts."""

    def __init__(self, root: Path, host: str = NODE, port: int = 22) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        terraform = self.bin / "terraform"
        terraform.write_text(FAKE_TERRAFORM.replace("PYTHON", sys.executable))
        terraform.chmod(0o755)
        self.log = root / "calls.jsonl"
        self.outputs = root / "outputs.json"
        self.outputs.write_text(json.dumps({
            "public_ip": host, "ssh_user": "root", "ssh_port": port,
            "node_name": "kubeproof-staging-node", "instance_id": "i-0fake",
            "api_endpoint": "https://10.243.0.1:6443"}))
        self.tf_dir = root / "tf"
        self.tf_dir.mkdir()
        (self.tf_dir / "main.tf").write_text("# the fake terraform does not read this\n")
        self.scripts = root / "node"
        self.scripts.mkdir()
        self.marker = root / "node-ran.txt"
        self.fail_flag = root / "fail-node"
        script = self.scripts / "provision.sh"
        script.write_text(FAKE_NODE_SCRIPT.format(marker=self.marker, local=LOCAL,
                                                  fail_flag=self.fail_flag))
        script.chmod(0o755)
        (self.scripts / "steps").mkdir()
        (self.scripts / "steps" / "noop.sh").write_text("# shellcheck shell=bash\n")

    def env(self, mode: str = "ok") -> dict[str, str]:
        return {**os.environ, "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
                "FAKE_TF_LOG": str(self.log), "FAKE_TF_OUTPUTS": str(self.outputs),
                "FAKE_TF_MODE": mode}

    def args(self, fingerprint: str | None, key: Path | None) -> list[str]:
        argv = ["--target", "terraform", "--tf-dir", str(self.tf_dir), "--tf-node-scripts",
                str(self.scripts), "--tf-var", "control_cidr=10.241.0.1/32"]
        if fingerprint:
            argv += ["--ssh-host-key-fingerprint", fingerprint]
        if key:
            argv += ["--ssh-key", str(key)]
        return argv

    def calls(self) -> list[list[str]]:
        if not self.log.is_file():
            return []
        return [json.loads(line)["args"] for line in self.log.read_text().splitlines()]

    def commands(self) -> list[str]:
        return [" ".join(c[:2]) if c[0] == "workspace" else c[0] for c in self.calls()]


def pytest_run(fake: Fake, tests: str, *args: str, mode: str = "ok",
               timeout: float = 180) -> subprocess.CompletedProcess:
    (fake.root / "test_controls.py").write_text(tests)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           str(fake.root / "test_controls.py"), "--rootdir", str(fake.root),
                           *args], cwd=fake.root, env=fake.env(mode), capture_output=True,
                          text=True, timeout=timeout)


def one_line(result: subprocess.CompletedProcess) -> str:
    __tracebackhide__ = True
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, output
    assert result.returncode == 4, output
    return errors[0]


def wait_for(predicate, timeout: float, what: str) -> None:
    """Deadline poll for a condition the self-test waits on."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        pause.wait(0.2)


@pytest.fixture
def fake(tmp_path):
    return Fake(tmp_path)


@pytest.fixture
def needs_local_cluster():
    if not (LOCAL / "config" / "admin.kubeconfig").is_file():
        pytest.skip(f"the local cluster is not running ({LOCAL}): the fake node hands back its "
                    f"kubeconfigs")


def test_apply_provision_host_controls_destroy(fake, netns_sshd, needs_local_cluster):
    """apply, SSH provisioning into the netns host, host controls over SSH, cluster controls
    through the fetched kubeconfigs, destroy on success."""
    result = pytest_run(fake, CONTROL_TESTS,
                        *fake.args(netns_sshd.fingerprint, netns_sshd.client_key))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert fake.commands() == ["init", "workspace select", "apply", "output", "destroy"], \
        fake.calls()
    apply = fake.calls()[2]
    assert "-auto-approve" in apply and "-input=false" in apply
    assert "-var=control_cidr=10.241.0.1/32" in apply
    pub = netns_sshd.client_key.with_suffix(".pub").read_text().split()[1]
    assert any(a.startswith("-var=ssh_public_key=ssh-ed25519 " + pub) for a in apply)
    assert fake.calls()[1] == ["workspace", "select", "-or-create", "staging"]
    ran = dict(line.split("=", 1) for line in fake.marker.read_text().splitlines())
    assert ran["uid"] == "0" and ran["addr"] == f"{NODE}/24", ran  # ran on the netns host
    assert ran["files"].split() == ["provision.sh", "steps"], ran  # the uploaded tree
    assert ran["endpoint"] == "https://10.243.0.1:6443"
    assert ran["node"] == "kubeproof-staging-node"
    assert not Path(ran["dir"]).exists(), "the remote work dir is removed after provisioning"
    state = fake.tf_dir / ".kubeproof" / "staging"
    assert (state / "admin.kubeconfig").stat().st_mode & 0o077 == 0
    assert (state / "known_hosts").read_text().startswith(f"{NODE} ssh-ed25519 ")


def test_xdist_workers_share_one_apply_and_destroy(fake, netns_sshd, needs_local_cluster):
    """Under pytest-xdist the controller applies and destroys once; workers reuse its node."""
    result = pytest_run(fake, CONTROL_TESTS, "-n", "2",
                        *fake.args(netns_sshd.fingerprint, netns_sshd.client_key))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    assert fake.commands() == ["init", "workspace select", "apply", "output", "destroy"]


def test_keep_cluster_skips_destroy(fake, netns_sshd, needs_local_cluster):
    result = pytest_run(fake, CONTROL_TESTS, "--keep-cluster",
                        *fake.args(netns_sshd.fingerprint, netns_sshd.client_key))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "destroy" not in fake.commands()
    assert "keeping the cluster (--keep-cluster)" in result.stdout


def test_destroy_after_a_failing_control(fake, netns_sshd, needs_local_cluster):
    result = pytest_run(fake, FAILING_TEST,
                        *fake.args(netns_sshd.fingerprint, netns_sshd.client_key))
    assert result.returncode == 1, result.stdout + result.stderr
    assert fake.commands()[-1] == "destroy"


def test_destroy_after_failed_provisioning(fake, netns_sshd):
    fake.fail_flag.write_text("1")
    result = pytest_run(fake, CONTROL_TESTS,
                        *fake.args(netns_sshd.fingerprint, netns_sshd.client_key))
    line = one_line(result)
    assert "node provisioning failed on 10.241.0.2 (exit 3): calico: rollout timed out" in line
    assert fake.commands()[-1] == "destroy"


def test_host_key_mismatch_is_refused_and_destroyed(fake, netns_sshd):
    wrong = ssh.normalise_fingerprint("A" * 43)
    result = pytest_run(fake, CONTROL_TESTS, *fake.args(wrong, netns_sshd.client_key))
    line = one_line(result)
    assert f"SSH host key of {NODE} is ssh-ed25519 {netns_sshd.fingerprint}, not the pinned" \
        in line
    assert "get-console-output --latest --instance-id i-0fake" in line
    assert not fake.marker.exists(), "nothing ran on a host with the wrong key"
    assert fake.commands()[-1] == "destroy"


def test_unknown_host_key_is_never_accepted(fake, netns_sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    result = pytest_run(fake, CONTROL_TESTS, *fake.args(None, netns_sshd.client_key),
                        "--ssh-known-hosts", str(empty))
    line = one_line(result)
    assert f"is neither pinned nor in {empty}" in line
    assert f"--ssh-host-key-fingerprint {netns_sshd.fingerprint}" in line
    assert not fake.marker.exists()


def test_known_hosts_entry_is_accepted(fake, netns_sshd, tmp_path, needs_local_cluster):
    known = tmp_path / "known_hosts"
    key = ssh.offered_host_key(NODE, 22, 10)
    known.write_text(f"{NODE} {key.get_name()} {key.get_base64()}\n")
    result = pytest_run(fake, CONTROL_TESTS, *fake.args(None, netns_sshd.client_key),
                        "--ssh-known-hosts", str(known))
    assert result.returncode == 0, result.stdout + result.stderr


def default_sigint() -> None:
    """In the child: SIGINT back to its default (a shell's background job starts with it
    ignored, and the child would inherit that and never see the Ctrl-C this test sends)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("phase", ["during-apply", "during-tests"])
def test_destroy_on_interrupt(fake, netns_sshd, needs_local_cluster, phase):
    """SIGINT to the pytest process (what Ctrl-C sends): destroy still runs."""
    blocked = fake.root / "test-running"
    (fake.root / "test_controls.py").write_text(BLOCKING_TEST.format(marker=str(blocked)))
    mode = "apply-hangs" if phase == "during-apply" else "ok"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                             str(fake.root / "test_controls.py"), "--rootdir", str(fake.root),
                             *fake.args(netns_sshd.fingerprint, netns_sshd.client_key)],
                            cwd=fake.root, env=fake.env(mode), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, preexec_fn=default_sigint)
    try:
        if phase == "during-apply":
            wait_for(lambda: "apply" in fake.commands(), 60, "the fake apply to start")
        else:
            wait_for(lambda: blocked.exists() or proc.poll() is not None, 60,
                     "the control test to start")
            assert proc.poll() is None, proc.communicate()[0]
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert fake.commands()[-1] == "destroy", (fake.calls(), output)
    assert proc.returncode != 0, output
    if phase == "during-apply":
        assert "output" not in fake.commands(), "nothing after the interrupted apply but destroy"


@pytest.mark.parametrize(("mode", "expected"), [
    ("apply-fails", "terraform apply failed (exit 1, workspace staging): aws_instance.node: "
                    "Creating... | Error: creating EC2 Instance: InvalidAMIID.NotFound"),
    ("no-credentials", "no AWS credentials: terraform apply found none (set AWS_PROFILE"),
])
def test_apply_errors(fake, mode, expected, tmp_path):
    key = tmp_path / "id"
    ssh.ensure_key(key)
    line = one_line(pytest_run(fake, CONTROL_TESTS, *fake.args(None, key), mode=mode))
    assert expected in line
    assert fake.commands()[-1] == "destroy", "a half-done apply is destroyed"


def test_ssh_timeout(tmp_path):
    fake = Fake(tmp_path, host="127.0.0.1", port=_unused_port())
    key = tmp_path / "id"
    ssh.ensure_key(key)
    started = time.monotonic()
    line = one_line(pytest_run(fake, CONTROL_TESTS, *fake.args(None, key), "--ssh-timeout", "3"))
    assert time.monotonic() - started < 60
    assert "SSH on 127.0.0.1:" in line and "did not answer within 3 s" in line
    assert "check that control_cidr includes this machine" in line
    assert fake.commands()[-1] == "destroy"


def test_missing_control_cidr(fake, tmp_path):
    key = tmp_path / "id"
    ssh.ensure_key(key)
    argv = [a for a in fake.args(None, key) if not a.startswith("control_cidr")]
    argv.remove("--tf-var")
    line = one_line(pytest_run(fake, CONTROL_TESTS, *argv))
    assert "needs control_cidr" in line and "--tf-var control_cidr=" in line
    assert fake.calls() == [], "nothing is applied without control_cidr"


def test_generated_login_key_is_reused(fake):
    """Without --ssh-key the target makes one ed25519 key per workspace and keeps it."""
    pytest_run(fake, CONTROL_TESTS, *fake.args(None, None), mode="apply-fails")
    pytest_run(fake, CONTROL_TESTS, *fake.args(None, None), mode="apply-fails")
    key = fake.tf_dir / ".kubeproof" / "staging" / "id_ed25519"
    assert key.stat().st_mode & 0o077 == 0
    applies = [c for c in fake.calls() if c[0] == "apply"]
    pubs = {a for c in applies for a in c if a.startswith("-var=ssh_public_key=")}
    assert len(applies) == 2 and len(pubs) == 1, applies
    assert shutil.which("terraform", path=str(fake.bin))


def _unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_host_controls_over_ssh_match_local(fake, netns_sshd, needs_local_cluster,
                                                 tmp_path):
    """The repository's host controls (tests/host) run over SSH into the netns host give the
    verdicts they give through the local backend (the netns host shares this machine's
    filesystem and processes), except host.firewall: the netns has its own, empty packet
    filter, so there it must fail, which also shows the controls really ran over SSH."""
    repo = Path(__file__).resolve().parents[2]
    if not list((repo / "tests" / "host").glob("test_*.py")):
        pytest.skip("no host controls in tests/host yet")
    verdicts = {}
    aide = hids.file_integrity(Layout(LOCAL))  # this machine's AIDE (the local cluster's)
    over_ssh = [*fake.args(netns_sshd.fingerprint, netns_sshd.client_key),
                f"--aide-config={aide.aide_config}", f"--hids-canary={aide.canary}"]
    for target, argv in (("terraform", over_ssh), ("local", ["--target", "local"])):
        report = tmp_path / f"{target}.json"
        result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                                 "tests/host", "--kubeproof-json", str(report), *argv],
                                cwd=repo, env=fake.env(), capture_output=True, text=True,
                                timeout=300)
        assert report.is_file(), result.stdout + result.stderr
        verdicts[target] = {re.sub(r"\[[a-z0-9-]*?node-?", "[", t["nodeid"]): t["verdict"]
                            for t in json.loads(report.read_text())["tests"]}
    firewall = "tests/host/test_firewall.py::test_packet_filter_has_rules[]"
    if firewall in verdicts["terraform"]:
        assert verdicts["terraform"].pop(firewall) == "fail", "the netns host has no rules"
        verdicts["local"].pop(firewall)
    # The netns host has its own network, where the kubelet's address does not exist: its
    # connection probes must be inconclusive there, never a pass.
    for probe in ("tests/host/test_kubelet.py::test_kubelet_refuses_anonymous_requests[]",
                  "tests/host/test_kubelet.py::test_kubelet_read_only_port_refuses_connections[]",
                  "tests/host/test_kube_proxy.py::test_kube_proxy_metrics_answer_on_loopback_"
                  "only[]"):
        if probe in verdicts["terraform"]:
            assert verdicts["terraform"].pop(probe) == "error", probe
            verdicts["local"].pop(probe)
    differ = {k: (v, verdicts["local"].get(k)) for k, v in verdicts["terraform"].items()
              if verdicts["local"].get(k) != v}
    assert not differ, differ
    assert set(verdicts["terraform"].values()) - {"skip"}, "some host control really ran"
