# shellcheck shell=bash
# Host: SELinux enforcing now and at boot, kernel modules and sysctls for Kubernetes.

# The policy type stays the host's own (Flatcar's is mcs, Debian's default): only the mode changes.
policy_type=$(sed -n "s/^SELINUXTYPE=//p" "$(path /etc/selinux/config)" 2>/dev/null | tail -n 1 || true)
put_file /etc/selinux/config 0644 <<CONF
# kubeproof: SELinux enforcing at every boot (host.selinux-enforcing)
SELINUX=enforcing
SELINUXTYPE=${policy_type:-mcs}
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
