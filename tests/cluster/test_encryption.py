"""Encryption at rest: Secrets are written to etcd by a non-identity provider (item 5)."""

from __future__ import annotations

import base64
import secrets

import requests
import yaml
from kubernetes.client.exceptions import ApiException

import kubeproof
from kubeproof.kube import REQUEST_TIMEOUT
from kubeproof.probes import RUN_ID_LABEL, unique_name
from kubeproof.targets.base import ETCD_ACCESS

ENCRYPTED_PREFIX = b"k8s:enc:"


def _etcd_get(etcd, key: str) -> requests.Response:
    """A range request for one key through etcd's gRPC gateway, with the client certificate."""
    return requests.post(
        f"{etcd.endpoint}/v3/kv/range",
        json={"key": base64.b64encode(key.encode()).decode()},
        cert=(str(etcd.cert_file), str(etcd.key_file)), verify=str(etcd.ca_file),
        timeout=REQUEST_TIMEOUT,
    )


def _envelope(raw: bytes) -> dict[str, object]:
    """The stored value's envelope header (provider and key name), never the data."""
    if not raw.startswith(ENCRYPTED_PREFIX):  # k8s:enc:<provider>:<version>:<key name>:<data>
        return {"stored as": repr(raw[:24]), "bytes": len(raw)}
    parts = raw.split(b":", 5)[2:5]
    provider, version, key_name = (p.decode("ascii", "replace") for p in parts)
    return {"envelope": "k8s:enc", "provider": provider, "version": version,
            "key name": key_name, "bytes": len(raw)}


@kubeproof.control("encryption.at-rest")
def test_secret_is_encrypted_in_etcd(cluster, admin_api, known_flags, run_namespace, run_id,
                                     evidence):
    """A Secret written through the API is stored encrypted (k8s:enc:) in etcd, never in
    plaintext."""
    kubeproof.require(cluster, ETCD_ACCESS)
    name, plaintext = unique_name("kubeproof-enc"), f"kubeproof-plaintext-{secrets.token_hex(16)}"
    body = {"metadata": {"name": name, "labels": {RUN_ID_LABEL: run_id}},
            "stringData": {"value": plaintext}}
    try:
        admin_api.core.create_namespaced_secret(run_namespace, body,
                                                _request_timeout=REQUEST_TIMEOUT)
    except ApiException as exc:
        raise kubeproof.Inconclusive(f"cannot create Secret {run_namespace}/{name}: "
                                     f"{exc.status} {exc.reason}") from exc
    try:
        with evidence.canary(f"Secret {run_namespace}/{name} reads back through the API"):
            read = admin_api.core.read_namespaced_secret(name, run_namespace,
                                                         _request_timeout=REQUEST_TIMEOUT)
            assert base64.b64decode(read.data["value"]).decode() == plaintext
        prefix = known_flags("kube-apiserver").get("etcd-prefix", "/registry")
        key = f"{prefix.rstrip('/')}/secrets/{run_namespace}/{name}"
        answer = _etcd_get(cluster.etcd, key)
        if answer.status_code != 200 or not answer.json().get("kvs"):
            raise kubeproof.Inconclusive(f"etcd range {key} -> {answer.status_code} "
                                         f"{answer.text[:200]}: the Secret is not where expected")
        raw = base64.b64decode(answer.json()["kvs"][0]["value"])
    finally:
        admin_api.core.delete_namespaced_secret(name, run_namespace,
                                                _request_timeout=REQUEST_TIMEOUT)
    in_clear = plaintext.encode() in raw
    evidence.add(f"etcd {key}", _envelope(raw))
    evidence.add("plaintext value found in the stored bytes", in_clear)
    assert raw.startswith(ENCRYPTED_PREFIX) and not in_clear, (
        f"Secret {run_namespace}/{name} is stored unencrypted in etcd: {key} begins "
        f"{raw[:24]!r}, plaintext present: {in_clear}")


def _secrets_providers(config: dict) -> list[str]:
    """The provider names that apply to secrets, in order, from an EncryptionConfiguration."""
    for entry in config.get("resources") or []:
        if {"secrets", "*.", "*.*"} & set(entry.get("resources") or []):
            return [next(iter(p)) for p in entry.get("providers") or []]
    return []


@kubeproof.control("encryption.at-rest")
def test_encryption_config_puts_a_real_provider_first(request, apiserver_flags, evidence):
    """The API server's EncryptionConfiguration encrypts secrets with a non-identity provider
    first."""
    path = apiserver_flags.get("encryption-provider-config")
    evidence.add("--encryption-provider-config", path or "(absent)")
    assert path, "kube-apiserver has no --encryption-provider-config: secrets are stored in clear"
    node_text = request.getfixturevalue("node_text")
    with evidence.canary(f"{path} is read on a node"):
        node, text = node_text(path)
        config = yaml.safe_load(text) or {}
        assert config.get("kind") == "EncryptionConfiguration", config.get("kind")
    providers = _secrets_providers(config)
    evidence.add(f"providers for secrets ({node})", providers or "none")
    assert providers and providers[0] != "identity", (
        f"{path}: the first provider for secrets is {providers[0] if providers else 'none'} "
        f"(order: {providers}); new secrets are written unencrypted")
