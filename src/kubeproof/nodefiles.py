"""Modes and owners of files on a node, read as root over node access, and the files a
configuration row's locator names (kubeproof.configtable)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from testinfra.host import Host

from kubeproof.nodeprocesses import run
from kubeproof.verdicts import Inconclusive

_STAT = "stat -c '%%a %%U:%%G %%n' -- %s"
_TREE = "find %s -name %s -exec stat -c '%%a %%U:%%G %%n' {} +"


@dataclass(frozen=True)
class FileFacts:
    """A file's permission bits (octal text) and owner (`user:group`)."""

    path: str
    mode: str
    owner: str


def _parse(text: str) -> list[FileFacts]:
    facts = []
    for line in text.splitlines():
        mode, owner, path = line.split(" ", 2)
        facts.append(FileFacts(path, mode, owner))
    return facts


def stat(host: Host, path: str) -> FileFacts | None:
    """A file's mode and owner; None when it does not exist (Inconclusive when it cannot be
    read)."""
    result = run(host, _STAT, path)
    if result.rc != 0 and "No such file" in result.stderr:
        return None
    if result.rc != 0:
        raise Inconclusive(f"cannot stat {path} on the node: {result.stderr.strip()}")
    return _parse(result.stdout)[0]


def tree(host: Host, directory: str, pattern: str) -> list[FileFacts]:
    """The mode and owner of a directory and everything in it whose name matches pattern
    (find -name); [] when the directory does not exist."""
    if run(host, "test -d %s", directory).rc != 0:
        return []
    result = run(host, _TREE, directory, pattern)
    if result.rc != 0:
        raise Inconclusive(f"cannot list {directory} on the node: {result.stderr.strip()}")
    return _parse(result.stdout)


def from_flag(host: Host, locator: str, flags: dict[str, str], root: str = ""
              ) -> tuple[str, list[FileFacts]]:
    """(what was looked at, what it holds) for a `--FLAG` or `--FLAG/PATTERN` locator, the
    path taken under root (`/proc/PID/root` for a container's process: its own view of its
    files); the flag being absent is Inconclusive (the file it would name is unknown)."""
    flag, _, pattern = locator.removeprefix("--").partition("/")
    path = flags.get(flag)
    if not path:
        raise Inconclusive(f"the component has no --{flag}: the file it names is unknown")
    path = root + path
    if not pattern:
        found = stat(host, path)
        return path, [found] if found else []
    directory = posixpath.dirname(path)
    return f"{directory} (-name {pattern})", tree(host, directory, pattern)
