"""The control catalogue: one record per control of CONTROLS.md, the single source of ids,
markers, checklist items and remediation."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

# Checklist items of "11 ways (not) to get hacked" (Kubernetes blog, 2018-07-18).
CHECKLIST = {
    1: "TLS everywhere",
    2: "RBAC least privilege, no ABAC, monitor logs",
    3: "third-party auth for the API server",
    4: "separate and firewall etcd",
    5: "rotate encryption keys",
    6: "Linux security features and pod security policies",
    7: "statically analyse YAML",
    8: "run containers as non-root",
    9: "network policies",
    10: "scan images and run IDS",
    11: "run a service mesh",
}

KINDS = ("probe", "config", "config+probe")


@dataclass(frozen=True)
class Control:
    """One security control: its id, what it proves and how to fix a failure."""

    id: str
    items: tuple[int, ...]
    kind: str
    title: str
    remediation: str
    references: tuple[str, ...] = ()
    seed: bool = False
    check: str = ""  # what the test does, as docs/CONTROLS.md's "check" column says it

    @property
    def area(self) -> str:
        """The control's area, the id's prefix (``rbac`` for ``rbac.authorization-mode``)."""
        return self.id.split(".", 1)[0]

    @property
    def item_label(self) -> str:
        """The checklist items as report text, e.g. ``1, 2``."""
        return ", ".join(str(i) for i in self.items)

    @property
    def markers(self) -> tuple[str, ...]:
        """The marker names this control's tests carry."""
        names = ["acceptance", self.area]
        if self.seed:
            names.append("seed")
        names.extend(f"item{i}" for i in self.items)
        return tuple(names)


def _c(id_, items, kind, title, remediation, refs=(), seed=False, check="") -> Control:
    items = (items,) if isinstance(items, int) else tuple(items)
    return Control(id_, items, kind, title, remediation, tuple(refs), seed, check)


