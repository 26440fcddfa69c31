"""Facts read from a node through testinfra: files, processes and their command lines, the
kubelet's effective settings. A fact that cannot be read is Inconclusive, never a pass."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from typing import Any

import yaml
from testinfra.host import Host

from kubeproof.nodeprocesses import flags, processes, run
from kubeproof.verdicts import Inconclusive


def exists(host: Host, path: str) -> bool:
    return run(host, "test -e %s", path).rc == 0


def existing(host: Host, paths: list[str]) -> list[str]:
    """The paths that exist on the node, in one round trip."""
    words = " ".join(["%s"] * len(paths))
    result = run(host, f'for p in {words}; do test -e "$p" && echo "$p"; done; true', *paths)
    return [p for p in paths if p in result.stdout.splitlines()]


# The host's mount table: pid 1's, whatever mount namespace the reading shell is in (a node
# pod's shell is chrooted into the host's root but sits in its container's namespace).
HOST_MOUNTS = "/proc/1/mounts"

MISSING = 3  # exit code of read()'s command when the file does not exist


def read(host: Host, path: str) -> str | None:
    """A file's text, None when it does not exist; Inconclusive when it cannot be read."""
    result = run(host, f"if test -e %s; then cat -- %s; else exit {MISSING}; fi", path, path)
    if result.rc == MISSING:
        return None
    if result.rc != 0:
        raise Inconclusive(f"cannot read {path} on the node: {result.stderr.strip()}")
    return result.stdout


def process_evidence(pid: int, argv: list[str], read: tuple[str, ...] = ()) -> dict[str, Any]:
    """What a report may show of a process: its pid, its executable and the flags the
    control read (by name), never its whole command line (which can carry credentials and
    says nothing the control checked)."""
    shown = flags(argv)
    return {"pid": pid, "executable": argv[0] if argv else "",
            "flags read": {name: shown[name] for name in read if name in shown}}


