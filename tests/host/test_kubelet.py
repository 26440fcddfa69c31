"""host.kubelet-hardening: the kubelet's authn/authz settings and its files (CIS 4.1, 4.2)."""

from __future__ import annotations

import nodefacts
import pytest

import kubeproof
from kubeproof import connect, nodefiles, nodeprocesses
from kubeproof.configchecks import MODE, OWNER, SETTING, ConfigCheck
from kubeproof.configtable import KUBELET, rows

pytestmark = kubeproof.control("host.kubelet-hardening")


# The kubelet flags these checks read (the settings' own flags are in each setting's evidence).
READ = ("config", "config-dir", "kubeconfig")


def _canary(evidence, kubelet):
    with evidence.canary("the node's kubelet process and its configuration are readable"):
        evidence.add("kubelet", {**nodefacts.process_evidence(kubelet.pid, kubelet.argv, READ),
                                 "config file": kubelet.config_path,
                                 "drop-ins": kubelet.drop_ins})
        assert kubelet.config or not kubelet.config_path, f"{kubelet.config_path} is empty"


def _param(check: ConfigCheck):
    return pytest.param(check, id=check.id)


@pytest.mark.parametrize("check", [_param(c) for c in rows((SETTING,), (KUBELET,))])
def test_kubelet_setting_is_hardened(kubelet, evidence, check: ConfigCheck):
    """A kubelet setting meets its row of the configuration table (CIS 4.2): anonymous access
    refused, webhook authorization, no read-only port, iptables chains kept, certificates
    rotated, strong ciphers only, a PID limit per pod. The evidence names the source that
    won: flag, config file or default."""
    _canary(evidence, kubelet)
    found, sources = {}, {}
    for setting in check.keys:
        value, sources[setting] = kubelet.setting(setting)
        found[setting] = None if value is None else nodeprocesses.flag_text(value)
    ok, seen = check.judge(found)
    evidence.add(check.name, {"value": seen, "source": sources})
    assert ok, (f"kubelet {seen} ({sources}): expected {check.rule.expected()}. "
                f"{check.remediation}")


def test_kubelet_client_ca_is_set(host, kubelet, evidence):
    """The kubelet authenticates clients by certificate against a client CA file."""
    _canary(evidence, kubelet)
    value, source = kubelet.setting("client-ca-file")
    evidence.add("client-ca-file", {"value": value, "source": source})
    assert value, f"kubelet client-ca-file is not set ({source})"
    assert nodefacts.exists(host, str(value)), f"kubelet client-ca-file {value} does not exist"


def _unit_files(host, node) -> tuple[str, list[nodefiles.FileFacts]]:
    """The kubelet's systemd unit file and drop-ins (skips when the kubelet is no unit)."""
    result = nodeprocesses.run(host, "systemctl show --value -p FragmentPath -p DropInPaths "
                                     "kubelet")
    said = (result.stderr or result.stdout).strip()
    if result.rc != 0 and "not been booted with systemd" in said:
        pytest.skip(f"node {node} does not run systemd: the kubelet is no systemd unit")
    if result.rc != 0:
        raise kubeproof.Inconclusive(f"cannot ask systemd for the kubelet's unit: {said}")
    paths = result.stdout.split()
    if not paths:
        pytest.skip(f"the kubelet on node {node} is not a systemd unit (systemd has no unit "
                    f"file for it)")
    return ", ".join(paths), [f for f in (nodefiles.stat(host, p) for p in paths) if f]


@pytest.mark.parametrize("check", [_param(c) for c in rows((MODE, OWNER), (KUBELET,))])
def test_kubelet_file_is_guarded(host, node, kubelet, evidence, check: ConfigCheck):
    """The kubelet's service file, config file and kubeconfig are owned by root:root, mode
    600 or tighter, its client CA file 644 or tighter (CIS 4.1)."""
    _canary(evidence, kubelet)
    (locator,) = check.keys
    if locator == "unit":
        looked, files = _unit_files(host, node)
    elif locator == "--config" and not kubelet.flags.get("config"):
        pytest.skip("the kubelet runs without --config: its settings come from flags")
    elif locator.startswith("@"):
        path, source = kubelet.setting(locator[1:])
        evidence.add(locator[1:], {"value": path, "source": source})
        if not path:  # a missing client CA is test_kubelet_client_ca_is_set's fail
            pytest.skip(f"the kubelet sets no {locator[1:]} ({source}): no file to judge")
        looked, files = str(path), [f for f in [nodefiles.stat(host, str(path))] if f]
    else:
        looked, files = nodefiles.from_flag(host, locator, kubelet.flags,
                                            nodefiles.Process(kubelet.pid))
    if not files:
        raise kubeproof.Inconclusive(f"the kubelet's {looked} does not exist on node {node}")
    ok, seen = check.judge(check.file_values(files))
    evidence.add(f"{check.source} of {looked}", seen)
    assert ok, f"{seen}: expected {check.rule.expected()}. {check.remediation}"


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
