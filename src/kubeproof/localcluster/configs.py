"""Configuration files and command-line flags of every local cluster component."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import yaml

from . import layout as L
from .layout import Layout


def write_file(path: Path, text: str, mode: int = 0o600) -> Path:
    """Writes a file whole or not at all (readers never see half of it), with its mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(text)
    partial.chmod(mode)
    partial.replace(path)
    return path


def write_kubeconfig(path: Path, pki: Path, user: str, server: str,
                     token: str | None = None) -> Path:
    """Writes a kubeconfig that points at server with a bearer token, or else the client
    certificate pki/user.{crt,key}."""
    credential = {"token": token} if token else {
        "client-certificate": str(pki / f"{user}.crt"), "client-key": str(pki / f"{user}.key")}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kubeproof-local",
                "cluster": {"server": server, "certificate-authority": str(pki / "ca.crt")},
            }
        ],
        "users": [
            {
                "name": user,
                "user": credential,
            }
        ],
        "contexts": [{"name": user, "context": {"cluster": "kubeproof-local", "user": user}}],
        "current-context": user,
    }
    return write_file(path, yaml.safe_dump(config, sort_keys=False))


def write_all(layout: Layout) -> None:
    """Writes every kubeconfig and configuration file a component reads."""
    server = L.API_URL
    # The app user has no certificate: its identity comes from the identity provider (oidc).
    for user in ("admin", "controller-manager", "scheduler", "kube-proxy", "netpol",
                 "image-policy"):
        write_kubeconfig(layout.kubeconfig(user), layout.pki, user, server)
    # The kubelet's bootstrap credential: it requests its own rotating client certificate.
    write_kubeconfig(layout.kubeconfig("kubelet-bootstrap"), layout.pki, "kubelet-client", server)
    key = base64.b64encode(os.urandom(32)).decode()
    write_file(
        layout.config / "encryption.yaml",
        yaml.safe_dump(
            {
                "apiVersion": "apiserver.config.k8s.io/v1",
                "kind": "EncryptionConfiguration",
                "resources": [
                    {
                        "resources": ["secrets"],
                        "providers": [
                            {"secretbox": {"keys": [{"name": "key1", "secret": key}]}},
                            {"identity": {}},
                        ],
                    }
                ],
            },
            sort_keys=False,
        ),
    )
    write_file(
        layout.config / "audit-policy.yaml",
        yaml.safe_dump(
            {
                "apiVersion": "audit.k8s.io/v1",
                "kind": "Policy",
                "omitStages": ["RequestReceived"],
                "rules": [
                    {"level": "None", "users": ["system:kube-proxy"], "verbs": ["watch"]},
                    {
                        "level": "Metadata",
                        "resources": [{"group": "", "resources": ["secrets", "configmaps"]}],
                    },
                    {"level": "Metadata"},
                ],
            },
            sort_keys=False,
        ),
        0o644,
    )
    # CIS 1.2.9: EventRateLimit caps the events the API server takes (per server and per
    # namespace), so an event flood cannot fill etcd. Far above what the suite and its
    # mutants make, so no component's events are dropped.
    write_file(
        layout.config / "admission.yaml",
        yaml.safe_dump(
            {
                "apiVersion": "apiserver.config.k8s.io/v1",
                "kind": "AdmissionConfiguration",
                "plugins": [{"name": "EventRateLimit", "configuration": {
                    "apiVersion": "eventratelimit.admission.k8s.io/v1alpha1",
                    "kind": "Configuration",
                    "limits": [{"type": "Server", "qps": 5000, "burst": 20000},
                               {"type": "Namespace", "qps": 500, "burst": 2000,
                                "cacheSize": 2000}]}}],
            },
            sort_keys=False,
        ),
    )
    write_kubelet_config(layout)
    write_file(
        layout.config / "kube-proxy.yaml",
        yaml.safe_dump(
            {
                "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
                "kind": "KubeProxyConfiguration",
                "mode": "iptables",
                "clusterCIDR": L.CLUSTER_CIDR,
                "hostnameOverride": L.NODE_NAME,
                "bindAddress": L.NODE_IP,
                "healthzBindAddress": "127.0.0.1:10256",
                "metricsBindAddress": "127.0.0.1:10249",
                "clientConnection": {"kubeconfig": str(layout.kubeconfig("kube-proxy"))},
                "conntrack": {
                    "maxPerCore": 0,
                    "tcpEstablishedTimeout": "0s",
                    "tcpCloseWaitTimeout": "0s",
                },
                "nodePortAddresses": [f"{L.NODE_IP}/32"],
            },
            sort_keys=False,
        ),
    )
    write_file(layout.config / "resolv.conf", "# kubeproof: pods get no upstream resolver\n", 0o644)
    write_file(layout.config / "containerd.toml", containerd_config(layout), 0o644)
    write_file(
        layout.config / "cni" / "10-kubeproof.conflist", json.dumps(cni_config(), indent=2), 0o644
    )


