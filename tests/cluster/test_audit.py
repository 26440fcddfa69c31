"""Audit logging: the API server has a policy and a backend, and really records requests
(checklist item 2: monitor the logs)."""

from __future__ import annotations

import json
import secrets
import time

import pytest

import kubeproof
from kubeproof.kube import api_path

AUDIT_DEADLINE = 15.0  # seconds for the event to reach the log (buffered backends batch)


@kubeproof.control("audit.enabled")
@pytest.mark.parametrize("setting", ["policy", "backend"])
def test_audit_is_configured(apiserver_flags, evidence, setting):
    """The API server has an audit policy and an audit log or webhook backend."""
    with evidence.canary("kube-apiserver flags were read"):
        assert apiserver_flags.get("secure-port") or apiserver_flags.get("etcd-servers"), \
            apiserver_flags
    names = (["audit-policy-file"] if setting == "policy"
             else ["audit-log-path", "audit-webhook-config-file"])
    shown = {f"--{n}": apiserver_flags.get(n) or "(absent)" for n in names}
    evidence.add(f"audit {setting}", shown)
    assert any(apiserver_flags.get(n) for n in names), f"no audit {setting}: {shown}"


def _find_event(host, path: str, needle: str) -> dict | None:
    """The first audit event in the log file whose line contains needle (None if absent)."""
    found = host.run("grep -F -m 1 -- %s %s", needle, path)
    if found.rc == 1:
        return None
    if found.rc != 0:
        raise kubeproof.Inconclusive(f"grep in {path} failed (rc {found.rc}): {found.stderr}")
    return json.loads(found.stdout)


@kubeproof.control("audit.enabled")
def test_audit_log_records_our_request(cluster, admin_api, apiserver_flags, node_hosts,
                                       evidence):
    """A request this test makes appears as an event in the API server's audit log."""
    path = apiserver_flags.get("audit-log-path")
    if not path:
        pytest.skip("the API server writes no audit log file (a webhook backend or none): "
                    "the file check needs --audit-log-path; the configuration test says which")
    if path == "-":
        raise kubeproof.Inconclusive("--audit-log-path=- writes the audit log to the API "
                                     "server's stdout, which kubeproof cannot read")
    holders = [(node, host) for node, host in node_hosts if host.file(path).is_file]
    if not holders:
        raise kubeproof.Inconclusive(f"{path} is on none of the nodes kubeproof reaches "
                                     f"({', '.join(n.name for n, _ in node_hosts)})")
    # A read of an object that does not exist: no side effect, a unique URI to look for.
    name = f"kubeproof-audit-{secrets.token_hex(6)}"
    uri = api_path("configmaps", cluster.app_namespace, name)
    with evidence.canary(f"GET {uri} reaches the API server as the admin"):
        answer = admin_api.request("GET", uri)
        assert answer.status == 404, f"{answer.request} -> {answer.status} {answer.message}"
    deadline = time.monotonic() + AUDIT_DEADLINE
    event = where = None
    while event is None and time.monotonic() < deadline:
        for node, host in holders:
            event = _find_event(host, path, f'"requestURI":"{uri}"')
            if event is not None:
                where = node.name
                break
        else:
            time.sleep(0.25)  # a deadline poll of the file, not a fixed wait
    evidence.add("audit event", {k: event.get(k) for k in ("auditID", "stage", "verb",
                                                           "requestURI", "user",
                                                           "responseStatus")}
                 if event else f"none in {path} after {AUDIT_DEADLINE:g}s")
    assert event is not None, (f"no audit event for GET {uri} in {path} on "
                               f"{', '.join(n.name for n, _ in holders)} within "
                               f"{AUDIT_DEADLINE:g}s")
    evidence.add("found on node", where)
    assert event.get("verb") == "get" and event.get("responseStatus", {}).get("code") == 404, \
        f"the audit event does not describe the request: {event}"
