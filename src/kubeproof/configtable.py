"""The table of configuration checks (schema: kubeproof.configchecks), with their CIS
Kubernetes Benchmark v1.12 ids: the TLS flags of every hop (tls.components), the
recommendations of CIS sections 1.2 (API server), 1.3 (controller manager), 1.4 (scheduler)
and 2 (etcd) that a flag answers, the control-plane files of section 1.1, and the kubelet's
settings and files of sections 4.1 and 4.2. Defaults are the upstream ones of Kubernetes 1.35
and etcd 3.6.

File locators (the `keys` of MODE and OWNER rows):
- `--FLAG`: the file the component's flag names; `--FLAG/PATTERN`: the directory that file is
  in, and everything in it whose name matches PATTERN (find -name, the directory included);
- `manifest`: the component's static pod manifest (`<staticPodPath>/<component>.yaml`);
- `admin.conf`: the administrative kubeconfigs on the node (ClusterAccess.admin_kubeconfigs:
  kubeadm's /etc/kubernetes/admin.conf and super-admin.conf, --admin-kubeconfig-on-node, and
  the --kubeconfig kubeproof was given, where the node has that path too);
- `unit`: the kubelet's systemd unit file and drop-ins;
- `@SETTING`: the file a kubelet setting names (its flag, else its config file's key);
- `kubeconfig`: kube-proxy's kubeconfig (its --config file's clientConnection.kubeconfig,
  which wins over --kubeconfig: measured, kube-proxy ignores flags its config file sets).
"""

from __future__ import annotations

from kubeproof.configchecks import FLAG, MODE, OWNER, SETTING, ConfigCheck, Rule

