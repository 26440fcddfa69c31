"""host.immutable-os: the node runs an immutable container OS with a read-only /usr."""

from __future__ import annotations

import shlex

import nodefacts
import pytest

import kubeproof

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


@pytest.mark.parametrize("aspect", ["os-release", "usr-read-only"])
def test_node_runs_an_immutable_os(host, evidence, aspect):
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
    else:
        point, fstype, options = mount_of(host, "/usr")
        evidence.add("/usr mount", {"mount point": point, "type": fstype, "options": options})
        assert "ro" in options, f"/usr is writable: it lies on {point} ({fstype}, {options})"
