"""A small faked run for the auditor-format self-tests: controls that pass, fail, error,
skip and are waived, parametrized cases, nested evidence, and a waiver file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CASES = '''
import pytest
import kubeproof

@kubeproof.control("rbac.authorization-mode")
def test_mode(evidence):
    """The API server's --authorization-mode names RBAC, never AlwaysAllow or ABAC."""
    evidence.add("kube-apiserver --authorization-mode", "Node,RBAC")
    evidence.add("kube-apiserver", {"pid": 12, "flags read": {"authorization-mode": "Node,RBAC"},
                                    "where": ["static pod manifest", "process"]})

@kubeproof.control("auth.anonymous-disabled")
def test_anonymous(evidence):
    """An anonymous GET /api is refused with 401 or 403."""
    evidence.add("request", {"url": "/api", "status": 200, "body": "line 1\\nline 2"})
    assert False, "anonymous GET /api -> 200"

@kubeproof.control("audit.enabled")
def test_audit(evidence):
    evidence.add("--audit-log-path", "")
    assert 1 == 2

@kubeproof.control("host.firewall")
def test_firewall(evidence):
    raise kubeproof.Inconclusive("node unreachable over SSH")

@kubeproof.control("host.hids")
def test_hids(evidence):
    pytest.skip("the existing target lacks node-access")

@kubeproof.control("tls.components")
def test_tls_flags(evidence):
    """etcd, kubelet and API server set cert, key and CA for every hop."""
    evidence.add("etcd --client-cert-auth", "true")

@kubeproof.control("netpol.default-deny")
@pytest.mark.parametrize("namespace", ["pegress", "other"])
def test_default_deny(evidence, namespace):
    """The namespace has a default-deny policy for ingress and egress."""
    evidence.add("default-deny in " + namespace, namespace == "pegress")
    assert namespace == "pegress", namespace + " has no default-deny policy"
'''

WAIVERS = """waivers:
  - control: audit.enabled
    justification: SIEM migration, ticket SEC-9
    approver: Jane Auditor (CISO)
    expires: 2999-01-01
"""

# Control id -> control verdict in this run.
VERDICTS = {"rbac.authorization-mode": "pass", "auth.anonymous-disabled": "fail",
            "audit.enabled": "waived", "host.firewall": "error", "host.hids": "skip",
            "tls.components": "pass", "netpol.default-deny": "fail"}


def run_cases(pytester: pytest.Pytester, *args: str,
              cases: str = CASES) -> tuple[pytest.RunResult, dict]:
    """Run the cases in-process with the waiver file and --kubeproof-json (plus args);
    the result and the JSON document."""
    pytester.makepyfile(test_cases=cases)
    (pytester.path / "w.yaml").write_text(WAIVERS)
    result = pytester.runpytest("-p", "no:cacheprovider", "--waivers=w.yaml",
                                "--kubeproof-json=r.json", *args)
    return result, json.loads(Path(pytester.path, "r.json").read_text())