API, CM, SCHED, ETCD = "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"
CONTROL_PLANE = (API, CM, SCHED, ETCD)
SET, HTTPS, TRUE = Rule("set"), Rule("https"), Rule("eq", "true")
OFF_BY_DEFAULT_FALSE = Rule("eq", "false", default="false")  # etcd's auto-tls flags
# CIS 1.2.29's strong suites (TLS 1.2; TLS 1.3's suites are not configurable in Go).
STRONG_CIPHERS = ",".join((
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"))


KUBELET, PROXY = "kubelet", "kube-proxy"
ROOT = Rule("eq", "root:root")
PROCESS_OWNER = "(the component's process user:group)"  # replaced by the test with what it saw


def _row(cis, name, control, component, source, keys, rule, remediation) -> ConfigCheck:
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    return ConfigCheck(cis, name, control, component, source, keys, rule, remediation)


def _f(cis, name, control, component, flags, rule, remediation) -> ConfigCheck:
    return _row(cis, name, control, component, FLAG, flags, rule, remediation)


def _files(cis: str, name: str, control: str, component: str, locator: str, mode: str,
           owner: Rule | None = ROOT) -> tuple[ConfigCheck, ...]:
    """The mode row (CIS id `cis`) and, unless owner is None, the owner row (the next CIS id)
    of the files a locator finds."""
    where = f"{component}'s {name}"
    rows = [_row(cis, f"{name}-mode", control, component, MODE, locator, Rule("mode", mode),
                 f"chmod {mode} the {where}.")]
    if owner is not None:
        major, minor = cis.rsplit(".", 1)
        rows.append(_row(f"{major}.{int(minor) + 1}", f"{name}-owner", control, component,
                         OWNER, locator, owner, f"chown {owner.value} the {where}."))
    return tuple(rows)


# fmt: off
CHECKS: tuple[ConfigCheck, ...] = (
    # Certificates, keys and CAs of every hop (checklist item 1).
    _f("1.2.24", "tls-cert-file-and-key", "tls.components", API,
       ("tls-cert-file", "tls-private-key-file"), SET,
       "Serve the API server with --tls-cert-file and --tls-private-key-file."),
    _f("1.2.25", "client-ca-file", "tls.components", API, "client-ca-file", SET,
       "Set --client-ca-file to the cluster CA."),
    _f("", "etcd-servers", "tls.components", API, "etcd-servers", HTTPS,
       "Point --etcd-servers at https:// URLs only."),
    _f("1.2.26", "etcd-cafile", "tls.components", API, "etcd-cafile", SET,
       "Set --etcd-cafile to etcd's CA."),
    _f("1.2.23", "etcd-certfile-and-keyfile", "tls.components", API,
       ("etcd-certfile", "etcd-keyfile"), SET,
       "Set --etcd-certfile and --etcd-keyfile to the API server's etcd client pair."),
    _f("1.2.4", "kubelet-client-certificate-and-key", "tls.components", API,
       ("kubelet-client-certificate", "kubelet-client-key"), SET,
       "Set --kubelet-client-certificate and --kubelet-client-key."),
    _f("1.2.5", "kubelet-certificate-authority", "tls.components", API,
       "kubelet-certificate-authority", SET,
       "Set --kubelet-certificate-authority to the CA of the kubelets' serving certificates."),
    _f("", "listen-client-urls", "tls.components", ETCD, "listen-client-urls", HTTPS,
       "Listen for etcd clients on https:// URLs only."),
    _f("2.1", "cert-file-and-key-file", "tls.components", ETCD, ("cert-file", "key-file"),
       SET, "Start etcd with --cert-file and --key-file."),
    _f("", "trusted-ca-file", "tls.components", ETCD, "trusted-ca-file", SET,
       "Start etcd with --trusted-ca-file (its own CA, not the cluster's)."),
    _f("2.2", "client-cert-auth", "tls.components", ETCD, "client-cert-auth", TRUE,
       "Start etcd with --client-cert-auth=true."),
    _f("", "listen-peer-urls", "tls.components", ETCD, "listen-peer-urls", HTTPS,
       "Listen for etcd peers on https:// URLs only."),
    _f("2.4", "peer-cert-file-and-key-file", "tls.components", ETCD,
       ("peer-cert-file", "peer-key-file"), SET,
       "Start etcd with --peer-cert-file and --peer-key-file."),
    _f("", "peer-trusted-ca-file", "tls.components", ETCD, "peer-trusted-ca-file", SET,
       "Start etcd with --peer-trusted-ca-file."),
    _f("2.5", "peer-client-cert-auth", "tls.components", ETCD, "peer-client-cert-auth", TRUE,
       "Start etcd with --peer-client-cert-auth=true."),
    # CIS 2: etcd
    _f("2.3", "auto-tls", "cis.etcd", ETCD, "auto-tls", OFF_BY_DEFAULT_FALSE,
       "Remove --auto-tls (or set it to false): clients must see the CA-issued certificate."),
    _f("2.6", "peer-auto-tls", "cis.etcd", ETCD, "peer-auto-tls", OFF_BY_DEFAULT_FALSE,
       "Remove --peer-auto-tls (or set it to false)."),
    # CIS 1.2: API server
    _f("1.2.1", "anonymous-auth", "cis.api-server", API, "anonymous-auth",
       Rule("eq", "false", default="true"), "Start kube-apiserver with --anonymous-auth=false."),
    _f("1.2.3", "deny-service-external-ips", "cis.api-server", API, "enable-admission-plugins",
       Rule("has", "DenyServiceExternalIPs"),
       "Add DenyServiceExternalIPs to --enable-admission-plugins."),
    _f("1.2.7", "authorization-mode-node", "cis.api-server", API, "authorization-mode",
       Rule("has", "Node", default="AlwaysAllow"),
       "Start kube-apiserver with --authorization-mode=Node,RBAC."),
    _f("1.2.9", "event-rate-limit-admission", "cis.api-server", API, "enable-admission-plugins",
       Rule("has", "EventRateLimit"),
       "Add EventRateLimit to --enable-admission-plugins, with its limits in the "
       "--admission-control-config-file."),
    _f("1.2.10", "no-always-admit", "cis.api-server", API, "enable-admission-plugins",
       Rule("lacks", "AlwaysAdmit", default=""),
       "Remove AlwaysAdmit from --enable-admission-plugins."),
    _f("1.2.12", "service-account-admission", "cis.api-server", API,
       "disable-admission-plugins", Rule("lacks", "ServiceAccount", default=""),
       "Remove ServiceAccount from --disable-admission-plugins."),
    _f("1.2.13", "namespace-lifecycle-admission", "cis.api-server", API,
       "disable-admission-plugins", Rule("lacks", "NamespaceLifecycle", default=""),
       "Remove NamespaceLifecycle from --disable-admission-plugins."),
    _f("1.2.14", "node-restriction-admission", "cis.api-server", API,
       "enable-admission-plugins", Rule("has", "NodeRestriction"),
       "Add NodeRestriction to --enable-admission-plugins (with --authorization-mode Node)."),
    _f("1.2.15", "profiling", "cis.api-server", API, "profiling",
       Rule("eq", "false", default="true"), "Start kube-apiserver with --profiling=false."),
    _f("1.2.16", "audit-log-path", "cis.api-server", API, "audit-log-path", SET,
       "Set --audit-log-path to a file kept with the node's logs."),
    _f("1.2.17", "audit-log-maxage", "cis.api-server", API, "audit-log-maxage",
       Rule("gte", "30"), "Set --audit-log-maxage=30 (days) or more."),
    _f("1.2.18", "audit-log-maxbackup", "cis.api-server", API, "audit-log-maxbackup",
       Rule("gte", "10"), "Set --audit-log-maxbackup=10 or more."),
    _f("1.2.19", "audit-log-maxsize", "cis.api-server", API, "audit-log-maxsize",
       Rule("gte", "100"), "Set --audit-log-maxsize=100 (MB) or more."),
    _f("1.2.21", "service-account-lookup", "cis.api-server", API, "service-account-lookup",
       Rule("eq", "true", default="true"),
       "Remove --service-account-lookup=false: deleted service accounts' tokens must fail."),
    _f("1.2.22", "service-account-key-file", "cis.api-server", API,
       "service-account-key-file", SET,
       "Set --service-account-key-file to the public key of the token signing key."),
    _f("1.2.29", "strong-ciphers", "cis.api-server", API, "tls-cipher-suites",
       Rule("within", STRONG_CIPHERS),
       "Set --tls-cipher-suites to ECDHE suites with AES-GCM or ChaCha20-Poly1305 only (Go's "
       "default list also offers CBC suites)."),
    _f("1.2.30", "service-account-extend-token-expiration", "cis.api-server", API,
       "service-account-extend-token-expiration", Rule("eq", "false", default="true"),
       "Start kube-apiserver with --service-account-extend-token-expiration=false."),
    # CIS 1.3: controller manager
    _f("1.3.1", "terminated-pod-gc-threshold", "cis.controller-manager", CM,
       "terminated-pod-gc-threshold", SET,
       "Set --terminated-pod-gc-threshold (for example 10)."),
    _f("1.3.2", "profiling", "cis.controller-manager", CM, "profiling",
       Rule("eq", "false", default="true"),
       "Start kube-controller-manager with --profiling=false."),
    _f("1.3.3", "use-service-account-credentials", "cis.controller-manager", CM,
       "use-service-account-credentials", Rule("eq", "true", default="false"),
       "Start kube-controller-manager with --use-service-account-credentials=true."),
    _f("1.3.4", "service-account-private-key-file", "cis.controller-manager", CM,
       "service-account-private-key-file", SET,
       "Set --service-account-private-key-file to the token signing key."),
    _f("1.3.5", "root-ca-file", "cis.controller-manager", CM, "root-ca-file", SET,
       "Set --root-ca-file to the cluster CA."),
    _f("1.3.6", "rotate-kubelet-server-certificate", "cis.controller-manager", CM,
       "feature-gates", Rule("lacks", "RotateKubeletServerCertificate=false", default=""),
       "Remove RotateKubeletServerCertificate=false from --feature-gates."),
    _f("1.3.7", "bind-address", "cis.controller-manager", CM, "bind-address",
       Rule("eq", "127.0.0.1", default="0.0.0.0"),
       "Start kube-controller-manager with --bind-address=127.0.0.1."),
    # CIS 1.4: scheduler
    _f("1.4.1", "profiling", "cis.scheduler", SCHED, "profiling",
       Rule("eq", "false", default="true"), "Start kube-scheduler with --profiling=false."),
    _f("1.4.2", "bind-address", "cis.scheduler", SCHED, "bind-address",
       Rule("eq", "127.0.0.1", default="0.0.0.0"),
       "Start kube-scheduler with --bind-address=127.0.0.1."),
    # CIS 1.1: control-plane files
    *_files("1.1.1", "static-pod-manifest", "cis.control-plane-files", API, "manifest", "600"),
    *_files("1.1.3", "static-pod-manifest", "cis.control-plane-files", CM, "manifest", "600"),
    *_files("1.1.5", "static-pod-manifest", "cis.control-plane-files", SCHED, "manifest", "600"),
    *_files("1.1.7", "static-pod-manifest", "cis.control-plane-files", ETCD, "manifest", "600"),
    *_files("1.1.11", "data-dir", "cis.control-plane-files", ETCD, "--data-dir", "700",
            owner=Rule("eq", PROCESS_OWNER)),
    *_files("1.1.13", "admin-kubeconfig", "cis.control-plane-files", API, "admin.conf", "600"),
    *_files("1.1.15", "kubeconfig", "cis.control-plane-files", SCHED, "--kubeconfig", "600"),
    *_files("1.1.17", "kubeconfig", "cis.control-plane-files", CM, "--kubeconfig", "600"),
    _row("1.1.19", "pki-owner", "cis.control-plane-files", API, OWNER, "--client-ca-file/*",
         ROOT, "chown -R root:root the API server's PKI directory."),
    _row("1.1.20", "pki-certificate-mode", "cis.control-plane-files", API, MODE,
         "--client-ca-file/*.crt", Rule("mode", "644"),
         "chmod 644 the certificates in the API server's PKI directory."),
    _row("1.1.21", "pki-key-mode", "cis.control-plane-files", API, MODE,
         "--client-ca-file/*.key", Rule("mode", "600"),
         "chmod 600 the keys in the API server's PKI directory."),
    # CIS 4.1: kubelet files (per node)
    *_files("4.1.1", "service-file", "host.kubelet-hardening", KUBELET, "unit", "600"),
    *_files("4.1.5", "kubeconfig", "host.kubelet-hardening", KUBELET, "--kubeconfig", "600"),
    *_files("4.1.7", "client-ca-file", "host.kubelet-hardening", KUBELET, "@client-ca-file",
            "644"),
    *_files("4.1.9", "config", "host.kubelet-hardening", KUBELET, "--config", "600"),
    # CIS 4.1.3, 4.1.4: kube-proxy's kubeconfig (per node)
    *_files("4.1.3", "kubeconfig", "cis.kube-proxy", PROXY, "kubeconfig", "600"),
    # CIS 4.2: kubelet settings (per node; a flag overrides the config file)
    _row("4.2.1", "anonymous-auth", "host.kubelet-hardening", KUBELET, SETTING,
         "anonymous-auth", Rule("eq", "false"),
         "Set authentication.anonymous.enabled: false in the kubelet's config file (or "
         "--anonymous-auth=false)."),
    _row("4.2.2", "authorization-mode", "host.kubelet-hardening", KUBELET, SETTING,
         "authorization-mode", Rule("eq", "Webhook"),
         "Set authorization.mode: Webhook in the kubelet's config file."),
    _row("4.2.4", "read-only-port", "host.kubelet-hardening", KUBELET, SETTING,
         "read-only-port", Rule("eq", "0"),
         "Set readOnlyPort: 0 in the kubelet's config file."),
    _row("4.2.5", "streaming-connection-idle-timeout", "host.kubelet-hardening", KUBELET,
         SETTING, "streaming-connection-idle-timeout", Rule("nonzero"),
         "Remove streamingConnectionIdleTimeout: 0 from the kubelet's config file (default "
         "4h): idle exec and port-forward streams must time out."),
    _row("4.2.6", "make-iptables-util-chains", "host.kubelet-hardening", KUBELET, SETTING,
         "make-iptables-util-chains", Rule("eq", "true"),
         "Set makeIPTablesUtilChains: true in the kubelet's config file."),
    _row("4.2.10", "rotate-certificates", "host.kubelet-hardening", KUBELET, SETTING,
         "rotate-certificates", Rule("eq", "true"),
         "Set rotateCertificates: true in the kubelet's config file."),
    _row("4.2.12", "strong-ciphers", "host.kubelet-hardening", KUBELET, SETTING,
         "tls-cipher-suites", Rule("within", STRONG_CIPHERS),
         "Set tlsCipherSuites in the kubelet's config file to ECDHE suites with AES-GCM or "
         "ChaCha20-Poly1305 only (Go's default list also offers CBC suites)."),
    _row("4.2.13", "pod-pids-limit", "host.kubelet-hardening", KUBELET, SETTING,
         "pod-max-pids", Rule("gte", "1"),
         "Set podPidsLimit in the kubelet's config file (the default -1 is no limit)."),
)
# fmt: on


def rows(sources: tuple[str, ...], components: tuple[str, ...]) -> list[ConfigCheck]:
    """The rows of some sources and components (CONTROL_PLANE, (KUBELET,), (PROXY,))."""
    return [c for c in CHECKS if c.source in sources and c.component in components]
