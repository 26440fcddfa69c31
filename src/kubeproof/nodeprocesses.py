"""Processes on a node through testinfra: commands run as root, command lines, flags, and
the control-plane components' flags where they run as processes."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from testinfra.host import Host

from kubeproof.verdicts import Inconclusive


@functools.cache
def _is_root(host: Host) -> bool:
    """Whether the login is root; else sudo must work without a password (Inconclusive
    otherwise: a node fact hidden by missing rights must not read as absent)."""
    if host.check_output("id -u") == "0":
        return True
    check = host.run("sudo -n true")
    if check.rc != 0:
        raise Inconclusive(f"the node login is not root and cannot sudo without a password "
                           f"({check.stderr.strip()}): log in as root or allow passwordless "
                           f"sudo for the --ssh-user")
    return False


def as_root(host: Host):
    """Run what follows as root: as is when the login is root, else through `sudo`."""
    return contextlib.nullcontext() if _is_root(host) else host.sudo()


def run(host: Host, command: str, *args: Any):
    """Run a command on the node as root (testinfra quotes args)."""
    with as_root(host):
        return host.run(command, *args)


def command_line(host: Host, pid: int) -> list[str]:
    """A process's argv from /proc/PID/cmdline."""
    result = run(host, "tr '\\000' '\\n' < /proc/%s/cmdline", str(pid))
    if result.rc != 0:
        raise Inconclusive(f"cannot read the command line of pid {pid}: {result.stderr.strip()}")
    return [word for word in result.stdout.split("\n") if word]


def processes(host: Host, comm: str) -> list[tuple[int, list[str]]]:
    """(pid, argv) of every process whose command name is comm."""
    result = run(host, "pgrep -x %s", comm)
    if result.rc not in (0, 1):
        raise Inconclusive(f"cannot list processes on the node (pgrep -x {comm}): "
                           f"{result.stderr.strip()}")
    return [(int(pid), command_line(host, int(pid))) for pid in result.stdout.split()]


def flags(argv: list[str], short: dict[str, str] | None = None,
          single_dash: bool = False) -> dict[str, str]:
    """A command line's flags as {name: value}: --name=value, --name value, -c value (and
    -name=value, -name value for Go's flag package, with single_dash); a flag followed by
    another flag (or nothing) is a boolean 'true'."""
    short = short or {}
    out: dict[str, str] = {}
    words = argv[1:]
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word.startswith("--") or word in short or (single_dash and word.startswith("-")
                                                      and len(word) > 1):
            name, sep, value = word.lstrip("-").partition("=")
            name = short.get(word, name)
            if not sep:
                if i < len(words) and not words[i].startswith("-"):
                    value, i = words[i], i + 1
                else:
                    value = "true"
            out[name] = value
    return out


def environment(host: Host, pid: int) -> dict[str, str]:
    """A process's environment from /proc/PID/environ."""
    result = run(host, "tr '\\000' '\\n' < /proc/%s/environ", str(pid))
    if result.rc != 0:
        raise Inconclusive(f"cannot read the environment of pid {pid}: {result.stderr.strip()}")
    return parse_environment(result.stdout, "\n")


def parse_environment(text: str, separator: str = "\0") -> dict[str, str]:
    """NAME=value entries (as in /proc/PID/environ, NUL-separated) as {NAME: value}."""
    return dict(entry.partition("=")[::2] for entry in text.split(separator) if "=" in entry)


# etcd's config file keeps the TLS settings of each side in a section; a section's key is
# the flag's name for clients and the flag's name with "peer-" for peers.
ETCD_SECTIONS = {"client-transport-security": "", "peer-transport-security": "peer-"}


