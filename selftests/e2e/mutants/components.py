"""Control-plane and node weakenings: components restarted with weaker flags or files."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import yaml

from kubeproof.localcluster import hids
from kubeproof.localcluster import layout as L
from kubeproof.localcluster.cluster import LocalCluster
from mutants.base import Mutant, Step, cluster_role_binding, create_steps, restart
from mutants.rbac import APP_USER_CANARIES, RBAC

TLS = "tests/cluster/test_tls.py::"
FLAGS = "tests/cluster/test_component_flags.py::"
KUBELET = "tests/host/test_kubelet.py::"
PROXY = "tests/host/test_kube_proxy.py::"
FILES = "tests/cluster/test_component_files.py::test_component_file"
NOBODY = 65534


def chain(*pairs: tuple[Step, Step]) -> tuple[Step, Step]:
    """Apply/revert steps made of several: applied in order, reverted in reverse order."""

    def apply(c: LocalCluster) -> None:
        for step, _ in pairs:
            step(c)

    def revert(c: LocalCluster) -> None:
        for _, step in reversed(pairs):
            step(c)

    return apply, revert


def restart_two(component: str, flags: dict[str, str | None],
                dependent: str, dependent_flags: dict[str, str | None]) -> tuple[Step, Step]:
    """Restart a component and one that depends on it (etcd, then the API server), both with
    flags changed; revert restarts both with their hardened flags."""

    def apply(c: LocalCluster) -> None:
        c.flag_overrides[dependent] = dependent_flags
        c.restart(component, flags)

    def revert(c: LocalCluster) -> None:
        c.flag_overrides[dependent] = {}
        c.restart(component, {})

    return apply, revert


def kubelet_config(**changes) -> tuple[Step, Step]:
    """Restart the kubelet with top-level keys of its config file changed."""
    return (lambda c: c.restart("kubelet", kubelet_config=changes),
            lambda c: c.restart("kubelet"))


def config_files(files: dict[str, tuple[str | Callable[[LocalCluster], str], str]],
                 **flags: str | None) -> tuple[Step, Step]:
    """Write files into the cluster's config directory ({name: (text, or a function of the
    cluster giving it, flag naming it)}) and restart the API server with those flags (and
    others changed); revert restarts it hardened and removes the files. Their names start
    with `mutant-`, so they never replace (nor the revert delete) a file of the cluster's."""

    def path_of(c: LocalCluster, name: str) -> Path:
        return c.layout.config / f"mutant-{name}"

    def apply(c: LocalCluster) -> None:
        overrides = {k.replace("_", "-"): v for k, v in flags.items()}
        for name, (text, flag) in files.items():
            path = path_of(c, name)
            path.write_text(text(c) if callable(text) else text)
            path.chmod(0o600)
            overrides[flag] = str(path)
        c.restart("kube-apiserver", overrides)

    def revert(c: LocalCluster) -> None:
        c.restart("kube-apiserver", {})
        for name in files:
            path_of(c, name).unlink(missing_ok=True)

    return apply, revert


def encryption_identity_first() -> tuple[Step, Step]:
    """The API server's EncryptionConfiguration with identity first: new secrets are written
    in clear. Its key stays second, as an operator turning encryption off must keep it: without
    it the API server cannot read the secrets already encrypted (policy-controller's
    certificates among them) and never gets ready."""

    def identity_first(c: LocalCluster) -> str:
        config = yaml.safe_load((c.layout.config / "encryption.yaml").read_text())
        for resource in config["resources"]:
            resource["providers"] = [{"identity": {}}, *(
                p for p in resource["providers"] if "identity" not in p)]
        return yaml.safe_dump(config, sort_keys=False)

    return config_files({"encryption-identity-first.yaml": (identity_first,
                                                            "encryption-provider-config")})


def serve_from_cert_dir() -> tuple[Step, Step]:
    """The API server without --tls-cert-file/--tls-private-key-file, serving the same
    certificate from --cert-dir (so every client still works, only the flags are gone)."""

    def apply(c: LocalCluster) -> None:
        certs = c.layout.run / "apiserver-cert-dir"
        certs.mkdir(parents=True, exist_ok=True)
        shutil.copy(c.layout.pki / "apiserver.crt", certs / "apiserver.crt")
        shutil.copy(c.layout.pki / "apiserver.key", certs / "apiserver.key")
        c.restart("kube-apiserver", {"tls-cert-file": None, "tls-private-key-file": None,
                                     "cert-dir": str(certs)})

    def revert(c: LocalCluster) -> None:
        c.restart("kube-apiserver", {})
        shutil.rmtree(c.layout.run / "apiserver-cert-dir", ignore_errors=True)

    return apply, revert


