"""Waivers: a waived failure is waived; a stale or expired waiver fails the run; a bad waiver
file is a one-line usage error."""

from __future__ import annotations

import datetime
import json

import pytest

from kubeproof import waivers

CASES = '''
import pytest
import kubeproof

@kubeproof.control("rbac.authorization-mode")
def test_mode(evidence):
    evidence.add("kube-apiserver --authorization-mode", "Node,RBAC")

@kubeproof.control("auth.anonymous-disabled")
def test_anonymous(evidence):
    evidence.add("GET /api as anonymous", "200 OK")
    assert False, "anonymous GET /api -> 200"

@kubeproof.control("netpol.default-deny")
@pytest.mark.parametrize("namespace", ["pegress", "other"])
def test_default_deny(evidence, namespace):
    evidence.add("default-deny policy in " + namespace, namespace == "pegress")
    assert namespace == "pegress", namespace + " has no default-deny policy"

@kubeproof.control("host.firewall")
def test_firewall(evidence):
    raise kubeproof.Inconclusive("node unreachable")
'''

FUTURE = "2999-12-31"


def waiver(control: str, expires: str = FUTURE, scope: str = "") -> str:
    return (f"  - control: {control}\n{scope}"
            f"    justification: tracked in SEC-1\n    approver: Jane Auditor\n"
            f"    expires: {expires}\n")


def run(pytester: pytest.Pytester, waiver_text: str, *args: str):
    pytester.makepyfile(test_cases=CASES)
    (pytester.path / "waivers.yaml").write_text("waivers:\n" + waiver_text)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--waivers", "waivers.yaml",
                                           "--kubeproof-json", "r.json", *args)
    doc = json.loads((pytester.path / "r.json").read_text()) if (
        pytester.path / "r.json").exists() else None
    return result, doc


def verdicts(doc) -> dict[str, str]:
    return {t["nodeid"].split("::")[1]: t["verdict"] for t in doc["tests"]}


def statuses(doc) -> dict[int, str]:
    return {w["index"]: w["status"] for w in doc["waivers"]}


def test_a_waived_failure_is_waived_and_does_not_fail_the_run(pytester):
    result, doc = run(pytester, waiver("auth.anonymous-disabled")
                      + waiver("netpol.default-deny", scope="    scope: {namespace: other}\n"),
                      "--fail-on", "fail", "-k", "not firewall")
    assert verdicts(doc) == {"test_mode": "pass", "test_anonymous": "waived",
                             "test_default_deny[pegress]": "pass",
                             "test_default_deny[other]": "waived"}
    assert statuses(doc) == {1: "applied", 2: "applied"}
    assert result.ret == 0, result.outlines
    anonymous = next(t for t in doc["tests"] if t["control"] == "auth.anonymous-disabled")
    assert anonymous["waiver"] == 1
    assert "waiver #1 (auth.anonymous-disabled), approved by Jane Auditor" in anonymous["reason"]
    assert "anonymous GET /api -> 200" in anonymous["reason"]
    assert anonymous["evidence"] == [{"label": "GET /api as anonymous", "value": "200 OK"}]
    result.stdout.fnmatch_lines(["*gate passed (--fail-on fail, exit 0)*"])


def test_a_stale_waiver_fails_the_run_and_says_which(pytester):
    both = waiver("auth.anonymous-disabled") + waiver("rbac.authorization-mode")
    result, doc = run(pytester, both, "-k", "mode or anonymous")
    assert verdicts(doc) == {"test_mode": "pass", "test_anonymous": "waived"}
    assert statuses(doc) == {1: "applied", 2: "stale"}
    assert result.ret == 1
    message = ("waiver #2 (rbac.authorization-mode) is stale: the control passes "
               "(1 test(s) passed); remove the waiver")
    assert doc["gate"]["reasons"] == [message]
    assert doc["exit_status"] == 1
    result.stdout.fnmatch_lines([f"*gate FAILED*{message}*"])