def write_kubelet_config(layout: Layout, changes: dict | None = None) -> None:
    """Writes the kubelet's config file, with top-level keys changed (mutants only)."""
    config = {**kubelet_config(layout), **(changes or {})}
    write_file(layout.config / "kubelet.yaml", yaml.safe_dump(config, sort_keys=False))


POD_PIDS_LIMIT = 4096  # per pod: far above what the demo app and the probes start


def kubelet_config(layout: Layout) -> dict:
    """The kubelet's configuration: webhook authn/authz, no read-only port, seccomp by default."""
    pki = layout.pki
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": L.NODE_IP,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "readOnlyPort": 0,
        "tlsCertFile": str(pki / "kubelet-server.crt"),
        "tlsPrivateKeyFile": str(pki / "kubelet-server.key"),
        "tlsMinVersion": "VersionTLS12",
        "tlsCipherSuites": STRONG_TLS12_CIPHERS.split(","),  # CIS 4.2.12
        "podPidsLimit": POD_PIDS_LIMIT,  # CIS 4.2.13
        "seccompDefault": True,
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "clusterDNS": [L.DNS_SERVICE_IP],
        "clusterDomain": L.CLUSTER_DOMAIN,
        "resolvConf": str(layout.config / "resolv.conf"),
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "protectKernelDefaults": False,
        "makeIPTablesUtilChains": True,
        "rotateCertificates": True,
        "serializeImagePulls": False,
        "registerNode": True,
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "10s",
        "localStorageCapacityIsolation": True,
    }


def containerd_config(layout: Layout) -> str:
    """containerd 1.6's configuration: private root, state and socket; CRI with our CNI."""
    return f"""version = 2
root = "{layout.data / "containerd"}"
state = "{layout.run / "containerd-state"}"
[grpc]
  address = "{layout.containerd_socket}"
[ttrpc]
  address = "{layout.run / "containerd-ttrpc.sock"}"
[debug]
  level = "warn"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "kubeproof.local/pause:3.10"
  enable_selinux = false
  restrict_oom_score_adj = true  # lowering oom_score_adj needs CAP_SYS_RESOURCE, absent here
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{layout.config / "cni"}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{layout.data / "containerd-opt"}"
"""


