"""The node VM's image: built once by provision/nodevm/build.sh into the cache, keyed by the
hash of everything the build reads."""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..errors import KubeproofError
from ..localcluster.layout import cache_dir

PROVISION = Path(__file__).resolve().parents[3] / "provision" / "nodevm"
FILES = ("root.ext4", "usr.ext4", "vmlinuz", "initrd.img", "ssh_host_ed25519_key.pub",
         "client_ed25519", "manifest.json")


def key(provision: Path = PROVISION) -> str:
    """The cache key: sha256 over versions.env, build.sh and every overlay file (names and
    contents), so an edit to any of them builds a new image."""
    digest = hashlib.sha256()
    paths = [provision / "versions.env", provision / "build.sh",
             *sorted(p for p in (provision / "overlay").rglob("*") if p.is_file())]
    for path in paths:
        digest.update(str(path.relative_to(provision)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def directory() -> Path:
    """Where the current key's image lives (it may not be built yet)."""
    return cache_dir() / "nodevm" / key()


def is_built(where: Path) -> bool:
    """Whether every file of a complete build is there."""
    return all((where / name).is_file() for name in FILES)


def manifest(where: Path) -> dict:
    """What the build recorded: host key fingerprint, package versions, sizes, seconds."""
    return json.loads((where / "manifest.json").read_text())


def ensure(say=print) -> Path:
    """The built image's directory, building it first on a cache miss (about 3 min)."""
    where = directory()
    if is_built(where):
        return where
    if not (PROVISION / "build.sh").is_file():
        raise KubeproofError(f"{PROVISION}/build.sh is missing: run from a kubeproof checkout")
    where.parent.mkdir(parents=True, exist_ok=True)
    with (where.parent / ".build-lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; a waiting one finds it built
        if not is_built(where):
            _build(where, say)
    return where


def _build(where: Path, say) -> None:
    """Run build.sh into where, then remove the images and logs of earlier keys."""
    log = where.with_suffix(".log")
    say(f"node VM image {where.name}: building from Debian packages (about 3 min; log {log})")
    start = time.monotonic()
    with log.open("w") as out:
        result = subprocess.run([str(PROVISION / "build.sh"), str(where)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0 or not is_built(where):
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise KubeproofError(f"building the node VM image failed (exit {result.returncode}); "
                             f"last lines of {log}:\n{tail}")
    say(f"node VM image {where.name}: built in {time.monotonic() - start:.0f} s")
    for old in where.parent.iterdir():  # images of earlier keys: about 1.5 GB each
        if old.is_dir() and old.name != where.name and not old.name.endswith(".tmp"):
            shutil.rmtree(old)
            old.with_suffix(".log").unlink(missing_ok=True)
            say(f"node VM image {old.name}: removed (an earlier build)")


if __name__ == "__main__":
    print(key() if sys.argv[1:] == ["key"] else directory())
