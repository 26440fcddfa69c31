"""Starting, watching and stopping the local cluster's component processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import KubeproofError
from .layout import Layout


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    if not path.exists():
        return "(no log written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class Processes:
    """The cluster's component processes, one pid file and one log file each."""

    def __init__(self, layout: Layout):
        self.layout = layout

    def pid_file(self, name: str) -> Path:
        return self.layout.pids / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """The running component's pid, or None when it is not running."""
        path = self.pid_file(name)
        if not path.exists():
            return None
        pid = int(path.read_text())
        return pid if _alive(pid) else None

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        """Starts a component in its own session (it survives the test run with --keep-cluster)."""
        log = self.layout.log(name).open("ab")
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        log.close()
        self.pid_file(name).write_text(str(process.pid))
        return process.pid

    def wait_ready(self, name: str, ready: Callable[[], bool], timeout: float) -> None:
        """Polls ready() until true; a dead process or the deadline raises with the log tail."""
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            if ready():
                return
            if self.pid(name) is None:
                raise KubeproofError(
                    f"local cluster: {name} exited during start-up; last log lines "
                    f"of {self.layout.log(name)}:\n{tail(self.layout.log(name))}"
                )
            if time.monotonic() > deadline:
                raise KubeproofError(
                    f"local cluster: {name} not ready after {timeout:.0f}s; last log "
                    f"lines of {self.layout.log(name)}:\n{tail(self.layout.log(name))}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def stop(self, name: str, timeout: float = 10) -> None:
        """Stops a component: SIGTERM to its process group, SIGKILL after the deadline, and
        an error when even that does not end it within the deadline (a process stuck in the
        kernel)."""
        pid = self.pid(name)
        if pid is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                _signal_group(pid, sig)
                deadline = time.monotonic() + timeout
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if not _alive(pid):
                    break
            else:
                raise KubeproofError(f"{name} (pid {pid}) did not end {timeout:g} s after "
                                     f"SIGKILL: a process stuck in the kernel (see `cat "
                                     f"/proc/{pid}/stack`)")
        self.pid_file(name).unlink(missing_ok=True)

    def cmdline(self, name: str) -> list[str]:
        """The running component's command line as the kernel reports it."""
        pid = self.pid(name)
        if pid is None:
            return []
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