def etcd_config_flags(text: str) -> dict[str, str]:
    """etcd's YAML config file as the flags it stands for ({flag: value}; booleans 'true' or
    'false', lists comma-joined)."""
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise Inconclusive(f"etcd's config file is not YAML: {exc}") from exc
    if not isinstance(config, dict):
        raise Inconclusive("etcd's config file is not a YAML mapping")
    out: dict[str, str] = {}
    for key, value in config.items():
        if key in ETCD_SECTIONS and isinstance(value, dict):
            out.update({ETCD_SECTIONS[key] + k: flag_text(v) for k, v in value.items()})
        elif value is not None:
            out[key] = flag_text(value)
    return out


def flag_text(value: Any) -> str:
    """A YAML value as a command-line flag would spell it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def etcd_flags(argv: list[str], environ: dict[str, str],
               read: Callable[[str], str]) -> tuple[dict[str, str], str]:
    """etcd's settings as {flag: value} by etcd's own precedence, and which source won: a
    config file (--config-file, else $ETCD_CONFIG_FILE) replaces the command line and the
    environment; else the command line (-flag or --flag), then $ETCD_<FLAG> for each flag the
    command line does not give. read(path) gives a file's text."""
    given = flags(argv, single_dash=True)
    path = given.get("config-file") or environ.get("ETCD_CONFIG_FILE")
    if path:
        return etcd_config_flags(read(path)), (f"its config file {path} (etcd then ignores "
                                               f"its command line and environment)")
    from_environment = {name[len("ETCD_"):].lower().replace("_", "-"): value
                        for name, value in environ.items() if name.startswith("ETCD_")}
    used = ["ETCD_" + name.upper().replace("-", "_")
            for name in sorted(set(from_environment) - set(given))]
    source = "its command line" + (f" and environment ({', '.join(used)})" if used else "")
    return {**from_environment, **given}, source


CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")
COMM_LENGTH = 15  # TASK_COMM_LEN - 1: what pgrep -x matches against


@dataclass(frozen=True)
class ComponentFlags:
    """One component's flags as {flag: value} and where they were read."""

    flags: dict[str, str]
    source: str


def control_plane_flags(node_hosts: list[tuple[Any, Host]]) -> dict[str, ComponentFlags]:
    """The flags of each control-plane component that runs as a host process (in the host's
    PID namespace: a workload's own etcd in a container does not count) on a reachable node:
    the first node it runs on, its lowest pid there."""
    found: dict[str, ComponentFlags] = {}
    for node, host in node_hosts:
        for name in CONTROL_PLANE:
            if name in found:
                continue
            # The kernel keeps 15 characters of a command name (kube-controller-manager).
            running = [(pid, argv) for pid, argv in processes(host, name[:COMM_LENGTH])
                       if argv and argv[0].rsplit("/", 1)[-1] == name
                       and in_host_pid_namespace(host, pid)]
            if running:
                pid, argv = min(running)
                where = f"process {pid} ({name}) on node {node.name}, /proc/{pid}/cmdline"
                if name == "etcd":
                    settings, source = etcd_flags(argv, environment(host, pid),
                                                  functools.partial(file_text, host, node))
                    found[name] = ComponentFlags(settings, f"{where}: {source}")
                else:
                    found[name] = ComponentFlags(flags(argv), where)
    return found


def file_text(host: Host, node: Any, path: str) -> str:
    """A file's text on the node, read as root (Inconclusive when it cannot be read)."""
    result = run(host, "cat -- %s", path)
    if result.rc != 0:
        raise Inconclusive(f"cannot read {path} on node {node.name}: {result.stderr.strip()}")
    return result.stdout


def in_host_pid_namespace(host: Host, pid: int) -> bool:
    """Whether a process shares the PID namespace of the shell kubeproof runs on the node
    (the host's: an SSH login, or a node pod with hostPID), so it is not in a container."""
    result = run(host, 'p=$(readlink /proc/%s/ns/pid) && s=$(readlink /proc/self/ns/pid) '
                       '|| exit 2; [ "$p" = "$s" ]', str(pid))
    if result.rc not in (0, 1):
        raise Inconclusive(f"cannot read the PID namespace of pid {pid} on the node: "
                           f"{result.stderr.strip() or 'readlink failed'}")
    return result.rc == 0
