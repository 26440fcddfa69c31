"""The container runtime the kubelet talks to: containerd (its CRI config) or docker (docker
info). Found by matching the kubelet's runtime endpoint, not by guessing from process names."""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field
from typing import Any

import nodefacts

from kubeproof import nodeprocesses
from kubeproof.verdicts import Inconclusive

DEFAULT_ENDPOINT = "unix:///run/containerd/containerd.sock"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CONTAINERD_SOCKET = "/run/containerd/containerd.sock"
# The CRI plugin's table in containerd config versions 1, 2 and 3.
CRI_TABLES = ("cri", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime")


@dataclass
class Runtime:
    kind: str  # containerd or docker
    endpoint: str
    pid: int | None = None
    config_path: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    security_options: list[str] = field(default_factory=list)  # docker info
    found_by: str = "the kubelet's runtime endpoint"

    @property
    def cri(self) -> dict[str, Any]:
        """containerd's merged CRI plugin settings (all config versions' tables)."""
        plugins = self.config.get("plugins", {})
        merged: dict[str, Any] = {}
        for name in CRI_TABLES:
            merged = nodefacts.merge(merged, plugins.get(name, {}))
        return merged

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind, "endpoint": self.endpoint, "found by": self.found_by,
                "pid": self.pid,
                "config": self.config_path, "security options": self.security_options}


def kubelet_endpoint(kubelet: nodefacts.Kubelet) -> str:
    """The runtime socket the kubelet talks to."""
    return _path(kubelet.flags.get("container-runtime-endpoint")
                 or kubelet.config.get("containerRuntimeEndpoint") or DEFAULT_ENDPOINT)


def _path(socket: str) -> str:
    """A socket path or unix:// endpoint as a path, /var/run spelt /run (one is a link to the
    other)."""
    socket = socket.removeprefix("unix://")
    return "/run/" + socket[len("/var/run/"):] if socket.startswith("/var/run/") else socket


def _expand(host, pattern: str) -> list[str]:
    """The files an `imports` entry names (a path or a glob in one directory)."""
    if not any(ch in pattern for ch in "*?["):
        return [pattern] if nodefacts.exists(host, pattern) else []
    directory, name = posixpath.split(pattern)
    listing = nodeprocesses.run(host, "find %s -maxdepth 1 -type f", directory).stdout.split()
    return sorted(p for p in listing if fnmatch.fnmatch(posixpath.basename(p), name))


def containerd_config(host, path: str) -> dict[str, Any]:
    """containerd's config file merged with its imports; {} (all defaults) when the default
    file is absent."""
    text = nodefacts.read(host, path)
    if text is None:
        if path != CONTAINERD_CONFIG:
            raise Inconclusive(f"containerd's --config {path} does not exist")
        return {}
    config = nodefacts.parse_toml(text, path)
    for pattern in config.get("imports", []):
        for extra in _expand(host, pattern):
            config = nodefacts.merge(config, nodefacts.parse_toml(nodefacts.read(host, extra)
                                                                  or "", extra))
    return config


def _containerd(host, endpoint: str, seen: list) -> Runtime | None:
    for pid, argv in nodeprocesses.processes(host, "containerd"):
        f = nodeprocesses.flags(argv, short={"-c": "config", "-a": "address"})
        path = f.get("config", CONTAINERD_CONFIG)
        config = containerd_config(host, path)
        address = f.get("address") or config.get("grpc", {}).get("address") or CONTAINERD_SOCKET
        seen.append({"pid": pid, "config": path, "address": address})
        if _path(address) == endpoint:
            return Runtime("containerd", endpoint, pid, path, config)
    return None


def _docker(host, endpoint: str) -> Runtime:
    result = nodeprocesses.run(host, "docker info --format '{{json .SecurityOptions}}'")
    if result.rc != 0:
        raise Inconclusive(f"the kubelet uses docker ({endpoint}) but `docker info` "
                                     f"failed: {result.stderr.strip()}")
    options = nodefacts.as_json(result.stdout, "docker info SecurityOptions") or []
    return Runtime("docker", endpoint, security_options=list(options))


def find_runtime(host, kubelet: nodefacts.Kubelet | None, prepared: str | None = None
                 ) -> Runtime:
    """The runtime behind the kubelet's endpoint, or without a kubelet (a host prepared for
    one) the one at the endpoint prepared (Inconclusive when it is not found or is one this
    suite does not read yet)."""
    endpoint = kubelet_endpoint(kubelet) if kubelet else _path(prepared or "")
    if "dockershim" in endpoint or "cri-dockerd" in endpoint:
        return _docker(host, endpoint)
    seen: list = []
    runtime = _containerd(host, endpoint, seen)
    if runtime is not None:
        if kubelet is None:
            runtime.found_by = ("no kubelet runs on the node: the runtime at the endpoint "
                                "the target names (--node-runtime-endpoint)")
        return runtime
    if "crio" in endpoint:
        raise Inconclusive(f"the kubelet uses CRI-O ({endpoint}): kubeproof does not "
                                     f"read CRI-O's configuration yet")
    raise Inconclusive(f"no containerd process serves the kubelet's runtime endpoint "
                                 f"{endpoint} (containerd processes: {seen})")


def oci_runtime(runtime: Runtime) -> tuple[str, str]:
    """(runtime_type, binary) of containerd's default CRI runtime."""
    containerd = runtime.cri.get("containerd", {})
    name = containerd.get("default_runtime_name", "runc")
    entry = containerd.get("runtimes", {}).get(name, {})
    binary = entry.get("options", {}).get("BinaryName") or "runc"
    return entry.get("runtime_type", "io.containerd.runc.v2"), binary
