"""Modes and owners of files on a node, read as root over node access, and the files a
configuration row's `--FLAG` locator names (kubeproof.configtable)."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from testinfra.host import Host

from kubeproof.nodeprocesses import run
from kubeproof.verdicts import Inconclusive

# NUL-terminated records, so no file name can forge a line; -L judges what a link points to.
_FORMAT = "'%%a %%U:%%G %%n\\0'"
_STAT = "stat -L --printf " + _FORMAT + " -- %s"
_TREE = "find -H %s -name %s -exec stat -L --printf " + _FORMAT + " {} +"


@dataclass(frozen=True)
class FileFacts:
    """A file's permission bits (octal text) and owner (`user:group`)."""

    path: str
    mode: str
    owner: str


@dataclass(frozen=True)
class Process:
    """The process whose view of its files is judged: pid, and whether it runs in a
    container (its files then live under /proc/PID/root)."""

    pid: int
    in_container: bool = False


def _parse(text: str) -> list[FileFacts]:
    facts = []
    for record in filter(None, text.split("\0")):
        mode, owner, path = record.split(" ", 2)
        facts.append(FileFacts(path, mode, owner))
    return facts


def stat(host: Host, path: str) -> FileFacts | None:
    """A file's mode and owner (a link's target's); None when it does not exist
    (Inconclusive when it cannot be read)."""
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


def as_seen_by(host: Host, process: Process, path: str) -> str:
    """The node path of a file as a process names it: a relative path under its working
    directory, a container's under its root. A link inside a container that points to an
    absolute path is Inconclusive (the node would resolve it against its own root)."""
    if not posixpath.isabs(path):
        return f"/proc/{process.pid}/cwd/{path}"
    if not process.in_container:
        return path
    where = f"/proc/{process.pid}/root{path}"
    target = run(host, "readlink -- %s", where).stdout.strip()
    if target.startswith("/"):
        raise Inconclusive(f"{path} in the container of pid {process.pid} is a link to "
                           f"{target}: kubeproof cannot follow it inside the container")
    return where


def from_flag(host: Host, locator: str, flags: dict[str, str], process: Process
              ) -> tuple[str, list[FileFacts]]:
    """(what was looked at, what it holds) for a `--FLAG` or `--FLAG/PATTERN` locator, as
    the process sees the path; the flag being absent is Inconclusive (the file it would name
    is unknown)."""
    flag, _, pattern = locator.removeprefix("--").partition("/")
    path = flags.get(flag)
    if not path:
        raise Inconclusive(f"the component has no --{flag}: the file it names is unknown")
    path = as_seen_by(host, process, path)
    if not pattern:
        found = stat(host, path)
        return path, [found] if found else []
    directory = posixpath.dirname(path)
    return f"{directory} (-name {pattern})", tree(host, directory, pattern)
