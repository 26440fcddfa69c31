"""The terraform target's provisioning code: the Terraform configuration passes checkov (every
skip explained in the code) and terraform fmt/validate; the node scripts pass shellcheck and
run for real as far as a host without its own kernel or internet allows (dry run, files under
a root prefix, in a network namespace with no network), twice, changing nothing the second time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TF_DIR = REPO / "provision" / "terraform"
NODE_DIR = REPO / "provision" / "node"
NODEVM_BUILD = REPO / "provision" / "nodevm" / "build.sh"
# A local mirror of the AWS provider: terraform init cannot download it without internet.
PLUGIN_DIR = Path(os.environ.get("KUBEPROOF_TF_PLUGIN_DIR", "/opt/tf-plugins"))


def tool(name: str, how: str) -> str:
    found = shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed: {how}")
    return found


def test_checkov_finds_nothing_unexplained(tmp_path):
    checkov = tool("checkov", "pip install checkov (a separate venv or pipx keeps its pins "
                              "away from kubeproof's)")
    result = subprocess.run([checkov, "-d", str(TF_DIR), "--framework", "terraform", "--compact",
                             "--skip-download", "-o", "json"],
                            capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})"
              for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, failed
    assert summary["passed"] > 20, summary
    assert summary["skipped"] == len(report["results"]["skipped_checks"]) > 0
    for skipped in report["results"]["skipped_checks"]:
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 30, f"{skipped['check_id']} is skipped without a reason"


def test_terraform_fmt():
    binary = shutil.which("terraform") or tool("tofu", "install Terraform >= 1.5 or OpenTofu")
    result = subprocess.run([binary, "fmt", "-check", "-diff", "-recursive"], cwd=TF_DIR,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_validate(tmp_path):
    binary = shutil.which("terraform") or tool("tofu", "install Terraform >= 1.5 or OpenTofu")
    if not (PLUGIN_DIR / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
        pytest.skip(f"no local mirror of the hashicorp/aws provider at {PLUGIN_DIR}: terraform "
                    f"init cannot download it here (set KUBEPROOF_TF_PLUGIN_DIR to a mirror)")
    work = tmp_path / "tf"
    shutil.copytree(TF_DIR, work, ignore=shutil.ignore_patterns(".terraform*", ".kubeproof"))
    env = {**os.environ, "TF_IN_AUTOMATION": "1"}
    init = subprocess.run([binary, "init", "-backend=false", "-input=false", "-no-color",
                           f"-plugin-dir={PLUGIN_DIR}"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    result = subprocess.run([binary, "validate", "-no-color", "-json"], cwd=work, env=env,
                            capture_output=True, text=True, timeout=120)
    assert json.loads(result.stdout)["valid"], result.stdout


def test_control_cidr_has_no_default_and_refuses_the_internet():
    text = (TF_DIR / "variables.tf").read_text()
    block = re.search(r'variable "control_cidr" \{(.*?)\n\}', text, re.S).group(1)
    assert not re.search(r"^\s*default\s*=", block, re.M), block
    assert "0.0.0.0/0" not in (TF_DIR / "main.tf").read_text().split("ingress_rule")[1]
    assert "must be /16 or narrower" in block


@pytest.mark.parametrize("script", [NODE_DIR / "provision.sh", NODEVM_BUILD],
                         ids=["node-provision", "nodevm-build"])
def test_shellcheck(script):
    shellcheck = tool("shellcheck", "apt-get install -y shellcheck")
    result = subprocess.run([shellcheck, "-x", script.name], cwd=script.parent,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def make_ca(pki: Path) -> None:
    """A cluster CA where kubeadm would leave it, so the app-user step signs for real."""
    pki.mkdir(parents=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(pki / "ca.key"),
                    "-out", str(pki / "ca.crt"), "-subj", "/CN=kubernetes", "-days", "1"],
                   check=True, capture_output=True)


def dry_run(root: Path, out: Path) -> subprocess.CompletedProcess:
    if os.geteuid() != 0:
        pytest.skip("unshare --net needs root")
    env = {**os.environ, "KUBEPROOF_DRY_RUN": "1", "KUBEPROOF_ROOT": str(root),
           "KUBEPROOF_OUT": str(out), "KUBEPROOF_API_ENDPOINT": "https://203.0.113.9:6443",
           "KUBEPROOF_NODE_NAME": "kubeproof-staging-node"}
    return subprocess.run(["unshare", "--net", "bash", str(NODE_DIR / "provision.sh")],
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def node_run(tmp_path_factory):
    """The node scripts run twice in dry-run mode, offline, files under a root prefix."""
    tmp = tmp_path_factory.mktemp("node")
    root, out = tmp / "root", tmp / "out"
    make_ca(root / "etc" / "kubernetes" / "pki")
    first = dry_run(root, out)
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    second = dry_run(root, out)
    return root, out, first, second, files


def test_node_scripts_run_offline(node_run):
    _, _, first, second, _ = node_run
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    for what in ("dry-run: setenforce 1", "kubeadm init --config",
                 "meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY",
                 "components.cni.enabled=true", "SKIP admin kubeconfig"):
        assert what in first.stderr, first.stderr


def test_node_scripts_are_idempotent(node_run):
    root, _, first, second, files = node_run
    assert "wrote:" in first.stderr
    assert "wrote:" not in second.stderr, second.stderr
    assert "app user certificate valid for more than a day: kept" in second.stderr
    now = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert now == files, "the second run changed files"


def test_skipped_steps_are_said(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("unshare --net needs root")
    env = {**os.environ, "KUBEPROOF_DRY_RUN": "1", "KUBEPROOF_ROOT": str(tmp_path / "r"),
           "KUBEPROOF_OUT": str(tmp_path / "o"), "KUBEPROOF_SKIP_STEPS": "calico istio"}
    result = subprocess.run(["unshare", "--net", "bash", str(NODE_DIR / "provision.sh")],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "SKIP step calico: listed in KUBEPROOF_SKIP_STEPS" in result.stderr
    assert "SKIP step istio" in result.stderr and "SKIP ServiceEntry" in result.stderr
    assert "istioctl" not in result.stderr


def test_rendered_host_and_runtime_config(node_run):
    root = node_run[0]
    assert "SELINUX=enforcing" in (root / "etc/selinux/config").read_text().splitlines()
    containerd = (root / "etc/containerd/config.toml").read_text()
    assert "enable_selinux = true" in containerd and "SystemdCgroup = true" in containerd
    docs = list(yaml.safe_load_all((root / "etc/kubernetes/kubeproof/kubeadm.yaml").read_text()))
    kubelet = next(d for d in docs if d["kind"] == "KubeletConfiguration")
    assert kubelet["seccompDefault"] is True and kubelet["readOnlyPort"] == 0
    cluster = next(d for d in docs if d["kind"] == "ClusterConfiguration")
    assert cluster["apiServer"]["certSANs"] == ["203.0.113.9"]
    assert (root / "etc/kubernetes/encryption/config.yaml").stat().st_mode & 0o077 == 0


def test_rendered_app_manifests(node_run):
    root = node_run[0]
    docs = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(
        (root / "etc/kubernetes/kubeproof/app.yaml").read_text())}
    labels = docs[("Namespace", "pegress")]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["istio-injection"] == "enabled"
    binding = docs[("RoleBinding", "pegress-admin")]
    assert binding["subjects"][0]["name"] == "pegress"
    assert binding["roleRef"]["name"] == "admin"
    assert ("NetworkPolicy", "default-deny") in docs
    entry = yaml.safe_load((root / "etc/kubernetes/kubeproof/service-entry.yaml").read_text())
    assert entry["kind"] == "ServiceEntry" and entry["metadata"]["name"] == "google-ext"
    assert entry["spec"]["location"] == "MESH_EXTERNAL"


def test_app_user_kubeconfig(node_run):
    root, out = node_run[0], node_run[1]
    config = yaml.safe_load((out / "app.kubeconfig").read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://203.0.113.9:6443"
    assert (out / "app.kubeconfig").stat().st_mode & 0o077 == 0
    cert = root / "etc/kubernetes/kubeproof/app-user/pegress.crt"
    subject = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-subject"],
                             capture_output=True, text=True, check=True).stdout
    assert "O = hcom" in subject and "CN = pegress" in subject
    verify = subprocess.run(["openssl", "verify", "-CAfile",
                             str(root / "etc/kubernetes/pki/ca.crt"), str(cert)],
                            capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
