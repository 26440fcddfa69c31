"""Test outcomes map to verdicts; canaries and evidence guard against false passes."""

from __future__ import annotations

import json

import pytest

from kubeproof.verdicts import (
    Evidence,
    Inconclusive,
    Verdict,
    control_verdict,
    expect_denied,
    verdict_of,
    worst,
)

CASES = """
import pytest
import kubeproof
from kubeproof import Inconclusive, expect_denied

pytestmark = kubeproof.control("rbac.app-user-denied-kube-system")

def test_pass(evidence):
    with evidence.canary("own namespace", guard="app user"):
        pass
    expect_denied(evidence, "get pods in kube-system", denied=True, detail="403 Forbidden",
                  guard="app user")

def test_fail(evidence):
    with evidence.canary("own namespace", guard="app user"):
        pass
    expect_denied(evidence, "get pods in kube-system", denied=False, detail="200 OK",
                  guard="app user")

def test_denied_without_canary(evidence):
    expect_denied(evidence, "get pods in kube-system", denied=True, detail="403 Forbidden",
                  guard="app user")

def test_canary_failed(evidence):
    with evidence.canary("own namespace", guard="app user"):
        assert False, "own namespace: 403"
    expect_denied(evidence, "get pods in kube-system", denied=True, detail="403 Forbidden",
                  guard="app user")

def test_probe_setup_inconclusive(evidence):
    raise Inconclusive("probe pod never started: ImagePullBackOff")

def test_unexpected_error(evidence):
    raise RuntimeError("API said 500")

def test_plain_assertion(evidence):
    evidence.add("flag", "--authorization-mode=AlwaysAllow")
    assert "RBAC" in "AlwaysAllow", "authorization mode lacks RBAC"

def test_pass_without_evidence():
    pass

def test_skip(evidence):
    pytest.skip("the existing target lacks node-access: give --ssh-host")

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_fixture_error(broken, evidence):
    pass

@pytest.mark.xfail(reason="waiver W-1 until 2030-01-01", strict=True, raises=AssertionError)
def test_waived(evidence):
    evidence.add("x", 1)
    assert False

@pytest.mark.xfail(reason="waiver W-2 until 2030-01-01", strict=True, raises=AssertionError)
def test_waived_but_passes(evidence):
    evidence.add("x", 1)
"""

EXPECTED = {
    "test_pass": "pass",
    "test_fail": "fail",
    "test_denied_without_canary": "error",
    "test_canary_failed": "error",
    "test_probe_setup_inconclusive": "error",
    "test_unexpected_error": "error",
    "test_plain_assertion": "fail",
    "test_pass_without_evidence": "error",
    "test_skip": "skip",
    "test_fixture_error": "error",
    "test_waived": "waived",
    "test_waived_but_passes": "fail",
}




@pytest.fixture
def results(pytester: pytest.Pytester) -> dict[str, dict]:
    pytester.makepyfile(test_cases=CASES)
    out = pytester.path / "results.json"
    result = pytester.runpytest("--kubeproof-json", str(out))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = json.loads(out.read_text())
    return {t["nodeid"].split("::")[1]: t for t in doc["tests"]}


def test_short_summary_says_the_verdict(pytester: pytest.Pytester):
    """pytest's own summary lines name kubeproof's verdict: an inconclusive control is an
    ERROR (inconclusive), never a FAILED one."""
    pytester.makepyfile(test_cases=CASES)
    result = pytester.runpytest("-rA")
    result.stdout.fnmatch_lines_random([
        "ERROR (inconclusive) test_cases.py::test_probe_setup_inconclusive*",
        "ERROR (inconclusive) test_cases.py::test_canary_failed*",
        "FAIL test_cases.py::test_fail*"])
    result.stdout.no_fnmatch_line("FAILED test_cases.py::test_probe_setup_inconclusive*")
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 3 and outcomes["errors"] == 6, outcomes


def test_each_outcome_has_its_verdict(results):
    assert {name: r["verdict"] for name, r in results.items()} == EXPECTED