# fmt: off
CONTROLS: tuple[Control, ...] = (
    # Host
    _c("host.selinux-enforcing", 6, "config",
       "SELinux is loaded, enforcing now and configured enforcing for the next boot",
       "Set SELINUX=enforcing in /etc/selinux/config and run `setenforce 1`.", seed=True,
       check="SELinux loaded, current mode Enforcing, and configured Enforcing for the next boot"),
    _c("host.runtime-seccomp", 6, "config",
       "The container runtime has seccomp enabled with a default profile",
       "Build the runtime with seccomp and keep its default profile (containerd: do not set "
       "`unset_seccomp_profile`; kubelet: `seccompDefault: true`).", seed=True,
       check="the container runtime has seccomp enabled with a default profile (docker info "
             "security options / containerd CRI config)"),
    _c("host.runtime-selinux", 6, "config",
       "The container runtime labels containers with SELinux",
       "Enable SELinux in the runtime: containerd `enable_selinux = true` in the CRI plugin "
       "config, docker `--selinux-enabled`.", seed=True,
       check="the runtime labels containers with SELinux (docker `selinux` option / containerd "
             "`enable_selinux`)"),
    _c("host.immutable-os", 6, "config",
       "The node runs an immutable container OS with a read-only /usr",
       "Run nodes on Flatcar, Fedora CoreOS, Bottlerocket or Talos.", seed=True,
       check="the OS is an immutable container OS (os-release id among flatcar, fedora-coreos, "
             "coreos, bottlerocket, talos) and `/usr` is read-only"),
    _c("host.firewall", 6, "config",
       "A packet filter is active on the node with sane default policies",
       "Load an nftables/iptables ruleset that drops by default and allows only the cluster's "
       "ports.", seed=True,
       check="a packet filter is active (iptables/nftables rules present, default policies sane)"),
    _c("host.kubelet-hardening", (1, 2), "config",
       "The kubelet refuses anonymous access, authorizes by webhook and guards its files",
       "In the kubelet config set authentication.anonymous.enabled=false, authorization.mode="
       "Webhook, readOnlyPort=0, authentication.x509.clientCAFile, rotateCertificates=true; "
       "chown root and chmod 600 its config and kubeconfig.", refs=("CIS 4.2",),
       check="kubelet: anonymous auth off, authorization Webhook, read-only port 0, client CA "
             "set, rotate certs; its config and kubeconfig files root-owned, mode 600/644"),
    _c("host.mac-single-tool", 6, "config",
       "Exactly one mandatory access control system (SELinux or AppArmor) is in use",
       "Enable one of SELinux or AppArmor on every node, not both and not neither.",
       refs=("CKS",),
       check="exactly one MAC system is in use (SELinux or AppArmor), not both stacked, not none"),
    _c("host.hids", 10, "config",
       "A host IDS or file integrity tool is installed with a database, or a runtime detector "
       "runs; AIDE reports a changed file in its scope",
       "Install AIDE/OSSEC/Tripwire and initialise its database, or run Falco/Tracee on the "
       "node; for AIDE, keep a canary file in its scope (--hids-canary, default "
       "/etc/kubeproof/hids-canary) and a rule that compares content.", refs=("CKS",),
       check="a host IDS / file integrity tool is installed and has a database (AIDE, OSSEC, "
             "Tripwire) or a runtime detector (Falco, Tracee) runs on the node"),
    # Cluster
    _c("rbac.app-user-denied-kube-system", 2, "probe",
       "The app user cannot get or list pods in kube-system",
       "Bind the app user only to namespaced roles in its own namespace; remove any "
       "ClusterRoleBinding or kube-system RoleBinding that names it or its groups.", seed=True,
       check="as the app user: get/list pods in `kube-system` is denied (SelfSubjectAccessReview "
             "as that user, and a real GET that returns 403)"),
    _c("rbac.app-user-denied-istio-system", 2, "probe",
       "The app user cannot get or list pods in istio-system",
       "Bind the app user only to namespaced roles in its own namespace; remove any "
       "ClusterRoleBinding or istio-system RoleBinding that names it or its groups.", seed=True,
       check="same for `istio-system`"),
    _c("rbac.app-user-scoped", 2, "probe",
       "The app user can work in its own namespace and nothing cluster-scoped",
       "Grant the app user a RoleBinding (e.g. to `admin`) in its namespace only; remove "
       "ClusterRoleBindings that name it.",
       check="the app user can do its job in its own namespace (so the denials above are not just"
             " a broken credential) and nothing cluster-scoped (nodes, clusterroles, secrets in "
             "other namespaces)"),
    _c("rbac.authorization-mode", 2, "config",
       "The API server authorizes with RBAC, never AlwaysAllow or ABAC",
       "Start kube-apiserver with `--authorization-mode=Node,RBAC`.", seed=True,
       check="API server `--authorization-mode` contains RBAC (Node,RBAC) and neither AlwaysAllow"
             " nor ABAC"),
    _c("rbac.least-privilege", 2, "config",
       "No non-system subject is cluster-admin and no custom role grants wildcards or escalation",
       "Remove cluster-admin bindings of non-system subjects, replace `*` rules with explicit "
       "verbs/resources, unbind default service accounts, drop escalate/bind/impersonate.",
       refs=("CIS 5.1",),
       check="no subject outside `system:` is bound to cluster-admin; no custom role grants `*` "
             "verbs or resources; default service accounts have no bindings; no role grants "
             "`escalate`/`bind`/`impersonate` outside system"),
    _c("rbac.reconcile-drift", 2, "config",
       "The cluster's RBAC matches the manifests kept in fixtures/",
       "Apply the reviewed manifests with `kubectl auth reconcile -f fixtures/rbac/` or update "
       "them to the intended state.", refs=("CKS",),
       check="the RBAC manifests kept in `fixtures/` match the cluster (what `kubectl auth "
             "reconcile --dry-run` would change is empty)"),
    _c("tls.api-server", 1, "probe",
       "The API server speaks only TLS 1.2+ with a certificate from the cluster CA",
       "Remove `--insecure-port`/`--insecure-bind-address`, set `--tls-min-version="
       "VersionTLS12` and serve a certificate signed by the cluster CA.",
       check="the API server answers only over TLS (no insecure port), its certificate chains to "
             "the cluster CA, TLS < 1.2 refused"),
    _c("tls.components", 1, "config",
       "etcd, kubelet and API server flags set cert, key and CA for every hop",
       "Set --etcd-certfile/--etcd-keyfile/--etcd-cafile, --kubelet-client-certificate/key, "
       "--kubelet-certificate-authority on the API server and --cert-file/--key-file/"
       "--trusted-ca-file/--client-cert-auth on etcd.", refs=("CIS 1.2",),
       check="etcd, kubelet and API server flags set cert/key/CA for every hop"),
    _c("auth.anonymous-disabled", 3, "probe",
       "An anonymous request to the API server is refused",
       "Start kube-apiserver with `--anonymous-auth=false` (or restrict anonymous to health "
       "endpoints with an AuthenticationConfiguration).", refs=("CIS 1.2.1",),
       check="an anonymous request is refused (401/403), not served"),
    _c("auth.third-party", 3, "config",
       "An external identity provider authenticates users and no static token file is used",
       "Configure OIDC (`--oidc-issuer-url`...) or a webhook authenticator and remove "
       "`--token-auth-file`.",
       check="an external identity provider is configured (OIDC flags or webhook authenticator); "
             "static token files absent"),
    _c("etcd.isolated", 4, "probe",
       "etcd requires client certificates and is unreachable from workload pods",
       "Start etcd with `--client-cert-auth=true` and firewall ports 2379/2380 to the control "
       "plane.",
       check="etcd requires client certificates and its ports are not reachable from a workload "
             "pod"),
    _c("encryption.at-rest", 5, "probe",
       "Secrets are encrypted in etcd by a non-identity provider",
       "Pass `--encryption-provider-config` with aescbc/aesgcm/secretbox/kms first, then "
       "rewrite secrets: `kubectl get secrets -A -o json | kubectl replace -f -`.",
       check="an EncryptionConfiguration with a non-identity provider first is set, and a Secret "
             "written through the API is not stored in plaintext in etcd"),
    _c("audit.enabled", 2, "config",
       "An audit policy and an audit log or webhook are configured",
       "Start kube-apiserver with `--audit-policy-file` and `--audit-log-path` (or "
       "`--audit-webhook-config-file`).",
       check="an audit policy and an audit log (or webhook) are configured"),
    _c("admission.pod-security", 6, "config",
       "The cluster enforces pod security on application namespaces",
       "Label application namespaces `pod-security.kubernetes.io/enforce=restricted` (or "
       "enable the PodSecurityPolicy plugin with a restricted policy on older clusters), and "
       "exempt no username, no runtime class and no application namespace in the PodSecurity "
       "plugin's configuration (`--admission-control-config-file`).",
       seed=True,
       check="the cluster enforces pod security: PSA `enforce` labels (restricted, or baseline "
             "with justification) on application namespaces, or the PodSecurityPolicy admission "
             "plugin with a restricted policy bound"),
    _c("cis.api-server", (1, 2, 3), "config",
       "The API server's flags meet the CIS Benchmark's section 1.2",
       "Start kube-apiserver with the flags each failing recommendation names (its evidence "
       "gives the flag, the value seen and the value wanted).", refs=("CIS 1.2",),
       check="the API server's flags meet every CIS 1.2 recommendation a flag answers (anonymous "
             "auth, admission plugins, profiling, audit log retention, service account tokens, "
             "strong ciphers); one test per recommendation, its id carrying the CIS id"),
    _c("cis.controller-manager", (1, 2), "config",
       "The controller manager's flags meet the CIS Benchmark's section 1.3",
       "Start kube-controller-manager with --profiling=false, --use-service-account-"
       "credentials=true, --service-account-private-key-file, --root-ca-file and "
       "--bind-address=127.0.0.1.", refs=("CIS 1.3",),
       check="the controller manager's flags meet CIS 1.3 (profiling off, per-controller service "
             "account credentials, signing key and root CA set, bound to 127.0.0.1)"),
    _c("cis.scheduler", 1, "config",
       "The scheduler's flags meet the CIS Benchmark's section 1.4",
       "Start kube-scheduler with --profiling=false and --bind-address=127.0.0.1.",
       refs=("CIS 1.4",),
       check="the scheduler's flags meet CIS 1.4 (profiling off, bound to 127.0.0.1)"),
    _c("cis.control-plane-files", (1, 2), "config",
       "The control-plane files meet the CIS Benchmark's section 1.1 (modes and owners)",
       "chmod and chown the files each failing recommendation names (its evidence gives the "
       "path, the mode or owner seen and the one wanted).", refs=("CIS 1.1",),
       check="the control-plane files on the node each component runs on meet CIS 1.1: static pod"
             " manifests, the admin, scheduler and controller-manager kubeconfigs mode 600 and "
             "root-owned, etcd's data directory mode 700 and owned by etcd's user, the PKI "
             "directory root-owned with certificates 644 and keys 600; one test per "
             "recommendation"),
    _c("cis.kube-proxy", 1, "probe",
       "kube-proxy's metrics service answers on loopback only",
       "Set metricsBindAddress: 127.0.0.1:10249 in kube-proxy's configuration (or "
       "--metrics-bind-address=127.0.0.1:10249).", refs=("CIS 4.3",),
       check="kube-proxy's metrics port refuses connections on every non-loopback address of the "
             "node and accepts them on 127.0.0.1 (CIS 4.3.1), tried with curl on each node"),
    _c("cis.etcd", (1, 4), "config",
       "etcd makes no self-signed certificates for clients or peers",
       "Remove --auto-tls and --peer-auto-tls (or set them to false) and give etcd CA-issued "
       "certificates.", refs=("CIS 2",),
       check="etcd generates no self-signed certificates for clients or peers (CIS 2.3, 2.6; its "
             "other CIS 2 flags are tls.components' checks)"),
    # Workloads
    _c("seccomp.keyctl-denied", 6, "probe",
       "A pod under the runtime's default seccomp profile cannot use keyctl",
       "Run pods with `seccompProfile: {type: RuntimeDefault}` and set the kubelet's "
       "`seccompDefault: true`.", seed=True,
       check="a probe pod with the runtime's default profile runs `keyctl show`; its output says "
             "`Unable to dump key: Operation not permitted`"),
    _c("podsecurity.restricted-admission", 6, "probe",
       "A pod in the app namespace is admitted under the restricted policy",
       "Label the app namespace `pod-security.kubernetes.io/enforce=restricted` (PSP: bind a "
       "restricted policy to the namespace's service accounts).", seed=True,
       check="a pod created in the app namespace is admitted under the restricted policy (PSP: "
             "annotation `kubernetes.io/psp=<restricted policy>`; PSA: namespace enforce level "
             "restricted)"),
    _c("podsecurity.privileged-rejected", 6, "probe",
       "Privileged, host-namespace, hostPath, hostPort and added-capability pods are rejected "
       "in the app namespace",
       "Enforce the restricted (or baseline) Pod Security level on the app namespace.",
       check="privileged, hostNetwork, hostPID, hostIPC and hostPath pods are each rejected by "
             "admission in the app namespace"),
    _c("nonroot.app-runs-as-nonroot", 8, "probe",
       "The app's containers declare and really run as a non-root uid",
       "Set `runAsNonRoot: true` and `runAsUser: <non-zero>` in the app's securityContext and "
       "build the image with a non-root USER.", seed=True,
       check="the app's containers declare runAsNonRoot and a non-zero uid, and `id -u` inside "
             "the running container is not 0"),
    _c("nonroot.root-pod-rejected", 8, "probe",
       "A pod asking to run as uid 0 is rejected or cannot start in the app namespace",
       "Enforce the restricted Pod Security level, which requires runAsNonRoot.",
       check="a pod asking to run as uid 0 is rejected (or cannot start) in the app namespace"),
    _c("workload.no-privilege-escalation", 6, "config+probe",
       "App containers disallow privilege escalation and drop all capabilities",
       "Set `allowPrivilegeEscalation: false` and `capabilities: {drop: [ALL]}` on every app "
       "container.",
       check="allowPrivilegeEscalation false and capabilities drop ALL on app containers "
             "(NET_ADMIN only for a mesh init container)"),
    _c("workload.readonly-rootfs", 6, "probe",
       "App containers cannot write to their root filesystem",
       "Set `readOnlyRootFilesystem: true` and mount an emptyDir where the app must write.",
       refs=("CKS",),
       check="app containers cannot write to their root filesystem"),
    _c("workload.apparmor-or-selinux-profile", 6, "config",
       "Each app container has an AppArmor profile or SELinux options applied",
       "Set `appArmorProfile: {type: RuntimeDefault}` or `seLinuxOptions` with a confining "
       "type (not `spc_t` or `unconfined_t`) in the securityContext.", refs=("CKS",),
       check="each app container has a MAC profile applied (AppArmor profile or SELinux options) "
             "where the node supports it"),
    _c("workload.secrets-as-files", 5, "config",
       "App containers take no Secret from their environment",
       "Mount Secrets as files (a secret volume) instead of env valueFrom.secretKeyRef or "
       "envFrom.secretRef: environment variables leak into logs, crash dumps and child "
       "processes.", refs=("CIS 5.4.1",),
       check="no app container takes a Secret from its environment (env valueFrom.secretKeyRef, "
             "envFrom.secretRef): Secrets are mounted as files"),
    _c("workload.default-namespace-unused", 6, "config",
       "Nothing runs or is kept in the default namespace",
       "Move workloads and their objects out of the default namespace into namespaces of "
       "their own, with their own policies.", refs=("CIS 5.6.4",),
       check="the default namespace holds no pods, workload controllers (Deployments, "
             "DaemonSets, StatefulSets, Jobs, CronJobs) or ConfigMaps, and no Services or "
             "service accounts beyond the cluster's own `kubernetes` and `default`"),
    _c("workload.sa-token-not-automounted", 2, "config",
       "App pods do not mount a service account token unless they need the API",
       "Set `automountServiceAccountToken: false` on the pod or its service account.",
       refs=("CKS",),
       check="app pods do not mount a service account token unless they need the API"),
    _c("static.manifests", 7, "config",
       "Manifests in fixtures/ and live app workloads pass static security analysis",
       "Fix the analyser's findings listed in the evidence (each names its check id).",
       check="every manifest under `fixtures/` and every live app workload passes static security"
             " analysis (a maintained analyser, not hand-written rules)"),
    _c("images.provenance", 10, "config",
       "App images come from allowed registries and are pinned by digest",
       "Reference images as `registry/name@sha256:...` from an allowed registry.",
       check="app images come from allowed registries and are pinned by digest"),
    _c("images.scanned", 10, "probe",
       "App images have no known critical vulnerabilities",
       "Rebuild the image on a patched base and update the vulnerable packages in the "
       "scanner's report.",
       check="app images have no known critical vulnerabilities (scanner's report attached), when"
             " a scanner is available"),
    _c("runtime.ids", 10, "config",
       "A runtime detector (Falco or Tracee) runs on every node",
       "Deploy Falco or Tracee as a DaemonSet covering every node.", refs=("CKS",),
       check="a runtime detector (Falco or Tracee) runs on every node"),
    # Egress and network
    _c("mesh.installed", 11, "config",
       "The mesh control plane is healthy and app pods have a sidecar",
       "Install the mesh and label the app namespace for sidecar injection "
       "(`istio-injection=enabled`), then restart the app.", seed=True,
       check="the mesh control plane is healthy and app pods have a sidecar (or ambient "
             "enrolment)"),
    _c("mesh.mtls-strict", 11, "config+probe",
       "Mesh-wide mTLS is STRICT and plaintext requests to the app are refused",
       "Apply a mesh-wide PeerAuthentication with `mtls.mode: STRICT` in the root namespace "
       "and remove the PERMISSIVE or DISABLE modes (namespace, workload and portLevelMtls) of "
       "the PeerAuthentications in the app namespace.",
       check="mesh-wide PeerAuthentication STRICT; a plaintext request from outside the mesh to "
             "the app is refused"),
    _c("egress.registered-host-allowed", 11, "probe",
       "The app pod reaches the external host registered by a ServiceEntry",
       "Register the host with a ServiceEntry (hosts, ports, resolution: DNS).", seed=True,
       check="from the app pod, the external host registered by a ServiceEntry is reachable"),
    _c("egress.unregistered-host-blocked", 11, "probe",
       "An unregistered external host is unreachable from the app pod",
       "Set `meshConfig.outboundTrafficPolicy.mode: REGISTRY_ONLY`.",
       check="outbound policy REGISTRY_ONLY: an unregistered host is not reachable from the app "
             "pod"),
    _c("egress.ip-bypass-blocked", 11, "probe",
       "Requests to raw IP addresses, with or without a registered Host header, do not leave",
       "Keep REGISTRY_ONLY and add a default-deny egress NetworkPolicy allowing only the mesh "
       "gateway and DNS.", seed=True,
       check="a request to the registered host's IP address with a `Host:` header, or to any raw "
             "IP, does not leave the mesh"),
    _c("netpol.default-deny", 9, "config",
       "Every application namespace has a default-deny ingress and egress policy allowing DNS",
       "Apply a NetworkPolicy with `podSelector: {}` and policyTypes Ingress+Egress, plus one "
       "allowing egress to kube-dns on 53/UDP+TCP.", seed=True,
       check="every application namespace has a default-deny policy for ingress and egress, with "
             "DNS explicitly allowed"),
    _c("netpol.enforced", 9, "probe",
       "The CNI enforces network policies while DNS still resolves",
       "Use a CNI that enforces NetworkPolicy (Calico, Cilium, kube-router) and apply "
       "default-deny policies.",
       check="the CNI enforces policies: a probe pod in another namespace cannot reach the app, "
             "the app cannot reach an arbitrary pod, and DNS still resolves"),
)
# fmt: on

