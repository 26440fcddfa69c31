"""host.immutable-os: the node runs an immutable container OS with a read-only /usr.

The control judges both the name and the property. The name is what the product spec asks
(an os-release id among the immutable container OSes), and it is not redundant: a
general-purpose distribution with /usr mounted read-only (the node VM, Debian) still updates
itself in place with its package manager, which remounts /usr writable, while an immutable OS
replaces /usr as a whole image. The property is what the name promises, and can be lost on an
immutable OS too (a /usr remounted writable by hand): so it is read from the mount table and
tried, as root, by creating a file in /usr, which must be refused.
"""

from __future__ import annotations

import shlex

import nodefacts
import pytest

import kubeproof
from kubeproof import nodeprocesses

pytestmark = kubeproof.control("host.immutable-os")

# os-release ID (or ID-VARIANT_ID) of immutable container operating systems.
IMMUTABLE = {"flatcar", "coreos", "fedora-coreos", "bottlerocket", "talos"}


def os_release(host) -> dict[str, str]:
    """/etc/os-release (or /usr/lib/os-release) as a dict; Inconclusive when neither exists."""
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = nodefacts.read(host, path)
        if text is not None:
            pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
            return {key.strip(): " ".join(shlex.split(value)) for key, value in pairs}
    raise kubeproof.Inconclusive("the node has no /etc/os-release nor /usr/lib/os-release")


def mount_of(host, path: str) -> tuple[str, str, list[str]]:
    """(mount point, fs type, options) of the mount that holds path (the host's mount table,
    last longest match wins as later mounts stack on earlier ones)."""
    text = nodefacts.read(host, nodefacts.HOST_MOUNTS)
    if text is None:
        raise kubeproof.Inconclusive(f"the node has no {nodefacts.HOST_MOUNTS}")
    best = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        point = fields[1].replace("\\040", " ")
        if (path == point or path.startswith(point.rstrip("/") + "/")) and (
                best is None or len(point) >= len(best[0])):
            best = (point, fields[2], fields[3].split(","))
    if best is None:
        raise kubeproof.Inconclusive(f"no mount holds {path} in {nodefacts.HOST_MOUNTS}")
    return best


def _usr_refuses_writes(host, evidence, run_id: str) -> None:
    """As root, create a file in /usr (it must be refused as read-only) beside a canary file
    in /var/tmp on the same identity (it must succeed); both are removed."""
    name = f".kubeproof-write-test-{run_id}"
    with evidence.canary("root on the node can create a file in /var/tmp"):
        made = nodeprocesses.run(host, "touch -- %s && rm -f -- %s", f"/var/tmp/{name}",
                                 f"/var/tmp/{name}")
        evidence.add(f"touch /var/tmp/{name}", f"exit {made.rc} {made.stderr.strip()}")
        assert made.rc == 0, f"cannot create a file in /var/tmp: {made.stderr.strip()}"
    tried = nodeprocesses.run(host, "touch -- %s", f"/usr/{name}")
    evidence.add(f"touch /usr/{name} (as root)", f"exit {tried.rc} {tried.stderr.strip()}")
    if tried.rc == 0:
        nodeprocesses.run(host, "rm -f -- %s", f"/usr/{name}")
        pytest.fail(f"root created /usr/{name} (removed again): /usr is writable")
    if "Read-only file system" not in tried.stderr:
        raise kubeproof.Inconclusive(f"creating a file in /usr failed, but not as read-only: "
                                     f"{tried.stderr.strip()}")


@pytest.mark.parametrize("aspect", ["os-release", "usr-read-only", "usr-refuses-writes"])
def test_node_runs_an_immutable_os(host, evidence, run_id, aspect):
    """The node runs an immutable container OS with a read-only /usr."""
    with evidence.canary("the node's OS identification is readable"):
        release = os_release(host)
        evidence.add("os-release", {k: release.get(k) for k in ("ID", "VARIANT_ID",
                                                                   "PRETTY_NAME")})
    if aspect == "os-release":
        ident = release.get("ID", "")
        names = {ident, f"{ident}-{release.get('VARIANT_ID', '')}"}
        assert names & IMMUTABLE, (
            f"the node runs {release.get('PRETTY_NAME', ident)!r} (ID={ident}), not an "
            f"immutable container OS ({', '.join(sorted(IMMUTABLE))})")
    elif aspect == "usr-refuses-writes":
        _usr_refuses_writes(host, evidence, run_id)
    else:
        point, fstype, options = mount_of(host, "/usr")
        evidence.add("/usr mount", {"mount point": point, "type": fstype, "options": options})
        assert "ro" in options, f"/usr is writable: it lies on {point} ({fstype}, {options})"