def test_reasons_say_why(results):
    assert "no canary succeeded" in results["test_denied_without_canary"]["reason"]
    assert "canary failed (own namespace)" in results["test_canary_failed"]["reason"]
    assert "passed without recording evidence" in results["test_pass_without_evidence"]["reason"]
    assert results["test_skip"]["reason"] == (
        "the existing target lacks node-access: give --ssh-host")
    assert results["test_waived"]["reason"] == "waived: waiver W-1 until 2030-01-01"
    assert results["test_fixture_error"]["reason"].startswith("setup failed: RuntimeError")
    assert "allowed, expected a denial" in results["test_fail"]["reason"]


def test_evidence_is_kept(results):
    evidence = results["test_pass"]["evidence"]
    assert {"label": "canary: own namespace", "value": "ok (guards app user)"} in evidence
    assert {"label": "get pods in kube-system", "value": "403 Forbidden"} in evidence


def test_verdict_of_phases():
    assert verdict_of("call", "passed", None, False) is Verdict.PASS
    assert verdict_of("call", "failed", AssertionError, False) is Verdict.FAIL
    assert verdict_of("call", "failed", pytest.fail.Exception, False) is Verdict.FAIL
    assert verdict_of("call", "failed", Inconclusive, False) is Verdict.ERROR
    assert verdict_of("call", "failed", KeyError, False) is Verdict.ERROR
    assert verdict_of("setup", "failed", AssertionError, False) is Verdict.ERROR
    assert verdict_of("teardown", "failed", None, False) is Verdict.ERROR
    assert verdict_of("setup", "skipped", None, False) is Verdict.SKIP
    assert verdict_of("call", "skipped", None, True) is Verdict.WAIVED
    assert verdict_of("call", "passed", None, True) is Verdict.FAIL


def test_a_control_skips_only_when_all_its_tests_skip():
    assert control_verdict([Verdict.PASS, Verdict.SKIP]) is Verdict.PASS
    assert control_verdict([Verdict.SKIP, Verdict.SKIP]) is Verdict.SKIP
    assert control_verdict([Verdict.SKIP, Verdict.FAIL, Verdict.PASS]) is Verdict.FAIL
    assert control_verdict([Verdict.WAIVED, Verdict.ERROR]) is Verdict.ERROR
    assert control_verdict([]) is None


def test_worst():
    assert worst(Verdict.PASS, Verdict.SKIP) is Verdict.SKIP
    assert worst(None, Verdict.PASS) is Verdict.PASS
    assert worst(Verdict.FAIL, Verdict.ERROR, Verdict.WAIVED) is Verdict.ERROR


def test_expect_denied_needs_a_canary():
    evidence = Evidence()
    with pytest.raises(Inconclusive, match="no canary succeeded"):
        expect_denied(evidence, "get", denied=True, detail="403", guard="app user")
    with evidence.canary("own", guard="app user"):
        pass
    expect_denied(evidence, "get", denied=True, detail="403", guard="app user")
    with pytest.raises(pytest.fail.Exception, match="allowed, expected a denial"):
        expect_denied(evidence, "get", denied=False, detail="200", guard="app user")


def test_a_canary_guards_only_its_own_identity_and_path():
    evidence = Evidence()
    with evidence.canary("the admin reads the path", guard="GET /version is served"):
        pass
    with evidence.canary("a precondition"):
        pass
    with pytest.raises(Inconclusive, match="same identity and path"):
        expect_denied(evidence, "app user get", denied=True, detail="403", guard="app user")
    with pytest.raises(Inconclusive, match="pod a/b has a network"):
        expect_denied(evidence, "connect", denied=True, detail="curl 7",
                      guard=("GET /version is served", "pod a/b has a network"))
    expect_denied(evidence, "anonymous get", denied=True, detail="401",
                  guard="GET /version is served")


def test_evidence_is_redacted_on_entry():
    evidence = Evidence()
    evidence.add("request", {"headers": {"Authorization": "Bearer sekret"}, "status": 403})
    assert evidence.entries == [("request", {"headers": {"Authorization": "<redacted>"},
                                             "status": 403})]
