"""Redaction masks tokens, keys and certificate data, and keeps ordinary evidence."""

from __future__ import annotations

import pytest

from kubeproof.redact import MASK, redact

PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----"


@pytest.mark.parametrize(("text", "secret"), [
    ("Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNz'", "dXNlcjpwYXNz"),
    (f"cert: {PEM} end", "MIIBszCCAVmgAwIBAgIU"),
    ("token: eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "eyJzdWIiOiJ4In0"),
    ("client-key-data: LS0tLS1CRUdJTiBSU0E=", "LS0tLS1CRUdJTiBSU0E="),
    ("certificate-authority-data: LS0tQ0E=", "LS0tQ0E="),
    ("--token=s3cr3t --v=2", "s3cr3t"),
    ("password=hunter2", "hunter2"),
    ('{"token": "abc123"}', "abc123"),
    ("join with abcdef.0123456789abcdef please", "0123456789abcdef"),
    ("kube-apiserver --token s3cr3t-value --v=2", "s3cr3t-value"),
    ("etcd --peer-client-secret 'two words'", "two words"),
    ("git clone https://deploy:hunter2@git.example.com/x.git", "hunter2"),
    ("postgres://app:pg-pa55@db.internal:5432/app", "pg-pa55"),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
     "b3BlbnNzaC1rZXk"),
    ("id_token: eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2lkcCJ9", "eyJpc3MiOiJodHRwczovL2lkcCJ9"),
    ("--oidc-client-secret=abc123", "abc123"),
    ("DB_PASSWORD=pw1 MYSQL_ROOT_PASSWORD=pw2", "pw1"),
    ("api_key=k-123", "k-123"),
    ('{"password": "with space"}', "with space"),
])
def test_secrets_are_masked(text, secret):
    masked = redact(text)
    assert secret not in masked
    assert MASK in masked


@pytest.mark.parametrize("text", [
    "--token-auth-file=/etc/kubernetes/tokens.csv",
    "--tls-private-key-file=/etc/kubernetes/pki/apiserver.key",
    "--authorization-mode=Node,RBAC",
    "GET /api/v1/namespaces/kube-system/pods -> 403 Forbidden",
    "Unable to dump key: Operation not permitted",
    "--enable-bootstrap-token-auth=true",
    "--encryption-provider-config /etc/kubernetes/enc.yaml",
    "https://10.0.0.1:6443/api/v1/namespaces",
    "then rewrite secrets: `kubectl get secrets -A -o json | kubectl replace -f -`.",
])
def test_ordinary_evidence_is_kept(text):
    assert redact(text) == text


def test_mappings_mask_secret_keys_but_keep_file_paths():
    value = {"client-key-data": "AAAA", "token": "t", "tokenFile": "/x",
             "service-account-key-file": "/y", "nested": [{"password": "p"}], "n": 3}
    assert redact(value) == {"client-key-data": MASK, "token": MASK, "tokenFile": "/x",
                             "service-account-key-file": "/y", "nested": [{"password": MASK}],
                             "n": 3}


def test_the_word_after_a_secret_flag_is_masked_in_a_command_line():
    argv = ["kubelet", "--token", "t0k3n", "--v", "2", "--kubeconfig", "/etc/kubelet.conf"]
    assert redact(argv) == ["kubelet", "--token", MASK, "--v", "2", "--kubeconfig",
                            "/etc/kubelet.conf"]


def test_environment_entries_that_name_a_secret_are_masked():
    env = [{"name": "DB_PASSWORD", "value": "pw"}, {"name": "HOME", "value": "/root"}]
    assert redact(env) == [{"name": "DB_PASSWORD", "value": MASK},
                           {"name": "HOME", "value": "/root"}]
