#!/usr/bin/env bash
# Builds the NetworkPolicy enforcer (kube-router, run in firewall-only mode) into OUT_DIR.
# Usage: build-netpol.sh VERSION OUT_DIR     e.g. build-netpol.sh v2.1.0 ~/.cache/kubeproof/bin/kube-router-v2.1.0
#
# The Go module proxy here serves only some versions of github.com/cloudnativelabs/kube-router/v2
# (v2.1.0 yes; v2.0.x, v2.1.1+ ... v2.6.2 and @latest are refused), and the checksum database
# answers 404 for it, so the module itself is fetched from the proxy with GONOSUMDB for its path
# only and checked against the h1 hash pinned below. Its dependencies are verified by the
# module's own go.sum. `go install pkg@version` cannot be used: it asks the proxy for the
# version list (to look for deprecations), which is refused. So the module source is copied
# out of the module cache and built with its own go.mod/go.sum, as upstream's Makefile does
# (CGO_ENABLED=0 go build ./cmd/kube-router).
set -euo pipefail
version=${1:?usage: build-netpol.sh VERSION OUT_DIR}
out=${2:?usage: build-netpol.sh VERSION OUT_DIR}
module=github.com/cloudnativelabs/kube-router/v2

# h1 hashes of module zips that were checked when they were pinned (the sumdb cannot be asked).
case "$version" in
  v2.1.0) pinned_sum="h1:xWsptKtmZ44L+NjwFKoFAFlVdxCz8fka9A/eYJe95Ok=" ;;
  *) pinned_sum="" ;;
esac

# kube-router prints its version on stderr.
if [[ -x "$out/kube-router" ]] && [[ "$("$out/kube-router" --version 2>&1)" == *" version $version,"* ]]; then
  echo "kubeproof: kube-router $version already built in $out" >&2
  exit 0
fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

echo "kubeproof: downloading $module@$version from the Go module proxy" >&2
GONOSUMDB=github.com/cloudnativelabs/kube-router \
  go mod download -json "$module@$version" > download.json || {
    echo "kubeproof: the Go module proxy did not serve $module@$version:" >&2
    cat download.json >&2
    exit 1
  }
read -r src sum < <(python3 -c '
import json, sys
d = json.load(open("download.json"))
if d.get("Error"):
    sys.exit("kubeproof: " + d["Error"])
print(d["Dir"], d["Sum"])')
if [[ -n "$pinned_sum" && "$sum" != "$pinned_sum" ]]; then
  echo "kubeproof: $module@$version has hash $sum, expected $pinned_sum" >&2
  exit 1
elif [[ -z "$pinned_sum" ]]; then
  echo "kubeproof: warning: no pinned hash for $module@$version (got $sum)" >&2
fi

cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
echo "kubeproof: building kube-router $version (a cold build takes about 5 minutes on 2 cores)" >&2
rm -rf "$out.partial"
mkdir -p "$out.partial"
pkgver=$module/pkg/version
CGO_ENABLED=0 go build -trimpath \
  -ldflags "-s -w -X $pkgver.Version=$version -X $pkgver.BuildDate=1970-01-01T00:00:00Z" \
  -o "$out.partial/kube-router" ./cmd/kube-router
"$out.partial/kube-router" --version >&2
rm -rf "$out" && mv "$out.partial" "$out"
echo "kubeproof: kube-router $version in $out" >&2