def test_an_expired_waiver_fails_the_run_and_waives_nothing(pytester):
    result, doc = run(pytester, waiver("auth.anonymous-disabled", expires="2001-02-03"),
                      "-k", "anonymous")
    assert verdicts(doc) == {"test_anonymous": "fail"}
    assert statuses(doc) == {1: "expired"}
    assert result.ret == 1
    assert doc["gate"]["reasons"][-1] == (
        "waiver #1 (auth.anonymous-disabled) expired on 2001-02-03 (approved by Jane "
        "Auditor): renew it with a new expiry date or fix the control")


def test_a_scoped_waiver_covers_only_its_namespace(pytester):
    result, doc = run(pytester, waiver("netpol.default-deny", scope="    scope: {namespace: x}\n"),
                      "-k", "default_deny")
    assert verdicts(doc) == {"test_default_deny[pegress]": "pass",
                             "test_default_deny[other]": "fail"}
    assert statuses(doc) == {1: "unused"}
    assert result.ret == 1


def test_an_error_is_never_waived(pytester):
    result, doc = run(pytester, waiver("host.firewall"), "-k", "firewall")
    assert verdicts(doc) == {"test_firewall": "error"}
    assert statuses(doc) == {1: "unused"}
    assert result.ret == 1


@pytest.mark.parametrize(("text", "message"), [
    (waiver("rbac.authorization-mod"),
     "waiver #1: unknown control id 'rbac.authorization-mod': did you mean "
     "rbac.authorization-mode"),
    ("  - control: rbac.authorization-mode\n    approver: J\n    expires: 2030-01-01\n",
     "waiver #1: missing justification"),
    (waiver("rbac.authorization-mode", expires="next year"),
     "waiver #1: expires must be a date YYYY-MM-DD, got 'next year'"),
    (waiver("rbac.authorization-mode", scope="    scope: {cluster: prod}\n"),
     "waiver #1: scope must map namespace and/or node to a name"),
    (waiver("rbac.authorization-mode") + "    owner: me\n",
     "waiver #1: unknown field 'owner'"),
    ("  - [unclosed\n", "is not valid YAML (line 3)"),
], ids=["unknown-control", "missing-field", "bad-date", "bad-scope", "unknown-field", "bad-yaml"])
def test_a_bad_waiver_file_is_a_one_line_usage_error(pytester, text, message):
    result, _ = run(pytester, text)
    errors = [line for line in result.errlines if line.strip()]
    assert result.ret == 4, result.outlines + result.errlines
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"ERROR: waiver file {pytester.path / 'waivers.yaml'}")
    assert message in errors[0]
    assert "Traceback" not in "\n".join(result.outlines + result.errlines)


def test_a_missing_waiver_file_is_a_usage_error(pytester):
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest_subprocess("--waivers", "nope.yaml")
    assert result.ret == 4
    assert "nope.yaml does not exist: pass --waivers PATH to a YAML file" in result.errlines[0]


def test_scope_matching():
    w = waivers.Waiver(1, "netpol.default-deny", "j", "a", datetime.date(2999, 1, 1),
                       namespace="kube-system")
    assert w.covers("netpol.default-deny", {"namespace": "kube-system"}, "kube-system")
    assert w.covers("netpol.default-deny", {"verb": "get"}, "get-kube-system")
    assert not w.covers("netpol.default-deny", {"verb": "get"}, "get-kube-systems")
    assert not w.covers("netpol.default-deny", {}, "")
    assert not w.covers("netpol.enforced", {"namespace": "kube-system"}, "kube-system")
    node = waivers.Waiver(2, "host.firewall", "j", "a", datetime.date(2999, 1, 1), node="n1")

    class NodeHost:
        name = "n1"

    assert node.covers("host.firewall", {"node": NodeHost()}, "node0")
    assert not w.expired(datetime.date(2999, 1, 1))
    assert w.expired(datetime.date(2999, 1, 2))