def cni_config() -> dict:
    """The pod network: a bridge with host-local addresses, masquerade off (nothing leaves)."""
    return {
        "cniVersion": "0.4.0",
        "name": "kubeproof",
        "plugins": [
            {
                "type": "bridge",
                "bridge": L.BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": L.POD_CIDR}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


# etcd's health and metrics, plain HTTP on loopback only (readiness checks use it).
ETCD_METRICS_URL = "http://127.0.0.1:2381"
# The API server's TLS 1.2 suites (CIS 1.2.29): ECDHE with AES-GCM or ChaCha20-Poly1305 only.
STRONG_TLS12_CIPHERS = ",".join(
    f"TLS_ECDHE_{key}_WITH_{cipher}" for key in ("ECDSA", "RSA")
    for cipher in ("AES_128_GCM_SHA256", "AES_256_GCM_SHA384", "CHACHA20_POLY1305_SHA256"))


def component_flags(layout: Layout, bins: dict[str, Path]) -> dict[str, dict[str, str]]:
    """Every component's command-line flags, as {component: {flag: value}}, hardened."""
    pki, cfg = layout.pki, layout.config
    etcd_url = f"https://127.0.0.1:{L.ETCD_CLIENT_PORT}"
    return {
        "etcd": {
            "name": L.NODE_NAME,
            "data-dir": str(layout.data / "etcd"),
            "listen-client-urls": etcd_url,
            "advertise-client-urls": etcd_url,
            "listen-peer-urls": f"https://127.0.0.1:{L.ETCD_PEER_PORT}",
            "initial-advertise-peer-urls": f"https://127.0.0.1:{L.ETCD_PEER_PORT}",
            "initial-cluster": f"{L.NODE_NAME}=https://127.0.0.1:{L.ETCD_PEER_PORT}",
            "listen-metrics-urls": ETCD_METRICS_URL,
            "cert-file": str(pki / "etcd-server.crt"),
            "key-file": str(pki / "etcd-server.key"),
            "trusted-ca-file": str(pki / "etcd-ca.crt"),
            "client-cert-auth": "true",
            "peer-cert-file": str(pki / "etcd-peer.crt"),
            "peer-key-file": str(pki / "etcd-peer.key"),
            "peer-trusted-ca-file": str(pki / "etcd-ca.crt"),
            "peer-client-cert-auth": "true",
            "snapshot-count": "10000",
            "log-level": "warn",
        },
        "kube-apiserver": {
            "advertise-address": L.NODE_IP,
            "bind-address": L.NODE_IP,
            "secure-port": str(L.API_PORT),
            "allow-privileged": "true",
            "anonymous-auth": "false",
            "authentication-config": str(cfg / "authentication.yaml"),
            "authorization-mode": "Node,RBAC",
            "enable-admission-plugins": "NodeRestriction,DenyServiceExternalIPs,EventRateLimit",
            "admission-control-config-file": str(cfg / "admission.yaml"),
            "client-ca-file": str(pki / "ca.crt"),
            "tls-cert-file": str(pki / "apiserver.crt"),
            "tls-private-key-file": str(pki / "apiserver.key"),
            "tls-min-version": "VersionTLS12",
            "etcd-servers": etcd_url,
            "etcd-cafile": str(pki / "etcd-ca.crt"),
            "etcd-certfile": str(pki / "apiserver-etcd-client.crt"),
            "etcd-keyfile": str(pki / "apiserver-etcd-client.key"),
            "kubelet-client-certificate": str(pki / "apiserver-kubelet-client.crt"),
            "kubelet-client-key": str(pki / "apiserver-kubelet-client.key"),
            "kubelet-certificate-authority": str(pki / "ca.crt"),
            "kubelet-preferred-address-types": "InternalIP",
            "service-cluster-ip-range": L.SERVICE_CIDR,
            "service-account-issuer": f"https://kubernetes.default.svc.{L.CLUSTER_DOMAIN}",
            "service-account-key-file": str(pki / "sa.pub"),
            "service-account-signing-key-file": str(pki / "sa.key"),
            "encryption-provider-config": str(cfg / "encryption.yaml"),
            "audit-policy-file": str(cfg / "audit-policy.yaml"),
            "audit-log-path": str(layout.logs / "audit.log"),
            "audit-log-maxage": "30",
            "audit-log-maxbackup": "10",
            "audit-log-maxsize": "100",
            "profiling": "false",
            "service-account-extend-token-expiration": "false",
            "tls-cipher-suites": STRONG_TLS12_CIPHERS,
            "event-ttl": "30m",
        },
        "kube-controller-manager": {
            "kubeconfig": str(layout.kubeconfig("controller-manager")),
            "authentication-kubeconfig": str(layout.kubeconfig("controller-manager")),
            "authorization-kubeconfig": str(layout.kubeconfig("controller-manager")),
            "bind-address": "127.0.0.1",
            "cluster-name": "kubeproof-local",
            "cluster-signing-cert-file": str(pki / "ca.crt"),
            "cluster-signing-key-file": str(pki / "ca.key"),
            "root-ca-file": str(pki / "ca.crt"),
            "service-account-private-key-file": str(pki / "sa.key"),
            "use-service-account-credentials": "true",
            "terminated-pod-gc-threshold": "500",
            "allocate-node-cidrs": "true",
            "cluster-cidr": L.CLUSTER_CIDR,
            "node-cidr-mask-size": "24",
            "service-cluster-ip-range": L.SERVICE_CIDR,
            "profiling": "false",
            "leader-elect": "false",
        },
        "kube-scheduler": {
            "kubeconfig": str(layout.kubeconfig("scheduler")),
            "authentication-kubeconfig": str(layout.kubeconfig("scheduler")),
            "authorization-kubeconfig": str(layout.kubeconfig("scheduler")),
            "bind-address": "127.0.0.1",
            "profiling": "false",
            "leader-elect": "false",
        },
        "containerd": {"config": str(cfg / "containerd.toml")},
        "kubelet": {
            "config": str(cfg / "kubelet.yaml"),
            "bootstrap-kubeconfig": str(layout.kubeconfig("kubelet-bootstrap")),
            "kubeconfig": str(layout.kubeconfig("kubelet")),
            "root-dir": str(layout.data / "kubelet"),
            "cert-dir": str(layout.data / "kubelet-pki"),
            "hostname-override": L.NODE_NAME,
            "node-ip": L.NODE_IP,
        },
        "kube-proxy": {"config": str(cfg / "kube-proxy.yaml")},
    }


def argv(binary: Path, flags: dict[str, str]) -> list[str]:
    """A command line from a binary and its flags."""
    return [str(binary)] + [f"--{name}={value}" for name, value in flags.items()]
