#!/usr/bin/env bash
# Builds kubeproof's own image, for the in-cluster Job (deploy/), from Debian and PyPI only:
#   CACHE/images/kubeproof-$KUBEPROOF_IMAGE_TAG.tar     kubeproof.local/kubeproof:$TAG
#       Debian $DEBIAN_SUITE (debootstrap, minbase: python3, ca-certificates), a venv at
#       /opt/kubeproof/venv with this checkout installed from PyPI's packages, the suite
#       (tests/, fixtures/, pytest.ini, conftest.py) at /opt/kubeproof/suite; user 65532.
# The tag is the hash of what goes in (this checkout's package, suite and this script, and the
# probe image's reference), so
# a change rebuilds it and an unchanged checkout reuses the cached image.
# Usage: build-kubeproof-image.sh [CACHE_DIR]     Needs: debootstrap, root.
set -euo pipefail
umask 022
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${1:-${KUBEPROOF_CACHE:-$HOME/.cache/kubeproof}}
# shellcheck source=versions.env
source "$here/versions.env"
: "${DEBIAN_SUITE:=bookworm}" "${DEBIAN_MIRROR:=http://deb.debian.org/debian}"

log() { echo "kubeproof: $*" >&2; }

# The probe image the Job's probes run (kubeproof.probeimage reads it from the environment).
probe=$(cd "$repo" && PYTHONPATH="$repo/src" python3 -c 'from kubeproof import probeimage; print(probeimage.reference())')
tag=$(python3 "$here/kubeproof_image_tag.py" "$repo" "$probe")
out="$cache/images/kubeproof-$tag.tar"
if [[ -s $out ]]; then
  log "image kubeproof.local/kubeproof:$tag already built ($out)"
  exit 0
fi
log "building image kubeproof.local/kubeproof:$tag"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
mkdir -p "$rootfs/opt/kubeproof/suite" "$rootfs/wheels"
cp -r "$repo/tests" "$repo/fixtures" "$repo/conftest.py" "$repo/pytest.ini" "$rootfs/opt/kubeproof/suite/"
find "$rootfs/opt/kubeproof" -name __pycache__ -prune -exec rm -rf {} +
# The wheels come from PyPI through this machine's pip (its index, proxy and CA settings);
# the image's own pip installs them offline. Same Python minor (3.11) as Debian's.
python3 -m pip wheel -q --wheel-dir "$rootfs/wheels" "$repo" >"$work/wheels.log" 2>&1 ||
  { tail -n 20 "$work/wheels.log" >&2; exit 1; }
chroot "$rootfs" env -i PATH=/usr/bin:/bin python3 -m venv /opt/kubeproof/venv
chroot "$rootfs" env -i PATH=/usr/bin:/bin /opt/kubeproof/venv/bin/pip install -q --no-cache-dir --no-index \
  --find-links /wheels kubeproof
rm -rf "$rootfs/wheels" "$rootfs/var/cache/apt"/* "$rootfs/var/lib/apt/lists"/*
echo "kubeproof:x:65532:65532:kubeproof:/opt/kubeproof:/usr/sbin/nologin" >> "$rootfs/etc/passwd"
echo "kubeproof:x:65532:" >> "$rootfs/etc/group"
chroot --userspec=65532:65532 "$rootfs" /opt/kubeproof/venv/bin/python -c \
  'import kubeproof, kubernetes, testinfra; print("kubeproof", kubeproof.__version__, "ok")' >&2
python3 "$here/build_images.py" --rootfs "$rootfs" --repo-tag "kubeproof.local/kubeproof:$tag" \
  --out "$out" --user 65532:65532 --workdir /opt/kubeproof/suite \
  --env HOME=/tmp --env VIRTUAL_ENV=/opt/kubeproof/venv --env "KUBEPROOF_PROBE_IMAGE=$probe" \
  --entrypoint '["/opt/kubeproof/venv/bin/python", "-m", "pytest"]'
# Older builds of this image are of no use once the checkout has moved on.
find "$cache/images" -maxdepth 1 -name 'kubeproof-*.tar' ! -name "kubeproof-$tag.tar" -delete
