#!/usr/bin/env bash
# Builds the node VM's image from Debian packages into OUT (made as OUT.tmp, renamed when
# complete): kernel, initramfs, a root and a read-only /usr ext4 image, labelled for SELinux at
# build time (no relabel at first boot), AIDE initialised, an SSH host key and a client key.
# Usage: build.sh OUT. Needs root (mmdebstrap --mode=root), mmdebstrap and e2fsprogs.
# shellcheck disable=SC2016  # the hooks' $1 is expanded by mmdebstrap, not here
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
out=$1
work=$out.tmp
root=$work/rootfs
usr=$work/usrfs
rm -rf --one-file-system "$work"
# A failed or interrupted build leaves nothing (after the final mv, $work is gone).
trap 'rm -rf --one-file-system "$work"' EXIT
mkdir -p "$work"
start=$SECONDS

say() { echo "nodevm build: $* ($((SECONDS - start)) s)"; }

ssh-keygen -q -t ed25519 -N '' -C kubeproof-nodevm -f "$work/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C kubeproof-client -f "$work/client_ed25519"

# The host's own Debian sources (deb822) are the mirror: no mirror name is written here.
sources=/etc/apt/sources.list.d/debian.sources
[[ -f $sources ]] || { echo "nodevm build: $sources is missing: the image uses the host's Debian sources" >&2; exit 1; }

say "mmdebstrap $NODEVM_SUITE"
mmdebstrap --mode=root --variant=apt --format=directory \
  --include="$NODEVM_PACKAGES" \
  --essential-hook='mkdir -p "$1"/etc/initramfs-tools' \
  --essential-hook="sync-in $here/overlay/etc/initramfs-tools /etc/initramfs-tools" \
  --customize-hook="sync-in $here/overlay /" \
  --customize-hook='echo kubeproof-nodevm > "$1"/etc/hostname' \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook="copy-in $work/ssh_host_ed25519_key $work/ssh_host_ed25519_key.pub /etc/ssh" \
  --customize-hook='chmod 600 "$1"/etc/ssh/ssh_host_ed25519_key' \
  --customize-hook='chroot "$1" useradd -m -u 1000 -G sudo -s /bin/bash core' \
  --customize-hook='chroot "$1" passwd -l core' \
  --customize-hook='chown 0:0 "$1"/etc/sudoers.d/core && chmod 0440 "$1"/etc/sudoers.d/core' \
  --customize-hook='install -d -m 700 -o 1000 -g 1000 "$1"/home/core/.ssh' \
  --customize-hook="copy-in $work/client_ed25519.pub /home/core/.ssh" \
  --customize-hook='mv "$1"/home/core/.ssh/client_ed25519.pub "$1"/home/core/.ssh/authorized_keys && chown 1000:1000 "$1"/home/core/.ssh/authorized_keys && chmod 600 "$1"/home/core/.ssh/authorized_keys' \
  --customize-hook='chroot "$1" systemctl enable systemd-networkd nftables containerd auditd ssh' \
  --customize-hook='chroot "$1" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service e2scrub_all.timer fstrim.timer man-db.timer dpkg-db-backup.timer systemd-networkd-wait-online.service' \
  --customize-hook='rm -f "$1"/etc/machine-id && chroot "$1" systemd-machine-id-setup' \
  --customize-hook='rm -f "$1"/.autorelabel' \
  --customize-hook='install -d -m 700 "$1"/var/lib/aide' \
  --customize-hook='chroot "$1" aide --config /etc/kubeproof/aide.conf --init && mv "$1"/var/lib/aide/aide.db.new "$1"/var/lib/aide/aide.db' \
  --customize-hook='chroot "$1" setfiles -F -e /proc -e /sys -e /dev -e /run /etc/selinux/default/contexts/files/file_contexts /' \
  "$NODEVM_SUITE" "$root" "$sources" >"$work/mmdebstrap.log" 2>&1 ||
  { tail -n 30 "$work/mmdebstrap.log" >&2; exit 1; }
say "rootfs done"

test ! -e "$root/.autorelabel"
cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
chroot "$root" dpkg-query -W -f '${Package}\t${Version}\n' >"$work/packages.tsv"

# /usr goes to its own image; the empty mount point keeps /usr's label.
mv "$root/usr" "$usr"
mkdir "$root/usr"
python3 -c 'import os,sys; os.setxattr(sys.argv[2],"security.selinux",os.getxattr(sys.argv[1],"security.selinux"))' "$usr" "$root/usr"

size_mib() { # DIR FACTOR MIN_MIB: the directory's size times FACTOR, in MiB, at least MIN_MIB
  local bytes; bytes=$(du -sb "$1" | cut -f1)
  python3 -c 'import sys; b,f,m=int(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]); print(max(m, int(b*f/2**20)+1))' "$bytes" "$2" "$3"
}
mkfs.ext4 -q -F -L usr -O ^has_journal -d "$usr" "$work/usr.ext4" "$(size_mib "$usr" 1.25 64)M"
mkfs.ext4 -q -F -L root -d "$root" "$work/root.ext4" "$(size_mib "$root" 1.5 512)M"
say "images written"

# The labels must have reached the images: a file left unlabelled fails at boot, not here.
label() { debugfs -R "ea_get $2 security.selinux" "$1" 2>/dev/null | tr -d '\0'; }
check_label() { # IMAGE PATH TYPE
  local got; got=$(label "$1" "$2")
  [[ $got == *":$3:"* ]] || { echo "nodevm build: $2 is labelled '${got:-nothing}', not $3" >&2; exit 1; }
}
check_label "$work/usr.ext4" /sbin/sshd sshd_exec_t
check_label "$work/usr.ext4" /lib/systemd/systemd init_exec_t
check_label "$work/root.ext4" /etc/ssh/ssh_host_ed25519_key sshd_key_t
check_label "$work/root.ext4" /etc/shadow shadow_t
check_label "$work/root.ext4" /home/core/.ssh/authorized_keys ssh_home_t
check_label "$work/root.ext4" /var/lib/aide/aide.db aide_db_t
rm -rf "$root" "$usr"

fingerprint=$(ssh-keygen -l -E sha256 -f "$work/ssh_host_ed25519_key.pub" | cut -d' ' -f2)
python3 - "$work" "$fingerprint" "$SECONDS" <<'EOF'
import json, os, sys
work, fingerprint, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
packages = dict(line.split("\t") for line in open(f"{work}/packages.tsv").read().splitlines())
sizes = {name: os.path.getsize(f"{work}/{name}") for name in ("root.ext4", "usr.ext4")}
json.dump({"host_key_sha256": fingerprint, "build_seconds": seconds, "sizes": sizes,
           "packages": packages}, open(f"{work}/manifest.json", "w"), indent=1, sort_keys=True)
EOF
rm -rf "$out"
mv "$work" "$out"
say "built $out (host key $fingerprint)"
