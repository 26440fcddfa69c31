"""Running host commands for the local cluster, with errors that show what failed."""

from __future__ import annotations

import subprocess

from ..errors import KubeproofError


def run(*argv: str, check: bool = True, input: str | None = None, timeout: float = 60) -> str:
    """Runs a command and returns its stdout; a failure raises KubeproofError with its stderr."""
    result = subprocess.run(argv, capture_output=True, text=True, input=input, timeout=timeout)
    if check and result.returncode != 0:
        raise KubeproofError(
            f"`{' '.join(argv)}` failed ({result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-500:]}"
        )
    return result.stdout


def succeeds(*argv: str) -> bool:
    """Whether a command exits 0 (its output is discarded)."""
    return subprocess.run(argv, capture_output=True).returncode == 0


def delete_netns(name: str) -> None:
    """Kills what still runs in a network namespace and deletes it (already gone is fine)."""
    if succeeds("ip", "netns", "pids", name):
        for pid in run("ip", "netns", "pids", name, check=False).split():
            succeeds("kill", "-9", pid)
        run("ip", "netns", "delete", name)
