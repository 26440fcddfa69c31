#!/usr/bin/env bash
# Builds CoreDNS (with its standard plugin set, including kubernetes) from its Go module into
# OUT_DIR/coredns: static, trimmed. CoreDNS's go.mod has no replace lines, so plain
# `go install module@version` works.
# Usage: build-coredns.sh VERSION OUT_DIR        (VERSION like v1.13.2)
set -euo pipefail
version=${1:?usage: build-coredns.sh VERSION OUT_DIR}
out=${2:?usage: build-coredns.sh VERSION OUT_DIR}
case $version in v*) ;; *) version="v$version" ;; esac

log() { echo "kubeproof: $*" >&2; }

if [[ -x $out/coredns ]]; then
  log "coredns $version already built in $out"
  exit 0
fi

export GOTOOLCHAIN=local CGO_ENABLED=0
work=$(mktemp -d)
partial="$out.partial.$$"
trap 'rm -rf "$work" "$partial"' EXIT
mkdir -p "$(dirname "$out")" "$partial"
cd "$work"

commit=$(go mod download -json "github.com/coredns/coredns@$version" |
  python3 -c 'import json,sys; print(json.load(sys.stdin).get("Origin", {}).get("Hash", "")[:7])')
log "building coredns $version (static, cold build takes a few minutes)"
GOBIN="$partial" go install -trimpath \
  -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${commit:-$version}" \
  "github.com/coredns/coredns@$version"
reported=$("$partial/coredns" -version)
echo "$reported" >&2
grep -qx "CoreDNS-${version#v}" <<<"$reported" || { log "coredns reports another version"; exit 1; }
plugins=$("$partial/coredns" -plugins)
grep -qx kubernetes <<<"$plugins" || { log "coredns $version lacks the kubernetes plugin"; exit 1; }
rm -rf "$out"
mv "$partial" "$out"
log "coredns $version in $out"
