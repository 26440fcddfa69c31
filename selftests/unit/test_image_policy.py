"""The local cluster's image policy inputs: every fixture image is pinned to a digest the
cluster fills in, and each archive's names (tag, pinned reference, fixture value) agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from test_image_archive import build

from kubeproof import probeimage
from kubeproof.localcluster import imagepolicy
from kubeproof.localcluster.components import versions

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "local"
IMAGE_LINE = re.compile(r"^\s*image:\s*(\S+)", re.MULTILINE)


def test_every_fixture_image_is_pinned_to_a_digest_the_cluster_fills_in():
    images = [m for path in FIXTURES.glob("*.yaml") for m in IMAGE_LINE.findall(path.read_text())]
    assert images, "the fixtures name no image"
    archives = {"probe", "pegress", "coredns", "envoy"}
    for image in images:
        match = re.fullmatch(r"kubeproof\.local/([a-z]+)@\$\{([A-Z]+)_DIGEST\}", image)
        assert match, f"{image}: fixtures name images as kubeproof.local/NAME@${{NAME_DIGEST}}"
        assert match.group(1) in archives and match.group(2) == match.group(1).upper()


@pytest.fixture
def archive(tmp_path):
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "hello").write_text("hello\n")
    return build(root, tmp_path / f"pegress-{versions()['PEGRESS_TAG']}.oci.tar")


def test_an_archive_gives_its_tag_pinned_reference_and_fixture_value(archive, tmp_path):
    digest = probeimage.digest(archive)
    tag = versions()["PEGRESS_TAG"]
    assert imagepolicy.tagged(archive) == f"kubeproof.local/pegress:{tag}"
    assert imagepolicy.pinned(archive) == f"kubeproof.local/pegress@{digest}"
    public = tmp_path / "cosign.pub"
    public.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    values = imagepolicy.manifest_values([archive], public)
    assert values["PEGRESS_DIGEST"] == digest
    assert json.loads(values["IMAGE_SIGNING_KEY"]) == public.read_text()  # one YAML scalar
