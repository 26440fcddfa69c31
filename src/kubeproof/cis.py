"""The CIS Kubernetes Benchmark v1.12 coverage table: its 131 recommendations, the kubeproof
tests that answer each, and the reason where none does.

A test answers a recommendation when its parametrization id ends in the id of a row of the
configuration table, which carries the CIS id (`[1.2.17-audit-log-maxage]`, or per node
`[node-a-4.2.1-anonymous-auth]`), or when ANSWERED_BY below names it: the behavioural tests
that try what a recommendation is about (section 5's RBAC and admission probes). The
recommendations (id, section, title, CIS assessment status) are kube-bench's encoding of the
benchmark, with each one's profile level from prowler's (cis-1.12.yaml beside this module says
where from; kube-bench's sources in docs/planning/cis-1.12-summary.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from kubeproof.configtable import CHECKS
from kubeproof.testids import matches
from kubeproof.verdicts import Verdict, control_verdict

BENCHMARK = "CIS Kubernetes Benchmark v1.12"

_RBAC = "tests/cluster/test_rbac.py::"
_BEYOND = _RBAC + "test_app_user_has_no_power_beyond_its_namespace"
_SCOPED = _RBAC + "test_app_user_has_nothing_cluster_scoped"
_REJECTED = "tests/workloads/test_podsecurity.py::test_privileged_and_host_pods_are_rejected"
_KUBELET = "tests/host/test_kubelet.py::"
# Tests that answer a recommendation without carrying its id (patterns: `*` is the only
# wildcard).
ANSWERED_BY: dict[str, tuple[str, ...]] = {
    "1.2.1": ("tests/cluster/test_auth.py::test_anonymous_request_is_refused[*]",),
    "1.2.2": ("tests/cluster/test_auth.py::test_no_static_credential_file[token-auth-file]",),
    "1.2.6": (_RBAC + "test_api_server_authorization_mode[AlwaysAllow-absent]",),
    "1.2.8": (_RBAC + "test_api_server_authorization_mode[RBAC-enabled]",),
    "1.2.27": ("tests/cluster/test_encryption.py::test_encryption_config_puts_a_real_provider_"
               "first",),
    "1.2.28": ("tests/cluster/test_encryption.py::test_secret_is_encrypted_in_etcd",
               "tests/cluster/test_encryption.py::test_encryption_config_puts_a_real_provider_"
               "first"),
    "2.7": ("tests/cluster/test_etcd.py::test_etcd_refuses_client_certificates_of_the_cluster_ca",),
    "3.2.1": ("tests/cluster/test_audit.py::test_audit_is_configured[policy]",),
    "3.2.2": ("tests/cluster/test_audit.py::test_audit_log_records_our_request",),
    "4.2.1": (_KUBELET + "test_kubelet_refuses_anonymous_requests[*]",),
    "4.2.3": (_KUBELET + "test_kubelet_client_ca_is_set[*]",
              "tests/cluster/test_tls.py::test_kubelet_tls[client-ca]"),
    "4.2.4": (_KUBELET + "test_kubelet_read_only_port_refuses_connections[*]",),
    "4.2.9": ("tests/cluster/test_tls.py::test_kubelet_serves_a_cluster_ca_certificate",),
    "4.2.14": ("tests/host/test_runtime.py::test_runtime_applies_seccomp_by_default[*-default-"
               "for-workloads]",),
    "4.3.1": ("tests/host/test_kube_proxy.py::test_kube_proxy_metrics_answer_on_loopback_only"
              "[*]",),
    "5.1.1": (_RBAC + "test_rbac_is_least_privilege[no-cluster-admin-outside-masters]",),
    "5.1.2": (_SCOPED + "[list-secrets-in-kube-system]", _SCOPED + "[get-secrets-in-default]"),
    "5.1.3": (_RBAC + "test_rbac_is_least_privilege[no-wildcard-custom-roles]",
              _BEYOND + "[everything]"),
    "5.1.4": (_BEYOND + "[create-pods-in-*]",),
    "5.1.5": (_RBAC + "test_rbac_is_least_privilege[no-default-service-account-bindings]",),
    "5.1.6": ("tests/workloads/test_workload.py::test_app_pods_do_not_mount_a_service_account_"
              "token",),
    "5.1.8": (_RBAC + "test_rbac_is_least_privilege[no-escalate-bind-impersonate]",
              _BEYOND + "[impersonate-*]", _BEYOND + "[escalate-clusterroles]",
              _BEYOND + "[bind-clusterroles]"),
    "5.1.9": (_SCOPED + "[list-persistentvolumes]",),
    "5.1.10": (_BEYOND + "[proxy-to-nodes]",),
    "5.1.11": (_BEYOND + "[approve-certificatesigningrequests]",),
    "5.1.12": (_BEYOND + "[create-mutatingwebhookconfigurations]",
               _BEYOND + "[create-validatingwebhookconfigurations]"),
    "5.1.13": (_BEYOND + "[create-tokens-in-kube-system]",),
    "5.2.1": ("tests/cluster/test_admission.py::test_app_namespace_enforces_pod_security",),
    "5.2.2": (_REJECTED + "[privileged]",),
    "5.2.3": (_REJECTED + "[hostPID]",),
    "5.2.4": (_REJECTED + "[hostIPC]",),
    "5.2.5": (_REJECTED + "[hostNetwork]",),
    "5.2.6": ("tests/workloads/test_workload.py::test_app_containers_declare_no_privilege_"
              "escalation",),
    "5.2.7": ("tests/workloads/test_nonroot.py::test_pod_asking_for_uid_0_is_rejected[*]",),
    "5.2.8": (_REJECTED + "[NET_RAW]",),
    "5.2.9": (_REJECTED + "[SYS_ADMIN]",),
    "5.2.10": (_REJECTED + "[hostProcess]",),
    "5.2.11": (_REJECTED + "[hostPath]",),
    "5.2.12": (_REJECTED + "[hostPort]",),
    "5.3.1": ("tests/egress/test_netpol.py::test_other_namespace_cannot_reach_the_app",
              "tests/egress/test_netpol.py::test_app_namespace_cannot_reach_an_arbitrary_pod"),
    "5.3.2": ("tests/egress/test_netpol.py::test_application_namespaces_have_default_deny[*]",),
    "5.4.1": ("tests/workloads/test_workload.py::test_app_containers_take_no_secret_from_"
              "their_environment",),
    "5.5.1": ("tests/workloads/test_images.py::test_image_whose_digest_nobody_signed_is_refused",
              "tests/workloads/test_images.py::test_image_by_tag_is_refused"),
    "5.6.2": ("tests/workloads/test_seccomp.py::test_keyctl_is_denied_by_the_default_seccomp_"
              "profile[*]",),
    "5.6.3": ("tests/workloads/test_nonroot.py::test_app_containers_declare_a_non_root_uid",
              "tests/workloads/test_workload.py::test_app_security_context_gives_a_read_only_"
              "root"),
    "5.6.4": ("tests/workloads/test_namespaces.py::test_default_namespace_holds_only_what_the_"
              "cluster_puts_there",),
}
NOT_YET = "no kubeproof test yet"
NO_TEST_VERDICT = "no test"
# Why a recommendation has no test, where there is more to say than NOT_YET.
NO_TEST: dict[str, str] = {
    "1.1.9": "not checked yet: the CNI configuration directory is a container runtime setting "
             "(containerd's cni conf_dir), which the table does not read yet (Manual in v1.12)",
    "1.1.10": "not checked yet: as 1.1.9 (Manual in v1.12)",
    "1.2.11": "not checked: AlwaysPullImages would make the local cluster's pods unstartable "
              "(its images are imported from tar files, not pulled; Manual in v1.12)",
    "1.2.20": "no test: the benchmark gives no value to compare (--request-timeout \"as "
              "appropriate\"; Manual)",
    "3.1.1": "no test: which users authenticate by client certificate is not visible in the "
             "API (Manual); kubeproof's app user signs in through the identity provider "
             "(auth.third-party)",
    "3.1.2": "no test: a human's use of service account tokens is not visible in the API "
             "(Manual)",
    "3.1.3": "no test: a human's use of bootstrap tokens is not visible in the API (Manual)",
    "4.2.7": "not checked: the local cluster sets --hostname-override to fix its node name, and "
             "some providers need it (Manual)",
    "4.2.8": "no test: the benchmark gives no value to compare (eventRecordQPS \"appropriate\"; "
             "Manual)",
    "4.2.11": "not checked: the local kubelet serves a certificate the cluster CA issued, from a "
              "file (4.2.9's test verifies the chain), not one it rotates through CSRs (Manual)",
    "5.1.7": "no test: membership of system:masters comes from client certificates' O field, "
             "which the API does not list (Manual); 5.1.1's test finds cluster-admin bindings",
    "5.4.2": "no test: a judgement on the secret store, not a setting (Manual)",
    "5.6.1": "no test: a judgement on how namespaces divide the workloads (Manual)",
}


@dataclass(frozen=True)
class Recommendation:
    """One recommendation of the benchmark."""

    id: str
    section: str
    title: str
    level: int  # the CIS profile level: 1 (essential, little impact) or 2 (defence in depth)
    automated: bool  # the CIS assessment status: "(Automated)", else Manual


@cache
def recommendations() -> tuple[Recommendation, ...]:
    """The benchmark's 131 recommendations, in id order."""
    text = resources.files("kubeproof").joinpath("cis-1.12.yaml").read_text()
    return tuple(Recommendation(r["id"], r["section"], r["title"], int(r["level"]),
                                bool(r["cis_automated"]))
                 for r in yaml.safe_load(text))