# The flags etcd's config file keeps in its client-transport-security section (and, without
# their "peer-", in peer-transport-security).
ETCD_SECURITY = ("cert-file", "key-file", "client-cert-auth", "trusted-ca-file", "auto-tls")


def etcd_config_file(**changes: str | None) -> tuple[Step, Step]:
    """etcd restarted with --config-file alone, from a file that holds its hardened flags with
    changes (None drops one): etcd then ignores flags, so a check must read the file; revert
    restarts it from its flags and removes the file."""
    path_name = "etcd-config.yaml"

    def apply(c: LocalCluster) -> None:
        settings = c.flags()["etcd"]
        for name, value in changes.items():
            settings.pop(name.replace("_", "-"), None)
            if value is not None:
                settings[name.replace("_", "-")] = value
        config: dict = {}
        for flag, value in settings.items():
            value = {"true": True, "false": False}.get(value, int(value) if value.isdigit()
                                                       else value)
            if flag in ETCD_SECURITY:
                config.setdefault("client-transport-security", {})[flag] = value
            elif flag.startswith("peer-") and flag[len("peer-"):] in ETCD_SECURITY:
                config.setdefault("peer-transport-security", {})[flag[len("peer-"):]] = value
            else:
                config[flag] = value
        path = c.layout.config / path_name
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        c.restart("etcd", {**dict.fromkeys(settings), "config-file": str(path)})

    def revert(c: LocalCluster) -> None:
        c.restart("etcd", {})
        (c.layout.config / path_name).unlink(missing_ok=True)

    return apply, revert


def aide_database_removed() -> tuple[Step, Step]:
    """AIDE's database moved away (AIDE then has nothing to check against); revert moves it
    back."""

    def moved(c: LocalCluster) -> Path:
        return hids.database(c.layout).with_suffix(".db.kubeproof-mutant")

    return (lambda c: hids.database(c.layout).rename(moved(c)),
            lambda c: moved(c).rename(hids.database(c.layout)))


WEAK_AIDE_RULE = "Watched = p+u+g"


def aide_rule_without_content() -> tuple[Step, Step]:
    """AIDE's rule compares only mode and owner, not content or size; revert restores it."""

    def swap(c: LocalCluster, old: str, new: str) -> None:
        config = Path(hids.file_integrity(c.layout).aide_config)
        config.write_text(config.read_text().replace(old, new))

    return (lambda c: swap(c, hids.RULE, WEAK_AIDE_RULE),
            lambda c: swap(c, WEAK_AIDE_RULE, hids.RULE))


def loosen_files(files: Callable[[LocalCluster], dict[Path, int]]) -> tuple[Step, Step]:
    """Files ({path: mode}, found on the running cluster) given that mode and owned by nobody;
    revert restores their owner and mode."""
    saved: dict[Path, os.stat_result] = {}

    def apply(c: LocalCluster) -> None:
        for path, mode in files(c).items():
            saved[path] = path.stat()
            os.chown(path, NOBODY, NOBODY)
            path.chmod(mode)

    def revert(c: LocalCluster) -> None:
        for path, st in saved.items():
            os.chown(path, st.st_uid, st.st_gid)
            path.chmod(st.st_mode & 0o7777)
        saved.clear()

    return apply, revert


def node_files(c: LocalCluster) -> dict[Path, int]:
    """The kubelet's config file and kubeconfig and kube-proxy's kubeconfig, world-writable."""
    flags = c.flags()["kubelet"]
    return {Path(flags["config"]): 0o666, Path(flags["kubeconfig"]): 0o666,
            c.layout.kubeconfig("kube-proxy"): 0o666}


