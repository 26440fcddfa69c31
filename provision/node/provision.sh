#!/usr/bin/env bash
# Turns a Flatcar Container Linux host into the reference scenario's single-node cluster:
# containerd (SELinux, seccomp), kubeadm, Calico, Istio (REGISTRY_ONLY + ServiceEntry), the
# app namespace with PSA labels, the app user pegress and the demo app. Idempotent: a rerun
# changes nothing that is already in place. Run as root.
#
#   KUBEPROOF_OUT=DIR            where admin.kubeconfig and app.kubeconfig are left (required)
#   KUBEPROOF_API_ENDPOINT=URL   the API URL the kubeconfigs point at (https://PUBLIC_IP:6443)
#   KUBEPROOF_NODE_NAME=NAME     the Kubernetes node name (default: hostname)
#   KUBEPROOF_APP_IMAGE=IMAGE    the demo app's image
#   KUBEPROOF_DRY_RUN, KUBEPROOF_SKIP_STEPS, KUBEPROOF_ROOT: see lib.sh
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=versions.env
source "$here/versions.env"

: "${KUBEPROOF_OUT:?set KUBEPROOF_OUT to the directory that receives the kubeconfigs}"
NODE_NAME=${KUBEPROOF_NODE_NAME:-$(hostname)}
API_ENDPOINT=${KUBEPROOF_API_ENDPOINT:-https://$(hostname -I 2>/dev/null | awk '{print $1}'):6443}
APP_IMAGE=${KUBEPROOF_APP_IMAGE:-docker.io/hashicorp/http-echo:1.0}
APP_NAMESPACE=pegress
APP_USER=pegress
APP_GROUP=hcom
POD_CIDR=192.168.0.0/16
export NODE_NAME API_ENDPOINT APP_IMAGE APP_NAMESPACE APP_USER APP_GROUP POD_CIDR
export KUBERNETES_VERSION CALICO_VERSION ISTIO_VERSION
KUBECTL=(env KUBECONFIG="$(path /etc/kubernetes/admin.conf)" "$(path "$BIN_DIR")/kubectl")

if [[ $DRY_RUN != 1 && $(id -u) != 0 ]]; then die "run as root (sudo)"; fi
[[ $DRY_RUN == 1 ]] && say "DRY RUN: system-changing commands are printed, not run; files go under ${ROOT:-/}"
mkdir -p "$KUBEPROOF_OUT"

# step NAME: whether to run the step (says which, or why it is skipped).
step() { if skipped "$1"; then return 1; fi; say "step $1"; }
# shellcheck source=steps/host.sh
step host && source "$here/steps/host.sh"
# shellcheck source=steps/containerd.sh
step containerd && source "$here/steps/containerd.sh"
# shellcheck source=steps/kubeadm.sh
step kubeadm && source "$here/steps/kubeadm.sh"
# shellcheck source=steps/calico.sh
step calico && source "$here/steps/calico.sh"
# shellcheck source=steps/istio.sh
step istio && source "$here/steps/istio.sh"
# shellcheck source=steps/app-user.sh
step app-user && source "$here/steps/app-user.sh"
# shellcheck source=steps/app.sh
step app && source "$here/steps/app.sh"
say "done: kubeconfigs in $KUBEPROOF_OUT"