def ids_of(nodeid: str) -> list[str]:
    """The recommendations a test answers: the CIS id of the configuration row its
    parametrization id ends in, and those whose ANSWERED_BY patterns match it."""
    found = [cis for suffix, cis in _rows_by_id().items()
             if nodeid.endswith(f"[{suffix}]") or nodeid.endswith(f"-{suffix}]")]
    found += [cis for cis, patterns in ANSWERED_BY.items()
              if any(matches(p, nodeid) for p in patterns)]
    return sorted(set(found), key=_order)


@cache
def _rows_by_id() -> dict[str, str]:
    """{configuration row id: its CIS id}, for the rows that carry one."""
    return {check.id: check.cis for check in CHECKS if check.cis}


def _order(cis_id: str) -> tuple[int, ...]:
    return tuple(int(n) for n in cis_id.split("."))


def coverage(verdicts: dict[str, str]) -> list[dict[str, object]]:
    """The coverage table: per recommendation the tests of this run that answer it
    ({nodeid: verdict}), their verdict combined as a control's, or "no test" and the
    reason."""
    answering: dict[str, list[str]] = {}
    for nodeid in verdicts:
        for cis_id in ids_of(nodeid):
            answering.setdefault(cis_id, []).append(nodeid)
    rows = []
    for rec in recommendations():
        tests = answering.get(rec.id, [])
        rows.append({
            "id": rec.id, "title": rec.title, "section": rec.section, "level": rec.level,
            "assessment": "Automated" if rec.automated else "Manual",
            "tests": tests,
            "verdict": (control_verdict([Verdict(verdicts[t]) for t in tests]).value
                        if tests else NO_TEST_VERDICT),
            "reason": "" if tests else NO_TEST.get(rec.id, NOT_YET),
        })
    return rows
