"""The local cluster's host IDS: AIDE (Debian's package) watching the binaries the cluster
runs, its config files and its PKI, with a canary file in that scope for host.hids to change.

The database is made at bring-up, in the background while the components start (hashing the
binaries is seconds of CPU). Its rule compares content, size, mode and owner, not times, so
a file put back as it was reads unchanged again.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from ..errors import KubeproofError
from ..targets.base import FileIntegrity
from .layout import Layout

RULE = "Watched = p+u+g+s+sha256"
CANARY_TEXT = "kubeproof host IDS canary: host.hids changes this file and puts it back\n"
INIT_TIMEOUT = 120


def directory(layout: Layout) -> Path:
    """Where AIDE's config and database live."""
    return layout.root / "aide"


def file_integrity(layout: Layout) -> FileIntegrity:
    """The AIDE config and canary host.hids exercises."""
    return FileIntegrity(str(directory(layout) / "aide.conf"), str(layout.config / "hids-canary"))


def database(layout: Layout) -> Path:
    """The database AIDE checks against."""
    return directory(layout) / "aide.db"


def config_text(layout: Layout, binaries: list[Path]) -> str:
    """AIDE's config: the binaries (each file), the config and PKI directories."""
    lines = [
        f"database_in=file:{database(layout)}",
        f"database_out=file:{database(layout)}.new",
        "gzip_dbout=no",
        "report_url=stdout",
        RULE,
        f"{layout.config} Watched",
        f"{layout.pki} Watched",
    ]
    lines += [f"={re.escape(str(binary))}$ Watched" for binary in sorted(set(binaries))]
    return "\n".join(lines) + "\n"


def start_init(layout: Layout, binaries: list[Path]) -> subprocess.Popen | None:
    """Write the config and the canary and start `aide --init` (None without AIDE)."""
    aide = shutil.which("aide")
    if aide is None:
        return None
    integrity = file_integrity(layout)
    directory(layout).mkdir(mode=0o700, exist_ok=True)
    Path(integrity.canary).write_text(CANARY_TEXT)
    Path(integrity.aide_config).write_text(config_text(layout, binaries))
    log = (layout.logs / "aide-init.log").open("w")
    return subprocess.Popen([aide, "--config", integrity.aide_config, "--init"],
                            stdout=log, stderr=subprocess.STDOUT)


def finish_init(layout: Layout, init: subprocess.Popen | None) -> str:
    """Wait for the database and put it in place; what was done, for the progress line."""
    if init is None:
        return "AIDE is not installed (provision/local/bootstrap.sh installs it): host.hids fails"
    try:
        code = init.wait(timeout=INIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        init.kill()
        init.wait()
        raise KubeproofError(f"aide --init did not finish in {INIT_TIMEOUT} s (log: "
                             f"{layout.logs / 'aide-init.log'})") from None
    if code != 0:
        raise KubeproofError(f"aide --init failed with exit {code} (log: "
                             f"{layout.logs / 'aide-init.log'})")
    Path(f"{database(layout)}.new").replace(database(layout))
    return f"AIDE database of the cluster's binaries, configs and PKI in {database(layout)}"
