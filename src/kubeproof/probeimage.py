"""kubeproof's probe image: its OCI archive in the build cache, its digest, and mirroring it.

provision/local/build-images.sh builds the image reproducibly (busybox, keyctl and curl from
Debian packages) as an OCI layout archive with a gzip layer. Pushed as is, a registry keeps
its manifest digest, so every target pins probe pods to `REPOSITORY@DIGEST`:

    python -m kubeproof.probeimage                     # archive, digest, reference
    python -m kubeproof.probeimage push docker://registry.example/kubeproof/probe:1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from kubeproof.errors import KubeproofError
from kubeproof.localcluster.components import versions
from kubeproof.localcluster.layout import cache_dir

REPOSITORY = "kubeproof.local/probe"
BUILD_HINT = "build it with `make images` (provision/local/build-images.sh) or pass --probe-image"


# Set in kubeproof's own image (the in-cluster Job): the probe image it was built with.
PINNED_ENV = "KUBEPROOF_PROBE_IMAGE"


def archive() -> Path:
    """Where the build cache keeps the probe image's OCI archive."""
    try:
        tag = versions()["PROBE_TAG"]
    except (OSError, KeyError) as exc:
        raise KubeproofError(f"the pinned versions cannot be read ({exc}): {BUILD_HINT}") from None
    return cache_dir() / "images" / f"probe-{tag}.oci.tar"


def default_reference() -> str:
    """The probe image a run uses unless told otherwise: $KUBEPROOF_PROBE_IMAGE (kubeproof's
    own image sets it), else the built archive's reference."""
    return os.environ.get(PINNED_ENV) or reference()


def digest(path: Path) -> str:
    """The manifest digest (sha256:...) of the one image in an OCI layout archive."""
    try:
        with tarfile.open(path) as tar:
            member = tar.extractfile("index.json")
            index = json.load(member) if member else {}
    except (OSError, KeyError, tarfile.TarError, ValueError) as exc:
        raise KubeproofError(f"{path} is not an OCI image archive ({exc}): {BUILD_HINT}") from None
    manifests = index.get("manifests") or []
    if len(manifests) != 1 or not str(manifests[0].get("digest", "")).startswith("sha256:"):
        raise KubeproofError(f"{path}: its index must list exactly one image: {BUILD_HINT}")
    return manifests[0]["digest"]


def reference(repository: str = REPOSITORY) -> str:
    """The probe image pinned by digest (repository@sha256:...); KubeproofError if not built."""
    path = archive()
    if not path.is_file():
        raise KubeproofError(f"kubeproof's probe image is not built ({path} is missing): "
                             f"{BUILD_HINT}")
    return f"{repository}@{digest(path)}"


def push(destination: str, extra_args: tuple[str, ...] = (), image: Path | None = None) -> str:
    """Copy the archive (or another OCI archive) to a registry with skopeo, digest kept; the
    reference to pass.

    extra_args go to skopeo copy (e.g. --dest-creds, --dest-cert-dir, --dest-tls-verify).
    """
    if not destination.startswith("docker://"):
        raise KubeproofError(f"push destination {destination!r}: give docker://REGISTRY/REPO:TAG")
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise KubeproofError("skopeo is not installed: apt-get install skopeo")
    if image is None:
        reference()  # a KubeproofError naming the fix when the probe image is not built
        image = archive()
    pinned = digest(image)
    with tempfile.NamedTemporaryFile("r") as digestfile:
        result = subprocess.run([skopeo, "copy", "--preserve-digests", *extra_args,
                                 "--digestfile", digestfile.name, f"oci-archive:{image}",
                                 destination], capture_output=True, text=True)
        pushed = digestfile.read().strip()
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise KubeproofError(f"skopeo copy to {destination} failed: {last}")
    if pushed != pinned:
        raise KubeproofError(f"the registry stored {pushed}, not the archive's {pinned}")
    repository = destination.removeprefix("docker://").rsplit(":", 1)[0]
    return f"{repository}@{pinned}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubeproof.probeimage",
                                     description="kubeproof's probe image")
    parser.add_argument("command", nargs="?", choices=("show", "push"), default="show")
    parser.add_argument("destination", nargs="?", help="push: docker://REGISTRY/REPO:TAG")
    parser.add_argument("skopeo_args", nargs=argparse.REMAINDER,
                        help="push: further skopeo copy options (--dest-creds U:P, ...)")
    args = parser.parse_args(argv)
    try:
        if args.command == "push":
            if not args.destination:
                parser.error("push needs a destination: docker://REGISTRY/REPO:TAG")
            print(f"--probe-image={push(args.destination, tuple(args.skopeo_args))}")
        else:
            print(f"archive:   {archive()}\nreference: {reference()}")
    except KubeproofError as exc:
        print(f"kubeproof: {exc}", file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
