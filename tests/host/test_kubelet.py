"""host.kubelet-hardening: the kubelet's authn/authz settings and its files (CIS 4.1, 4.2)."""

from __future__ import annotations

import nodefacts
import pytest

import kubeproof
from kubeproof import connect, nodeprocesses

pytestmark = kubeproof.control("host.kubelet-hardening")


def _anonymous_off(value):
    return nodefacts.as_bool(value) is False


def _webhook(value):
    return str(value) == "Webhook"


def _port_zero(value):
    return str(value).strip() == "0"


def _rotates(value):
    return nodefacts.as_bool(value) is True


# setting -> (what it must be, the test) (CIS 4.2.1, 4.2.2, 4.2.4, 4.2.3, 4.2.11).
EXPECTED = {
    "anonymous-auth": ("false", _anonymous_off),
    "authorization-mode": ("Webhook", _webhook),
    "read-only-port": ("0", _port_zero),
    "rotate-certificates": ("true", _rotates),
}


# The kubelet flags these checks read (the settings' own flags are in each setting's evidence).
READ = ("config", "config-dir", "kubeconfig")


def _canary(evidence, kubelet):
    with evidence.canary("the node's kubelet process and its configuration are readable"):
        evidence.add("kubelet", {**nodefacts.process_evidence(kubelet.pid, kubelet.argv, READ),
                                 "config file": kubelet.config_path,
                                 "drop-ins": kubelet.drop_ins})
        assert kubelet.config or not kubelet.config_path, f"{kubelet.config_path} is empty"


@pytest.mark.parametrize("setting", list(EXPECTED))
def test_kubelet_setting_is_hardened(kubelet, evidence, setting):
    """The kubelet refuses anonymous access, authorizes by webhook, has no read-only port and
    rotates its certificates."""
    _canary(evidence, kubelet)
    value, source = kubelet.setting(setting)
    evidence.add(setting, {"value": value, "source": source})
    wanted, ok = EXPECTED[setting]
    assert ok(value), f"kubelet {setting} is {value!r} ({source}); must be {wanted}"


def test_kubelet_client_ca_is_set(host, kubelet, evidence):
    """The kubelet authenticates clients by certificate against a client CA file."""
    _canary(evidence, kubelet)
    value, source = kubelet.setting("client-ca-file")
    evidence.add("client-ca-file", {"value": value, "source": source})
    assert value, f"kubelet client-ca-file is not set ({source})"
    assert nodefacts.exists(host, str(value)), f"kubelet client-ca-file {value} does not exist"


@pytest.mark.parametrize("aspect", ["owner", "mode"])
@pytest.mark.parametrize("which", ["config", "kubeconfig"])
def test_kubelet_file_is_guarded(host, kubelet, evidence, which, aspect):
    """The kubelet's config file and kubeconfig are owned by root:root, mode 644 or tighter."""
    _canary(evidence, kubelet)
    path = kubelet.flags.get(which)
    if not path:
        if which == "config":
            pytest.skip("the kubelet runs without --config: its settings come from flags")
        raise kubeproof.Inconclusive(f"the kubelet has no --{which} (its flags: "
                                     f"{', '.join(sorted(kubelet.flags)) or 'none'})")
    with nodeprocesses.as_root(host):
        f = host.file(path)
        if not f.exists:
            raise kubeproof.Inconclusive(f"the kubelet's --{which} {path} does not exist")
        user, group, mode = f.user, f.group, f.mode
    evidence.add(path, {"owner": f"{user}:{group}", "mode": f"{mode:o}"})
    if aspect == "owner":
        assert (user, group) == ("root", "root"), f"{path} is owned by {user}:{group}"
    else:
        assert mode & ~0o644 == 0, f"{path} has mode {mode:o}; must be 644 or tighter (CIS: 600)"


def _anonymous_request(host, node, kubelet, evidence) -> connect.Attempt:
    """An anonymous GET of the kubelet's /pods, made with curl on the node; its canary: the
    TLS handshake completes and the kubelet presents the certificate of its own file."""
    address, address_source = kubelet.setting("address")
    port, port_source = kubelet.setting("port")
    evidence.add("kubelet address", {"value": address, "source": address_source})
    evidence.add("kubelet port", {"value": port, "source": port_source})
    url = f"https://{connect.url_host(str(address))}:{port}/pods"
    path = nodefacts.serving_certificate(kubelet)
    attempt = connect.curl(host, url, f"curl on node {node}")
    with evidence.canary(f"the kubelet at {url} completes a TLS handshake with its own "
                         f"certificate {path}", guard=attempt.origin):
        text = nodefacts.read(host, path)
        assert text is not None, f"{path} does not exist on the node"
        assert attempt.certificate, f"no TLS certificate was shown: {attempt.summary()}"
        assert attempt.certificate == connect.first_certificate(text), (
            f"the server at {url} presents another certificate than {path}")
    return attempt


def test_kubelet_refuses_anonymous_requests(host, node, kubelet, evidence):
    """An anonymous HTTPS request to the kubelet's port is refused with 401 or 403."""
    _canary(evidence, kubelet)
    attempt = _anonymous_request(host, node, kubelet, evidence)
    kubeproof.expect_denied(evidence, f"anonymous GET {attempt.url} ({attempt.origin})",
                            denied=attempt.status in (401, 403), detail=attempt.summary(),
                            guard=attempt.origin)


def test_kubelet_read_only_port_refuses_connections(host, node, kubelet, evidence):
    """Nothing accepts a connection on the kubelet's read-only port (10255, or its
    readOnlyPort) at the address where its secure port accepts one."""
    _canary(evidence, kubelet)
    secure = _anonymous_request(host, node, kubelet, evidence)
    value, source = kubelet.setting("read-only-port")
    evidence.add("read-only-port", {"value": value, "source": source})
    where = connect.url_host(str(kubelet.setting("address")[0]))
    attempts = [connect.curl(host, f"http://{where}:{port}/healthz", secure.origin)
                for port in nodefacts.read_only_ports(value)]
    evidence.add("read-only port attempts", [a.summary() for a in attempts])
    accepted = [a.url for a in attempts if a.accepted_connection()]
    kubeproof.expect_denied(evidence, f"connections to the read-only port ({secure.origin})",
                            denied=not accepted,
                            detail=f"accepted at {accepted}" if accepted else "refused",
                            guard=secure.origin)
