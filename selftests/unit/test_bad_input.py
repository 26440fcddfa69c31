"""Each bad input ends the run with one clear line, a non-zero exit and no traceback."""

from __future__ import annotations

import shutil

import paramiko
import pytest

from conftest import SshServer, known_hosts_with, unused_port, write_kubeconfig

CONTROL_TEST = """
import kubeproof

@kubeproof.control("rbac.app-user-denied-kube-system")
def test_needs_the_cluster(cluster, evidence):
    evidence.add("target", cluster.target)
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_control=CONTROL_TEST)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def one_line_error(result: pytest.RunResult) -> str:
    """The single error line of a refused run (asserting there is exactly one, no traceback)."""
    __tracebackhide__ = True
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output, output
    assert "INTERNALERROR" not in output, output
    errors = [line for line in result.errlines if line.strip()]
    assert len(errors) == 1, output
    assert result.ret == 4, output
    return errors[0]


def test_bad_kubeconfig_path(pytester):
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", "/nonexistent/kc",
                              "--app-user", "app"))
    assert "kubeconfig /nonexistent/kc does not exist: pass --kubeconfig PATH" in line


def test_bad_kubeconfig_content(pytester):
    bad = pytester.path / "kc.yaml"
    bad.write_text("clusters: [unclosed\n")
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(bad),
                              "--app-user", "app"))
    assert f"kubeconfig {bad} is not valid YAML" in line


def test_kubeconfig_that_is_not_one(pytester):
    bad = pytester.path / "kc.yaml"
    bad.write_text("just: a mapping\n")
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(bad),
                              "--app-user", "app"))
    assert "has no clusters or contexts" in line


def test_unknown_context(pytester):
    kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(kc),
                              "--context", "prod", "--app-user", "app"))
    assert "context 'prod' is not in kubeconfig" in line
    assert "one of ctx" in line


def test_missing_app_identity(pytester):
    kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(kc)))
    assert "needs the app identity: pass --app-user" in line


def test_unreachable_api_server(pytester):
    port = unused_port()
    kc = write_kubeconfig(pytester.path / "kc.yaml", f"https://127.0.0.1:{port}")
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(kc),
                              "--app-user", "app"))
    assert f"API server https://127.0.0.1:{port} is unreachable (connection refused)" in line


def test_rejected_credentials(pytester, unauthorized_api):
    kc = write_kubeconfig(pytester.path / "kc.yaml", unauthorized_api.url,
                          unauthorized_api.ca_pem, token="expired-token-value")
    result = run(pytester, "--target", "existing", "--kubeconfig", str(kc), "--app-user", "app")
    line = one_line_error(result)
    assert f"API server {unauthorized_api.url} rejected the credentials of context ctx" in line
    assert "401 Unauthorized" in line
    assert "expired-token-value" not in "\n".join(result.outlines + result.errlines)


def test_unknown_target(pytester):
    line = one_line_error(run(pytester, "--target", "kind"))
    assert line == ("ERROR: unknown --target 'kind': choose one of local, existing, terraform, "
                    "in-cluster")


def test_terraform_binary_missing(pytester, monkeypatch):
    monkeypatch.setenv("PATH", str(pytester.path / "empty-bin"))
    line = one_line_error(run(pytester, "--target", "terraform"))
    assert "no terraform binary on PATH: install Terraform >= 1.5 (or OpenTofu" in line


def test_terraform_bad_tf_var(pytester):
    if not shutil.which("terraform") and not shutil.which("tofu"):
        pytest.skip("no terraform or tofu binary: the binary check comes first")
    line = one_line_error(run(pytester, "--target", "terraform", "--tf-var", "control_cidr"))
    assert "--tf-var 'control_cidr': write it as NAME=VALUE" in line


def test_unknown_control_id(pytester):
    line = one_line_error(run(pytester, "--control", "seccomp.keyctl"))
    assert "unknown control id 'seccomp.keyctl' (--control): did you mean seccomp.keyctl-denied" \
        in line


def test_missing_ssh_key(pytester, tmp_path):
    kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
    known = tmp_path / "known_hosts"
    known.write_text("")
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(kc),
                              "--app-user", "app", "--ssh-host", "127.0.0.1:2222",
                              "--ssh-key", "/nonexistent/id_ed25519",
                              "--ssh-known-hosts", str(known)))
    assert "SSH key /nonexistent/id_ed25519 does not exist: pass --ssh-key PATH" in line


def test_host_key_mismatch(pytester, tmp_path, ssh_server, ssh_key):
    kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
    known = known_hosts_with(tmp_path, ssh_server.port, paramiko.ECDSAKey.generate())
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(kc),
                              "--app-user", "app", "--ssh-host", f"127.0.0.1:{ssh_server.port}",
                              "--ssh-key", str(ssh_key), "--ssh-known-hosts", str(known)))
    assert "SSH host key of" in line and f"127.0.0.1:{ssh_server.port} does not match" in line
    assert ssh_server.host_key.fingerprint in line


def test_unknown_host_key_is_never_accepted(pytester, tmp_path, ssh_server, ssh_key):
    kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
    known = tmp_path / "known_hosts"
    known.write_text("")
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(kc),
                              "--app-user", "app", "--ssh-host", f"127.0.0.1:{ssh_server.port}",
                              "--ssh-key", str(ssh_key), "--ssh-known-hosts", str(known)))
    assert f"is not in {known}" in line
    assert "never accepts unknown host keys" in line


def test_ssh_user_without_passwordless_sudo(pytester, tmp_path, ssh_key):
    server = SshServer(answer=(1, "sudo: a password is required\n"))
    try:
        kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
        known = known_hosts_with(tmp_path, server.port, server.host_key)
        line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(kc),
                                  "--app-user", "app", "--ssh-host", f"127.0.0.1:{server.port}",
                                  "--ssh-user", "core", "--ssh-key", str(ssh_key),
                                  "--ssh-known-hosts", str(known)))
    finally:
        server.close()
    assert server.commands == ["sudo -n true"]
    assert "SSH user core cannot run commands as root without a password" in line
    assert "sudo: a password is required" in line


def test_node_runtime_endpoint_needs_an_ssh_host(pytester):
    kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
    line = one_line_error(run(pytester, "--target", "existing", "--kubeconfig", str(kc),
                              "--app-user", "app", "--node-runtime-endpoint",
                              "unix:///run/containerd/containerd.sock"))
    assert "SSH options need at least one --ssh-host" in line


def test_in_cluster_target_outside_a_pod(pytester, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    line = one_line_error(run(pytester, "--target", "in-cluster", "--app-user", "app"))
    assert "--target in-cluster runs in a pod" in line


def test_in_cluster_target_without_its_token(pytester, monkeypatch):
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBEPROOF_SERVICE_ACCOUNT_DIR", str(pytester.path / "sa"))
    line = one_line_error(run(pytester, "--target", "in-cluster", "--app-user", "app"))
    assert "token" in line and "automountServiceAccountToken" in line


def test_etcd_options_all_or_none(pytester):
    kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
    line = one_line_error(run(pytester, "--target", "existing", f"--kubeconfig={kc}",
                              "--app-user", "app", "--etcd-endpoint", "https://127.0.0.1:2379"))
    assert "--etcd-ca, --etcd-cert, --etcd-key missing" in line


def test_node_access_given_twice(pytester, tmp_path):
    kc = write_kubeconfig(pytester.path / "kc.yaml", "https://127.0.0.1:1")
    line = one_line_error(run(pytester, "--target", "existing", f"--kubeconfig={kc}",
                              "--app-user", "app", "--node-access", "pod",
                              "--ssh-host", "node1", f"--ssh-known-hosts={kc}"))
    assert "give node access once" in line
