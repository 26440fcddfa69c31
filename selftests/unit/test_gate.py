"""The CI gate: non-zero on failed or errored controls (waived excluded); --fail-on softens it."""

from __future__ import annotations

import json

import pytest

from kubeproof import gate

PASS = '''
import kubeproof

@kubeproof.control("rbac.authorization-mode")
def test_mode(evidence):
    evidence.add("kube-apiserver --authorization-mode", "Node,RBAC")
'''
FAIL = '''
@kubeproof.control("auth.anonymous-disabled")
def test_anonymous(evidence):
    evidence.add("GET /api as anonymous", "200 OK")
    assert False, "anonymous GET /api -> 200"
'''
ERROR = '''
@kubeproof.control("host.firewall")
def test_firewall(evidence):
    raise kubeproof.Inconclusive("node unreachable")
'''


@pytest.mark.parametrize(("cases", "fail_on", "expected"), [
    (PASS, "fail", 0),
    (PASS + FAIL, "fail", 1),
    (PASS + ERROR, "fail", 1),
    (PASS + FAIL, "error", 0),
    (PASS + ERROR, "error", 1),
    (PASS + FAIL + ERROR, "never", 0),
], ids=["pass", "fail", "error", "fail-softened-by-error", "error-with-error", "never"])
def test_exit_status(pytester, cases, fail_on, expected):
    pytester.makepyfile(test_cases=cases)
    result = pytester.runpytest("--fail-on", fail_on, "--kubeproof-json", "r.json")
    assert result.ret == expected
    doc = json.loads((pytester.path / "r.json").read_text())
    assert doc["exit_status"] == expected
    assert doc["gate"]["fail_on"] == fail_on
    assert doc["gate"]["failed"] is bool(expected)
    result.stdout.fnmatch_lines([f"*kubeproof gate * (--fail-on {fail_on}, exit {expected})*"])


def test_non_control_failures_are_kept(pytester):
    pytester.makeini("[pytest]\nkubeproof_free_paths = .\n")
    pytester.makepyfile(test_plain="def test_plain():\n    assert False\n")
    assert pytester.runpytest("--fail-on", "never").ret == 1


def test_unknown_fail_on_is_a_usage_error(pytester):
    pytester.makepyfile(test_cases=PASS)
    result = pytester.runpytest_subprocess("--fail-on", "warn")
    assert result.ret == 4
    assert result.errlines[0] == "ERROR: unknown --fail-on 'warn': choose one of fail, error, never"


def test_decide():
    verdicts = {"a": "pass", "b": "fail", "c": "waived", "d": "error", "e": "not run"}
    decision = gate.decide(1, verdicts, 0, ["waiver #1 (x) is stale"], "fail")
    assert decision.exit_status == 1
    assert decision.reasons == ["1 control(s) failed: b", "1 control(s) errored (inconclusive): d",
                                "waiver #1 (x) is stale"]
    assert gate.decide(1, verdicts, 0, ["stale"], "error").reasons == [
        "1 control(s) errored (inconclusive): d"]
    assert gate.decide(0, {"c": "waived"}, 0, [], "fail").exit_status == 0
    assert gate.decide(2, {}, 0, [], "never").exit_status == 2
    assert gate.decide(0, {}, 1, [], "never").exit_status == 1
