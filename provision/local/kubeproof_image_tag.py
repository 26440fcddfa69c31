#!/usr/bin/env python3
"""Print the tag of kubeproof's own image: a hash of everything the image is built from.

Usage: kubeproof_image_tag.py REPO PROBE_IMAGE   (the package, the suite, the image build
script, and the probe image reference baked into the image)
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

INPUTS = ("src", "tests", "fixtures", "conftest.py", "pytest.ini", "pyproject.toml",
          "provision/local/build-kubeproof-image.sh", "provision/local/versions.env")


def tag(repo: Path, probe_image: str) -> str:
    """The first 12 hex digits of the sha256 over the inputs' paths and contents."""
    digest = hashlib.sha256(probe_image.encode() + b"\0")
    for name in INPUTS:
        root = repo / name
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and not p.name.endswith(".egg-info") and ".egg-info" not in str(p))
        for path in files:
            digest.update(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: kubeproof_image_tag.py REPO PROBE_IMAGE")
    print(tag(Path(sys.argv[1]).resolve(), sys.argv[2]))