def control_plane_files(c: LocalCluster) -> dict[Path, int]:
    """The kubeconfigs of CIS 1.1 world-readable, etcd's data directory open to all, a PKI
    certificate world-writable and a PKI key group-readable."""
    flags = c.flags()
    return {c.layout.admin_kubeconfig: 0o644,
            Path(flags["kube-scheduler"]["kubeconfig"]): 0o644,
            Path(flags["kube-controller-manager"]["kubeconfig"]): 0o644,
            Path(flags["etcd"]["data-dir"]): 0o755,
            c.layout.pki / "ca.crt": 0o666, c.layout.pki / "sa.key": 0o640}


def kube_proxy_config(**changes) -> tuple[Step, Step]:
    """Restart kube-proxy with a copy of its config file with top-level keys changed (it
    ignores flags that its --config file sets: measured); revert restarts it hardened."""

    def apply(c: LocalCluster) -> None:
        path = Path(c.flags()["kube-proxy"]["config"])
        mutant = path.with_name("kube-proxy-mutant.yaml")
        mutant.write_text(yaml.safe_dump({**yaml.safe_load(path.read_text()), **changes}))
        c.restart("kube-proxy", {"config": str(mutant)})

    def revert(c: LocalCluster) -> None:
        c.restart("kube-proxy")
        c.layout.config.joinpath("kube-proxy-mutant.yaml").unlink(missing_ok=True)

    return apply, revert


def etcd_trusts_the_cluster_ca() -> tuple[Step, Step]:
    """Restart etcd with a trusted-CA bundle of its own CA and the cluster CA (the API
    server's etcd client certificate still verifies); revert restarts it hardened."""

    def bundle(c: LocalCluster) -> Path:
        return c.layout.config / "etcd-and-cluster-ca.crt"

    def apply(c: LocalCluster) -> None:
        pki = c.layout.pki
        bundle(c).write_text((pki / "etcd-ca.crt").read_text() + (pki / "ca.crt").read_text())
        c.restart("etcd", {"trusted-ca-file": str(bundle(c))})

    def revert(c: LocalCluster) -> None:
        c.restart("etcd")
        bundle(c).unlink(missing_ok=True)

    return apply, revert


ABAC_POLICY = ('{"apiVersion": "abac.authorization.kubernetes.io/v1beta1", "kind": "Policy", '
               '"spec": {"user": "kubeproof-mutant-abac", "namespace": "*", "resource": "*"}}\n')
TOKENS = "kubeproof-mutant-token,kubeproof-mutant,kubeproof-mutant-uid\n"
AUDIT_NOTHING = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: None\n"
OPEN_KUBELET = {"authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": True},
                                   "x509": {}},
                "authorization": {"mode": "AlwaysAllow"}, "rotateCertificates": False,
                "makeIPTablesUtilChains": False, "tlsCipherSuites": None, "podPidsLimit": None,
                "streamingConnectionIdleTimeout": "0s"}

