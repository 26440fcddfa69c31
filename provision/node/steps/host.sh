# shellcheck shell=bash
# Host: SELinux enforcing now and at boot, kernel modules and sysctls for Kubernetes.

put_file /etc/selinux/config 0644 <<'CONF'
# kubeproof: SELinux enforcing at every boot (host.selinux-enforcing)
SELINUX=enforcing
SELINUXTYPE=mcs
CONF
if have getenforce && [[ $(getenforce 2>/dev/null || true) == Enforcing ]]; then
  say "SELinux is enforcing"
else
  run setenforce 1
fi

put_file /etc/modules-load.d/kubeproof.conf 0644 <<'CONF'
overlay
br_netfilter
CONF
put_file /etc/sysctl.d/80-kubeproof.conf 0644 <<'CONF'
net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
kernel.keys.root_maxkeys = 1000000
CONF
run modprobe overlay
run modprobe br_netfilter
run sysctl --system
