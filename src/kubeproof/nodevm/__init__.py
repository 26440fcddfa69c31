"""The node VM: a hardened Debian host (SELinux enforcing, read-only /usr, nftables, AIDE,
containerd) under QEMU's software emulation, reached over SSH like a real node."""
