"""host.kubelet-hardening probes: where the kubelet's ports are and which certificate it
serves, from its flags, its config file and the defaults."""

from __future__ import annotations

import sys

import pytest

from conftest import control_helper
from kubeproof.verdicts import Inconclusive

nodefacts = control_helper("host/nodefacts.py")
sys.modules.setdefault("nodefacts", nodefacts)  # the host modules import it by name


def kubelet(flags=None, config=None, config_path="/etc/kubernetes/kubelet.yaml"):
    return nodefacts.Kubelet(1, ["kubelet"], flags or {}, config_path, config or {})


@pytest.mark.parametrize(("value", "ports"), [
    (0, [10255]),  # disabled by the setting: the default port is still tried
    ("0", [10255]),
    (10255, [10255]),
    ("10266", [10255, 10266]),
])
def test_kubelet_read_only_ports(value, ports):
    assert nodefacts.read_only_ports(value) == ports


def test_kubelet_read_only_port_not_a_number_is_inconclusive():
    with pytest.raises(Inconclusive, match="not a number"):
        nodefacts.read_only_ports("ten")


def test_kubelet_address_and_port():
    assert kubelet().setting("address")[0] == "0.0.0.0"
    assert kubelet().setting("port")[0] == 10250
    configured = kubelet(config={"address": "10.243.0.1", "port": 10251})
    assert configured.setting("address") == (
        "10.243.0.1", "address in /etc/kubernetes/kubelet.yaml")
    assert kubelet({"port": "10252"}, {"port": 10251}).setting("port")[0] == "10252"


@pytest.mark.parametrize(("flags", "config", "path"), [
    ({}, {"tlsCertFile": "/pki/kubelet-server.crt"}, "/pki/kubelet-server.crt"),
    ({"tls-cert-file": "/f.crt"}, {"tlsCertFile": "/c.crt"}, "/f.crt"),
    ({}, {}, "/var/lib/kubelet/pki/kubelet.crt"),  # self-signed by the kubelet
    ({"cert-dir": "/d"}, {"serverTLSBootstrap": True}, "/d/kubelet-server-current.pem"),
    ({"rotate-server-certificates": "true"}, {}, "/var/lib/kubelet/pki/"
                                                 "kubelet-server-current.pem"),
])
def test_kubelet_serving_certificate(flags, config, path):
    assert nodefacts.serving_certificate(kubelet(flags, config)) == path
