"""The in-cluster target's kubeconfig names the ServiceAccount's files, never the token."""

from __future__ import annotations

from pathlib import Path

from kubeproof.targets.incluster import service_account_kubeconfig


def test_kubeconfig_points_at_the_token_file_and_ca():
    config = service_account_kubeconfig(Path("/sa"), "10.96.0.1", "443")
    assert config["clusters"][0]["cluster"] == {"server": "https://10.96.0.1:443",
                                               "certificate-authority": "/sa/ca.crt"}
    assert config["users"][0]["user"] == {"tokenFile": "/sa/token"}
    ipv6 = service_account_kubeconfig(Path("/sa"), "fd00::1", "443")
    assert ipv6["clusters"][0]["cluster"]["server"] == "https://[fd00::1]:443"
