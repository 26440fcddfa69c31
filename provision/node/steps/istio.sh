# shellcheck shell=bash
# Istio: outbound traffic REGISTRY_ONLY; istio-cni so that sidecars need no NET_ADMIN (the app
# namespace enforces the restricted pod security level).

archive=istio-$ISTIO_VERSION-linux-amd64.tar.gz
fetch "https://github.com/istio/istio/releases/download/$ISTIO_VERSION/$archive" "/opt/kubeproof/$archive"
if [[ ! -x $(path "$BIN_DIR/istioctl-$ISTIO_VERSION") ]]; then
  run tar -xzf "$(path "/opt/kubeproof/$archive")" -C "$(path /opt/kubeproof)"
  run install -m 0755 "$(path "/opt/kubeproof/istio-$ISTIO_VERSION/bin/istioctl")" \
    "$(path "$BIN_DIR/istioctl-$ISTIO_VERSION")"
fi
run env KUBECONFIG="$(path /etc/kubernetes/admin.conf)" "$(path "$BIN_DIR/istioctl-$ISTIO_VERSION")" \
  install -y --set profile=minimal \
  --set meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY \
  --set components.cni.enabled=true \
  --set values.cni.cniBinDir=/opt/cni/bin
