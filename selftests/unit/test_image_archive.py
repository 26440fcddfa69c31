"""build_images.py's OCI archive: the same root filesystem gives the same bytes and digest,
and skopeo reads the archive's manifest digest as the one kubeproof pins."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from kubeproof import probeimage

BUILD = Path(__file__).resolve().parents[2] / "provision" / "local" / "build_images.py"


def build(rootfs: Path, out: Path) -> Path:
    subprocess.run([sys.executable, str(BUILD), "--rootfs", str(rootfs), "--repo-tag",
                    "kubeproof.local/selftest:1", "--out", str(out), "--format", "oci",
                    "--user", "65534:65534"], check=True, capture_output=True)
    return out


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "hello").write_text("#!/bin/sh\necho hello\n")
    (root / "bin" / "hello").chmod(0o755)
    return root


def test_same_rootfs_same_archive_and_digest(rootfs, tmp_path):
    first = build(rootfs, tmp_path / "a.oci.tar")
    (rootfs / "bin" / "hello").touch()  # a newer mtime changes nothing
    second = build(rootfs, tmp_path / "b.oci.tar")
    assert first.read_bytes() == second.read_bytes()
    digest = probeimage.digest(first)
    with tarfile.open(first) as tar:
        manifest = tar.extractfile(f"blobs/sha256/{digest.split(':')[1]}").read()
    assert hashlib.sha256(manifest).hexdigest() == digest.split(":")[1]
    layer = json.loads(manifest)["layers"][0]
    assert layer["mediaType"].endswith("tar+gzip"), "a registry would recompress a plain layer"


def test_skopeo_reads_the_pinned_digest(rootfs, tmp_path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (make bootstrap installs it)")
    archive = build(rootfs, tmp_path / "a.oci.tar")
    inspected = subprocess.run(["skopeo", "inspect", f"oci-archive:{archive}"],
                               capture_output=True, text=True, check=True)
    assert json.loads(inspected.stdout)["Digest"] == probeimage.digest(archive)


def test_a_file_that_is_not_an_oci_archive_is_one_clear_error(tmp_path):
    bogus = tmp_path / "probe.oci.tar"
    bogus.write_text("not a tar")
    with pytest.raises(probeimage.KubeproofError, match="is not an OCI image archive"):
        probeimage.digest(bogus)
