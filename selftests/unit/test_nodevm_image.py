"""The node VM's cache key and QEMU command line (no VM is booted here)."""

from pathlib import Path

from kubeproof.nodevm import image
from kubeproof.nodevm.vm import VARIANTS, RunLayout, qemu_argv


def test_cache_key_changes_with_any_overlay_file(tmp_path):
    (tmp_path / "overlay" / "etc").mkdir(parents=True)
    (tmp_path / "versions.env").write_text("NODEVM_TAG=1\n")
    (tmp_path / "build.sh").write_text("#!/bin/sh\n")
    conf = tmp_path / "overlay" / "etc" / "nftables.conf"
    conf.write_text("policy drop;\n")
    before = image.key(tmp_path)
    assert image.key(tmp_path) == before
    conf.write_text("policy accept;\n")
    assert image.key(tmp_path) != before


def test_the_checked_in_build_has_a_key():
    assert len(image.key()) == 16


def test_qemu_boots_snapshots_with_a_restricted_network_forwarded_on_loopback(tmp_path):
    argv = qemu_argv(Path("/cache/img"), RunLayout(tmp_path), 2222, VARIANTS["selinux"])
    text = " ".join(argv)
    assert text.count("snapshot=on") == 2
    assert "restrict=on" in text and "hostfwd=tcp:127.0.0.1:2222-:22" in text
    assert "-accel tcg" in text and "selinux=1" in text
    assert "-enable-kvm" not in text
