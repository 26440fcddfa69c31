# shellcheck shell=bash
# containerd: CRI with SELinux labels, systemd cgroups; seccomp RuntimeDefault is what the
# kubelet's seccompDefault asks for.

put_file /etc/containerd/config.toml 0644 <<'CONF'
# kubeproof: containerd for kubeadm (host.runtime-seccomp, host.runtime-selinux)
version = 2
[plugins."io.containerd.grpc.v1.cri"]
  enable_selinux = true
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true
CONF
changed=$CHANGED
# Flatcar's unit reads its config from $CONTAINERD_CONFIG: point it at ours.
put_file /etc/systemd/system/containerd.service.d/10-kubeproof.conf 0644 <<'CONF'
[Service]
Environment=CONTAINERD_CONFIG=/etc/containerd/config.toml
CONF
((CHANGED)) && changed=1
if [[ $changed == 1 ]]; then
  run systemctl daemon-reload
  run systemctl restart containerd
fi
run systemctl enable --now containerd
