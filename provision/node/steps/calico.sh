# shellcheck shell=bash
# Calico: the CNI that enforces NetworkPolicy.

fetch "https://raw.githubusercontent.com/projectcalico/calico/$CALICO_VERSION/manifests/calico.yaml" \
  /etc/kubernetes/kubeproof/calico.yaml https-only
run "${KUBECTL[@]}" apply --server-side -f "$(path /etc/kubernetes/kubeproof/calico.yaml)"
run "${KUBECTL[@]}" -n kube-system rollout status daemonset/calico-node --timeout=300s
