"""The CIS coverage table (kubeproof.cis) and the configuration table's rules
(kubeproof.configchecks, kubeproof.configtable)."""

from __future__ import annotations

import pytest

from kubeproof import cis, configtable
from kubeproof.configchecks import FLAG, MODE, ConfigCheck, Rule

FLAGS = "tests/cluster/test_component_flags.py::test_component_flag"


def test_the_benchmark_has_its_131_recommendations_65_automated():
    recs = cis.recommendations()
    assert len(recs) == 131 and len({r.id for r in recs}) == 131
    assert sum(r.automated for r in recs) == 65
    level2 = {r.id for r in recs if r.level == 2}
    assert {r.level for r in recs} == {1, 2} and len(level2) == 14
    assert {"1.2.12", "2.7", "3.2.2", "5.4.1", "5.6.4"} <= level2 and "1.2.1" not in level2


def test_mappings_name_real_recommendations():
    ids = {r.id for r in cis.recommendations()}
    assert set(cis.ANSWERED_BY) <= ids and set(cis.NO_TEST) <= ids
    assert not set(cis.ANSWERED_BY) & set(cis.NO_TEST), "a reason for a recommendation answered"


def test_a_test_answers_the_cis_id_its_parametrization_starts_with():
    assert cis.ids_of(f"{FLAGS}[1.2.17-audit-log-maxage]") == ["1.2.17"]
    assert cis.ids_of(f"{FLAGS}[kube-apiserver-etcd-servers]") == []
    assert cis.ids_of("tests/host/test_kubelet.py::test_kubelet_setting_is_hardened"
                      "[n1-4.2.1-anonymous-auth]") == ["4.2.1"]
    assert cis.ids_of("tests/host/test_kubelet.py::test_kubelet_refuses_anonymous_requests"
                      "[n1]") == ["4.2.1"]
    # A node named by its address, or with a CIS-like part in its name, misleads nothing.
    assert cis.ids_of("tests/host/test_kubelet.py::test_kubelet_setting_is_hardened"
                      "[10.0.1.5-4.2.1-anonymous-auth]") == ["4.2.1"]
    assert cis.ids_of("tests/host/test_kubelet.py::test_kubelet_refuses_anonymous_requests"
                      "[pool-1.2.1-x]") == ["4.2.1"]
    assert cis.ids_of(f"{FLAGS}[9.9.9-made-up]") == []
    assert cis.ids_of(f"{FLAGS}[x1.2.17-audit-log-maxage]") == []


def test_coverage_gives_each_recommendation_its_verdict_or_the_reason():
    rows = {r["id"]: r for r in cis.coverage({
        f"{FLAGS}[1.2.17-audit-log-maxage]": "fail",
        "tests/cluster/test_auth.py::test_anonymous_request_is_refused[version]": "pass",
        f"{FLAGS}[1.2.1-anonymous-auth]": "error"})}
    assert len(rows) == 131
    assert rows["1.2.17"]["verdict"] == "fail" and rows["1.2.17"]["reason"] == ""
    assert rows["1.2.1"]["verdict"] == "error" and len(rows["1.2.1"]["tests"]) == 2
    assert rows["1.2.11"]["verdict"] == "no test" and "AlwaysPullImages" in rows["1.2.11"]["reason"]
    assert rows["5.2.2"]["reason"] == cis.NOT_YET  # answered by a test this run lacks
    assert rows["1.2.16"]["assessment"] == "Automated"
    assert rows["1.2.16"]["level"] == 1 and rows["2.7"]["level"] == 2


@pytest.mark.parametrize(("rule", "value", "holds"), [
    (Rule("set"), "/etc/pki/x.crt", True), (Rule("set"), None, False), (Rule("set"), "", False),
    (Rule("unset"), None, True), (Rule("unset"), "x", False),
    (Rule("eq", "false"), "False", True), (Rule("eq", "false"), "true", False),
    (Rule("gte", "30"), "30", True), (Rule("gte", "30"), "7", False),
    (Rule("gte", "30"), "30d", False),
    (Rule("has", "Node"), "Node,RBAC", True), (Rule("has", "Node"), "RBAC,NodeX", False),
    (Rule("lacks", "AlwaysAdmit"), "", True),
    (Rule("lacks", "AlwaysAdmit"), "A,AlwaysAdmit", False),
    (Rule("https"), "https://a:1,https://b:2", True), (Rule("https"), "https://a,http://b", False),
    (Rule("within", "A,B"), "B", True), (Rule("within", "A,B"), "A,C", False),
    (Rule("mode", "600"), "600", True), (Rule("mode", "600"), "400", True),
    (Rule("mode", "600"), "640", False), (Rule("mode", "600"), "1600", False),
    (Rule("mode", "700"), "rwx", False),
    (Rule("nonzero"), "4h0m0s", True), (Rule("nonzero"), "0s", False),
    (Rule("nonzero"), "0h0m0s", False), (Rule("nonzero"), "0", False),
])
def test_rules(rule, value, holds):
    assert rule.holds(value) is holds


def test_an_absent_flag_is_judged_on_the_default_and_the_evidence_says_so():
    check = ConfigCheck("1.2.15", "profiling", "cis.api-server", "kube-apiserver", FLAG,
                        ("profiling",), Rule("eq", "false", default="true"), "fix")
    assert check.id == "1.2.15-profiling"
    ok, seen = check.judge(check.flag_values({"secure-port": "6443"}))
    assert not ok and seen == {"--profiling": "(absent): default 'true'"}
    assert check.judge(check.flag_values({"profiling": "false"})) == (
        True, {"--profiling": "false"})


def test_every_flag_of_a_row_must_meet_the_rule():
    check = ConfigCheck("1.2.24", "pair", "tls.components", "kube-apiserver", FLAG,
                        ("tls-cert-file", "tls-private-key-file"), Rule("set"), "fix")
    assert not check.judge(check.flag_values({"tls-cert-file": "a.crt"}))[0]
    assert check.judge(check.flag_values({"tls-cert-file": "a.crt",
                                          "tls-private-key-file": "a.key"}))[0]


def test_every_file_a_row_finds_must_meet_the_rule():
    check = ConfigCheck("1.1.20", "pki", "cis.control-plane-files", "kube-apiserver", MODE,
                        ("--client-ca-file/*.crt",), Rule("mode", "644"), "fix")
    assert check.judge({"/pki/a.crt": "644", "/pki/b.crt": "600"})[0]
    assert not check.judge({"/pki/a.crt": "644", "/pki/b.crt": "664"})[0]
    with pytest.raises(ValueError, match="nothing to judge"):
        check.judge({})


def test_file_rows_come_in_mode_and_owner_pairs_with_consecutive_ids():
    ids = {c.id for c in configtable.CHECKS}
    assert {"1.1.1-static-pod-manifest-mode", "1.1.2-static-pod-manifest-owner",
            "1.1.11-data-dir-mode", "1.1.12-data-dir-owner",
            "4.1.1-service-file-mode", "4.1.2-service-file-owner"} <= ids
    assert len(ids) == len(configtable.CHECKS), "two rows with one test id"


def test_every_automated_recommendation_of_sections_1_to_4_has_a_test():
    answered = {c.cis for c in configtable.CHECKS} | set(cis.ANSWERED_BY)
    missing = [r.id for r in cis.recommendations()
               if r.automated and r.section[0] in "1234" and r.id not in answered]
    assert not missing, missing