MUTANTS = (
    Mutant(
        "API server authorization AlwaysAllow",
        ("tests/cluster/test_rbac.py::test_api_server_authorization_mode[RBAC-enabled]",
         "tests/cluster/test_rbac.py::test_api_server_authorization_mode[AlwaysAllow-absent]",
         "tests/cluster/test_rbac.py::test_app_user_cannot_read_pods_in_*",
         "tests/cluster/test_rbac.py::test_app_user_has_nothing_cluster_scoped[*]",
         "tests/cluster/test_rbac.py::test_app_user_has_no_power_beyond_its_namespace[*]",
         FLAGS + "test_component_flag[1.2.7-authorization-mode-node]"),
        *restart("kube-apiserver", authorization_mode="AlwaysAllow"),
    ),
    Mutant(
        "API server also authorizes by ABAC policy and static tokens",
        ("tests/cluster/test_rbac.py::test_api_server_authorization_mode[ABAC-absent]",
         "tests/cluster/test_auth.py::test_no_static_credential_file[token-auth-file]"),
        *config_files({"tokens.csv": (TOKENS, "token-auth-file"),
                       "abac.jsonl": (ABAC_POLICY, "authorization-policy-file")},
                      authorization_mode="Node,RBAC,ABAC"),
    ),
    Mutant(
        "API server without its identity provider's JWT authenticator",
        ("tests/cluster/test_auth.py::test_external_identity_provider_configured",
         "tests/cluster/test_auth.py::test_app_user_signs_in_with_the_identity_providers_token"),
        *restart("kube-apiserver", authentication_config=None),
        # The app user's token is then refused: every test acting as it cannot run.
        breaks=(*APP_USER_CANARIES, RBAC + "test_app_user_can_work_in_its_namespace[*]"),
    ),
    Mutant(
        "API server serves anonymous requests, and anonymous is cluster-admin",
        ("tests/cluster/test_auth.py::test_anonymous_request_is_refused[*]",
         "tests/cluster/test_rbac.py::test_rbac_is_least_privilege[no-cluster-admin-outside-masters]",
         "tests/cluster/test_rbac.py::test_rbac_is_least_privilege[no-broad-group-bindings]",
         FLAGS + "test_component_flag[1.2.1-anonymous-auth]"),
        *chain(restart("kube-apiserver", anonymous_auth="true"),
               create_steps(cluster_role_binding("kubeproof-mutant-anonymous", "cluster-admin",
                                                 ("Group", "system:unauthenticated")))),
    ),
    Mutant(
        # CIS 1.2's other flags, each weakened; the cluster still serves every probe.
        "API server below CIS 1.2 (profiling, admission plugins, audit retention, token "
        "expiry and lookup, CBC ciphers)",
        tuple(FLAGS + f"test_component_flag[1.2.{n}]" for n in (
            "3-deny-service-external-ips", "9-event-rate-limit-admission", "10-no-always-admit",
            "12-service-account-admission", "13-namespace-lifecycle-admission",
            "14-node-restriction-admission",
            "15-profiling", "17-audit-log-maxage", "18-audit-log-maxbackup",
            "19-audit-log-maxsize", "21-service-account-lookup", "29-strong-ciphers",
            "30-service-account-extend-token-expiration")),
        *restart("kube-apiserver", enable_admission_plugins="AlwaysAdmit",
                 disable_admission_plugins="ServiceAccount,NamespaceLifecycle",
                 profiling="true", audit_log_maxage="7", audit_log_maxbackup="2",
                 audit_log_maxsize="50", service_account_lookup="false",
                 service_account_extend_token_expiration="true",
                 tls_cipher_suites="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
                                   "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    ),
    Mutant(
        "controller manager and scheduler below CIS 1.3 and 1.4 (profiling, shared "
        "credentials, no GC threshold, signing key or root CA, no server certificate "
        "rotation, every address)",
        (*(FLAGS + f"test_component_flag[1.3.{n}]" for n in (
            "1-terminated-pod-gc-threshold", "2-profiling", "3-use-service-account-credentials",
            "4-service-account-private-key-file", "5-root-ca-file",
            "6-rotate-kubelet-server-certificate", "7-bind-address")),
         FLAGS + "test_component_flag[1.4.1-profiling]",
         FLAGS + "test_component_flag[1.4.2-bind-address]"),
        *chain(restart("kube-controller-manager", terminated_pod_gc_threshold=None,
                       profiling="true", use_service_account_credentials="false",
                       service_account_private_key_file=None, root_ca_file=None,
                       feature_gates="RotateKubeletServerCertificate=false",
                       bind_address="0.0.0.0"),
               restart("kube-scheduler", profiling="true", bind_address="0.0.0.0")),
    ),
    Mutant(
        "etcd generates self-signed certificates (auto-tls, peer-auto-tls)",
        (FLAGS + "test_component_flag[2.3-auto-tls]",
         FLAGS + "test_component_flag[2.6-peer-auto-tls]"),
        *restart("etcd", auto_tls="true", peer_auto_tls="true"),
    ),
    Mutant(
        "API server accepts TLS 1.0",
        (TLS + "test_api_server_refuses_legacy_tls[*]",
         FLAGS + "test_component_flag[1.2.29-strong-ciphers]"),
        # TLS 1.0 has no GCM suites: the hardened cipher list alone refuses it, so a CBC suite
        # is offered too.
        *restart("kube-apiserver", tls_min_version="VersionTLS10",
                 tls_cipher_suites="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
                                   "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    ),
    Mutant(
        "API server serves its certificate from --cert-dir, not --tls-cert-file",
        (FLAGS + "test_component_flag[1.2.24-tls-cert-file-and-key]",),
        *serve_from_cert_dir(),
    ),
    Mutant(
        "API server writes secrets unencrypted (identity first)",
        ("tests/cluster/test_encryption.py::*",),
        *encryption_identity_first(),
    ),
    Mutant(
        "API server's audit policy records nothing",
        ("tests/cluster/test_audit.py::test_audit_log_records_our_request",),
        *config_files({"audit-nothing.yaml": (AUDIT_NOTHING, "audit-policy-file")}),
    ),
    Mutant(
        "API server without audit",
        ("tests/cluster/test_audit.py::test_audit_is_configured[*]",
         *(FLAGS + f"test_component_flag[1.2.{n}]" for n in (
             "16-audit-log-path", "17-audit-log-maxage", "18-audit-log-maxbackup",
             "19-audit-log-maxsize"))),
        *restart("kube-apiserver", audit_policy_file=None, audit_log_path=None,
                 audit_log_maxage=None, audit_log_maxbackup=None, audit_log_maxsize=None),
    ),
    Mutant(
        "etcd without client certificate auth",
        ("tests/cluster/test_etcd.py::test_etcd_requires_client_certificate",
         FLAGS + "test_component_flag[etcd-trusted-ca-file]",
         FLAGS + "test_component_flag[2.2-client-cert-auth]"),
        # etcd asks for client certificates whenever it has a trusted CA file
        *restart("etcd", client_cert_auth="false", trusted_ca_file=None),
    ),
    Mutant(
        "etcd also trusts the cluster CA for its clients",
        ("tests/cluster/test_etcd.py::test_etcd_refuses_client_certificates_of_the_cluster_ca",),
        *etcd_trusts_the_cluster_ca(),
    ),
    Mutant(
        "AIDE database removed",
        ("tests/host/test_hids.py::*",),
        *aide_database_removed(),
    ),
    Mutant(
        "AIDE's rule ignores file content",
        ("tests/host/test_hids.py::test_aide_reports_a_changed_file_in_its_scope[*]",),
        *aide_rule_without_content(),
    ),
    Mutant(
        # etcd's own precedence: the file replaces every flag. The file's other TLS settings
        # (certificates, https:// URLs, peers) are hardened: their checks must still pass.
        "etcd from a config file without client certificate auth",
        ("tests/cluster/test_etcd.py::test_etcd_requires_client_certificate",
         FLAGS + "test_component_flag[etcd-trusted-ca-file]",
         FLAGS + "test_component_flag[2.2-client-cert-auth]"),
        *etcd_config_file(client_cert_auth="false", trusted_ca_file=None),
    ),
    Mutant(
        "etcd and the API server talk plain HTTP",
        (FLAGS + "test_component_flag[etcd-listen-client-urls]",
         FLAGS + "test_component_flag[2.1-cert-file-and-key-file]",
         FLAGS + "test_component_flag[kube-apiserver-etcd-servers]",
         FLAGS + "test_component_flag[1.2.26-etcd-cafile]",
         FLAGS + "test_component_flag[1.2.23-etcd-certfile-and-keyfile]"),
        *restart_two("etcd", {"listen-client-urls": "http://127.0.0.1:2379",
                              "advertise-client-urls": "http://127.0.0.1:2379",
                              "cert-file": None, "key-file": None, "trusted-ca-file": None,
                              "client-cert-auth": None},
                     "kube-apiserver", {"etcd-servers": "http://127.0.0.1:2379",
                                        "etcd-cafile": None, "etcd-certfile": None,
                                        "etcd-keyfile": None}),
        # Their canary reads etcd over TLS with the client certificate.
        breaks=("tests/cluster/test_etcd.py::test_etcd_requires_client_certificate",
                "tests/cluster/test_etcd.py::test_etcd_refuses_client_certificates_of_the_"
                "cluster_ca",
                "tests/cluster/test_encryption.py::test_secret_is_encrypted_in_etcd"),
    ),
    Mutant(
        "etcd peers talk plain HTTP",
        (FLAGS + "test_component_flag[etcd-listen-peer-urls]",
         FLAGS + "test_component_flag[2.4-peer-cert-file-and-key-file]",
         FLAGS + "test_component_flag[etcd-peer-trusted-ca-file]",
         FLAGS + "test_component_flag[2.5-peer-client-cert-auth]"),
        *restart("etcd", listen_peer_urls="http://127.0.0.1:2380",
                 initial_advertise_peer_urls="http://127.0.0.1:2380",
                 initial_cluster="kubeproof-node=http://127.0.0.1:2380",
                 peer_cert_file=None, peer_key_file=None, peer_trusted_ca_file=None,
                 peer_client_cert_auth=None),
    ),
    Mutant(
        "API server does not verify the kubelet's certificate, which is self-signed",
        (FLAGS + "test_component_flag[1.2.5-kubelet-certificate-authority]",
         TLS + "test_kubelet_serves_a_cluster_ca_certificate"),
        *chain(restart("kube-apiserver", kubelet_certificate_authority=None),
               kubelet_config(tlsCertFile=None, tlsPrivateKeyFile=None)),
    ),
    Mutant(
        "kubelet open (anonymous allowed, AlwaysAllow, no client CA, no certificate rotation, "
        "no iptables utility chains, CBC ciphers, no PID limit, no stream idle timeout), and "
        "the API server calls it without a client certificate",
        (FLAGS + "test_component_flag[1.2.4-kubelet-client-certificate-and-key]",
         KUBELET + "test_kubelet_setting_is_hardened[*-anonymous-auth]",
         KUBELET + "test_kubelet_setting_is_hardened[*-authorization-mode]",
         KUBELET + "test_kubelet_setting_is_hardened[*-rotate-certificates]",
         KUBELET + "test_kubelet_setting_is_hardened[*-make-iptables-util-chains]",
         KUBELET + "test_kubelet_setting_is_hardened[*-strong-ciphers]",
         KUBELET + "test_kubelet_setting_is_hardened[*-pod-pids-limit]",
         KUBELET + "test_kubelet_setting_is_hardened[*-streaming-connection-idle-timeout]",
         KUBELET + "test_kubelet_client_ca_is_set[*]",
         KUBELET + "test_kubelet_refuses_anonymous_requests[*]",
         TLS + "test_kubelet_tls[client-ca]"),
        *chain(kubelet_config(**OPEN_KUBELET),
               restart("kube-apiserver", kubelet_client_certificate=None,
                       kubelet_client_key=None)),
    ),
    Mutant(
        "etcd also listens on the node's address",
        ("tests/cluster/test_etcd.py::test_workload_pod_cannot_reach_etcd[*]",),
        *restart("etcd", listen_client_urls=f"https://127.0.0.1:2379,https://{L.NODE_IP}:2379",
                 listen_peer_urls=f"https://127.0.0.1:2380,https://{L.NODE_IP}:2380"),
    ),
    Mutant(
        "kubelet read-only port open",
        (KUBELET + "test_kubelet_setting_is_hardened[*-read-only-port]",
         KUBELET + "test_kubelet_read_only_port_refuses_connections[*]"),
        *restart("kubelet", read_only_port="10255"),
    ),
    Mutant(
        "kubelet and kube-proxy files world-writable and owned by nobody",
        (KUBELET + "test_kubelet_file_is_guarded[*-4.1.5-*]",
         KUBELET + "test_kubelet_file_is_guarded[*-4.1.6-*]",
         KUBELET + "test_kubelet_file_is_guarded[*-4.1.9-*]",
         KUBELET + "test_kubelet_file_is_guarded[*-4.1.10-*]",
         PROXY + "test_kube_proxy_kubeconfig_is_guarded[*]"),
        *loosen_files(node_files),
    ),
    Mutant(
        "control-plane kubeconfigs, etcd data, PKI files readable and owned by nobody",
        (*(f"{FILES}[1.1.{n}-*]" for n in range(11, 22)),
         KUBELET + "test_kubelet_file_is_guarded[*-4.1.7-*]",  # its client CA is the cluster's
         KUBELET + "test_kubelet_file_is_guarded[*-4.1.8-*]"),
        *loosen_files(control_plane_files),
    ),
    Mutant(
        "kube-proxy metrics bound to every address",
        (PROXY + "test_kube_proxy_metrics_answer_on_loopback_only[*]",),
        *kube_proxy_config(metricsBindAddress="0.0.0.0:10249"),
    ),
    Mutant(
        "kubelet seccompDefault off",
        ("tests/workloads/test_seccomp.py::*[no-profile-declared]",
         "tests/host/test_runtime.py::test_runtime_applies_seccomp_by_default[*-default-for-workloads]"),
        *kubelet_config(seccompDefault=False),
    ),
)
