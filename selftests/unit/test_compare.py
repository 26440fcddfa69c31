"""--compare PREVIOUS.json: controls newly failing, newly passing and otherwise changed, and
waivers expiring within 30 days, in the JSON, the auditor report and the terminal; a
missing or invalid file is one line and exit code 4."""

from __future__ import annotations

import datetime
import json

import pytest
from auditcases import run_cases

from kubeproof import compare
from kubeproof.errors import KubeproofError

TODAY = datetime.date(2026, 12, 2)


def _previous(verdicts: dict[str, str]) -> dict:
    return {"schema": "kubeproof-results/1", "run_id": "old-run", "finished": "2026-11-01",
            "target": "local",
            "controls": [{"id": c, "title": c, "verdict": v} for c, v in verdicts.items()]}


def _controls(verdicts: dict[str, str]) -> list[dict]:
    return [{"id": c, "title": f"title of {c}", "verdict": v} for c, v in verdicts.items()]


def _waiver(index: int, expires: str) -> dict:
    return {"index": index, "control": "audit.enabled", "expires": expires,
            "approver": "Jane", "status": "applied"}


def test_diff_sorts_changes():
    before = {"a": "pass", "b": "fail", "c": "pass", "d": "skip", "e": "fail", "f": "error"}
    now = {"a": "fail", "b": "pass", "c": "skip", "d": "error", "e": "fail", "f": "fail",
           "new": "pass"}
    changes = compare.diff(_previous(before), _controls(now), [], TODAY)
    assert [(e["control"], e["before"], e["after"]) for e in changes["newly_failing"]] == [
        ("a", "pass", "fail"), ("d", "skip", "error")]
    assert [(e["control"], e["before"]) for e in changes["newly_passing"]] == [
        ("b", "fail"), ("new", "not run")]
    assert [(e["control"], e["before"], e["after"]) for e in changes["changed"]] == [
        ("c", "pass", "skip"), ("f", "error", "fail")]
    assert changes["previous"] == {"run_id": "old-run", "finished": "2026-11-01",
                                   "target": "local"}


def test_waivers_expiring_within_30_days():
    waivers = [_waiver(1, "2026-12-02"), _waiver(2, "2027-01-01"), _waiver(3, "2027-01-02"),
               _waiver(4, "2026-12-01")]
    changes = compare.diff(_previous({}), [], waivers, TODAY)
    assert [(w["index"], w["days_left"]) for w in changes["waivers_expiring"]] == [(1, 0),
                                                                                 (2, 30)]


def test_run_with_compare_reports_changes_everywhere(pytester):
    previous = _previous({"rbac.authorization-mode": "fail", "auth.anonymous-disabled": "pass",
                          "host.hids": "pass", "tls.components": "pass"})
    (pytester.path / "old.json").write_text(json.dumps(previous))
    soon = (datetime.date.today() + datetime.timedelta(days=10)).isoformat()
    waivers = f"""waivers:
  - control: audit.enabled
    justification: SIEM migration
    approver: Jane Auditor
    expires: {soon}
"""
    pytester.makepyfile(test_cases="""
import kubeproof, pytest

@kubeproof.control("rbac.authorization-mode")
def test_mode(evidence):
    evidence.add("mode", "Node,RBAC")

@kubeproof.control("auth.anonymous-disabled")
def test_anonymous(evidence):
    evidence.add("GET /api", 200)
    assert False, "anonymous GET /api -> 200"

@kubeproof.control("host.hids")
def test_hids(evidence):
    pytest.skip("no node access")

@kubeproof.control("tls.components")
def test_tls(evidence):
    evidence.add("etcd --client-cert-auth", "true")
""")
    (pytester.path / "w.yaml").write_text(waivers)
    result = pytester.runpytest("-p", "no:cacheprovider", "--compare=old.json",
                                "--waivers=w.yaml", "--kubeproof-json=r.json",
                                "--kubeproof-html=audit.html")
    doc = json.loads((pytester.path / "r.json").read_text())
    changes = doc["changes"]
    assert [e["control"] for e in changes["newly_failing"]] == ["auth.anonymous-disabled"]
    assert [e["control"] for e in changes["newly_passing"]] == ["rbac.authorization-mode"]
    assert [(e["control"], e["after"]) for e in changes["changed"]] == [("host.hids", "skip")]
    assert [w["days_left"] for w in changes["waivers_expiring"]] == [10]
    from test_report_schema import _documented

    assert _documented("changes") == set(changes)
    result.stdout.fnmatch_lines([
        "since run old-run (2026-11-01):",
        "  1 newly failing: auth.anonymous-disabled (pass -> fail)",
        "  1 newly passing: rbac.authorization-mode (fail -> pass)",
        "  1 changed verdict: host.hids (pass -> skip)",
        f"  1 waiver(s) expiring within 30 days: #1 audit.enabled on {soon}",
    ])
    html = (pytester.path / "audit.html").read_text()
    section = html.split('id="audit-changes"')[1].split("</section>")[0]
    assert "old-run" in section
    assert "Newly failing (1)" in section and "auth.anonymous-disabled" in section
    assert "Newly passing (1)" in section and "Changed verdict (1)" in section
    assert f"<td>{soon}</td><td>10</td>" in section


def test_without_compare_changes_is_null(pytester):
    _, doc = run_cases(pytester)
    assert doc["changes"] is None


@pytest.mark.parametrize(("content", "message"), [
    (None, "does not exist: pass the --kubeproof-json file of an earlier run"),
    ("{not json", "is not valid JSON (line 1: "),
    ('{"assessment-results": {}}', "is not a kubeproof results document (schema None, "
                                   "expected 'kubeproof-results/1')"),
    ('{"schema": "kubeproof-results/1", "controls": [{"id": 3}]}',
     "has no list of controls with id and verdict"),
])
def test_bad_previous_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "old.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(KubeproofError, match=r"^--compare ") as exc:
        compare.load(path)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("content", [None, "[1, 2]"])
def test_bad_compare_ends_the_run_with_exit_4(pytester, content):
    from test_bad_input import one_line_error

    if content is not None:
        (pytester.path / "old.json").write_text(content)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--compare=old.json")
    line = one_line_error(result)
    assert line.startswith(f"ERROR: --compare {pytester.path / 'old.json'} ")
    assert ("does not exist" if content is None else "is not a kubeproof results") in line