_BY_ID = {c.id: c for c in CONTROLS}
AREAS: tuple[str, ...] = tuple(dict.fromkeys(c.area for c in CONTROLS))


def get(control_id: str) -> Control:
    """The control with this id; KeyError if there is none."""
    return _BY_ID[control_id]


def exists(control_id: str) -> bool:
    """Whether the catalogue has a control with this id."""
    return control_id in _BY_ID


def nearest(control_id: str, n: int = 3) -> list[str]:
    """The catalogue ids closest to a mistyped one, best first."""
    close = difflib.get_close_matches(control_id, _BY_ID, n=n, cutoff=0.4)
    if close:
        return close
    prefix = control_id.split(".", 1)[0]
    return [c for c in _BY_ID if c.startswith(prefix + ".")][:n]


def marker_descriptions() -> dict[str, str]:
    """Every marker the catalogue generates, with the line ``--markers`` shows for it."""
    marks = {
        "acceptance": "every kubeproof control",
        "seed": "the reference scenario's original acceptance checks",
    }
    for area in AREAS:
        marks[area] = f"controls of the {area} area"
    marks["cis"] = ("the cis area's controls, and every test that answers a CIS Kubernetes "
                    "Benchmark recommendation")
    for item, text in CHECKLIST.items():
        marks[f"item{item}"] = f"controls proving checklist item {item}: {text}"
    return marks
