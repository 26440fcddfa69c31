#!/usr/bin/env bash
# Builds etcd and etcdctl from their Go modules into OUT_DIR (static, trimmed).
# Usage: build-etcd.sh VERSION OUT_DIR        (VERSION like v3.6.16)
# etcd's modules keep replace lines pointing at sibling directories (../api, ../pkg, ...),
# which `go install pkg@version` refuses. A wrapper module therefore requires the server,
# etcdctl and sibling modules at the same version, with two tiny mains:
#   cmd/etcd    -> etcdmain.Main(os.Args)    (what server/v3/main.go does)
#   cmd/etcdctl -> ctlv3.MustStart()         (what etcdctl/v3/main.go does)
# Fallback when the build fails: Debian's etcd-server/etcd-client (3.4), said plainly on stderr.
set -euo pipefail
version=${1:?usage: build-etcd.sh VERSION OUT_DIR}
out=${2:?usage: build-etcd.sh VERSION OUT_DIR}
case $version in v*) ;; *) version="v$version" ;; esac

log() { echo "kubeproof: $*" >&2; }

if [[ -x $out/etcd && -x $out/etcdctl ]]; then
  if [[ -f $out/FALLBACK ]]; then
    log "WARNING: $out holds Debian's etcd ($(cat "$out/FALLBACK")), not $version; delete it to retry the build"
  else
    log "etcd $version already built in $out"
  fi
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work=$(mktemp -d)
partial="$out.partial.$$"
trap 'rm -rf "$work" "$partial"' EXIT
mkdir -p "$(dirname "$out")"

build_from_source() {
  cd "$work"
  local sha
  if ! go mod download -json "go.etcd.io/etcd/server/v3@$version" > "$work/server.json"; then
    log "go.etcd.io/etcd/server/v3@$version: $(python3 -c 'import json,sys; print(json.load(sys.stdin).get("Error", "download failed"))' < "$work/server.json" 2>/dev/null)"
    return 1
  fi
  sha=$(python3 -c 'import json,sys; print(json.load(sys.stdin).get("Origin", {}).get("Hash", "")[:9])' < "$work/server.json")
  cat > go.mod <<EOF
module kubeproof.local/etcd-build

go $(go env GOVERSION | sed -E 's/^go([0-9]+\.[0-9]+).*/\1/').0

require (
	go.etcd.io/etcd/api/v3 $version
	go.etcd.io/etcd/client/pkg/v3 $version
	go.etcd.io/etcd/client/v3 $version
	go.etcd.io/etcd/etcdctl/v3 $version
	go.etcd.io/etcd/pkg/v3 $version
	go.etcd.io/etcd/server/v3 $version
)
EOF
  mkdir -p cmd/etcd cmd/etcdctl
  cat > cmd/etcd/main.go <<'GO'
// etcd server, exactly as go.etcd.io/etcd/server/v3/main.go builds it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
GO
  cat > cmd/etcdctl/main.go <<'GO'
// etcdctl, exactly as go.etcd.io/etcd/etcdctl/v3/main.go builds it.
package main

import (
	"go.etcd.io/etcd/etcdctl/v3/ctlv3"
)

func main() {
	ctlv3.MustStart()
}
GO
  log "resolving etcd $version modules (wrapper module in $work)"
  go mod tidy >&2
  # The wrapper must not have moved the etcd modules off the requested version.
  local mod
  for mod in server/v3 etcdctl/v3 api/v3 client/v3 client/pkg/v3 pkg/v3; do
    local got
    got=$(go list -m -f '{{.Version}}' "go.etcd.io/etcd/$mod")
    [[ $got == "$version" ]] || { log "go.etcd.io/etcd/$mod resolved to $got, not $version"; return 1; }
  done
  # The Go proxy often has no VCS origin for etcd's modules: then say where the source came from.
  local ldflags="-s -w -X 'go.etcd.io/etcd/api/v3/version.GitSHA=${sha:-unknown (Go module go.etcd.io/etcd/server/v3@$version)}'"
  mkdir -p "$partial"
  local cmd
  for cmd in etcd etcdctl; do
    log "building $cmd $version (static, cold build takes a few minutes)"
    go build -trimpath -ldflags "$ldflags" -o "$partial/$cmd" "./cmd/$cmd" >&2
  done
  local reported
  reported=$("$partial/etcd" --version)
  echo "$reported" >&2
  grep -qx "etcd Version: ${version#v}" <<<"$reported" || { log "etcd reports another version"; return 1; }
}

use_debian() {
  log "WARNING: could not build etcd $version from source; falling back to Debian's etcd 3.4 (a downgrade)"
  # Unpack the packages instead of installing them: no service gets started or registered.
  local debs="$work/debs"
  rm -rf "$debs" "$partial"
  mkdir -p "$debs/root" "$partial"
  chmod 0711 "$work" && chmod 0777 "$debs"  # apt-get download runs as _apt
  (cd "$debs" && apt-get download etcd-server etcd-client >&2)
  local deb
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$debs/root"; done
  cp "$debs/root/usr/bin/etcd" "$debs/root/usr/bin/etcdctl" "$partial/"
  basename "$debs"/etcd-server_*.deb > "$partial/FALLBACK"
  "$partial/etcd" --version >&2
}

set +e
( set -e; build_from_source )
rc=$?
set -e
if [[ $rc -ne 0 ]]; then
  use_debian
fi
rm -rf "$out"
mv "$partial" "$out"
if [[ -f $out/FALLBACK ]]; then
  log "WARNING: etcd $version was not built; $out holds Debian's etcd $("$out/etcd" --version | head -1 | sed 's/.*: //') instead"
else
  log "etcd binaries in $out: $("$out/etcd" --version | head -1)"
fi
