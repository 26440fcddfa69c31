# shellcheck shell=bash
# kubeadm single-node control plane: kubelet with seccompDefault, encryption at rest, audit.

release=https://dl.k8s.io/release/$KUBERNETES_VERSION/bin/linux/amd64
for bin in kubeadm kubelet kubectl; do
  fetch "$release/$bin" "$BIN_DIR/$bin"
  if [[ -f $(path "$BIN_DIR/$bin") ]]; then chmod 0755 "$(path "$BIN_DIR/$bin")"; fi
done

put_file /etc/systemd/system/kubelet.service 0644 <<CONF
[Unit]
Description=kubelet
After=containerd.service
Requires=containerd.service
[Service]
ExecStart=$BIN_DIR/kubelet
Restart=always
RestartSec=5
[Install]
WantedBy=multi-user.target
CONF
put_file /etc/systemd/system/kubelet.service.d/10-kubeadm.conf 0644 <<CONF
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
ExecStart=
ExecStart=$BIN_DIR/kubelet \$KUBELET_KUBECONFIG_ARGS \$KUBELET_CONFIG_ARGS \$KUBELET_KUBEADM_ARGS
CONF
run systemctl daemon-reload
run systemctl enable kubelet

# The encryption key is made once and kept (a new key would make stored Secrets unreadable).
if [[ ! -s $(path /etc/kubernetes/encryption/config.yaml) ]]; then
  key=$(head -c 32 /dev/urandom | base64 -w0)
  put_file /etc/kubernetes/encryption/config.yaml 0600 <<CONF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - secretbox:
          keys:
            - {name: key1, secret: $key}
      - identity: {}
CONF
  unset key
fi
put_file /etc/kubernetes/audit/policy.yaml 0600 <<'CONF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources: [{group: "", resources: [secrets, configmaps]}]
  - level: RequestResponse
    resources: [{group: rbac.authorization.k8s.io}]
  - level: Metadata
CONF
API_HOST=${API_ENDPOINT#https://}; API_HOST=${API_HOST%:*}
put_file /etc/kubernetes/kubeproof/kubeadm.yaml 0600 \
  < <(render "$here/manifests/kubeadm.yaml" NODE_NAME KUBERNETES_VERSION POD_CIDR API_HOST)

if [[ -s $(path /etc/kubernetes/admin.conf) ]]; then
  say "kubeadm: control plane already initialised (/etc/kubernetes/admin.conf exists)"
else
  run "$(path "$BIN_DIR")/kubeadm" init --config "$(path /etc/kubernetes/kubeproof/kubeadm.yaml)"
fi
# A single node runs the workloads too.
run "${KUBECTL[@]}" taint nodes "$NODE_NAME" node-role.kubernetes.io/control-plane:NoSchedule- --overwrite=true

if [[ -s $(path /etc/kubernetes/admin.conf) ]]; then
  sed -E "s#^( *server: ).*#\\1$API_ENDPOINT#" "$(path /etc/kubernetes/admin.conf)" \
    >"$KUBEPROOF_OUT/admin.kubeconfig"
  chmod 0600 "$KUBEPROOF_OUT/admin.kubeconfig"
  say "admin kubeconfig ready (server $API_ENDPOINT)"
else
  say "SKIP admin kubeconfig: /etc/kubernetes/admin.conf does not exist (kubeadm init did not run: dry run)"
fi
