#!/usr/bin/env bash
# Builds sigstore's policy-controller admission webhook from its Go module into
# OUT_DIR/policy-controller (static, trimmed), and copies the module's install manifests the
# local cluster applies (CRDs, roles, config maps) into OUT_DIR/config.
# Usage: build-policy-controller.sh VERSION OUT_DIR        (VERSION like v0.13.1)
# policy-controller's go.mod keeps replace lines (glog, code-generator, kube-openapi), which
# `go install pkg@version` refuses: a wrapper module requires it with the same replace lines.
set -euo pipefail
version=${1:?usage: build-policy-controller.sh VERSION OUT_DIR}
out=${2:?usage: build-policy-controller.sh VERSION OUT_DIR}
case $version in v*) ;; *) version="v$version" ;; esac
module=github.com/sigstore/policy-controller

log() { echo "kubeproof: $*" >&2; }

if [[ -x $out/policy-controller && -d $out/config ]]; then
  log "policy-controller $version already built in $out"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work=$(mktemp -d)
partial="$out.partial.$$"
trap 'rm -rf "$work" "$partial"' EXIT
mkdir -p "$(dirname "$out")" "$partial/config"
cd "$work"

src=$(go mod download -json "$module@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
{
  echo "module kubeproof.local/policy-controller-build"
  echo
  sed -n 's/^go \(.*\)/go \1/p' "$src/go.mod"
  echo
  echo "require $module $version"
  echo
  # The module's own replace lines, single and in blocks, as they are.
  awk '/^replace \(/{block=1} block{print} block&&/^\)/{block=0; next} /^replace [^(]/{print}' "$src/go.mod"
} > go.mod
printf '//go:build tools\n\npackage tools\n\nimport _ "%s/cmd/webhook"\n' "$module" > tools.go
go mod tidy
log "building policy-controller $version (static; a cold build takes a few minutes)"
go build -trimpath -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$version" \
  -o "$partial/policy-controller" "$module/cmd/webhook"
for manifest in 300-clusterimagepolicy.yaml 300-trustroot.yaml 200-clusterrole.yaml 200-role.yaml \
                config-image-policies.yaml config-leader-election.yaml config-logging.yaml \
                config-sigstore-keys.yaml; do
  cp "$src/config/$manifest" "$partial/config/"
done
chmod -R u+w "$partial"
rm -rf "$out"
mv "$partial" "$out"
log "policy-controller $version in $out"
