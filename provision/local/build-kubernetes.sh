#!/usr/bin/env bash
# Builds the Kubernetes binaries from the k8s.io/kubernetes Go module into OUT_DIR.
# Usage: build-kubernetes.sh VERSION OUT_DIR
# go install refuses k8s.io/kubernetes (its go.mod requires the staging modules at v0.0.0
# with replace lines), so a wrapper module requires it and pins every staging module to the
# matching v0.X.Y, generated from the module's own go.mod.
set -euo pipefail
version=${1:?usage: build-kubernetes.sh VERSION OUT_DIR}
out=${2:?usage: build-kubernetes.sh VERSION OUT_DIR}
staging_version="v0.${version#v1.}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

gomod=$(go mod download -json "k8s.io/kubernetes@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
{
  echo "module kubeproof.local/kubernetes-build"
  echo
  grep -E '^go ' "$gomod"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo "replace ("
  grep -E '^\s+k8s\.io/[a-z0-9-]+ v0\.0\.0$' "$gomod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
  echo ")"
} > go.mod
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
GO
echo "kubeproof: resolving k8s.io/kubernetes $version and its staging modules ($staging_version)" >&2
GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
GOFLAGS=-mod=mod go mod download

minor=${version#v1.}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
mkdir -p "$out.partial"
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  echo "kubeproof: building $cmd $version (cold builds take several minutes each)" >&2
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags tools -ldflags "$ldflags" \
    -o "$out.partial/$cmd" "k8s.io/kubernetes/cmd/$cmd"
done
rm -rf "$out" && mv "$out.partial" "$out"
echo "kubeproof: kubernetes $version binaries in $out" >&2