def parse_yaml(text: str, path: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Inconclusive(f"{path} on the node is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise Inconclusive(f"{path} on the node is not a mapping")
    return data


def parse_toml(text: str, path: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Inconclusive(f"{path} on the node is not valid TOML: {exc}") from None


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge of two config mappings (drop-in files override the main file)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def dig(data: dict[str, Any], dotted: str) -> Any:
    """data['a']['b'] for 'a.b'; None when any part is missing."""
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


# --- the kubelet -------------------------------------------------------------------------

# (config-file key, command-line flag) of the settings host.kubelet-hardening reads.
KUBELET_SETTINGS = {
    "anonymous-auth": ("authentication.anonymous.enabled", "anonymous-auth"),
    "authorization-mode": ("authorization.mode", "authorization-mode"),
    "read-only-port": ("readOnlyPort", "read-only-port"),
    "client-ca-file": ("authentication.x509.clientCAFile", "client-ca-file"),
    "rotate-certificates": ("rotateCertificates", "rotate-certificates"),
    "address": ("address", "address"),
    "port": ("port", "port"),
    "tls-cert-file": ("tlsCertFile", "tls-cert-file"),
    "server-tls-bootstrap": ("serverTLSBootstrap", "rotate-server-certificates"),
    "make-iptables-util-chains": ("makeIPTablesUtilChains", "make-iptables-util-chains"),
    "tls-cipher-suites": ("tlsCipherSuites", "tls-cipher-suites"),
    "pod-max-pids": ("podPidsLimit", "pod-max-pids"),
    "streaming-connection-idle-timeout": ("streamingConnectionIdleTimeout",
                                          "streaming-connection-idle-timeout"),
}
# What the kubelet uses when a setting is absent: KubeletConfiguration v1beta1 defaults when it
# runs with --config, the command-line defaults when it runs on flags alone.
COMMON_DEFAULTS = {"client-ca-file": None, "rotate-certificates": False, "address": "0.0.0.0",
                   "port": 10250, "tls-cert-file": None, "server-tls-bootstrap": False,
                   "make-iptables-util-chains": True, "tls-cipher-suites": None,
                   "pod-max-pids": -1, "streaming-connection-idle-timeout": "4h0m0s"}
CONFIG_DEFAULTS = {"anonymous-auth": False, "authorization-mode": "Webhook",
                   "read-only-port": 0, **COMMON_DEFAULTS}
FLAG_DEFAULTS = {"anonymous-auth": True, "authorization-mode": "AlwaysAllow",
                 "read-only-port": 10255, **COMMON_DEFAULTS}
READ_ONLY_PORT = 10255  # the kubelet's read-only port when it is not 0
CERT_DIR = "/var/lib/kubelet/pki"  # --cert-dir's default


@dataclass
class Kubelet:
    """The running kubelet: pid, flags, the merged config file(s) and where they are."""

    pid: int
    argv: list[str]
    flags: dict[str, str]
    config_path: str | None
    config: dict[str, Any] = field(default_factory=dict)
    drop_ins: list[str] = field(default_factory=list)

    def setting(self, name: str) -> tuple[Any, str]:
        """(effective value, where it came from) of a KUBELET_SETTINGS name: a command-line
        flag overrides the config file, which overrides the default."""
        key, flag = KUBELET_SETTINGS[name]
        if flag in self.flags:
            return self.flags[flag], f"command-line flag --{flag}"
        value = dig(self.config, key)
        if value is not None:
            where = self.config_path + (f" + drop-ins {self.drop_ins}" if self.drop_ins else "")
            return value, f"{key} in {where}"
        defaults = CONFIG_DEFAULTS if self.config_path else FLAG_DEFAULTS
        return defaults[name], f"{key} unset: kubelet default"


def read_only_ports(value: Any) -> list[int]:
    """The ports to find the kubelet's read-only port on: 10255, and the configured
    readOnlyPort when it is not 0 (Inconclusive when it is not a number)."""
    try:
        port = int(str(value).strip())
    except ValueError:
        raise Inconclusive(f"the kubelet's read-only port {value!r} is not a number") from None
    return sorted({READ_ONLY_PORT, port} - {0})


def serving_certificate(kubelet: Kubelet) -> str:
    """The path of the certificate the kubelet serves on its port: --tls-cert-file, else the
    one it keeps in --cert-dir (rotated by the cluster, or self-signed)."""
    path, _ = kubelet.setting("tls-cert-file")
    if path:
        return str(path)
    cert_dir = kubelet.flags.get("cert-dir", CERT_DIR)
    bootstrap = as_bool(kubelet.setting("server-tls-bootstrap")[0])
    name = "kubelet-server-current.pem" if bootstrap else "kubelet.crt"
    return f"{cert_dir}/{name}"


def find_kubelet(host: Host) -> Kubelet:
    """The node's kubelet process, its flags and its (merged) config file."""
    found = processes(host, "kubelet")
    if len(found) != 1:
        raise Inconclusive(f"expected one kubelet process on the node, found {len(found)}: "
                           f"{[pid for pid, _ in found]}")
    pid, argv = found[0]
    kubelet_flags = flags(argv)
    path = kubelet_flags.get("config")
    kubelet = Kubelet(pid, argv, kubelet_flags, path)
    if path:
        text = read(host, path)
        if text is None:
            raise Inconclusive(f"the kubelet's --config {path} does not exist on the node")
        kubelet.config = parse_yaml(text, path)
    drop_in_dir = kubelet_flags.get("config-dir")
    if drop_in_dir:
        listing = run(host, "find %s -maxdepth 1 -name '*.conf' -type f", drop_in_dir)
        for drop_in in sorted(listing.stdout.split()):
            kubelet.config = merge(kubelet.config, parse_yaml(read(host, drop_in) or "", drop_in))
            kubelet.drop_ins.append(drop_in)
    return kubelet


def as_bool(value: Any) -> bool | None:
    """A YAML or flag boolean as bool; None when it is neither."""
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(str(value).strip().lower())


def as_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Inconclusive(f"{what} is not JSON: {exc}: {text[:200]!r}") from None
